import numpy as np

from l2s.config import MelConfig
from l2s.data.features import LOG_FLOOR, log_mel, peak_dbfs
from tests.helpers import tone


def test_log_mel_shape_and_range():
    cfg = MelConfig()
    mel = log_mel(tone(3.0), cfg)
    assert mel.shape == (80, 300)  # 100 mel frames per second, 4 per video frame
    assert mel.dtype == np.float32
    assert mel.min() >= np.log(LOG_FLOOR) - 1e-5


def test_a_pure_tone_lands_in_its_mel_bin():
    import librosa

    cfg = MelConfig()
    t = np.arange(16000) / 16000
    mel = log_mel(np.sin(2 * np.pi * 1000 * t).astype(np.float32), cfg)
    centres = librosa.mel_frequencies(cfg.n_mels + 2, fmin=cfg.fmin, fmax=cfg.fmax)[1:-1]
    assert abs(centres[mel.mean(axis=1).argmax()] - 1000) < 100


def test_log_mel_ignores_level_but_not_content():
    cfg = MelConfig()
    x = tone(1.0)
    assert np.allclose(log_mel(x, cfg), log_mel(0.1 * x, cfg), atol=1e-3)  # peak-normalised
    assert not np.allclose(log_mel(x, cfg), log_mel(tone(1.0, seed=1)[::-1].copy(), cfg), atol=1e-2)


def test_silence_is_the_floor():
    cfg = MelConfig()
    assert np.allclose(log_mel(np.zeros(16000, np.float32), cfg), np.log(LOG_FLOOR))
    assert peak_dbfs(np.zeros(10)) == float("-inf")
    assert abs(peak_dbfs(np.full(10, 0.5)) - (-6.02)) < 0.01
