"""When a synthetic person moves: per-frame head pose, blinks and light, drawn from a seed.

`Track.draw` turns `corpus.motion` (l2s.config.MotionConfig) and one video's random
stream into plain per-frame numbers; `TalkingFace.render` turns them into pixels. Keeping
the two apart lets tests ask a face for an exact pose or a blink on a chosen frame.

Head pose, drift, zoom and light each follow `wander`: a value held for the whole video
(people sit a little turned, rooms differ in light) plus a sum of three sinusoids with
periods inside `periods`, random phases and weights that sum to one, so a signal is
smooth and never exceeds its amplitude. Blinks are a Poisson process: a fast close, a
short hold and a slower opening, as eyelids do.

Each part draws from its own child stream, so switching blinks off leaves the head's path
as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from l2s.config import MotionConfig

# Share of each signal's amplitude held for the whole video; the rest moves.
_HEAD_STEADY = 0.4  # a head's average pose differs between videos about as much as it moves within one
_LIGHT_STEADY = 0.7  # light mostly differs between recordings, within one it changes slowly
# A blink closes in 30 % of its length, stays shut 15 %, opens in the remaining 55 %.
_BLINK_CLOSE, _BLINK_HOLD = 0.30, 0.15


@dataclass(frozen=True, eq=False)  # holds arrays: identity equality
class Track:
    """Per-frame motion of one video; every array has one row per frame.

    pose: yaw, pitch, roll in degrees [n, 3]; shift: x, y as a share of the frame size
    [n, 2]; zoom: relative size change [n]; blink: eyelid closure 0 (open) .. 1 (shut) [n];
    gain: brightness factor [n]; gamma [n]; gradient: brightness difference across the
    frame, left to right and top to bottom [n, 2].
    """

    pose: np.ndarray
    shift: np.ndarray
    zoom: np.ndarray
    blink: np.ndarray
    gain: np.ndarray
    gamma: np.ndarray
    gradient: np.ndarray

    def __post_init__(self):
        n = len(self.pose)
        shapes = {"pose": (n, 3), "shift": (n, 2), "zoom": (n,), "blink": (n,), "gain": (n,), "gamma": (n,)}
        shapes["gradient"] = (n, 2)
        for name, shape in shapes.items():
            value = getattr(self, name)
            if value.shape != shape:
                raise ValueError(f"Track.{name} must have shape {shape}, got {value.shape}")
        if (self.gain <= 0).any() or (self.gamma <= 0).any():
            raise ValueError("Track.gain and Track.gamma must be positive")

    def __len__(self) -> int:
        return len(self.pose)

    @classmethod
    def still(cls, n: int) -> Track:
        """No motion at all: the photo's pose and light in every frame."""
        return cls(
            pose=np.zeros((n, 3)),
            shift=np.zeros((n, 2)),
            zoom=np.zeros(n),
            blink=np.zeros(n),
            gain=np.ones(n),
            gamma=np.ones(n),
            gradient=np.zeros((n, 2)),
        )

    @classmethod
    def draw(cls, n: int, fps: float, cfg: MotionConfig, rng: np.random.Generator) -> Track:
        """The motion of an `n`-frame video at `fps`, from `cfg`'s amplitudes and `rng`."""
        if n < 0 or fps <= 0:
            raise ValueError(f"need n >= 0 frames and fps > 0, got {n}, {fps}")
        head_rng, blink_rng, light_rng = rng.spawn(3)
        t = np.arange(n) / fps
        still = cls.still(n)
        if cfg.head:
            amps = (cfg.yaw, cfg.pitch, cfg.roll, cfg.shift, cfg.shift, cfg.zoom)
            head = np.stack([a * wander(head_rng, t, cfg.periods, _HEAD_STEADY) for a in amps], -1)
            pose, shift, zoom = head[:, :3], head[:, 3:5], head[:, 5]
        else:
            pose, shift, zoom = still.pose, still.shift, still.zoom
        blink = blinks(blink_rng, t, cfg.blink_rate, cfg.blink_seconds) if cfg.blinks else still.blink
        if cfg.lighting:
            gain = 1.0 + cfg.gain * wander(light_rng, t, cfg.periods, _LIGHT_STEADY)
            gamma = 1.0 + cfg.gamma * wander(light_rng, t, cfg.periods, _LIGHT_STEADY)
            gradient = np.stack([cfg.gradient * wander(light_rng, t, cfg.periods, _LIGHT_STEADY) for _ in "xy"], -1)
        else:
            gain, gamma, gradient = still.gain, still.gamma, still.gradient
        return cls(pose, shift, zoom, blink, gain, gamma, gradient)

    def peaks(self) -> dict[str, float]:
        """The largest excursion of each part, for a video's record."""
        out = {}
        for name, value in zip(("yaw", "pitch", "roll"), np.abs(self.pose).max(0, initial=0.0)):
            out[name] = round(float(value), 2)
        out["shift"] = round(float(np.abs(self.shift).max(initial=0.0)), 4)
        out["zoom"] = round(float(np.abs(self.zoom).max(initial=0.0)), 4)
        out["blinks"] = int(count_blinks(self.blink))
        out["gain"] = round(float(np.abs(self.gain - 1).max(initial=0.0)), 3)
        out["gamma"] = round(float(np.abs(self.gamma - 1).max(initial=0.0)), 3)
        out["gradient"] = round(float(np.abs(self.gradient).max(initial=0.0)), 3)
        return out

    def is_still(self) -> bool:
        return all(np.array_equal(getattr(self, f.name), getattr(Track.still(len(self)), f.name)) for f in fields(self))


