"""GRID-style fixed grammar, one per language.

A GRID sentence is six words, one from each slot: command colour preposition letter digit
adverb ("bin blue at f two now"). Each word has a written form (what the transcript holds)
and a spoken form (what espeak-ng is given), because the two differ for letters ("a" is read
as the article unless spelled "eh") and for Mandarin (Hanzi are written, pinyin with tone
digits is spoken).

Users add languages in params.yaml with the same plain-dict layout as `BUILTIN`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

SLOTS = ("command", "colour", "preposition", "letter", "digit", "adverb")


@dataclass(frozen=True)
class Word:
    """One vocabulary item: `text` goes into the transcript, `say` into espeak-ng."""

    text: str
    say: str


@dataclass(frozen=True)
class Grammar:
    """The six slot vocabularies of one language and the espeak-ng voice that speaks them."""

    language: str
    voice: str
    slots: dict[str, tuple[Word, ...]]
    joiner: str = " "

    def __post_init__(self) -> None:
        # Checked here too, not only in grammar_for, so a hand-built Grammar cannot carry a
        # vocabulary a recogniser could never tell apart.
        if not isinstance(self.voice, str) or not self.voice.strip():
            raise ValueError(f"language {self.language!r}: 'voice' must be a non-empty string")
        if tuple(self.slots) != SLOTS:
            missing = [s for s in SLOTS if s not in self.slots]
            unknown = [s for s in self.slots if s not in SLOTS]
            raise ValueError(
                f"language {self.language!r}: slots must be exactly {SLOTS} in that order "
                f"(missing: {missing}, unknown: {unknown})"
            )
        for slot, words in self.slots.items():
            _check_slot(self.language, slot, words)

    def sample(self, rng: np.random.Generator) -> list[Word]:
        """One word per slot, each drawn uniformly; deterministic for a seeded `rng`."""
        return [words[int(rng.integers(len(words)))] for words in self.slots.values()]

    def text(self, words: list[Word]) -> str:
        """The transcript: written forms joined by `joiner` ("" for Chinese)."""
        return self.joiner.join(w.text for w in words)

    def spoken(self, words: list[Word]) -> str:
        """What espeak-ng reads: spoken forms, always space-separated so words stay words."""
        return " ".join(w.say for w in words)


def _norm_say(say: str) -> str:
    # espeak-ng ignores case and repeated spaces, so these would sound identical
    return " ".join(say.casefold().split())


def _check_slot(language: str, slot: str, words: Any) -> None:
    where = f"language {language!r}, slot {slot!r}"
    if not isinstance(words, tuple) or not words:
        raise ValueError(f"{where}: needs a non-empty tuple of words")
    said: dict[str, str] = {}
    written: set[str] = set()
    for w in words:
        if not isinstance(w, Word) or not w.text.strip() or not w.say.strip():
            raise ValueError(f"{where}: malformed word {w!r}")
        key = _norm_say(w.say)
        if key in said:
            raise ValueError(f"{where}: words {said[key]!r} and {w.text!r} share the spoken form {w.say!r}")
        # Two words written alike would make the transcript ambiguous.
        if w.text in written:
            raise ValueError(f"{where}: the written form {w.text!r} appears twice")
        said[key] = w.text
        written.add(w.text)


_EN_LETTERS = [["a", "eh"]] + [c for c in "bcdefghijklmnopqrstuvxyz"]  # GRID has no "w"

BUILTIN: dict[str, dict] = {
    "en": {
        "voice": "en-us",
        "words": {
            "command": ["bin", "lay", "place", "set"],
            "colour": ["blue", "green", "red", "white"],
            "preposition": ["at", "by", "in", "with"],
            # espeak-ng reads a lone letter by its name, except "a" (read as the article)
            "letter": _EN_LETTERS,
            "digit": ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"],
            "adverb": ["again", "now", "please", "soon"],
        },
    },
    "es": {
        "voice": "es",
        "words": {
            "command": ["pon", "deja", "coloca", "mete"],
            "colour": ["azul", "verde", "rojo", "blanco"],
            "preposition": ["en", "por", "con", "sin"],
            # Letters are spoken by their Spanish names, with an accent where espeak-ng
            # would otherwise read a clitic ("de", "te") unstressed; "w" left out as in GRID.
            "letter": [
                ["a", "a"],
                ["b", "be"],
                ["c", "ce"],
                ["d", "dé"],
                ["e", "e"],
                ["f", "efe"],
                ["g", "ge"],
                ["h", "hache"],
                ["i", "i"],
                ["j", "jota"],
                ["k", "ka"],
                ["l", "ele"],
                ["m", "eme"],
                ["n", "ene"],
                ["o", "ó"],
                ["p", "pe"],
                ["q", "cu"],
                ["r", "erre"],
                ["s", "ese"],
                ["t", "té"],
                ["u", "u"],
                ["v", "uve"],
                ["x", "equis"],
                ["y", "ye"],
                ["z", "zeta"],
            ],
            "digit": ["cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve"],
            "adverb": ["ahora", "pronto", "luego", "ya"],
        },
    },
    "zh": {
        # Plain "cmn" reads tone digits as English numbers; the pinyin voice takes them as
        # tones, and wants ü written "v" ("u:" is read as a colon).
        "voice": "cmn-latn-pinyin",
        "joiner": "",
        "words": {
            "command": [["放", "fang4"], ["拿", "na2"], ["搬", "ban1"], ["送", "song4"]],
            "colour": [["蓝", "lan2"], ["绿", "lv4"], ["红", "hong2"], ["白", "bai2"]],
            "preposition": [["在", "zai4"], ["靠", "kao4"], ["进", "jin4"], ["用", "yong4"]],
            # The ten Heavenly Stems stand in for GRID's letters.
            "letter": [
                ["甲", "jia3"],
                ["乙", "yi3"],
                ["丙", "bing3"],
                ["丁", "ding1"],
                ["戊", "wu4"],
                ["己", "ji3"],
                ["庚", "geng1"],
                ["辛", "xin1"],
                ["壬", "ren2"],
                ["癸", "gui3"],
            ],
            "digit": [
                ["零", "ling2"],
                ["一", "yi1"],
                ["二", "er4"],
                ["三", "san1"],
                ["四", "si4"],
                ["五", "wu3"],
                ["六", "liu4"],
                ["七", "qi1"],
                ["八", "ba1"],
                ["九", "jiu3"],
            ],
            # Multi-syllable pinyin is written without a space so espeak-ng keeps it one word.
            "adverb": [["又", "you4"], ["现在", "xian4zai4"], ["请", "qing3"], ["马上", "ma3shang4"]],
        },
    },
}

_SPEC_KEYS = {"voice", "joiner", "words"}


def _parse_word(language: str, slot: str, item: Any) -> Word:
    if isinstance(item, str):
        return Word(text=item, say=item)
    if isinstance(item, (list, tuple)) and len(item) == 2 and all(isinstance(x, str) for x in item):
        return Word(text=item[0], say=item[1])
    raise ValueError(
        f'language {language!r}, slot {slot!r}: malformed word {item!r} (expected "word" or ["text", "say"])'
    )


def grammar_for(language: str, spec: dict | None = None) -> Grammar:
    """The grammar of `language`: the built-in one, with `spec` (from params) laid over it.

    `spec` may replace the voice, the joiner or any slot's word list of a built-in language,
    or define a new language in full. Raises ValueError naming the language (and the slot)
    on anything a corpus could not be built from.
    """
    base = BUILTIN.get(language)
    if base is None and spec is None:
        raise ValueError(
            f"no built-in grammar for language {language!r}; built-in: {sorted(BUILTIN)}. "
            "Give one in params (voice, words per slot)."
        )
    spec = spec or {}
    if not isinstance(spec, dict):
        raise ValueError(f"language {language!r}: the grammar spec must be a mapping")
    unknown_keys = set(spec) - _SPEC_KEYS
    if unknown_keys:
        raise ValueError(
            f"language {language!r}: unknown grammar keys {sorted(unknown_keys)}; allowed: {sorted(_SPEC_KEYS)}"
        )
    base = base or {}
    # An empty or null value means "not given" (params dataclasses default to them).
    # ("" is a real joiner, so only None counts as missing there.)
    spec = {k: v for k, v in spec.items() if v is not None and (v != "" or k == "joiner")}
    voice = spec.get("voice", base.get("voice"))
    if not isinstance(voice, str) or not voice.strip():
        raise ValueError(f"language {language!r}: needs an espeak-ng 'voice' (e.g. \"de\")")
    joiner = spec.get("joiner", base.get("joiner", " "))
    if not isinstance(joiner, str):
        raise ValueError(f"language {language!r}: 'joiner' must be a string")

    spec_words = spec.get("words") or {}
    if not isinstance(spec_words, dict):
        raise ValueError(f"language {language!r}: 'words' must map slot -> list of words")
    for slot in spec_words:
        if slot not in SLOTS:
            raise ValueError(f"language {language!r}: unknown slot {slot!r}; slots are {SLOTS}")
    merged = {**base.get("words", {}), **spec_words}

    slots: dict[str, tuple[Word, ...]] = {}
    for slot in SLOTS:
        if slot not in merged:
            raise ValueError(f"language {language!r}: slot {slot!r} is missing")
        items = merged[slot]
        if not isinstance(items, (list, tuple)) or not items:
            raise ValueError(f"language {language!r}, slot {slot!r}: needs a non-empty list")
        slots[slot] = tuple(_parse_word(language, slot, it) for it in items)
    return Grammar(language=language, voice=voice.strip(), slots=slots, joiner=joiner)
