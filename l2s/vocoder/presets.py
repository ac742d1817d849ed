"""Every size knob of the neural vocoder (`VocoderConfig`) and the named presets (`full`, `small`).

Torch-free, so that a vocoder's preset and overrides in params.yaml are checked when params
load, before any process starts. The audio sizes (`sample_rate`, `n_mels`, `n_fft`, `hop`,
`win`) are no knobs: the vocoder reads the generator's ln-mel and inverts an STFT of the
same frames, so they follow the audio features (`preprocess.mel`).
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any

from l2s.config import FieldError, MelConfig

# knobs that follow preprocess.mel instead of a preset or an override
MEL_KNOBS = ("sample_rate", "n_mels", "n_fft", "hop", "win")


@dataclass(frozen=True)
class VocoderConfig:
    """Every size knob of the vocoder and its discriminators. The defaults are the
    published sizes (`full`): the Vocos base model and HiFi-GAN's multi-period discriminator."""

    preset: str = "full"
    # generator: a Conv1d embedding of the ln-mel, ConvNeXt blocks over time, a linear head
    # that predicts log-magnitude and phase of every STFT bin (Vocos, Siuzdak 2023)
    dim: int = 512  # channels of the backbone
    intermediate: int = 1536  # hidden width of each block's pointwise MLP
    blocks: int = 8
    kernel: int = 7  # depthwise conv of each block, and the embedding conv (frames of context)
    # multi-period discriminator (HiFi-GAN): the waveform folded into `period` columns,
    # strided convs along time with these widths (the last one unstrided)
    mpd_periods: tuple[int, ...] = (2, 3, 5, 7, 11)
    mpd_channels: tuple[int, ...] = (32, 128, 512, 1024, 1024)
    # multi-resolution spectrogram discriminator (UnivNet, as Vocos uses it): one 2D conv
    # stack per STFT size (hop = n_fft / 4, Hann window of n_fft); 20, 40 and 80 ms windows at 16 kHz
    mrd_ffts: tuple[int, ...] = (320, 640, 1280)
    mrd_channels: int = 32
    # audio features (set from preprocess.mel)
    sample_rate: int = 16000
    n_mels: int = 80
    n_fft: int = 640
    hop: int = 160
    win: int = 640

    @property
    def bins(self) -> int:
        """STFT bins the head predicts a magnitude and a phase for."""
        return self.n_fft // 2 + 1

    def __post_init__(self):
        for f in dataclasses.fields(self):
            if f.name == "preset":
                continue
            value = getattr(self, f.name)
            values = value if isinstance(value, tuple) else (value,)
            # bool is an int to Python, never a size
            if not values or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values):
                raise FieldError(f"model.{f.name}", f"positive integers needed, got {value!r}")
        if self.kernel % 2 == 0:
            raise FieldError("model.kernel", f"an odd size needed (same padding), got {self.kernel}")
        if any(n % 4 for n in self.mrd_ffts):
            # hop = n_fft / 4 exactly: every sample is covered by four Hann windows
            raise FieldError("model.mrd_ffts", f"multiples of 4 needed, got {self.mrd_ffts!r}")
        if self.win > self.n_fft:
            raise FieldError("model.win", f"must not exceed n_fft ({self.n_fft}), got {self.win}")


# The dataclass defaults are the published sizes; a preset lists only what it changes.
PRESETS: dict[str, dict[str, Any]] = {
    "full": {},
    # Small enough to train on two CPU cores: a quarter of the base width and 5 blocks (0.13
    # GFLOP per second of audio, a twentieth of `full`; 6 ms for a 3 s clip on one core).
    # Given the same 90 s of one core on recorded speech, it reached a lower mel loss than
    # width 192 x 6 blocks: more steps beat more capacity at this budget. The discriminators
    # are narrowed hardest: at published widths they cost ten times the generator.
    "small": {
        "dim": 128,
        "intermediate": 384,
        "blocks": 5,
        "mpd_channels": (8, 16, 32, 64, 64),
        "mrd_channels": 8,
    },
}


def vocoder_config(preset: str, overrides: dict[str, Any] | None = None, mel: MelConfig | None = None) -> VocoderConfig:
    """The preset's sizes with `overrides` laid over them (YAML lists become tuples), and the
    audio sizes of `mel` (default: l2s's 16 kHz, 80-bin features with a 640-point STFT)."""
    if preset not in PRESETS:
        raise FieldError("preset", f"unknown vocoder preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    knobs = [f.name for f in dataclasses.fields(VocoderConfig) if f.name not in ("preset", *MEL_KNOBS)]
    hints = typing.get_type_hints(VocoderConfig)
    values: dict[str, Any] = dict(PRESETS[preset])
    for key, value in (overrides or {}).items():
        if key in MEL_KNOBS:
            raise FieldError(f"model.{key}", "set by the audio features (preprocess.mel), not a size knob")
        if key not in knobs:
            raise FieldError(f"model.{key}", f"unknown vocoder size knob; allowed: {', '.join(knobs)}")
        if typing.get_origin(hints[key]) is tuple:
            if not isinstance(value, list | tuple):
                raise FieldError(f"model.{key}", f"a list of integers needed, got {value!r}")
            value = tuple(value)
        values[key] = value
    mel = mel or MelConfig()
    values.update(sample_rate=mel.sample_rate, n_mels=mel.n_mels, n_fft=mel.n_fft, hop=mel.hop, win=mel.win)
    return VocoderConfig(preset=preset, **values)
