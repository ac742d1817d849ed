"""espeak-ng synthesis through the C library: audio, phoneme and word timing."""

import numpy as np
import pytest

from l2s.corpus import espeak
from l2s.corpus.espeak import TimedSpeech, Voice, require_espeak, synthesize

try:
    require_espeak()
    HAVE_ESPEAK = True
except RuntimeError:
    HAVE_ESPEAK = False
needs_espeak = pytest.mark.skipif(not HAVE_ESPEAK, reason="espeak-ng not installed")

FRAME = 0.040  # one video frame at 25 fps

SENTENCES = {
    "en": ("en-us", "bin blue at f two now"),
    "es": ("es", "pon verde con be cero ahora"),
    "zh": ("cmn-latn-pinyin", "fang4 lv4 zai4 bing3 ba1 ma3shang4"),
}


def _envelope_db(speech: TimedSpeech, hop_s: float = 0.005) -> tuple[np.ndarray, float]:
    hop = int(speech.sample_rate * hop_s)
    n = len(speech.audio) // hop
    frames = speech.audio[: n * hop].reshape(n, hop).astype(np.float64)
    rms = np.sqrt((frames**2).mean(axis=1))
    db = 20 * np.log10(rms + 1e-9)
    return db - db.max(), hop_s


def _onset_offset(speech: TimedSpeech, floor_db: float = -35.0) -> tuple[float, float]:
    db, hop = _envelope_db(speech)
    loud = np.flatnonzero(db > floor_db)
    return loud[0] * hop, (loud[-1] + 1) * hop


def _median_f0(speech: TimedSpeech) -> float:
    """Median pitch of the loud frames by autocorrelation (60..400 Hz)."""
    sr, x = speech.sample_rate, speech.audio.astype(np.float64)
    win, lo, hi = int(0.04 * sr), int(sr / 400), int(sr / 60)
    level = np.sqrt(np.mean(x**2))
    f0 = []
    for start in range(0, len(x) - win, win // 2):
        seg = x[start : start + win]
        if np.sqrt(np.mean(seg**2)) < level:
            continue
        seg = seg - seg.mean()
        ac = np.correlate(seg, seg, "full")[win - 1 :]
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.5 * ac[0]:
            f0.append(sr / lag)
    assert len(f0) >= 5
    return float(np.median(f0))


@needs_espeak
@pytest.mark.parametrize("language", sorted(SENTENCES))
def test_synthesis_gives_audio_and_contiguous_spans(language):
    voice, text = SENTENCES[language]
    sp = synthesize(text, Voice(voice))
    assert sp.sample_rate == 22050
    assert sp.audio.dtype == np.float32 and sp.audio.ndim == 1
    assert 0.5 < len(sp.audio) / sp.sample_rate < 5.0
    assert 0.05 < np.abs(sp.audio).max() <= 1.0

    ph = sp.phonemes
    assert ph[0].start == 0.0
    assert ph[-1].end == pytest.approx(len(sp.audio) / sp.sample_rate)
    for a, b in zip(ph, ph[1:]):
        assert a.end == b.start
    assert all(p.end > p.start for p in ph)
    assert all(p.label for p in ph)
    assert sum(p.label != "_" for p in ph) >= 12

    assert [w.label for w in sp.words] == text.split()
    for a, b in zip(sp.words, sp.words[1:]):
        assert a.start < a.end <= b.start
    # each word ends at the end of a sounding phoneme
    ends = {p.end for p in ph if p.label != "_"}
    assert all(w.end in ends for w in sp.words)


@needs_espeak
@pytest.mark.parametrize("language", sorted(SENTENCES))
@pytest.mark.parametrize("variant", [None, "m3"])
def test_timing_matches_the_waveform(language, variant):
    voice, text = SENTENCES[language]
    sp = synthesize(text, Voice(voice, variant=variant))
    onset, offset = _onset_offset(sp)
    sounding = [p for p in sp.phonemes if p.label != "_"]
    assert abs(sounding[0].start - onset) < FRAME
    assert abs(sounding[-1].end - offset) < FRAME
    assert abs(sp.words[0].start - onset) < FRAME
    assert abs(sp.words[-1].end - offset) < FRAME


@needs_espeak
def test_pauses_are_quiet():
    # a comma makes espeak-ng pause; the pause span must hold (near) silence
    sp = synthesize("bin blue, at f two now", Voice("en-us"))
    db, hop = _envelope_db(sp)
    pauses = [p for p in sp.phonemes if p.label == "_" and p.end - p.start > 0.05]
    assert pauses
    for p in pauses:
        inner = db[int(p.start / hop) + 2 : int(p.end / hop) - 2]
        assert inner.size and np.median(inner) < -30


@needs_espeak
def test_voices_differ_in_pitch():
    text = "set white with p five again"
    low = synthesize(text, Voice("en-us", variant="m3", pitch=20))
    high = synthesize(text, Voice("en-us", variant="f2", pitch=80))
    f_low, f_high = _median_f0(low), _median_f0(high)
    assert f_high > 1.3 * f_low, (f_low, f_high)
    # same words, so similar length despite the different voices
    assert len(low.words) == len(high.words) == 6


@needs_espeak
def test_rate_changes_duration():
    text = "lay red by g nine soon"
    slow = synthesize(text, Voice("en-us", rate=120))
    fast = synthesize(text, Voice("en-us", rate=260))
    assert len(slow.audio) > 1.5 * len(fast.audio)


@needs_espeak
def test_unicode_words_are_mapped():
    sp = synthesize("coloca ñandú dé uno", Voice("es"))
    assert [w.label for w in sp.words] == ["coloca", "ñandú", "dé", "uno"]


@needs_espeak
def test_bad_voice_and_empty_text():
    with pytest.raises(ValueError, match="voice"):
        synthesize("hello", Voice("no-such-voice"))
    with pytest.raises(ValueError):
        synthesize("   ", Voice("en-us"))
    with pytest.raises(ValueError):
        synthesize("hello", Voice("en-us", pitch=150))


def test_missing_library_gives_install_command(monkeypatch):
    from l2s.data import espeak as library

    monkeypatch.setattr(library, "_LIB_CANDIDATES", ("libespeak-ng-missing.so.9",))
    monkeypatch.setattr(library, "_LIBRARY", None)
    monkeypatch.setattr(espeak, "_ENGINE", None)
    with pytest.raises(RuntimeError, match="apt-get install espeak-ng"):
        require_espeak()
    with pytest.raises(RuntimeError, match="apt-get install espeak-ng"):
        synthesize("hello", Voice("en-us"))


@needs_espeak
def test_synthesis_after_the_phonemizer_keeps_every_word(tmp_path):
    """Preprocessing in this process runs the phonemizer (espeak_TextToPhonemes) over the
    corpus's transcripts; a synthesis right after it once lost its first word's event."""
    from tests.helpers import corpus_root

    corpus_root(tmp_path)  # builds and preprocesses a small corpus here, phonemes included
    voice, text = SENTENCES["en"]
    assert [w.label for w in synthesize(text, Voice(voice)).words] == text.split()
