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


def test_deemphasis_in_pieces_is_the_whole_bit_for_bit():
    from l2s.data.features import Deemphasis

    x = np.random.default_rng(1).standard_normal(10000).astype(np.float32)
    stream = Deemphasis(0.97)
    pieces = [stream(x[a:b]) for a, b in [(0, 1), (1, 4000), (4000, 4000), (4000, 10000)]]
    assert np.concatenate(pieces).tobytes() == deemphasis(x, 0.97).tobytes()


def _push(stream, spec: np.ndarray, step: int) -> np.ndarray:
    """Feed a WaveStream `step` frames at a time; the prepared waveform it gives back."""
    out = []
    for i in range(0, spec.shape[-1], step):
        out += stream.push(spec[:, i : i + step])
    return np.concatenate(out)


def test_one_chunk_of_wave_stream_is_to_waves_bit_for_bit():
    from l2s.data.features import finish
    from l2s.vcagan.vocoder import WaveStream, to_waves

    cfg = MelConfig()
    mel = log_mel(tone(2.0), cfg)
    for linear in (False, True):
        spec = mel_to_linear(torch.from_numpy(mel), cfg).numpy() if linear else mel
        whole = to_waves(torch.from_numpy(spec)[None], cfg, linear=linear, iterations=8, seed=3)[0]
        streamed = _push(WaveStream(cfg, [(0, 200)], linear=linear, iterations=8, seed=3), spec, 37)
        assert np.array_equal(finish(streamed, cfg), whole)


def test_griffin_lim_in_chunks_hands_over_without_a_seam():
    """Three chunks: each overlap starts from the phases the chunk before settled on, so
    the rebuilt magnitude near a seam is as close to the target as the whole one's is."""
    from l2s.vcagan.speak import windows
    from l2s.vcagan.vocoder import WaveStream

    cfg = MelConfig()
    x = prepare(tone(6.0, seed=2), cfg)
    mag = magnitude(x, cfg)
    whole = griffin_lim(mag, cfg, iterations=30).numpy()
    spans = windows(600, 240, 60)
    assert len(spans) == 3
    chunked = _push(WaveStream(cfg, spans, linear=True, iterations=30), mag.numpy(), 50)
    assert chunked.shape == whole.shape and np.isfinite(chunked).all()

    def error(wave, frames=slice(None)):
        rebuilt = magnitude(wave, cfg)[:, frames]
        return float((rebuilt - mag[:, frames]).norm() / mag[:, frames].norm())

    assert error(chunked) < error(whole) * 1.1
    for k in range(1, len(spans)):
        middle = (spans[k][0] + spans[k - 1][1]) // 2
        near = slice(middle - 20, middle + 20)
        assert error(chunked, near) < max(error(whole, near) * 1.25, 0.1)
    # a chunk that started from random phases everywhere would disagree with its neighbour
    # in the overlap; here the two voices are the same voice
    assert stoi(whole, chunked, 16000) > 0.9


def test_a_neural_vocoder_in_chunks_is_the_whole_one():
    from l2s.vcagan.speak import windows
    from l2s.vcagan.vocoder import WaveStream
    from l2s.vocoder.model import Vocoder
    from l2s.vocoder.presets import vocoder_config

    cfg = MelConfig()
    torch.manual_seed(0)
    vocoder = Vocoder(vocoder_config("small", {"dim": 16, "intermediate": 32, "blocks": 2}, cfg)).eval()
    mel = log_mel(tone(5.0), cfg)
    with torch.no_grad():
        whole = vocoder(torch.from_numpy(mel)[None])[0].numpy()
    spans = windows(500, 160, 40)  # overlaps past twice the receptive field (2 * (3 * 3 + 4) frames)
    chunked = _push(WaveStream(cfg, spans, neural=vocoder), mel, 64)
    assert chunked.shape == whole.shape
    assert np.abs(chunked - whole).max() < 1e-4 * np.abs(whole).max()