def wander(rng: np.random.Generator, t: np.ndarray, periods: list[float], steady: float) -> np.ndarray:
    """A smooth signal in [-1, 1] over times `t` (seconds): `steady` of it constant, the
    rest three sinusoids with periods in `periods` (seconds) and weights summing to 1."""
    fastest, slowest = periods
    offset = rng.uniform(-1.0, 1.0)
    freq = rng.uniform(1.0 / slowest, 1.0 / fastest, 3)
    phase = rng.uniform(0.0, 2 * np.pi, 3)
    weight = rng.dirichlet(np.ones(3))
    waves = (weight * np.sin(2 * np.pi * freq * t[:, None] + phase)).sum(1)
    return steady * offset + (1.0 - steady) * waves


def blinks(rng: np.random.Generator, t: np.ndarray, rate: float, seconds: float) -> np.ndarray:
    """Eyelid closure per frame at times `t`: blinks at `rate` per second (a Poisson
    process, at least two blink lengths apart), each `seconds` long give or take 30 %."""
    out = np.zeros(len(t))
    if rate <= 0 or not len(t):
        return out
    # start before the video so that a blink may already be under way in its first frame
    at = -seconds + rng.exponential(1.0 / rate)
    while at < t[-1]:
        length = seconds * rng.uniform(0.7, 1.3)
        depth = rng.uniform(0.9, 1.0)  # not every blink closes the lids completely
        out = np.maximum(out, depth * blink_profile((t - at) / length))
        at += max(2 * seconds, rng.exponential(1.0 / rate))
    return out


def blink_profile(x: np.ndarray) -> np.ndarray:
    """Closure at phase `x` of a blink (0 start, 1 end): a fast smooth close, a hold,
    a slower smooth opening; 0 outside [0, 1]."""
    x = np.asarray(x, np.float64)
    close = np.clip(x / _BLINK_CLOSE, 0.0, 1.0)
    opened = np.clip((x - _BLINK_CLOSE - _BLINK_HOLD) / (1.0 - _BLINK_CLOSE - _BLINK_HOLD), 0.0, 1.0)
    return np.where((x <= 0) | (x >= 1), 0.0, _smoothstep(close) * (1.0 - _smoothstep(opened)))


def _smoothstep(s: np.ndarray) -> np.ndarray:
    """0 at 0, 1 at 1, flat at both ends (so a lid starts and stops gently)."""
    return s * s * (3 - 2 * s)


def count_blinks(closure: np.ndarray, threshold: float = 0.5) -> int:
    """How many times `closure` rises through `threshold`."""
    shut = np.asarray(closure) >= threshold
    return int(shut[0]) + int((shut[1:] & ~shut[:-1]).sum()) if len(shut) else 0
