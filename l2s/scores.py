"""Speech quality, naturalness and intelligibility of generated audio.

STOI and ESTOI (pystoi) at the clip's own rate. PESQ (ITU-T P.862, the `pesq` package)
both ways VCA-GAN's field reports it: narrow-band on 8 kHz audio, as the paper's tables,
and wide-band (P.862.2) on the 16 kHz audio. PESQ's own maximum is 4.5 narrow-band
(MOS-LQO 4.55) and 4.64 wide-band. Error rates of words, characters and phonemes all
count edits with `edit_distance`.

DNSMOS P.835 (Reddy, Gopal, Cutler, "DNSMOS P.835: a non-intrusive perceptual objective
speech quality metric to evaluate noise suppressors", ICASSP 2022) needs no reference: it
predicts the mean opinion scores (1 to 5) that listeners following ITU-T P.835 give the
speech signal (SIG), the background (BAK) and the whole (OVRL), plus a P.808 overall score
from a second network. STOI and PESQ need the recorded speech beside the generated one;
DNSMOS also scores `l2s speak` on a user's video, and the recorded speech itself. The
networks ship as ONNX files inside the `speechmos` package (installed by `make setup`;
nothing is downloaded at run time). Its reference scorer runs as published, with two
changes of how it runs, not what it computes: the ONNX sessions are made here with a fixed
number of threads (the test stage scores clips in worker processes, which must not each
take every core), and a waveform whose peak exceeds full scale is scaled down to it first
(Griffin-Lim output can overshoot, and the scorer refuses samples outside [-1, 1]; DNSMOS
reads level, so a clipped wave would be scored for distortion it did not have).
"""

from __future__ import annotations

import functools
import logging
import math
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# what `speech_scores` gives, in report order; the dnsmos_ ones need no reference
SCORES = ("stoi", "estoi", "pesq_nb", "pesq_wb", "dnsmos_ovrl", "dnsmos_sig", "dnsmos_bak")
NATURALNESS = ("ovrl", "sig", "bak", "p808")  # what `dnsmos` gives
DNSMOS_RATE = 16000  # the rate DNSMOS was trained at


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


@functools.lru_cache(maxsize=2)
def _scorer(threads: int):
    import onnxruntime as ort
    from speechmos import dnsmos

    models = Path(dnsmos.__file__).parent / "dnsmos_models"
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1

    def session(name: str):
        return ort.InferenceSession(str(models / name), options, providers=["CPUExecutionProvider"])

    # the package's scorer without its constructor, which opens sessions on every core
    scorer = dnsmos.DNSMOS.__new__(dnsmos.DNSMOS)
    scorer.primary_model_path = str(models / "sig_bak_ovr.onnx")
    scorer.onnx_sess = session("sig_bak_ovr.onnx")
    scorer.p808_onnx_sess = session("model_v8.onnx")
    return scorer


def dnsmos(audio: np.ndarray, sample_rate: int = DNSMOS_RATE, threads: int = 1) -> dict[str, float]:
    """DNSMOS P.835 of one mono waveform: {"ovrl", "sig", "bak", "p808"}, each 1 to 5.

    Clips shorter than the networks' 9 s window are repeated to fill it (as the reference
    scorer does); longer ones are scored in 9 s windows a second apart and averaged."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1 or not audio.size:
        raise ValueError(f"DNSMOS scores one non-empty mono waveform, got shape {audio.shape}")
    if not np.isfinite(audio).all():
        raise ValueError("DNSMOS: the waveform holds NaN or infinite samples")
    if sample_rate != DNSMOS_RATE:
        import librosa

        audio = librosa.resample(audio, orig_sr=sample_rate, target_sr=DNSMOS_RATE).astype(np.float32)
    peak = float(np.abs(audio).max())
    if peak == 0.0:
        raise ValueError("DNSMOS: the waveform is silent")
    if peak > 1.0:
        audio = audio / peak
    scores = _scorer(threads)(audio, DNSMOS_RATE, False)
    return {key: round(float(scores[f"{key}_mos"]), 4) for key in NATURALNESS}


def naturalness(wave: np.ndarray, sample_rate: int) -> dict[str, float]:
    """DNSMOS OVRL, SIG and BAK of one clip as test-stage scores (dnsmos_ovrl, ...); NaN
    with a warning where DNSMOS cannot score it (silence), rather than stopping a test run."""
    try:
        scores = dnsmos(wave, sample_rate)
    except ValueError as e:
        log.warning("%s", e)
        scores = dict.fromkeys(NATURALNESS, math.nan)
    return {f"dnsmos_{k}": scores[k] for k in ("ovrl", "sig", "bak")}


def speech_scores(
    reference: np.ndarray, generated: np.ndarray, sample_rate: int, with_naturalness: bool = True
) -> dict[str, float]:
    """Every score of the test stage for one clip (`SCORES`; without DNSMOS's unless
    `with_naturalness`)."""
    return {
        "stoi": stoi(reference, generated, sample_rate),
        "estoi": stoi(reference, generated, sample_rate, extended=True),
        "pesq_nb": pesq(reference, generated, sample_rate, "nb"),
        "pesq_wb": pesq(reference, generated, sample_rate, "wb"),
        **(naturalness(generated, sample_rate) if with_naturalness else {}),
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
