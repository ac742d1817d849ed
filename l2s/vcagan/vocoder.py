"""Spectrograms back to waveforms: Griffin-Lim, batched, seeded.

VCA-GAN's postnet predicts a linear magnitude spectrogram; 60 Griffin-Lim iterations
turn it into audio. The phase starts from a seeded random draw so that the same
spectrogram always gives the same waveform (the published test script did not seed).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from l2s.config import MelConfig
from l2s.data.features import finish, mel_basis


@lru_cache(maxsize=8)
def _mel_pinv(cfg: MelConfig) -> torch.Tensor:
    # pinv, not lstsq: with its default driver lstsq returned all zeros for this basis on
    # CPU, and PESQ then failed on the NaN audio
    return torch.linalg.pinv(mel_basis(cfg))


def mel_to_linear(log_mel: torch.Tensor, cfg: MelConfig) -> torch.Tensor:
    """ln-mel [..., n_mels, frames] -> linear magnitude [..., n_fft/2+1, frames] (least squares, >= 0)."""
    return torch.clamp(_mel_pinv(cfg) @ torch.exp(log_mel.float()), min=0.0)


def griffin_lim(magnitude: torch.Tensor, cfg: MelConfig, iterations: int = 60, seed: int = 0) -> torch.Tensor:
    """Magnitude [B, F, frames] (or [F, frames]) -> waveform [B, frames * hop]."""
    single = magnitude.dim() == 2
    mag = magnitude.float().unsqueeze(0) if single else magnitude.float()
    window = torch.hann_window(cfg.win)
    length = mag.shape[-1] * cfg.hop
    # the STFT of the model's frames drops the centred STFT's last frame: pad it back
    mag = torch.cat([mag, mag[..., -1:]], dim=-1)
    gen = torch.Generator().manual_seed(seed)
    phase = torch.exp(2j * np.pi * torch.rand(mag.shape, generator=gen))
    spec = mag * phase
    for _ in range(iterations):
        wave = torch.istft(spec, cfg.n_fft, cfg.hop, cfg.win, window=window, center=True, length=length)
        rebuilt = torch.stft(wave, cfg.n_fft, cfg.hop, cfg.win, window=window, center=True, return_complex=True)
        spec = mag * torch.exp(1j * torch.angle(rebuilt))
    wave = torch.istft(spec, cfg.n_fft, cfg.hop, cfg.win, window=window, center=True, length=length)
    return wave[0] if single else wave


def to_waves(
    spectrograms: torch.Tensor,
    cfg: MelConfig,
    lengths: list[int] | None = None,
    linear: bool = False,
    iterations: int = 60,
    seed: int = 0,
    neural: torch.nn.Module | None = None,
) -> list[np.ndarray]:
    """A batch of spectrograms [B, F, frames] (ln-mel, or linear magnitude with linear=True)
    to peak-normalised waveforms, each cut to its `lengths` (spectrogram frames).

    One batched Griffin-Lim for the whole batch: frames past a clip's length are silenced
    first, so padding neither leaks into the clip nor costs a second pass. With `neural` (a
    vocoder of l2s.vocoder, ln-mel only), that vocoder instead, on each clip's own frames:
    its convolutions would otherwise hear the padding at a clip's end."""
    frames = spectrograms.shape[-1]
    lengths = lengths or [frames] * spectrograms.shape[0]
    if neural is not None:
        with torch.no_grad():
            waves = [neural(spectrograms[i : i + 1, :, :n].float())[0].cpu().numpy() for i, n in enumerate(lengths)]
    else:
        mag = spectrograms.float() if linear else mel_to_linear(spectrograms, cfg)
        keep = torch.arange(frames)[None, :] < torch.tensor(lengths)[:, None]
        waves = griffin_lim(mag * keep[:, None, :], cfg, iterations=iterations, seed=seed).numpy()
    return [finish(wave[: n * cfg.hop], cfg) for wave, n in zip(waves, lengths)]


def to_wave(log_mel_or_linear: torch.Tensor, cfg: MelConfig, linear: bool = False, seed: int = 0) -> np.ndarray:
    """A spectrogram of one clip [F, frames] to a peak-normalised float waveform."""
    return to_waves(log_mel_or_linear[None], cfg, linear=linear, seed=seed)[0]
