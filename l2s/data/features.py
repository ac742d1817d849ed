"""Speech features as VCA-GAN uses them: log-mel and linear magnitude spectrograms, and the
log-mel's [-1, 1] scale that the generator's tanh heads and the recogniser work in.

Mel filters are librosa's (Slaney scale and norm), computed here in numpy, and the STFT
comes from torch; the PyPI torchaudio wheel is a CUDA build that does not import against CPU torch.
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache

import numpy as np
import torch

from l2s.config import MelConfig

LOG_FLOOR = 1e-5  # the floor of the mel before the log
LOG_MEL_MIN = math.log(LOG_FLOOR)  # -11.51: the ln-mel of silence
MEL_HALF_RANGE = -LOG_MEL_MIN / 2  # 5.756: ln(1e-5)..0 maps to -1..1
PCM_SCALE = 32767  # processed audio is int16: float samples in [-1, 1] times this


def prepare(wave: np.ndarray, cfg: MelConfig) -> np.ndarray:
    """Peak-normalise and pre-emphasise a mono float waveform."""
    wave = np.asarray(wave, dtype=np.float32)
    peak = float(np.abs(wave).max()) if wave.size else 0.0
    if peak > 0:
        wave = wave / peak * 0.999
    if cfg.preemphasis:
        wave = np.append(wave[:1], wave[1:] - cfg.preemphasis * wave[:-1])
    return wave.astype(np.float32)


def deemphasis(wave: np.ndarray, coefficient: float) -> np.ndarray:
    """Undo the pre-emphasis applied before the STFT (y[n] = x[n] + c * y[n-1]).

    The recursion in float64, as scipy.signal.lfilter([1], [1, -c], x) computes it (a test
    checks they agree bit for bit), in plain Python: 3 ms per 3 s of audio, where importing
    scipy.signal cost `l2s speak` 0.4 s per process."""
    return Deemphasis(coefficient)(wave)


class Deemphasis:
    """`deemphasis` of a signal that comes in pieces: each call continues the recursion
    where the last piece ended (in float64), so the pieces come out as the whole would."""

    def __init__(self, coefficient: float):
        self.coefficient, self.y = coefficient, 0.0

    def __call__(self, wave: np.ndarray) -> np.ndarray:
        out, y, c = [], self.y, self.coefficient
        for x in wave.tolist():
            y = x + c * y
            out.append(y)
        self.y = y
        return np.array(out, np.float64).astype(np.float32)


def finish(wave: np.ndarray, cfg: MelConfig) -> np.ndarray:
    """A vocoded prepared signal (Griffin-Lim's or a neural vocoder's) as audio: the
    inverse of `prepare`'s pre-emphasis, then peak-normalised to 0.9."""
    wave = deemphasis(wave, cfg.preemphasis)
    peak = np.abs(wave).max()
    return wave / peak * 0.9 if peak > 0 else wave


def magnitude(wave: np.ndarray | torch.Tensor, cfg: MelConfig) -> torch.Tensor:
    """|STFT| [..., n_fft/2+1, frames], one frame per hop (the centred STFT's extra last frame dropped)."""
    wave = torch.as_tensor(wave, dtype=torch.float32)
    spec = torch.stft(
        wave,
        n_fft=cfg.n_fft,
        hop_length=cfg.hop,
        win_length=cfg.win,
        window=torch.hann_window(cfg.win),
        center=True,
        return_complex=True,
    ).abs()
    return spec[..., : wave.shape[-1] // cfg.hop]


# Slaney's mel scale (librosa's, htk=False): linear below 1 kHz, logarithmic above; the
# constants and operations are librosa's own, so the filters come out bit for bit the same
_MEL_SPACING = 200.0 / 3  # Hz per mel below 1 kHz
_LOG_MEL = 1000.0 / _MEL_SPACING  # the mel of 1 kHz, where the log region begins
_LOG_STEP = np.log(6.4) / 27.0


def _hz_to_mel(hz: float) -> float:
    return _LOG_MEL + np.log(hz / 1000.0) / _LOG_STEP if hz >= 1000.0 else hz / _MEL_SPACING


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    hz = _MEL_SPACING * mels
    log = mels >= _LOG_MEL
    hz[log] = 1000.0 * np.exp(_LOG_STEP * (mels[log] - _LOG_MEL))
    return hz


@lru_cache(maxsize=8)
def mel_basis(cfg: MelConfig) -> torch.Tensor:
    """Slaney-scale, Slaney-normalised mel filters [n_mels, n_fft/2+1], float32: bit for bit
    librosa.filters.mel(htk=False, norm="slaney") (a test checks), in numpy because importing
    librosa.filters (numba, scipy.signal, scipy.ndimage) cost every `l2s speak` process 0.6 s."""
    fft_hz = np.fft.rfftfreq(n=cfg.n_fft, d=1.0 / cfg.sample_rate)
    mel_hz = _mel_to_hz(np.linspace(_hz_to_mel(cfg.fmin), _hz_to_mel(cfg.fmax), cfg.n_mels + 2))
    spacing = np.diff(mel_hz)
    ramps = np.subtract.outer(mel_hz, fft_hz)
    weights = np.zeros((cfg.n_mels, cfg.n_fft // 2 + 1), dtype=np.float32)
    for i in range(cfg.n_mels):  # triangles: up from band i's lower edge, down to its upper edge
        weights[i] = np.maximum(0, np.minimum(-ramps[i] / spacing[i], ramps[i + 2] / spacing[i + 1]))
    weights *= (2.0 / (mel_hz[2:] - mel_hz[:-2]))[:, np.newaxis]  # constant energy per band
    if not np.all((mel_hz[:-2] == 0) | (weights.max(axis=1) > 0)):
        warnings.warn(f"{cfg}: some mel bands fall between FFT bins and stay empty", stacklevel=2)
    return torch.from_numpy(weights)


def log_mel(wave: np.ndarray, cfg: MelConfig) -> np.ndarray:
    """ln(max(mel, 1e-5)) of the prepared waveform: float32 [n_mels, len(wave) // hop]."""
    spec = magnitude(prepare(wave, cfg), cfg)
    mel = mel_basis(cfg) @ spec
    return torch.log(torch.clamp(mel, min=LOG_FLOOR)).numpy()


def peak_dbfs(wave: np.ndarray) -> float:
    """Peak level of a waveform in dBFS (float samples in [-1, 1]); -inf when all zero."""
    peak = float(np.abs(wave).max()) if len(wave) else 0.0
    return 20 * np.log10(peak) if peak > 0 else float("-inf")


def mel_to_unit(log_mel: torch.Tensor) -> torch.Tensor:
    """Natural-log mel (floored at ln 1e-5) -> [-1, 1]: ln(1e-5) -> -1, ln(1) -> 1."""
    return log_mel / MEL_HALF_RANGE + 1.0


def unit_to_mel(x: torch.Tensor) -> torch.Tensor:
    """Inverse of `mel_to_unit`."""
    return (x - 1.0) * MEL_HALF_RANGE
