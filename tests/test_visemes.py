"""Phoneme to viseme mapping and per-frame mouth tracks."""

import numpy as np
import pytest

from l2s.corpus import espeak
from l2s.corpus.visemes import SHAPES, VISEMES, mouth_track, viseme_of
from l2s.data.alignment import Span

FPS = 25.0

# IPA as espeak-ng writes it for English, Spanish, Mandarin, French, German
TABLE = {
    "p": "closed",
    "b": "closed",
    "m": "closed",
    "m̩": "closed",
    "f": "labiodental",
    "v": "labiodental",
    "ɱ": "labiodental",
    "uː": "round",
    "ʊ": "round",
    "oʊ": "round",
    "w": "round",
    "ɔ": "round",
    "y": "round",
    "ø": "round",
    "œ": "round",
    "ɒ": "round",
    "iou": "round",
    "õ": "round",
    "iː": "wide",
    "ɪ": "wide",
    "eɪ": "wide",
    "ɛ": "wide",
    "j": "wide",
    "ʝ": "wide",
    "i̪": "wide",
    "uei": "wide",
    "iɛ": "wide",
    "ɛ̃": "wide",
    "a": "open",
    "ɑː": "open",
    "æ": "open",
    "ə": "open",
    "ʌ": "open",
    "aʊ": "open",
    "ɐ": "open",
    "iɑ": "open",
    "ai": "open",
    "ɚ": "open",
    "ˈa": "open",
    "ã": "open",
    "t": "mid",
    "d": "mid",
    "n": "mid",
    "ŋ": "mid",
    "s": "mid",
    "ʃ": "mid",
    "θ": "mid",
    "ɹ": "mid",
    "ɾ": "mid",
    "l": "mid",
    "k": "mid",
    "ɡ": "mid",
    "x": "mid",
    "ʁ": "mid",
    "ts": "mid",
    "tɕh": "mid",
    "s.": "mid",
    "dʒ": "mid",
    "h": "mid",
    "ɕ": "mid",
    "ʐ": "mid",
    "_": "rest",
    "": "rest",
    "||": "rest",
}


@pytest.mark.parametrize("ipa, viseme", sorted(TABLE.items()))
def test_viseme_table(ipa, viseme):
    assert viseme_of(ipa) == viseme


def test_shapes_cover_visemes_and_are_in_range():
    assert set(SHAPES) == set(VISEMES)
    for s in SHAPES.values():
        assert 0 <= s.open <= 1 and 0 <= s.wide <= 1 and 0 <= s.round <= 1
    assert SHAPES["closed"].open < SHAPES["rest"].open < SHAPES["open"].open
    assert SHAPES["wide"].wide > SHAPES["rest"].wide
    assert SHAPES["round"].round > SHAPES["rest"].round


def _spans(seq):
    t, out = 0.0, []
    for label, dur in seq:
        out.append(Span(label, t, t + dur))
        t += dur
    return out


# "ama" with a short /m/ that straddles a frame boundary
AMA = _spans([("_", 0.10), ("a", 0.20), ("m", 0.05), ("a", 0.20), ("_", 0.10)])


@pytest.mark.parametrize("smoothing", [0.0, 1.0, 2.0])
def test_short_bilabial_closes_the_mouth(smoothing):
    track = mouth_track(AMA, n_frames=20, fps=FPS, smoothing=smoothing)
    m = AMA[2]
    frames = range(int(m.start * FPS), int(np.ceil(m.end * FPS)))
    assert min(track[i, 0] for i in frames) <= SHAPES["closed"].open + 1e-6
    # open vowels on either side stay open
    assert track[int(0.2 * FPS), 0] > 0.5 and track[int(0.45 * FPS), 0] > 0.5


def test_very_short_closure_still_gets_a_frame():
    ph = _spans([("a", 0.21), ("p", 0.012), ("a", 0.2)])
    track = mouth_track(ph, n_frames=15, fps=FPS)
    assert track[:, 0].min() <= SHAPES["closed"].open + 1e-6


def test_track_shape_range_and_rest_after_speech():
    ph = _spans([("b", 0.05), ("uː", 0.2), ("s", 0.1), ("iː", 0.2), ("f", 0.08), ("_", 0.1)])
    n = 40  # 1.6 s of video, speech ends at 0.73 s
    for smoothing in (0.0, 0.5, 1.0, 3.0):
        track = mouth_track(ph, n_frames=n, fps=FPS, smoothing=smoothing)
        assert track.shape == (n, 3) and track.dtype == np.float32
        assert track.min() >= 0.0 and track.max() <= 1.0
    track = mouth_track(ph, n_frames=n, fps=FPS, smoothing=1.0)
    rest = np.array([SHAPES["rest"].open, SHAPES["rest"].wide, SHAPES["rest"].round])
    np.testing.assert_allclose(track[30:], np.tile(rest, (10, 1)), atol=1e-4)
    # the rounded vowel rounds, the spread vowel spreads
    assert track[int(0.15 * FPS), 2] > 0.5
    assert track[int(0.5 * FPS), 1] > 0.5


def test_smoothing_spreads_but_unsmoothed_is_piecewise():
    ph = _spans([("_", 0.2), ("a", 0.4), ("_", 0.4)])
    sharp = mouth_track(ph, n_frames=25, fps=FPS, smoothing=0.0)
    smooth = mouth_track(ph, n_frames=25, fps=FPS, smoothing=2.0)
    assert sharp[3, 0] == pytest.approx(SHAPES["rest"].open)
    assert sharp[10, 0] == pytest.approx(SHAPES["open"].open)
    assert smooth[3, 0] > sharp[3, 0]  # anticipation of the vowel
    assert smooth[10, 0] < sharp[10, 0]
    assert np.abs(np.diff(smooth[:, 0])).max() < np.abs(np.diff(sharp[:, 0])).max()


def test_frame_mixes_by_overlap():
    # half a frame of "open" and half of "wide" average to the midpoint
    ph = [Span("a", 0.0, 0.02), Span("i", 0.02, 0.04)]
    track = mouth_track(ph, n_frames=1, fps=FPS, smoothing=0.0)
    a, i = SHAPES["open"], SHAPES["wide"]
    expect = (np.array([a.open, a.wide, a.round]) + np.array([i.open, i.wide, i.round])) / 2
    np.testing.assert_allclose(track[0], expect, atol=1e-6)


def test_empty_inputs():
    assert mouth_track([], n_frames=0, fps=FPS).shape == (0, 3)
    track = mouth_track([], n_frames=5, fps=FPS)
    assert np.allclose(track[:, 0], SHAPES["rest"].open)


def test_track_from_espeak_closes_for_bilabials():
    try:
        espeak.require_espeak()
    except RuntimeError:
        pytest.skip("espeak-ng not installed")
    sp = espeak.synthesize("lay red by m two please", espeak.Voice("en-us"))
    n = int(np.ceil(len(sp.audio) / sp.sample_rate * FPS)) + 5
    track = mouth_track(sp.phonemes, n_frames=n, fps=FPS)
    closed = track[:, 0] <= SHAPES["closed"].open + 1e-6
    word_frames = {w.label: range(int(w.start * FPS), int(np.ceil(w.end * FPS))) for w in sp.words}
    assert any(closed[i] for i in word_frames["m"])  # the /m/ of "em"
    assert any(closed[i] for i in word_frames["please"])  # the /p/
    red = next(w for w in sp.words if w.label == "red")
    assert not closed[int(np.ceil(red.start * FPS)) : int(red.end * FPS)].any()
    assert track[:, 0].max() > 0.5
