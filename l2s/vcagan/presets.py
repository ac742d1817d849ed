"""Every size knob of VCA-GAN (`ModelConfig`) and the named presets (`paper`, `demo`).

Torch-free, so that params.yaml's `train.preset` and `train.model` overrides are checked
when params load, before any process starts. The mel sizes (`n_mels`, `n_linear`) are no
knobs: they follow the audio features (`preprocess.mel`).
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any

from l2s.config import MEL_ROWS_MULTIPLE, MELS_PER_FRAME, ConfigError, FieldError, MelConfig

# knobs that follow preprocess.mel instead of a preset or an override
MEL_KNOBS = ("n_mels", "n_linear")
# knobs that follow the training recipe (train.ctc_weight, train.reader_to_decoder, ...)
TRAIN_KNOBS = ("languages", "phonemes", "reader_to_decoder", "crop_margin")


@dataclass(frozen=True)
class ModelConfig:
    """Every size knob of the model. The defaults are the published (paper) sizes."""

    preset: str = "paper"
    # visual front-end: 3D conv stem, ResNet trunk (BasicBlocks), BiGRU context encoder
    stem_channels: int = 64
    stem_kernel: tuple[int, int, int] = (5, 7, 7)  # time, height, width
    stem_stride: int = 2  # spatial stride of the stem conv (a 3x3/2 max-pool follows)
    trunk_channels: tuple[int, ...] = (64, 128, 256, 512)  # last = per-frame feature size
    trunk_blocks: tuple[int, ...] = (2, 2, 2, 2)  # ResNet-18
    # residual temporal conv blocks (kernel 5, BN, PReLU) on the per-frame features before
    # the BiGRU: lip movement is a change between frames, which the trunk sees one at a time
    # (the lip-reading field's temporal convolution back-ends); 0: none, as published
    temporal_blocks: int = 0
    context_hidden: int = 512  # BiGRU hidden size per direction
    context_layers: int = 2
    context_dim: int = 512
    dropout: float = 0.3
    # each frame to zero mean and unit variance over its pixels before the stem: brightness
    # and contrast that change with the light or the camera's gain do not reach the trunk
    standardise_frames: bool = False
    # pixels cut from every side of the frames: the centre at inference, a crop at a random
    # place (up to 2 x crop_margin pixels off centre) per clip in training (the lip-reading
    # field's random crop, e.g. 88 of 96). Set by training from train.random_crop.
    crop_margin: int = 0
    languages: int = 0  # number of languages of the language embedding; 0: off
    # lip-reading head: CTC classes over the shared phoneme inventory (blank included);
    # 0: no head (the published model). Set by training from train.ctc_weight.
    phonemes: int = 0
    reader_to_decoder: bool = False  # the decoder also takes the head's phoneme posteriors
    # with reader_to_decoder: 0 feeds the posteriors as they are; N > 0 first encodes them
    # with two 5-frame temporal convs to N channels (CTC posteriors are spikes, a phoneme's
    # sound spans several frames around its spike)
    posterior_channels: int = 0
    # multi-head visual-audio memory (l2s.vcagan.memory): slots of its key and value
    # memories; 0: no memory (the model as without the option). It needs the lip-reading
    # head (train.ctc_weight > 0), whose CTC target also trains its audio encoder.
    memory_slots: int = 0
    memory_heads: int = 4  # key memories (candidate sounds per lip shape); with memory_slots > 0
    # generator
    noise_channels: int = 128
    bottleneck_channels: tuple[int, ...] = (512, 256, 256)  # blocks at the lowest scale before scale 0
    scale_channels: tuple[int, int, int] = (128, 64, 32)  # widths at 20 x T, 40 x 2T, 80 x 4T
    blocks_per_scale: int = 3
    kernel: int = 5  # conv kernel of generator and discriminator blocks
    attention_dim: int = 256
    attention_channels: tuple[int, int] = (64, 32)  # attention output channels at scales 0 and 1
    postnet_channels: tuple[int, int] = (128, 256)  # input conv width, residual width
    postnet_blocks: int = 3
    n_mels: int = 80
    n_linear: int = 321
    # discriminators
    disc_channels: int = 32  # width after the stem conv; doubles at every down-sampling
    disc_max_channels: int = 512
    # sync network
    sync_channels: tuple[int, int] = (128, 256)
    sync_dim: int = 512

    @property
    def feature_dim(self) -> int:
        """Size of the per-frame visual features."""
        return self.trunk_channels[-1]

    @property
    def rows(self) -> int:
        """Frequency rows of the lowest scale."""
        return self.n_mels // MELS_PER_FRAME

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            values = value if isinstance(value, tuple) else (value,)
            optional = (
                "preset",
                "dropout",
                "standardise_frames",
                "crop_margin",
                "temporal_blocks",
                "languages",
                "phonemes",
                "reader_to_decoder",
                "posterior_channels",
                "memory_slots",
            )
            if f.name not in optional and not all(isinstance(v, int) and v > 0 for v in values):
                raise ConfigError(f"model.{f.name}: positive integers needed, got {value!r}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"model.dropout: must be in [0, 1), got {self.dropout}")
        for name in ("languages", "phonemes", "posterior_channels", "crop_margin", "temporal_blocks", "memory_slots"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ConfigError(f"model.{name}: an integer >= 0 needed, got {getattr(self, name)!r}")
        if not isinstance(self.standardise_frames, bool):
            raise ConfigError(f"model.standardise_frames: true or false, got {self.standardise_frames!r}")
        if self.reader_to_decoder and not self.phonemes:
            raise ConfigError("model.reader_to_decoder: needs the lip-reading head (phonemes > 0)")
        if len(self.trunk_channels) != len(self.trunk_blocks):
            raise ConfigError("model.trunk_channels and model.trunk_blocks need the same length")
        for name, n in (("stem_kernel", 3), ("scale_channels", 3), ("attention_channels", 2), ("postnet_channels", 2)):
            if len(getattr(self, name)) != n:
                raise ConfigError(f"model.{name}: {n} values needed, got {getattr(self, name)!r}")
        if len(self.sync_channels) != 2:
            raise ConfigError(f"model.sync_channels: 2 values needed, got {self.sync_channels!r}")
        if self.n_mels % MEL_ROWS_MULTIPLE:
            # the scale-0 discriminator halves the rows twice, the sync encoder too
            raise ConfigError(f"model.n_mels: must be a multiple of {MEL_ROWS_MULTIPLE}, got {self.n_mels}")
        if self.kernel % 2 == 0 or any(k % 2 == 0 for k in self.stem_kernel):
            raise ConfigError("model.kernel and model.stem_kernel: odd sizes needed (same padding)")


# The dataclass defaults are the paper's sizes; a preset lists only what it changes.
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    # Small enough to train on two CPU cores in minutes (about 0.3 s for a training step
    # at batch 8 x 40 frames): narrow layers, one block per stage, 3x3 kernels, a one-layer
    # BiGRU, and a stride-4 stem (14x14 trunk input instead of 28x28).
    "demo": {
        "stem_channels": 8,
        "stem_kernel": (5, 5, 5),
        "stem_stride": 4,
        "trunk_channels": (8, 16, 32, 64),
        "trunk_blocks": (1, 1, 1, 1),
        "context_hidden": 64,
        "context_layers": 1,
        "context_dim": 64,
        # the lip-reading head is pre-trained on a few hundred clips, all runs measured without
        "dropout": 0.0,
        "noise_channels": 16,
        # a decoder twice as wide learnt faster on the embedded corpus (README, Training)
        "bottleneck_channels": (128,),
        "scale_channels": (64, 32, 16),
        "blocks_per_scale": 1,
        "kernel": 3,
        "attention_dim": 64,
        "attention_channels": (32, 16),
        "postnet_channels": (64, 64),
        "postnet_blocks": 1,
        "disc_channels": 4,
        "disc_max_channels": 32,
        "sync_channels": (16, 32),
        "sync_dim": 64,
    },
}


def model_config(
    preset: str, overrides: dict[str, Any] | None = None, mel: MelConfig | None = None, internal: bool = False
) -> ModelConfig:
    """The preset's sizes with `overrides` laid over them (YAML lists become tuples), and
    the mel sizes of `mel` (default: VCA-GAN's 80-bin mel and 321-bin linear spectrogram).
    `internal`: the trainer also sets the knobs of TRAIN_KNOBS, which params may not."""
    if preset not in PRESETS:
        raise FieldError("preset", f"unknown model preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    knobs = [f.name for f in dataclasses.fields(ModelConfig) if f.name not in ("preset", *MEL_KNOBS, *TRAIN_KNOBS)]
    hints = typing.get_type_hints(ModelConfig)
    values: dict[str, Any] = dict(PRESETS[preset])
    for key, value in (overrides or {}).items():
        if key in MEL_KNOBS:
            raise FieldError(f"model.{key}", "set by the audio features (preprocess.mel), not a size knob")
        if key not in knobs and not (key in TRAIN_KNOBS and internal):
            raise FieldError(f"model.{key}", f"unknown model size knob; allowed: {', '.join(knobs)}")
        if typing.get_origin(hints[key]) is tuple:
            if not isinstance(value, list | tuple):
                raise FieldError(f"model.{key}", f"a list of integers needed, got {value!r}")
            value = tuple(value)
        values[key] = value
    if mel is not None:
        values.update(n_mels=mel.n_mels, n_linear=mel.n_fft // 2 + 1)
    return ModelConfig(preset=preset, **values)
