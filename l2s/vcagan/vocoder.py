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
    return _griffin_lim(magnitude, cfg, iterations, seed)[0]


def _griffin_lim(
    magnitude: torch.Tensor, cfg: MelConfig, iterations: int, seed: int, known: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """`griffin_lim`, and the complex spectrum it ended with ([B, F, frames + 1]). `known`:
    unit phases [B, F, k] to start the first k frames from instead of random ones (where
    a neighbouring piece of the same speech has already settled them)."""
    single = magnitude.dim() == 2
    mag = magnitude.float().unsqueeze(0) if single else magnitude.float()
    window = torch.hann_window(cfg.win)
    length = mag.shape[-1] * cfg.hop
    # the STFT of the model's frames drops the centred STFT's last frame: pad it back
    mag = torch.cat([mag, mag[..., -1:]], dim=-1)
    gen = torch.Generator().manual_seed(seed)
    phase = torch.exp(2j * np.pi * torch.rand(mag.shape, generator=gen))
    if known is not None:
        phase[..., : known.shape[-1]] = known
    spec = mag * phase
    for _ in range(iterations):
        wave = torch.istft(spec, cfg.n_fft, cfg.hop, cfg.win, window=window, center=True, length=length)
        rebuilt = torch.stft(wave, cfg.n_fft, cfg.hop, cfg.win, window=window, center=True, return_complex=True)
        spec = mag * torch.exp(1j * torch.angle(rebuilt))
    wave = torch.istft(spec, cfg.n_fft, cfg.hop, cfg.win, window=window, center=True, length=length)
    return (wave[0] if single else wave), spec


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


class WaveStream:
    """A spectrogram that arrives in pieces (`push`) to its waveform in pieces, in bounded
    memory: what `to_waves` does for one clip, for speech of any length.

    `spans`: chunks [a, b) of spectrogram frames that cover 0..N in order, neighbours
    overlapping (l2s.vcagan.speak.windows plans them). Each chunk is vocoded on its own. A
    neural vocoder's chunks are cut in the middle of each overlap: with overlaps longer than
    twice its receptive field that is what it gives on the whole. Griffin-Lim starts a
    chunk's overlap from the phases the chunk before ended with (only its other frames
    start from seeded random phases) and cross-fades the two in the middle half of the
    overlap, so a seam is heard neither as a click nor as two voices. A single chunk is
    exactly `to_waves`. The waveform is the prepared signal, before `finish`.
    """

    def __init__(
        self,
        cfg: MelConfig,
        spans: list[tuple[int, int]],
        linear: bool = False,
        iterations: int = 60,
        seed: int = 0,
        neural: torch.nn.Module | None = None,
    ):
        self.cfg, self.spans, self.linear = cfg, spans, linear
        self.iterations, self.seed, self.neural = iterations, seed, neural
        self.pieces: list[np.ndarray] = []  # spectrogram frames from frame self.start on
        self.start = 0
        self.chunk = 0  # the next chunk to vocode
        self.tail: np.ndarray | None = None  # the last chunk's samples from the next seam on
        self.phase: torch.Tensor | None = None  # its final phases over the overlap with the next

    def seam(self, k: int) -> tuple[int, int]:
        """Frames [f0, f1) where chunk k-1 hands over to chunk k."""
        (_, end), (start, _) = self.spans[k - 1], self.spans[k]
        if self.neural is not None:
            middle = (start + end) // 2
            return middle, middle
        quarter = (end - start) // 4
        return start + quarter, end - quarter

    def push(self, spec: np.ndarray) -> list[np.ndarray]:
        """Frames [F, n] that follow those pushed before -> waveform pieces now final."""
        self.pieces.append(np.asarray(spec, np.float32))
        have = self.start + sum(p.shape[-1] for p in self.pieces)
        out = []
        while self.chunk < len(self.spans) and have >= self.spans[self.chunk][1]:
            out += self._vocode(self.chunk)
            self.chunk += 1
        return out

    def _vocode(self, k: int) -> list[np.ndarray]:
        a, b = self.spans[k]
        held = np.concatenate(self.pieces, axis=-1)
        spec = torch.from_numpy(held[:, a - self.start : b - self.start])[None]
        hop, last = self.cfg.hop, k == len(self.spans) - 1
        if self.neural is not None:
            with torch.no_grad():
                wave = self.neural(spec.float())[0].cpu().numpy()
        else:
            mag = spec.float() if self.linear else mel_to_linear(spec, self.cfg)
            wave, final = _griffin_lim(mag, self.cfg, self.iterations, self.seed + k, self.phase)
            wave = wave[0].numpy()
            if not last:  # the phases the next chunk starts its overlap from
                overlap = slice(self.spans[k + 1][0] - a, b - a)
                self.phase = torch.exp(1j * torch.angle(final[..., overlap]))
        out = []
        begin = a
        if k > 0:  # cross-fade from the last chunk's tail
            f0, f1 = self.seam(k)
            n = (f1 - f0) * hop
            ramp = ((np.arange(n) + 0.5) / n).astype(np.float32)
            mine = wave[(f0 - a) * hop : (f1 - a) * hop]
            out.append(self.tail[:n] * (1 - ramp) + mine * ramp)
            begin = f1
        stop = b if last else self.seam(k + 1)[0]
        out.append(wave[(begin - a) * hop : (stop - a) * hop])
        self.tail = None if last else wave[(stop - a) * hop :]
        if not last:  # keep only the frames later chunks need
            keep = self.spans[k + 1][0]
            self.pieces = [held[:, keep - self.start :]]
            self.start = keep
        else:
            self.pieces = []
        return [w for w in out if len(w)]
