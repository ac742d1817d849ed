"""The speech scores behave as their definitions say on signals with a known answer."""

import math

import numpy as np
import pytest

from l2s import scores
from tests.helpers import tone


@pytest.fixture(scope="module")
def speech():
    return tone(3.0)


def test_identical_signals_score_the_maximum(speech):
    s = scores.speech_scores(speech, speech, 16000)
    assert s["stoi"] == pytest.approx(1.0, abs=1e-6)
    assert s["estoi"] == pytest.approx(1.0, abs=1e-6)
    assert s["pesq_wb"] == pytest.approx(4.64, abs=0.01)
    assert s["pesq_nb"] == pytest.approx(4.55, abs=0.01)  # P.862.1 MOS-LQO maximum


def test_noise_lowers_every_score(speech):
    noisy = speech + 0.1 * np.random.default_rng(0).standard_normal(speech.size).astype(np.float32)
    clean = scores.speech_scores(speech, speech, 16000)
    worse = scores.speech_scores(speech, noisy, 16000)
    # against the reference; a tone is no speech for DNSMOS to judge (tests/test_naturalness.py)
    assert all(worse[k] < clean[k] - 0.05 for k in clean if not k.startswith("dnsmos_")), worse


def test_lengths_are_matched_and_other_rates_resampled(speech):
    assert scores.stoi(speech, speech[:-500], 16000) > 0.99
    at_8k = speech[::2].copy()
    assert scores.pesq(at_8k, at_8k, 8000, "nb") == pytest.approx(4.55, abs=0.01)


def test_pesq_of_silence_is_nan_not_a_crash():
    silence = np.zeros(48000, dtype=np.float32)
    assert math.isnan(scores.pesq(silence, silence, 16000, "wb"))
