"""The neural vocoder: sizes and their checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from l2s.config import ConfigError, MelConfig
from l2s.vocoder.presets import PRESETS, vocoder_config


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _glide(seconds: float = 0.75, sr: int = 16000) -> np.ndarray:
    """A voiced-looking clip: ten harmonics of a pitch gliding 120 -> 220 Hz, at a syllable rate."""
    t = np.arange(int(seconds * sr)) / sr
    phase = 2 * np.pi * np.cumsum(120 + 100 * t / t[-1]) / sr
    wave = sum(np.sin(k * phase) / k for k in range(1, 11)) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    return (0.3 * wave / np.abs(wave).max()).astype(np.float32)


def _ln_mel(b: int, frames: int, seed: int = 0) -> torch.Tensor:
    """Random ln-mels in the range the generator gives (ln 1e-5 = -11.5 up to about 0)."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 80, frames, generator=g) * -11.5


# --------------------------------------------------------------------------- sizes


def test_full_preset_is_the_published_vocos_base_and_small_is_smaller():
    full, small = vocoder_config("full"), vocoder_config("small")
    assert (full.dim, full.intermediate, full.blocks, full.kernel) == (512, 1536, 8, 7)
    assert full.mpd_periods == (2, 3, 5, 7, 11) and full.mpd_channels == (32, 128, 512, 1024, 1024)
    assert small.dim < full.dim and small.blocks <= full.blocks
    assert set(PRESETS) == {"full", "small"}


def test_audio_sizes_follow_the_features_not_the_preset():
    cfg = vocoder_config("small", mel=MelConfig(hop=200, n_fft=800, win=800, n_mels=64))
    assert (cfg.hop, cfg.n_fft, cfg.win, cfg.n_mels, cfg.bins) == (200, 800, 800, 64, 401)
    assert vocoder_config("small", {"dim": 96, "mpd_channels": [4, 8]}).mpd_channels == (4, 8)  # YAML list


@pytest.mark.parametrize(
    "preset, overrides, key",
    [
        ("tiny", {}, "preset"),  # unknown preset
        ("small", {"widht": 64}, "model.widht"),  # misspelt knob
        ("small", {"dim": 0}, "model.dim"),  # non-positive width
        ("small", {"intermediate": -384}, "model.intermediate"),
        ("small", {"blocks": 2.5}, "model.blocks"),
        ("small", {"dim": True}, "model.dim"),
        ("small", {"kernel": 6}, "model.kernel"),  # even: no same padding
        ("small", {"mpd_channels": 8}, "model.mpd_channels"),  # not a list
        ("small", {"mpd_periods": []}, "model.mpd_periods"),
        ("small", {"mrd_ffts": [322]}, "model.mrd_ffts"),
        ("small", {"hop": 200}, "model.hop"),  # set by preprocess.mel
    ],
)
def test_bad_config_names_the_key(preset, overrides, key):
    with pytest.raises(ConfigError) as err:
        vocoder_config(preset, overrides)
    assert str(err.value).startswith(f"{key}: "), str(err.value)


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ConfigError, match="choose one of: full, small"):
        vocoder_config("base")
