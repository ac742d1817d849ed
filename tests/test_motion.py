"""The corpus's motion plans (l2s.corpus.motion): bounded, smooth, seeded, switchable."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from l2s.config import MotionConfig
from l2s.corpus.motion import Track, blink_profile, count_blinks

FPS = 25.0
CFG = MotionConfig()


def draw(n: int = 1500, cfg: MotionConfig = CFG, seed: int = 0) -> Track:
    return Track.draw(n, FPS, cfg, np.random.default_rng(seed))


def arrays(track: Track) -> dict[str, np.ndarray]:
    return {f.name: getattr(track, f.name) for f in dataclasses.fields(track)}


def test_same_seed_same_motion_other_seed_other_motion():
    a, b, c = draw(seed=3), draw(seed=3), draw(seed=4)
    for name, value in arrays(a).items():
        assert np.array_equal(value, arrays(b)[name]), name
    assert not np.array_equal(a.pose, c.pose) and not np.array_equal(a.blink, c.blink)


def test_switching_one_part_off_leaves_the_others_as_they_were():
    full = arrays(draw(seed=5))
    for switch, parts in (
        ("head", ("pose", "shift", "zoom")),
        ("blinks", ("blink",)),
        ("lighting", ("gain", "gamma", "gradient")),
    ):
        off = arrays(draw(cfg=dataclasses.replace(CFG, **{switch: False}), seed=5))
        still = arrays(Track.still(1500))
        for name in full:
            expected = still[name] if name in parts else full[name]
            assert np.array_equal(off[name], expected), (switch, name)
    assert draw(cfg=dataclasses.replace(CFG, head=False, blinks=False, lighting=False)).is_still()


def test_amplitudes_are_peaks_that_a_minute_reaches():
    """Over a minute each part stays within its amplitude and reaches a good share of it."""
    peaks = draw().peaks()
    for name in ("yaw", "pitch", "roll", "shift", "zoom", "gain", "gamma"):
        amplitude = getattr(CFG, name)
        assert 0.4 * amplitude <= peaks[name] <= amplitude, (name, peaks[name], amplitude)
    assert 0.4 * CFG.gradient <= peaks["gradient"] <= CFG.gradient
    # the amplitudes scale the motion: double them, double every excursion
    double = dataclasses.replace(CFG, yaw=2 * CFG.yaw, shift=2 * CFG.shift, gain=2 * CFG.gain)
    assert np.allclose(draw(cfg=double).pose[:, 0], 2 * draw().pose[:, 0])
    assert np.allclose(draw(cfg=double).shift, 2 * draw().shift)
    assert np.allclose(draw(cfg=double).gain - 1, 2 * (draw().gain - 1))


def test_motion_is_smooth():
    """No faster than the fastest period allows: a sinusoid of amplitude A and period P
    moves at most 2 pi A / (P fps) per frame."""
    track = draw()
    fastest = CFG.periods[0] * FPS
    for values, amplitude in (
        (track.pose, np.array([CFG.yaw, CFG.pitch, CFG.roll])),
        (track.shift, CFG.shift),
        (track.zoom, CFG.zoom),
        (track.gain, CFG.gain),
    ):
        step = np.abs(np.diff(values, axis=0)).max(0)
        assert (step <= 2 * np.pi * np.asarray(amplitude) / fastest + 1e-9).all(), (step, amplitude)


def test_blinks_come_at_the_configured_rate_and_length():
    track = draw(n=int(120 * FPS))  # two minutes
    count = count_blinks(track.blink)
    expected = 120 * CFG.blink_rate  # the minimum gap makes a few fewer
    assert 0.5 * expected <= count <= 1.3 * expected, count
    shut = track.blink >= 0.5
    starts = np.flatnonzero(shut[1:] & ~shut[:-1]) + 1
    ends = np.flatnonzero(~shut[1:] & shut[:-1]) + 1
    length = np.median([e - s for s, e in zip(starts, ends[ends > starts[0]])]) / FPS
    assert 0.3 * CFG.blink_seconds <= length <= CFG.blink_seconds, length  # the half-shut part of a blink
    assert track.blink.max() <= 1.0 and track.blink.max() >= 0.9
    assert not draw(cfg=dataclasses.replace(CFG, blink_rate=0.0)).blink.any()


def test_blink_profile_closes_fast_and_opens_slowly():
    x = np.linspace(-0.5, 1.5, 2001)
    b = blink_profile(x)
    assert b[(x <= 0) | (x >= 1)].max() == 0.0 and b.max() == 1.0
    shut = x[b >= 0.999]
    assert 0.25 < shut.min() < shut.max() < 0.5  # shut in the first half
    rising = x[(b > 0.05) & (b < 0.95) & (x < shut.min())]
    falling = x[(b > 0.05) & (b < 0.95) & (x > shut.max())]
    assert np.ptp(falling) > 1.5 * np.ptp(rising)


def test_bad_tracks_and_arguments_are_refused():
    with pytest.raises(ValueError, match="fps > 0"):
        Track.draw(10, 0.0, CFG, np.random.default_rng(0))
    still = arrays(Track.still(4))
    with pytest.raises(ValueError, match="Track.blink must have shape"):
        Track(**{**still, "blink": np.zeros(3)})
    with pytest.raises(ValueError, match="gain and Track.gamma must be positive"):
        Track(**{**still, "gamma": np.zeros(4)})
    assert len(Track.draw(0, FPS, CFG, np.random.default_rng(0))) == 0
