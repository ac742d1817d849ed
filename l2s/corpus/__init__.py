"""The embedded corpus: GRID-like sentences spoken by espeak-ng voices, real face photos
whose lips move with the phoneme timing (stage corpus@<lang>, `build.run`)."""
