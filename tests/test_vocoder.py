import numpy as np
import torch

from l2s.config import MelConfig
from l2s.data.features import deemphasis, log_mel, magnitude, prepare
from l2s.scores import stoi
from l2s.vcagan.vocoder import griffin_lim, mel_to_linear, to_wave
from tests.helpers import tone


def test_griffin_lim_inverts_a_magnitude_and_is_seeded():
    cfg = MelConfig()
    x = prepare(tone(1.0), cfg)
    mag = magnitude(x, cfg)
    a = griffin_lim(mag, cfg, iterations=30, seed=0)
    assert a.shape == (16000,)
    assert torch.equal(a, griffin_lim(mag, cfg, iterations=30, seed=0))
    # the rebuilt magnitude is close to the target: Griffin-Lim converged
    err = (magnitude(a, cfg) - mag).abs().mean() / mag.mean()
    assert err < 0.25
    batch = griffin_lim(torch.stack([mag, mag]), cfg, iterations=2)
    assert batch.shape == (2, 16000)


def test_mel_to_linear_and_back_to_intelligible_audio():
    cfg = MelConfig()
    x = tone(2.0)
    mel = torch.from_numpy(log_mel(x, cfg))
    lin = mel_to_linear(mel, cfg)
    assert lin.shape == (321, 200) and lin.min() >= 0
    wave = to_wave(mel, cfg)
    assert wave.shape == (32000,) and np.isfinite(wave).all()
    assert stoi(x, wave, 16000) > stoi(x, np.random.default_rng(0).standard_normal(32000).astype(np.float32), 16000)


def test_stoi_of_a_signal_with_itself_is_one():
    x = tone(2.0)
    assert abs(stoi(x, x, 16000) - 1.0) < 1e-6
    assert abs(stoi(x, x, 16000, extended=True) - 1.0) < 1e-6


def test_deemphasis_is_scipys_lfilter_bit_for_bit():
    from scipy.signal import lfilter

    rng = np.random.default_rng(0)
    for coefficient in (0.97, 0.5, 0.0):
        x = (rng.standard_normal(16000) * rng.uniform(0.01, 3)).astype(np.float32)
        expected = lfilter([1.0], [1.0, -coefficient], x).astype(np.float32)
        assert deemphasis(x, coefficient).tobytes() == expected.tobytes()
