"""The phonemizer: espeak-ng IPA of known words per language, one stable inventory, the
pronunciation table, the lexicon, and the voice checks."""

import hashlib
import json
from collections import Counter

import pytest

from l2s.data import espeak, phonemes
from l2s.data.phonemes import INVENTORY, WORD, Phonemizer, split_ipa

espeak.require_espeak()


@pytest.mark.parametrize(
    "voice, text, expected",
    [
        ("en-us", "blue now", "b l uː | n aʊ"),
        ("en-us", "judge the thing", "dʒ ʌ dʒ | ð ə | θ ɪ ŋ"),
        ("es", "pon azul", "p o n | a θ u l"),
        ("es", "chico llueve", "tʃ i k o | ʎ u e β e"),
        ("fr", "chat rouge", "ʃ a | ʁ u ʒ"),
        ("de", "schnell", "ʃ n ɛ l"),
        # Mandarin through its pinyin: tones and espeak-ng's retroflex marks dropped
        ("cmn-latn-pinyin", "song4 lv4", "s o n ɡ | l y"),
    ],
)
def test_known_words(voice, text, expected):
    assert " ".join(Phonemizer(voice)(text)) == expected


def test_inventory_is_fixed():
    """Ids are positions in INVENTORY: a checkpoint's classes must mean the same phonemes in
    every run and every version. Append new symbols at the end and update the digest."""
    digest = hashlib.sha256(json.dumps(INVENTORY, ensure_ascii=False).encode()).hexdigest()[:16]
    assert len(INVENTORY) == 151 and INVENTORY[0] == WORD
    assert digest == "026332ebd371fae6", digest
    assert len(set(INVENTORY)) == len(INVENTORY)


def test_marks_are_dropped_and_unknown_letters_counted():
    unknown = Counter()
    assert split_ipa("ˈaɪ", unknown) == ["aɪ"]  # stress; a diphthong is one symbol
    assert split_ipa("tʃʰ") == ["tʃ"]  # aspiration
    assert split_ipa("ɑ̃ː") == ["ɑː"]  # nasal vowel falls on its oral one, length kept
    assert split_ipa("ai5") == ["ai"] and split_ipa("aɜ") == ["a"]  # Mandarin tones
    assert split_ipa("g") == ["ɡ"]  # ASCII g
    assert split_ipa("a☃b", unknown) == ["a", "b"] and unknown == Counter({"☃": 1})


def test_unspaced_language_uses_the_pronunciation_table():
    spoken = {"现在": "xian4zai4", "七": "qi1"}
    reader = Phonemizer("cmn-latn-pinyin", spaced=False, spoken=spoken)
    assert phonemes.words_of("七现在。", False, spoken) == ["七", "现在"]
    assert reader("七现在") == ["tɕ", "h", "i", WORD, "ɕ", "i", "ɛ", "n", "ts", "ai"]
    assert reader.lexicon(["七现在", "七"]) == {"七": "tɕ h i", "现在": "ɕ i ɛ n ts ai"}


def test_no_text_gives_none():
    reader = Phonemizer("en-us")
    assert reader("") is None and reader("  ,. ") is None


def test_pronunciation_file(tmp_path):
    assert phonemes.read_pronunciation(tmp_path) == (None, {})
    (tmp_path / phonemes.PRONUNCIATION).write_text(json.dumps({"voice": "cmn-latn-pinyin", "words": {"七": "qi1"}}))
    assert phonemes.read_pronunciation(tmp_path) == ("cmn-latn-pinyin", {"七": "qi1"})


def test_voices():
    assert {"en", "en-us", "es", "cmn-latn-pinyin"} <= espeak.voices()
    assert espeak.voice_problem("en-us+m3") is None
    assert "closest: en" in espeak.voice_problem("en_grid")
    assert phonemes.default_voice("en_grid") == "en"
    with pytest.raises(ValueError, match="no voice 'qq'"):
        phonemes.default_voice("qq")
    with pytest.raises(ValueError, match="no voice"):
        Phonemizer("nosuchvoice")("hello")


def test_frame_track_spreads_a_word_over_its_span():
    import numpy as np

    from l2s.data.preprocess import _spread

    track = np.full(10, -1, np.int16)
    _spread(track, [7, 8], start=0.08, end=0.24, fps=25.0)  # frame centres 0.1, 0.14, 0.18, 0.22
    assert track.tolist() == [-1, -1, 7, 7, 8, 8, -1, -1, -1, -1]
    _spread(track, [9], start=0.3, end=1.0, fps=25.0)  # runs past the clip: cut at its end
    assert track.tolist()[7:] == [9, 9, 9]


def test_frame_track_takes_phoneme_timings_over_word_timings(workdir):
    """The embedded corpus gives each phoneme's span: the track follows them (a pause stays
    -1); a corpus with word timings alone spreads each word's phonemes over its span."""
    import numpy as np

    from l2s import config
    from l2s.data.alignment import Span
    from l2s.data.preprocess import add_phonemes
    from l2s.data.sources import RawItem

    params = config.load(workdir / "params.yaml")
    words = (Span("blue", 0.0, 0.4),)
    phones = (Span("b", 0.0, 0.08), Span("l", 0.08, 0.16), Span("_", 0.16, 0.24), Span("uː", 0.24, 0.4))
    items = {
        "timed": RawItem("timed", workdir / "a.mp4", "s1", "blue", words=words, phones=phones),
        "words": RawItem("words", workdir / "b.mp4", "s1", "blue", words=words),
    }
    rows = [{"utt_id": u, "text": "blue", "start": 0.0} for u in items]
    (workdir / "out").mkdir()
    add_phonemes("en", rows, params, workdir / "out", items)
    track = np.load(workdir / "out" / "frame_phonemes.npy")[:, :10]
    b, el, u = phonemes.ids(["b", "l", "uː"])
    assert track[0].tolist() == [b, b, el, el, -1, -1, u, u, u, u]
    assert track[1].tolist() == [b, b, b, el, el, el, el, u, u, u]  # frame centres 0.02 .. 0.38 in thirds
    assert rows[0]["phonemes"] == "b l uː"
