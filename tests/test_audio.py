import numpy as np
import pytest

from l2s.config import MelConfig
from l2s.data.features import LOG_FLOOR, log_mel, mel_basis, peak_dbfs
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


@pytest.mark.parametrize(
    "mel",
    [
        MelConfig(),
        MelConfig(sample_rate=22050, n_fft=1024, win=1024, n_mels=80, fmin=0.0, fmax=11025.0),
        MelConfig(n_fft=512, win=512, n_mels=40, fmin=1000.0, fmax=8000.0),
        MelConfig(n_mels=40, fmin=20, fmax=999.0),  # every band below the log region's 1 kHz
    ],
)
def test_mel_filters_are_librosas_bit_for_bit(mel):
    import librosa

    expected = librosa.filters.mel(
        sr=mel.sample_rate, n_fft=mel.n_fft, n_mels=mel.n_mels, fmin=mel.fmin, fmax=mel.fmax, htk=False, norm="slaney"
    )
    basis = mel_basis(mel).numpy()
    assert basis.dtype == expected.dtype and basis.tobytes() == expected.tobytes()


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
