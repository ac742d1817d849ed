"""Raw videos to training data: sources, decoding, face tracking and crop, audio features,
preprocessing into data/processed/<lang>, splits, and the datasets that read it."""
