"""Vocoder training losses: multi-resolution log-mel L1 reconstruction, feature matching,
and hinge or least-squares adversarial terms.

Vocos trains with hinge losses, HiFi-GAN with least squares; both weigh the mel L1 by 45.
The reconstruction here compares log-mels at three STFT sizes (as multi-resolution STFT
losses do, Yamamoto et al. 2020), so no single time-frequency trade-off is favoured, and it
covers the whole band up to sample_rate / 2: the input features stop at fmax, the audio
should not.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from l2s.config import MelConfig
from l2s.data.features import LOG_FLOOR, mel_basis
from l2s.vocoder.discriminators import Judgement

# (n_fft, mel bands) of the reconstruction loss; hop = n_fft / 4, Hann window of n_fft.
# 20, 40 and 80 ms windows at 16 kHz; fewer bands for the short windows, whose coarse
# frequency bins would leave narrow low mel bands empty.
MEL_LOSS_RESOLUTIONS = ((320, 40), (640, 80), (1280, 128))
# Vocos' published weights: mel L1 x 45, feature matching x 1 (HiFi-GAN, with least squares:
# x 2), the spectrogram discriminator's adversarial and feature terms x 0.1
MEL_WEIGHT = 45.0
FEATURE_WEIGHT = 1.0
MRD_WEIGHT = 0.1


class MultiResolutionMelLoss(nn.Module):
    """Mean over STFT sizes of L1 between ln(max(mel, 1e-5)) of two waveforms."""

    def __init__(self, sample_rate: int, resolutions: tuple[tuple[int, int], ...] = MEL_LOSS_RESOLUTIONS):
        super().__init__()
        self.ffts = [n for n, _ in resolutions]
        for i, (n_fft, n_mels) in enumerate(resolutions):
            # the features' own filters (librosa, Slaney), over the whole band
            mel = MelConfig(sample_rate, n_fft, n_fft // 4, n_fft, n_mels, fmin=0.0, fmax=sample_rate / 2)
            self.register_buffer(f"basis{i}", mel_basis(mel).clone(), persistent=False)
            self.register_buffer(f"window{i}", torch.hann_window(n_fft), persistent=False)

    def log_mels(self, wave: Tensor) -> list[Tensor]:
        """wave [B, T] -> ln-mel [B, n_mels, frames] at every resolution, in float32: under
        autocast the filter product would run in bfloat16, whose 8-bit mantissa alone puts
        errors of 0.004 into every log."""
        out = []
        with torch.autocast(wave.device.type, enabled=False):
            for i, n_fft in enumerate(self.ffts):
                window = getattr(self, f"window{i}")
                spec = torch.stft(
                    wave.float(), n_fft, n_fft // 4, n_fft, window=window, center=True, return_complex=True
                )
                mel = getattr(self, f"basis{i}") @ spec.abs()
                out.append(torch.log(mel.clamp(min=LOG_FLOOR)))
        return out

    def forward(self, fake: Tensor, real: Tensor) -> Tensor:
        """fake, real [B, T] waveforms -> scalar loss (the target needs no gradient)."""
        with torch.no_grad():
            targets = self.log_mels(real)
        return sum(F.l1_loss(f, r) for f, r in zip(self.log_mels(fake), targets)) / len(targets)


def feature_matching(real: Judgement, fake: Judgement) -> Tensor:
    """L1 between the hidden features a discriminator family finds in real and in generated
    audio: mean over each map, summed over layers, mean over sub-discriminators. The real
    features are targets (detached)."""
    total = 0.0
    for real_maps, fake_maps in zip(real[1], fake[1]):
        total = total + sum(F.l1_loss(f.float(), r.detach().float()) for r, f in zip(real_maps, fake_maps))
    return total / len(real[1])


def generator_adversarial(fake: Judgement, kind: str = "hinge") -> Tensor:
    """The generator's adversarial loss on one family's logits of generated audio, mean over
    sub-discriminators. hinge: mean(relu(1 - D(G))) (Vocos); lsgan: mean((1 - D(G))^2) (HiFi-GAN)."""
    logits = [x.float() for x in fake[0]]  # bfloat16 under autocast
    if kind == "hinge":
        return sum(F.relu(1 - x).mean() for x in logits) / len(logits)
    if kind == "lsgan":
        return sum((1 - x).pow(2).mean() for x in logits) / len(logits)
    raise ValueError(f"unknown adversarial loss {kind!r}; choose hinge or lsgan")


def discriminator_adversarial(real: Judgement, fake: Judgement, kind: str = "hinge") -> Tensor:
    """One family's discriminator loss, mean over sub-discriminators. hinge: relu(1 - D(x)) +
    relu(1 + D(G)); lsgan: (1 - D(x))^2 + D(G)^2. Pass the judgement of detached generated audio."""
    pairs = [(r.float(), f.float()) for r, f in zip(real[0], fake[0])]  # bfloat16 under autocast
    if kind == "hinge":
        return sum(F.relu(1 - r).mean() + F.relu(1 + f).mean() for r, f in pairs) / len(pairs)
    if kind == "lsgan":
        return sum((1 - r).pow(2).mean() + f.pow(2).mean() for r, f in pairs) / len(pairs)
    raise ValueError(f"unknown adversarial loss {kind!r}; choose hinge or lsgan")


def generator_loss(
    mel_loss: Tensor,
    real: dict[str, Judgement],
    fake: dict[str, Judgement],
    kind: str = "hinge",
    mel_weight: float = MEL_WEIGHT,
    feature_weight: float = FEATURE_WEIGHT,
    mrd_weight: float = MRD_WEIGHT,
) -> tuple[Tensor, dict[str, Tensor]]:
    """The generator's whole loss from the reconstruction term and both families' judgements
    (`Discriminators` output) of real and generated audio, with the published weights; and
    its parts, for logging."""
    parts = {"mel": mel_loss}
    total = mel_weight * mel_loss
    for family, weight in (("mpd", 1.0), ("mrd", mrd_weight)):
        parts[f"adv_{family}"] = generator_adversarial(fake[family], kind)
        parts[f"fm_{family}"] = feature_matching(real[family], fake[family])
        total = total + weight * (parts[f"adv_{family}"] + feature_weight * parts[f"fm_{family}"])
    return total, parts


def discriminator_loss(
    real: dict[str, Judgement], fake: dict[str, Judgement], kind: str = "hinge"
) -> tuple[Tensor, dict[str, Tensor]]:
    """Both families' discriminator losses, summed (each family trains on its own term only),
    and the parts. `fake`: the judgement of detached generated audio."""
    parts = {f"d_{family}": discriminator_adversarial(real[family], fake[family], kind) for family in real}
    return sum(parts.values()), parts
