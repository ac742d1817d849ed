"""How natural a voicing sounds, with no reference to compare it with: DNSMOS P.835.

DNSMOS (Reddy, Gopal, Cutler, "DNSMOS P.835: a non-intrusive perceptual objective speech
quality metric to evaluate noise suppressors", ICASSP 2022) predicts the mean opinion scores
(1 to 5) that listeners following ITU-T P.835 give a recording: the speech signal's own
quality (SIG), the background's (BAK) and the whole (OVRL), plus a P.808 overall score from a
second network. STOI and PESQ need the recorded speech beside the generated one; DNSMOS
does not, so it also scores `l2s speak` on a user's video, where there is no reference.

The networks ship as ONNX files inside the `speechmos` package (installed by `make setup`;
nothing is downloaded at run time). Its reference scorer is used as published, with two
changes of how it runs, not what it computes: the ONNX sessions are made here with a fixed
number of threads (the test stage scores clips in worker processes, which must not each
take every core), and a waveform whose peak exceeds full scale is scaled down to it first
(Griffin-Lim output can overshoot, and the scorer refuses samples outside [-1, 1]; DNSMOS
reads level, so a clipped wave would be scored for distortion it did not have).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000  # the rate DNSMOS was trained at
SCORES = ("ovrl", "sig", "bak", "p808")


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


def dnsmos(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, threads: int = 1) -> dict[str, float]:
    """DNSMOS P.835 of one mono waveform: {"ovrl", "sig", "bak", "p808"}, each 1 to 5.

    Clips shorter than the networks' 9 s window are repeated to fill it (as the reference
    scorer does); longer ones are scored in 9 s windows a second apart and averaged."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1 or not audio.size:
        raise ValueError(f"DNSMOS scores one non-empty mono waveform, got shape {audio.shape}")
    if not np.isfinite(audio).all():
        raise ValueError("DNSMOS: the waveform holds NaN or infinite samples")
    if sample_rate != SAMPLE_RATE:
        import librosa

        audio = librosa.resample(audio, orig_sr=sample_rate, target_sr=SAMPLE_RATE).astype(np.float32)
    peak = float(np.abs(audio).max())
    if peak == 0.0:
        raise ValueError("DNSMOS: the waveform is silent")
    if peak > 1.0:
        audio = audio / peak
    scores = _scorer(threads)(audio, SAMPLE_RATE, False)
    return {key: round(float(scores[f"{key}_mos"]), 4) for key in SCORES}
