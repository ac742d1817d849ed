"""Phonemes to mouth shapes, one per video frame.

A viseme is a class of phonemes that look alike on the lips. Seven are enough for a
synthetic face: the jaw opening, lip spreading and lip rounding of each are given by
`SHAPES`, and `mouth_track` turns timed phonemes into a smooth per-frame (open, wide, round)
track. The IPA comes from espeak-ng in any language, so symbols are classified by their base
letter after stripping length, stress, tone and diacritic marks.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from l2s.data.alignment import Span

VISEMES = ("rest", "closed", "labiodental", "round", "wide", "open", "mid")


@dataclass(frozen=True)
class MouthShape:
    """Articulation of the mouth, each in 0..1."""

    open: float
    wide: float
    round: float


SHAPES: dict[str, MouthShape] = {
    "rest": MouthShape(open=0.05, wide=0.0, round=0.0),
    "closed": MouthShape(open=0.0, wide=0.1, round=0.0),
    "labiodental": MouthShape(open=0.1, wide=0.3, round=0.0),
    "round": MouthShape(open=0.3, wide=0.0, round=1.0),
    "wide": MouthShape(open=0.3, wide=1.0, round=0.0),
    "open": MouthShape(open=1.0, wide=0.3, round=0.0),
    "mid": MouthShape(open=0.35, wide=0.3, round=0.1),
}

_BILABIAL = set("pbmɓʙβɸ")
# Only stops and nasals truly seal the lips; β ɸ just bring them close.
_SEALING = set("pbmɓʙ")
_LABIODENTAL = set("fvɱʋ")
_ROUND = set("oɔuʊyʏøœɒɵʉɞɶwɥʍ")
_WIDE = set("iɪeɛjʝɨɯ")
_OPEN = set("aɑæəʌɐɜɘɤɚɝɞ") - _ROUND
_VOWELS = (_ROUND | _WIDE | _OPEN) - set("wɥʍjʝ")
# Close vowels that start a vowel sequence are on-glides (Mandarin "iɑ", "uei", "iou"):
# the mouth shape of the syllable is that of the vowel after them.
_GLIDES = set("iuyɪʊ")
# Marks that change length, stress, tone, syllabicity or release but not the lip shape.
_MARKS = set("ːˑˈˌ˘.ʰʲʷˠˤ'-:|‖‿˞ʼ˥˦˧˨˩0123456789")


def _strip(ipa: str) -> str:
    decomposed = unicodedata.normalize("NFD", ipa)
    return "".join(c for c in decomposed if c not in _MARKS and not unicodedata.combining(c) and not c.isspace())


def _class_of_char(c: str) -> str:
    if c in _BILABIAL:
        return "closed"
    if c in _LABIODENTAL:
        return "labiodental"
    if c in _ROUND:
        return "round"
    if c in _WIDE:
        return "wide"
    if c in _OPEN:
        return "open"
    return "mid"


def viseme_of(ipa: str) -> str:
    """The viseme (one of VISEMES) of one espeak-ng IPA phoneme of any language."""
    base = _strip(ipa)
    if not base or base == "_" or set(base) <= {"_"}:
        return "rest"
    vowels = [c for c in base if c in _VOWELS]
    if vowels:
        # A diphthong or vowel sequence looks like its nucleus, not its on-glide.
        nucleus = vowels[0]
        if len(vowels) > 1 and nucleus in _GLIDES and base[0] in _GLIDES:
            nucleus = vowels[1]
        if base[0] in _VOWELS:
            return _class_of_char(nucleus)
    # Consonants (affricates "ts", "tɕh", clusters "pf") take their first segment's shape.
    return _class_of_char(base[0])


_SHAPE_ARRAY = {v: np.array([s.open, s.wide, s.round], np.float32) for v, s in SHAPES.items()}
# A bilabial overlapping this much of a frame closes the lips in that frame.
_CLOSURE_FRACTION = 0.3


def mouth_track(phonemes: list[Span], n_frames: int, fps: float, smoothing: float = 1.0) -> np.ndarray:
    """Per-frame mouth shape, float32 [n_frames, 3] = (open, wide, round), each in 0..1.

    Frame i covers [i/fps, (i+1)/fps) and takes the time-weighted mean of the shapes of the
    phonemes that overlap it (uncovered time counts as rest). The track is then smoothed
    with a Gaussian of `smoothing` frames for coarticulation. A /p b m/ is too short to
    survive averaging (often under a frame), yet a viewer must see the lips meet: every
    bilabial closes the frame it overlaps most, and any frame it covers substantially,
    both before and after smoothing.
    """
    if n_frames < 0 or fps <= 0:
        raise ValueError(f"need n_frames >= 0 and fps > 0, got {n_frames}, {fps}")
    rest = _SHAPE_ARRAY["rest"]
    track = np.tile(rest, (n_frames, 1)).astype(np.float64)
    if n_frames == 0:
        return track.astype(np.float32)
    dt = 1.0 / fps
    weight = np.zeros(n_frames)
    acc = np.zeros((n_frames, 3))
    closed = np.zeros(n_frames, bool)
    for p in phonemes:
        if p.end <= p.start:
            continue
        first = max(int(np.floor(p.start * fps)), 0)
        last = min(int(np.ceil(p.end * fps)), n_frames)
        if first >= last:
            continue
        frames = np.arange(first, last)
        overlap = np.clip(np.minimum(p.end, (frames + 1) * dt) - np.maximum(p.start, frames * dt), 0.0, None)
        vis = viseme_of(p.label)
        base = _strip(p.label)
        acc[frames] += overlap[:, None] * _SHAPE_ARRAY[vis]
        weight[frames] += overlap
        if base[:1] in _SEALING and overlap.max() > 0:
            closed[frames[np.argmax(overlap)]] = True
            closed[frames[overlap >= _CLOSURE_FRACTION * dt]] = True
    covered = weight > 0
    uncovered = np.clip(dt - weight, 0.0, None)
    track[covered] = (acc[covered] + uncovered[covered, None] * rest) / (weight[covered] + uncovered[covered])[:, None]
    track[closed] = _SHAPE_ARRAY["closed"]
    if smoothing > 0:
        track = gaussian_filter1d(track, sigma=smoothing, axis=0, mode="nearest")
    # The lips still meet after smoothing; wide/round keep their coarticulated values.
    track[closed, 0] = np.minimum(track[closed, 0], SHAPES["closed"].open)
    return np.clip(track, 0.0, 1.0).astype(np.float32)
