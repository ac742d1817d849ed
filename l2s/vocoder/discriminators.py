"""The vocoder's discriminators: multi-period (HiFi-GAN, Kong et al. 2020) on the waveform and
multi-resolution (UnivNet, Jang et al. 2021, as Vocos uses it) on magnitude spectrograms.

Each sub-discriminator gives logits (real: high) and the feature maps of its hidden layers,
which the feature-matching loss compares. Both families take the prepared waveform
[B, samples] (the vocoder's output, or the target it learns).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from l2s.vocoder.presets import VocoderConfig

LEAK = 0.1  # LeakyReLU slope of both families, as published
# what a discriminator family gives: per sub-discriminator, its logits and its hidden feature maps
Judgement = tuple[list[Tensor], list[list[Tensor]]]


class PeriodDiscriminator(nn.Module):
    """HiFi-GAN's period discriminator: samples folded into `period` interleaved columns
    (column j holds samples j, j + p, j + 2p, ...), each column judged by the same strided
    convs along time, so it sees periodic structure at that lag.

    The published version reshapes to [B, 1, T/p, p] and uses (k, 1) 2D kernels; a (k, 1)
    kernel never mixes columns, so folding the columns into the batch and using 1D convs is
    the same map, and CPU runs 1D convs faster than 2D ones with a width-1 kernel."""

    def __init__(self, period: int, channels: tuple[int, ...], kernel: int = 5, stride: int = 3):
        super().__init__()
        self.period = period
        widths = (1, *channels)
        # every layer strided by 3 but the last (HiFi-GAN: four strided, one not)
        strides = [stride] * (len(channels) - 1) + [1]
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv1d(c_in, c_out, kernel, s, kernel // 2))
            for c_in, c_out, s in zip(widths, widths[1:], strides)
        )
        self.post = weight_norm(nn.Conv1d(channels[-1], 1, 3, 1, 1))

    def forward(self, wave: Tensor) -> tuple[Tensor, list[Tensor]]:
        """wave [B, T] -> (logits [B, t * period], feature maps [B * period, C, t])."""
        b, t = wave.shape
        if t % self.period:  # reflect-pad to whole periods, as HiFi-GAN does
            wave = F.pad(wave[:, None], (0, self.period - t % self.period), mode="reflect")[:, 0]
        x = wave.view(b, -1, self.period).transpose(1, 2).reshape(b * self.period, 1, -1)
        features = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), LEAK)
            features.append(x)
        x = self.post(x)
        features.append(x)
        return x.reshape(b, -1), features


class MultiPeriodDiscriminator(nn.Module):
    """One period discriminator per period (2, 3, 5, 7, 11 as published: primes, so that
    their lags overlap as little as possible)."""

    def __init__(self, cfg: VocoderConfig):
        super().__init__()
        self.discriminators = nn.ModuleList(PeriodDiscriminator(p, cfg.mpd_channels) for p in cfg.mpd_periods)

    def forward(self, wave: Tensor) -> Judgement:
        outs = [d(wave) for d in self.discriminators]
        return [o[0] for o in outs], [o[1] for o in outs]


class ResolutionDiscriminator(nn.Module):
    """UnivNet's spectrogram discriminator at one STFT size: the magnitude spectrogram as an
    image [B, 1, frames, bins], 2D convs that halve the frequency axis three times.

    Unlike VCA-GAN's discriminators (l2s.vcagan.model._nhwc), channels-last maps gave no
    speed here (measured: within 5 % either way on one core, 8 and 32 channels)."""

    def __init__(self, n_fft: int, channels: int):
        super().__init__()
        self.n_fft, self.hop = n_fft, n_fft // 4
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        c = channels
        self.convs = nn.ModuleList(
            [
                weight_norm(nn.Conv2d(1, c, (3, 9), padding=(1, 4))),
                weight_norm(nn.Conv2d(c, c, (3, 9), stride=(1, 2), padding=(1, 4))),
                weight_norm(nn.Conv2d(c, c, (3, 9), stride=(1, 2), padding=(1, 4))),
                weight_norm(nn.Conv2d(c, c, (3, 9), stride=(1, 2), padding=(1, 4))),
                weight_norm(nn.Conv2d(c, c, (3, 3), padding=(1, 1))),
            ]
        )
        self.post = weight_norm(nn.Conv2d(c, 1, (3, 3), padding=(1, 1)))

    def forward(self, wave: Tensor) -> tuple[Tensor, list[Tensor]]:
        """wave [B, T] -> (logits [B, frames * bins / 8], feature maps [B, C, frames, bins'])."""
        spec = torch.stft(
            wave.float(), self.n_fft, self.hop, self.n_fft, window=self.window, center=True, return_complex=True
        ).abs()
        x = spec.transpose(1, 2)[:, None]  # [B, 1, frames, bins]
        features = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), LEAK)
            features.append(x)
        x = self.post(x)
        features.append(x)
        return x.flatten(1), features


class MultiResolutionDiscriminator(nn.Module):
    """One spectrogram discriminator per STFT size: short windows see timing, long ones pitch."""

    def __init__(self, cfg: VocoderConfig):
        super().__init__()
        self.discriminators = nn.ModuleList(ResolutionDiscriminator(n, cfg.mrd_channels) for n in cfg.mrd_ffts)

    def forward(self, wave: Tensor) -> Judgement:
        outs = [d(wave) for d in self.discriminators]
        return [o[0] for o in outs], [o[1] for o in outs]


class Discriminators(nn.Module):
    """Both families. They are weighted apart in the generator's loss (Vocos gives the
    spectrogram family a tenth of the weight), so their judgements stay apart too."""

    def __init__(self, cfg: VocoderConfig):
        super().__init__()
        self.mpd = MultiPeriodDiscriminator(cfg)
        self.mrd = MultiResolutionDiscriminator(cfg)

    def forward(self, wave: Tensor) -> dict[str, Judgement]:
        """wave [B, T] -> {"mpd": judgement, "mrd": judgement}."""
        return {"mpd": self.mpd(wave), "mrd": self.mrd(wave)}
