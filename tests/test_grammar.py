"""The per-language GRID grammars and their validation."""

import re

import numpy as np
import pytest

from l2s.corpus.grammar import BUILTIN, SLOTS, Grammar, Word, grammar_for

HANZI = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff]+$")


@pytest.mark.parametrize("language", sorted(BUILTIN))
def test_builtin_grammar_is_well_formed(language):
    g = grammar_for(language)
    assert tuple(g.slots) == SLOTS
    for slot, words in g.slots.items():
        assert words, slot
        said = [" ".join(w.say.casefold().split()) for w in words]
        assert len(set(said)) == len(said), slot
    assert g.voice


@pytest.mark.parametrize("language", sorted(BUILTIN))
def test_sampling_is_deterministic_and_one_word_per_slot(language):
    g = grammar_for(language)
    a = [g.sample(np.random.default_rng(7)) for _ in range(3)]
    b = [g.sample(np.random.default_rng(7)) for _ in range(3)]
    assert a == b
    words = a[0]
    assert len(words) == 6
    for w, slot in zip(words, SLOTS):
        assert w in g.slots[slot]
    assert len(g.spoken(words).split()) == 6


def test_sampling_covers_every_word():
    g = grammar_for("en")
    rng = np.random.default_rng(0)
    seen = {w.text for _ in range(2000) for w in g.sample(rng)}
    assert seen == {w.text for ws in g.slots.values() for w in ws}


def test_english_is_grid():
    g = grammar_for("en")
    assert [w.text for w in g.slots["command"]] == ["bin", "lay", "place", "set"]
    letters = [w.text for w in g.slots["letter"]]
    assert len(letters) == 25 and "w" not in letters
    assert g.text([Word("bin", "bin"), Word("blue", "blue")]) == "bin blue"


def test_chinese_transcript_is_hanzi_without_spaces():
    g = grammar_for("zh")
    assert g.voice == "cmn-latn-pinyin"
    for seed in range(20):
        words = g.sample(np.random.default_rng(seed))
        text = g.text(words)
        assert " " not in text and HANZI.match(text), text
        # pinyin with a tone digit on every syllable
        assert all(re.fullmatch(r"([a-z]+[1-5])+", w.say) for w in words)


def test_custom_language_from_spec():
    spec = {
        "voice": "de",
        "words": {
            "command": ["setze", "lege", "stelle", "bringe"],
            "colour": ["blau", "grün", "rot", "weiß"],
            "preposition": ["an", "bei", "in", "mit"],
            "letter": [["a", "ah"], ["b", "beh"], ["c", "zeh"]],
            "digit": ["null", "eins", "zwei"],
            "adverb": ["wieder", "jetzt", "bitte", "bald"],
        },
    }
    g = grammar_for("de", spec)
    assert g.language == "de" and g.voice == "de" and g.joiner == " "
    assert g.slots["letter"][1] == Word("b", "beh")
    words = g.sample(np.random.default_rng(1))
    assert len(g.text(words).split()) == 6


def test_spec_overrides_builtin_slot():
    g = grammar_for("en", {"words": {"adverb": ["today", "later"]}})
    assert [w.text for w in g.slots["adverb"]] == ["today", "later"]
    assert g.slots["command"] == grammar_for("en").slots["command"]
    assert g.voice == "en-us"


def test_empty_values_mean_not_given():
    # params dataclasses hand over "" and {} for fields a user left out
    g = grammar_for("zh", {"voice": "", "joiner": None, "words": {}})
    assert g == grammar_for("zh")
    g = grammar_for("en", {"voice": "", "words": {"adverb": ["now", "later"]}})
    assert g.voice == "en-us"


def test_unknown_language_names_builtins():
    with pytest.raises(ValueError, match="built-in.*en.*es.*zh"):
        grammar_for("xx")


def _spec(**words):
    base = {s: ["one", "two"] for s in SLOTS}
    base.update(words)
    return {"voice": "de", "words": base}


@pytest.mark.parametrize(
    "spec, slot",
    [
        ({"voice": "de", "words": {s: ["x"] for s in SLOTS if s != "digit"}}, "digit"),
        (_spec(colour=[]), "colour"),
        (_spec(letter=[["a", "b", "c"]]), "letter"),
        (_spec(letter=[3]), "letter"),
        (_spec(adverb=[["jetzt", "jetzt"], ["nun", "JETZT"]]), "adverb"),
        ({"voice": "de", "words": {**{s: ["x"] for s in SLOTS}, "animal": ["cat"]}}, "animal"),
    ],
    ids=["missing", "empty", "malformed-list", "malformed-type", "duplicate-say", "unknown"],
)
def test_validation_names_language_and_slot(spec, slot):
    with pytest.raises(ValueError, match=f"'de'.*'{slot}'"):
        grammar_for("de", spec)


def test_spec_needs_a_voice():
    spec = _spec()
    del spec["voice"]
    with pytest.raises(ValueError, match="voice"):
        grammar_for("de", spec)


def test_grammar_checks_itself():
    slots = {s: (Word("a", "a"),) for s in SLOTS}
    Grammar("t", "en", slots)
    with pytest.raises(ValueError, match="slots"):
        Grammar("t", "en", dict(reversed(list(slots.items()))))
    with pytest.raises(ValueError, match="'digit'"):
        Grammar("t", "en", {**slots, "digit": (Word("a", "one"), Word("b", "one"))})
