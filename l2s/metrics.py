"""Speech quality and intelligibility of generated audio against the ground truth."""

from __future__ import annotations

import numpy as np


def stoi(reference: np.ndarray, generated: np.ndarray, sample_rate: int, extended: bool = False) -> float:
    """Short-time objective intelligibility (ESTOI with extended=True), on equal lengths."""
    from pystoi import stoi as _stoi

    n = min(len(reference), len(generated))
    return float(_stoi(reference[:n], generated[:n], sample_rate, extended=extended))
