"""How far a clip's sound is shifted against its picture, from the lips and the speech.

Real corpora hold clips whose audio is a few frames early or late (LRS2/LRS3 were
filtered with SyncNet for this). Preprocessing already tracks the face, so each clip's
audio-visual offset is estimated from two per-frame signals:

* the mouth opening: the mean gap between five pairs of inner-lip landmarks of the face
  mesh, divided by the thickness of the lips at their centre (upper plus lower lip), which
  sits where the gap is and turns with it: the ratio does not depend on the face's size in
  the picture, its roll, or (to first order) on how far the head is nodded or turned;
* the speech envelope: the log energy of the 700-4000 Hz band in each video frame's span
  of audio, floored 50 dB below its peak.

The offset is the lag, within +-max_lag frames, that maximises a correlation score of
the two: (r + 0.5 r') / 1.5, where r is the Pearson correlation of the signals and r' that
of their frame-to-frame changes (the onsets), each over the frames both signals cover at
that lag. The score at the best lag is the confidence (-1..1). A clip counts as out of sync
(`is_out`, what sync_policy shift and reject act on) when its offset is beyond the tolerance,
its confidence at least preprocess.sync_min_confidence, and the score at its offset beats
every lag within the tolerance by MIN_MARGIN: on some clips the score is nearly flat over
several lags, and then the estimate cannot tell a 4-frame offset from none.

Sign convention: a positive offset means the audio is late (the sound comes after the
lips move); moving the audio `offset` frames earlier puts it back on the lips.

Why this method: on 60 videos of the embedded corpus (en, es, zh) with their audio
shifted by 2..10 frames either way, an un-normalised cross-correlation of the opening with
the full-band dB envelope found 90.5 % of the shifts within one frame; a Pearson
correlation per lag 93.6 %; the 700-4000 Hz band (a band-pass filter) 95.7 %; adding the
onset term 99.0 %, and 98.5 % with the band's energy taken from each frame's spectrum as here
(no filter to run over the whole track); every miss was in one of the 7 videos shorter than a
clip. Sub-frame (parabolic) peak interpolation, smoothing or high-passing both signals, and
regressing the opening on several bands measured worse.

Since the corpus's heads move (corpus.motion: pose, drift, zoom, blinks, light, compression),
the opening is divided by the lips' thickness instead of the eye distance. Measured on fresh
corpora of 60 videos (20 each of en, es, zh; shifts 2..10 frames either way), recovered within
a frame, eye distance -> lip thickness: with motion 96.8 -> 98.1 %; with motion at 160 px
94.6 -> 94.4 %; still heads 97.6 -> 97.8 %; no in-sync clip of the three counted as out of
sync, either way. Half the misses are in clips shorter than a clip window (confidence at
most 0.47), the rest in two Spanish videos estimated 4 frames early at every shift
(confidence up to 0.71, beyond sync_min_confidence). The opening's
error against the rendered mouth, as a share of its variance, was 4 % on still heads and 6 %
with motion (5 % and 12 % at 160 px); regressed on the head's pose times the opening, half of
it is explained; blinks dip it by 0.06 of its spread; slow drift is 12-20 % of it. Hence:
subtracting a 0.5-1 s moving median measured 81-91 % (it removes the pauses the correlation
needs), masking blink frames or normalising by the nose's length measured no better, and
onset weights of 0.25 or 1.0 instead of 0.5 traded one corpus against another (with motion,
at 160 px, still: 98.2 / 93.1 / 97.4 % and 97.6 / 95.7 / 96.3 %).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from l2s.config import PreprocessConfig
from l2s.data.rejects import Reject

# Inner-lip landmark pairs of the face mesh, upper -> lower, from near the left corner to
# near the right one; the corners themselves (78, 308) never part.
_INNER_UPPER = (81, 82, 13, 312, 311)
_INNER_LOWER = (178, 87, 14, 317, 402)
# Outer and inner edge of the upper lip, and inner and outer edge of the lower one, at the
# centre: the lips' thickness, the opening's unit.
_UPPER_LIP = (0, 13)
_LOWER_LIP = (14, 17)

BAND_HZ = (700.0, 4000.0)  # where the energy follows the jaw best (measured against 100-8000 and others)
FLOOR_DB = 50.0  # pauses sit at most this far below the loudest frame
ONSET_WEIGHT = 0.5  # weight of the correlation of frame-to-frame changes
MIN_FRAMES = 20  # fewer frames with both signals say nothing about a lag
# Score by which an offset beyond the tolerance must beat every lag within it. Measured on
# the embedded corpus: 0.05 keeps 96 % of the sure detections of audio shifted by 3-10
# frames, and removes 10 of the 13 sure false alarms among its 1440 in-sync clips.
MIN_MARGIN = 0.05


@dataclass(frozen=True)
class Sync:
    """A clip's estimated audio-visual offset."""

    offset: int  # frames; positive: the audio is late
    confidence: float  # the correlation score at that offset, -1..1; 0: nothing to measure
    margin: float = 0.0  # how far that score beats the best lag within the tolerance (0 within it)

    def describe(self, fps: float) -> str:
        way = "late" if self.offset > 0 else "early"
        return (
            f"audio {abs(self.offset)} frames ({abs(self.offset) / fps * 1000:.0f} ms) {way} against the lips "
            f"(confidence {self.confidence:.2f})"
        )


