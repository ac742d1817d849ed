"""Speech quality and intelligibility of generated audio against the ground truth.

STOI and ESTOI (pystoi) at the clip's own rate. PESQ (ITU-T P.862, the `pesq` package)
both ways VCA-GAN's field reports it: narrow-band on 8 kHz audio, as the paper's tables,
and wide-band (P.862.2) on the 16 kHz audio. PESQ's own maximum is 4.5 narrow-band
(MOS-LQO 4.55) and 4.64 wide-band. Error rates of words, characters and phonemes all
count edits with `edit_distance`.
"""

from __future__ import annotations

import logging
import math

import numpy as np

log = logging.getLogger(__name__)

SCORES = ("stoi", "estoi", "pesq_nb", "pesq_wb")  # what `speech_scores` gives, in report order


def _equal(reference: np.ndarray, generated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = min(len(reference), len(generated))
    return np.asarray(reference[:n], dtype=np.float64), np.asarray(generated[:n], dtype=np.float64)


def stoi(reference: np.ndarray, generated: np.ndarray, sample_rate: int, extended: bool = False) -> float:
    """Short-time objective intelligibility (ESTOI with extended=True), on equal lengths."""
    from pystoi import stoi as _stoi

    ref, gen = _equal(reference, generated)
    return float(_stoi(ref, gen, sample_rate, extended=extended))


def pesq(reference: np.ndarray, generated: np.ndarray, sample_rate: int, band: str = "wb") -> float:
    """PESQ, narrow-band ('nb', computed at 8 kHz) or wide-band ('wb', at 16 kHz).

    Audio at another rate is resampled first. A clip PESQ cannot score (it finds no
    speech in the reference) gives NaN with a warning rather than stopping a test run.
    """
    from math import gcd

    from pesq import PesqError
    from pesq import pesq as _pesq
    from scipy.signal import resample_poly

    rate = {"nb": 8000, "wb": 16000}[band]
    ref, gen = _equal(reference, generated)
    if sample_rate != rate:
        g = gcd(rate, sample_rate)
        ref, gen = (resample_poly(x, rate // g, sample_rate // g) for x in (ref, gen))
    try:
        return float(_pesq(rate, ref, gen, band))
    except PesqError as e:
        log.warning("PESQ (%s) could not score a clip: %s", band, e)
        return math.nan


def speech_scores(reference: np.ndarray, generated: np.ndarray, sample_rate: int) -> dict[str, float]:
    """Every score of the test stage for one clip (`SCORES`)."""
    return {
        "stoi": stoi(reference, generated, sample_rate),
        "estoi": stoi(reference, generated, sample_rate, extended=True),
        "pesq_nb": pesq(reference, generated, sample_rate, "nb"),
        "pesq_wb": pesq(reference, generated, sample_rate, "wb"),
    }


def edit_distance(ref: list, hyp: list) -> int:
    """Levenshtein distance (substitutions, insertions, deletions each cost 1)."""
    if len(ref) < len(hyp):
        ref, hyp = hyp, ref  # the row is the shorter sequence: less to allocate per step
    if not hyp:
        return len(ref)
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i]
        for j, h in enumerate(hyp, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h)))
        prev = cur
    return prev[-1]
