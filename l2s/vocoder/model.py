"""A Vocos-style neural vocoder (Siuzdak 2023): ln-mel frames in, waveform out.

Our own implementation of the published design, sized by `VocoderConfig`:

    ln-mel [B, n_mels, T] --pad one frame--> Conv1d embedding (k=7) + LayerNorm
        ConvNeXt blocks at the frame rate: depthwise conv (k=7), LayerNorm,
        pointwise MLP with GELU, layer scale, residual
        LayerNorm
    linear head: per frame, a log-magnitude and a phase angle for each of n_fft/2+1 bins
    inverse STFT (n_fft, hop, win of the features, Hann window) -> waveform [B, T * hop]

Every layer runs at the mel frame rate (100 frames/s); only the inverse FFT works at the
sample rate. That is why it is cheap on CPU, unlike HiFi-GAN's transposed-conv up-sampling
stack, which runs its widest layers at 16 000 samples/s.

The waveform it learns is the *prepared* signal the features were computed from
(`l2s.data.features.prepare`: peak-normalised and pre-emphasised), so it can stand in for
Griffin-Lim wherever a spectrogram is turned into audio: de-emphasis comes afterwards.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from l2s.config import ConfigError, MelConfig
from l2s.vocoder.presets import VocoderConfig

# Version of what a vocoder checkpoint holds. 1: weights, vocoder config, mel features.
CHECKPOINT_FORMAT = 1


class ConvNeXtBlock(nn.Module):
    """ConvNeXt block over time (Liu et al. 2022, 1D as in Vocos): depthwise conv, LayerNorm,
    pointwise MLP (dim -> intermediate -> dim, GELU), scaled by a learnt per-channel gain,
    added to the input.

    Activations are [B, T, C] (channels last): LayerNorm and both Linear layers want the
    channels last, and only the depthwise conv needs them first, so one transpose pair per
    block instead of one around every layer."""

    def __init__(self, dim: int, intermediate: int, kernel: int, layer_scale: float):
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate)
        self.pwconv2 = nn.Linear(intermediate, dim)
        # layer scale: each block starts as a near-identity, which keeps a deep residual
        # stack stable without a warm-up (Vocos sets it to 1 / number of blocks)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: Tensor) -> Tensor:
        """x [B, T, C] -> [B, T, C]."""
        y = self.dwconv(x.transpose(1, 2)).transpose(1, 2)
        y = self.pwconv2(F.gelu(self.pwconv1(self.norm(y))))
        return x + self.gamma * y


class Vocoder(nn.Module):
    """ln-mel [B, n_mels, T] (natural log, floored at ln 1e-5, as l2s's generator gives it)
    -> prepared waveform [B, T * hop]."""

    def __init__(self, cfg: VocoderConfig):
        super().__init__()
        self.cfg = cfg
        # the embedding conv pads by repeating the edge frames (see forward), not with zeros:
        # a zero ln-mel is a loud frame, not silence
        self.embed = nn.Conv1d(cfg.n_mels, cfg.dim, cfg.kernel)
        self.embed_norm = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(cfg.dim, cfg.intermediate, cfg.kernel, 1.0 / cfg.blocks) for _ in range(cfg.blocks)
        )
        self.final_norm = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.head = nn.Linear(cfg.dim, 2 * cfg.bins)  # log-magnitude and phase of every bin
        # not saved: it follows from the config
        self.register_buffer("window", torch.hann_window(cfg.win), persistent=False)
        # The largest |STFT| a prepared signal can have: every sample below 2 in size (peak
        # 0.999, plus 0.97 of the previous one after pre-emphasis), all in phase under a Hann
        # window that sums to win / 2. Bounding the predicted magnitude there keeps exp() from
        # overflowing early in training without ever clipping a real spectrum.
        self.max_log_magnitude = math.log(2 * cfg.win / 2)

    def spectrum(self, log_mel: Tensor) -> Tensor:
        """ln-mel [B, n_mels, T] -> complex STFT [B, bins, T + 1] of the waveform.

        The features' STFT is centred and drops its last frame (one per hop: T frames for T *
        hop samples); the inverse STFT needs that frame back to cover the last hop of samples,
        so the edge frame is repeated, as Griffin-Lim in l2s.vcagan.vocoder does."""
        pad = self.cfg.kernel // 2
        x = F.pad(log_mel.float(), (pad, pad + 1), mode="replicate")
        x = self.embed_norm(self.embed(x).transpose(1, 2))  # [B, T+1, C]
        for block in self.blocks:
            x = block(x)
        out = self.head(self.final_norm(x)).transpose(1, 2).float()  # [B, 2*bins, T+1]
        log_mag, angle = out.chunk(2, dim=1)
        mag = torch.exp(log_mag.clamp(max=self.max_log_magnitude))
        # phase as the cos and sin of an unbounded angle: no wrap-around for the head to learn
        return torch.complex(mag * torch.cos(angle), mag * torch.sin(angle))

    def forward(self, log_mel: Tensor) -> Tensor:
        """ln-mel [B, n_mels, T] -> waveform [B, T * hop] (float32, also under autocast)."""
        spec = self.spectrum(log_mel)
        frames = log_mel.shape[-1]
        return torch.istft(
            spec,
            self.cfg.n_fft,
            self.cfg.hop,
            self.cfg.win,
            window=self.window,
            center=True,
            length=frames * self.cfg.hop,
        )


# --------------------------------------------------------------------------- checkpoints


def vocoder_checkpoint(vocoder: Vocoder, mel: MelConfig, **extra) -> dict:
    """What `load_vocoder` reads: the weights, the vocoder config as a plain dict, and the
    audio features it was trained on (all of preprocess.mel, so a generator whose features
    differ in fmin, fmax or pre-emphasis can be refused, not voiced wrongly). `extra`: what
    training adds (step, languages, ...), kept as given."""
    return {
        "format": CHECKPOINT_FORMAT,
        "vocoder_config": dataclasses.asdict(vocoder.cfg),
        "mel": dataclasses.asdict(mel),
        "vocoder": vocoder.state_dict(),
        **extra,
    }


def load_vocoder(
    path: str | Path, device: str | torch.device = "cpu", mel: MelConfig | None = None
) -> tuple[Vocoder, dict]:
    """Rebuild the vocoder from its checkpoint alone; eval mode. With `mel` (the audio
    features of the spectrograms it will voice), refuse a vocoder that learnt other ones.

    The dict holds the checkpoint's `mel` (MelConfig) and whatever else training stored
    (`step`, ...). A file that is missing, not a vocoder checkpoint, or written by another
    version of l2s fails here with a message that says so."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no vocoder checkpoint at {path}; train the vocoder first: dvc repro vocoder@<name>")
    try:
        ck = torch.load(path, map_location=device, weights_only=False)
    except Exception as e:  # noqa: BLE001 - torch raises many kinds for a file that is not a checkpoint
        raise ValueError(f"{path} is not a readable PyTorch checkpoint ({type(e).__name__}: {e})") from e
    if not isinstance(ck, dict) or "vocoder_config" not in ck or "vocoder" not in ck:
        raise ValueError(f"{path} is not an l2s vocoder checkpoint (no vocoder_config/vocoder)")
    fmt = ck.get("format")
    if fmt != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{path} was written by another version of l2s (vocoder checkpoint format {fmt}; this version reads "
            f"{CHECKPOINT_FORMAT}): retrain it with this version"
        )
    try:
        cfg = dict(ck["vocoder_config"])
        # asdict and torch.load keep tuples; a config that went through JSON or YAML has lists
        cfg = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()}
        vocoder = Vocoder(VocoderConfig(**cfg)).to(device)
        vocoder.load_state_dict(ck["vocoder"])
    except (TypeError, RuntimeError, ConfigError) as e:
        first = str(e).strip().splitlines()[0][:300]
        raise ValueError(
            f"{path} was written by another version of l2s: its vocoder does not fit this version's ({first}); "
            f"retrain it with this version"
        ) from e
    vocoder.eval()
    meta = {k: v for k, v in ck.items() if k not in ("format", "vocoder_config", "vocoder", "mel")}
    meta["mel"] = MelConfig(**ck["mel"])
    if mel is not None and meta["mel"] != mel:
        raise ValueError(
            f"{path} learnt other audio features ({meta['mel']}) than the spectrograms it should voice ({mel}); "
            "train it again with these features: dvc repro vocoder@<name>"
        )
    return vocoder, meta