def mouth_opening(landmarks: np.ndarray) -> np.ndarray:
    """Per-frame mouth opening [T] from face-mesh landmarks [T, 468, 2], in lip
    thicknesses; NaN where the face is missing.

    Why not the distance of the eye corners, as before: it cancels size and roll only. A
    head that nods or turns changes the 2-D lip gap and the eye distance differently, and
    on the corpus with head motion at 160 px the opening's error against the rendered
    mouth grew from 5 % to 12 % of its variance, half of that explained by pose times
    opening; the lips' own thickness foreshortens as the gap does."""
    lm = np.asarray(landmarks, np.float64)
    gap = np.linalg.norm(lm[:, _INNER_UPPER] - lm[:, _INNER_LOWER], axis=2).mean(axis=1)
    lips = sum(np.linalg.norm(lm[:, a] - lm[:, b], axis=1) for a, b in (_UPPER_LIP, _LOWER_LIP))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(lips > 0, gap / lips, np.nan)


def speech_envelope(audio: np.ndarray, sample_rate: int, samples_per_frame: int) -> np.ndarray:
    """Log energy (dB) of the speech band in each video frame's span of `audio`: one value
    per frame, frame i being samples [i * spf, (i + 1) * spf); a partial last frame counts.
    Each frame's own span, unwindowed: Hann windows, and windows reaching into the
    neighbouring frames, recovered known shifts no better."""
    audio = np.asarray(audio, np.float64)
    n = -(-len(audio) // samples_per_frame)
    if n == 0:
        return np.zeros(0)
    frames = np.zeros(n * samples_per_frame)
    frames[: len(audio)] = audio
    power = np.abs(np.fft.rfft(frames.reshape(n, samples_per_frame), axis=1)) ** 2
    freqs = np.fft.rfftfreq(samples_per_frame, 1 / sample_rate)
    band = (freqs >= BAND_HZ[0]) & (freqs < BAND_HZ[1])
    db = 10 * np.log10(power[:, band].sum(axis=1) + 1e-12)
    return np.maximum(db, db.max() - FLOOR_DB)


def _pearson_by_lag(x: np.ndarray, y: np.ndarray, start: int, stop: int, max_lag: int) -> np.ndarray:
    """Pearson correlation of x[start:stop] with y shifted by each lag in -max_lag..max_lag
    (x[t] against y[t + lag]), over the pairs where both are known; NaN where fewer than
    MIN_FRAMES pairs are or a signal is constant."""
    lags = np.arange(-max_lag, max_lag + 1)
    idx = np.arange(start, stop)[None, :] + lags[:, None]
    inside = (idx >= 0) & (idx < len(y))
    ys = np.where(inside, y[np.clip(idx, 0, len(y) - 1)], np.nan)
    xs = np.broadcast_to(x[start:stop], ys.shape)
    ok = ~(np.isnan(xs) | np.isnan(ys))
    count = ok.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mx = np.where(ok, xs, 0).sum(axis=1) / count
        my = np.where(ok, ys, 0).sum(axis=1) / count
        dx = np.where(ok, xs - mx[:, None], 0)
        dy = np.where(ok, ys - my[:, None], 0)
        r = (dx * dy).sum(axis=1) / np.sqrt((dx * dx).sum(axis=1) * (dy * dy).sum(axis=1))
    r[(count < MIN_FRAMES) | ~np.isfinite(r)] = np.nan
    return r


def lag_scores(opening: np.ndarray, envelope: np.ndarray, start: int, stop: int, max_lag: int) -> np.ndarray:
    """The correlation score of frames [start, stop) at each lag -max_lag..max_lag (NaN
    where it cannot be measured): `opening` is per video frame, `envelope` per frame of
    the whole audio on the same timeline (it may run past the video either way)."""
    level = _pearson_by_lag(opening, envelope, start, stop, max_lag)
    onsets = _pearson_by_lag(np.gradient(opening), np.gradient(envelope), start, stop, max_lag)
    return (level + ONSET_WEIGHT * onsets) / (1 + ONSET_WEIGHT)


def estimate(
    opening: np.ndarray, envelope: np.ndarray, start: int, stop: int, max_lag: int, tolerance: int = 0
) -> Sync:
    """The offset of the clip of frames [start, stop), its confidence, and its margin over
    the lags within `tolerance`."""
    if len(opening) < 2 or len(envelope) < 2:
        return Sync(0, 0.0)
    scores = lag_scores(opening, envelope, start, stop, max_lag)
    if np.isnan(scores).all():
        return Sync(0, 0.0)
    best = int(np.nanargmax(scores))
    near = scores[max_lag - tolerance : max_lag + tolerance + 1]
    margin = scores[best] - (np.nanmax(near) if not np.isnan(near).all() else -1.0)
    return Sync(best - max_lag, round(float(scores[best]), 3), round(float(margin), 3))


def estimate_clips(
    landmarks: np.ndarray, audio: np.ndarray, windows: list[tuple[int, int]], cfg: PreprocessConfig
) -> list[Sync]:
    """The offset of each clip window of a video: `landmarks` [T, 468, 2] at cfg.fps, `audio`
    the video's whole track on the same timeline (audio beyond a window is its context)."""
    opening = mouth_opening(landmarks)
    envelope = speech_envelope(audio, cfg.mel.sample_rate, cfg.samples_per_frame)
    return [estimate(opening, envelope, s, e, cfg.sync_max_offset, cfg.sync_tolerance) for s, e in windows]


def is_out(sync: Sync, cfg: PreprocessConfig) -> bool:
    """Beyond the tolerance, and sure enough of it to act on it."""
    return (
        abs(sync.offset) > cfg.sync_tolerance
        and sync.confidence >= cfg.sync_min_confidence
        and sync.margin >= MIN_MARGIN
    )


def audio_shifts(syncs: list[Sync], cfg: PreprocessConfig, where: str, starts: list[float]) -> list[int]:
    """What preprocess.sync_policy does with the clips' offsets: the frames to move each
    clip's audio by (its offset under `shift`, else 0), or Reject (`reject`) naming the
    clips that are out. `starts`: each clip's start in seconds, for the message."""
    out = [is_out(s, cfg) for s in syncs]
    if cfg.sync_policy == "reject" and any(out):
        clips = "; ".join(f"clip at {t:.2f} s: {s.describe(cfg.fps)}" for s, t, o in zip(syncs, starts, out) if o)
        raise Reject(
            "out_of_sync",
            f"{where}: {clips}; beyond preprocess.sync_tolerance={cfg.sync_tolerance} frames "
            f"(preprocess.sync_policy=reject)",
        )
    if cfg.sync_policy == "shift":
        return [s.offset if o else 0 for s, o in zip(syncs, out)]
    return [0] * len(syncs)


def audio_window(audio: np.ndarray, start: int, stop: int) -> np.ndarray:
    """audio[start:stop] with zeros where the window runs off either end of the track."""
    out = np.zeros(max(stop - start, 0), np.asarray(audio).dtype)
    lo, hi = max(start, 0), min(stop, len(audio))
    if hi > lo:
        out[lo - start : hi - start] = audio[lo:hi]
    return out


def summary(rows: list[dict], cfg: PreprocessConfig) -> dict:
    """The offsets of a language's clips for the stage metrics (rows of clips.csv)."""
    if not rows:
        return {}
    offsets = np.array([r["sync_offset"] for r in rows], float)
    conf = np.array([r["sync_confidence"] for r in rows], float)
    beyond = np.abs(offsets) > cfg.sync_tolerance
    out = np.array([r["sync_out"] for r in rows], bool)
    q = np.quantile(offsets, [0.05, 0.25, 0.5, 0.75, 0.95])
    return {
        "offset_q05": float(q[0]),
        "offset_q25": float(q[1]),
        "offset_median": float(q[2]),
        "offset_q75": float(q[3]),
        "offset_q95": float(q[4]),
        "mean_abs_offset": round(float(np.abs(offsets).mean()), 3),
        "beyond_tolerance": round(float(beyond.mean()), 4),
        "out_of_sync": round(float(out.mean()), 4),  # beyond it and sure: what shift / reject act on
        "confident": round(float((conf >= cfg.sync_min_confidence).mean()), 4),
        "mean_confidence": round(float(conf.mean()), 3),
        "shifted": int(sum(r["sync_shift"] != 0 for r in rows)),
    }
