"""Transcripts as phonemes of one inventory shared by every language.

espeak-ng reads each word of a transcript with the language's voice and gives IPA. The
IPA is then cut into the symbols of `INVENTORY`, a fixed table written here: the same
phoneme has the same id in every language and in every run, so a multilingual model
shares its lip-reading classes, and a checkpoint's classes never depend on the data.

Cutting takes the longest symbol of the table at each position (affricates, diphthongs
and long vowels are symbols of their own) after dropping what the lips cannot show or
espeak-ng adds for its own use: stress, tone (digits and tone letters), aspiration and
palatalisation marks and combining diacritics (nasal vowels fall on their oral vowel).
A letter outside the table is left out and counted, so that a language the table serves
badly shows in its processed info.json rather than going unnoticed.

A word may have a spoken form that differs from its written one (a Mandarin character
and its pinyin, "g" and "gee"): a pronunciation table `{written: spoken}` gives it. The
embedded corpus writes its own (`pronunciation.json` in its raw folder); a user can put
one in theirs.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from l2s.data import espeak
from l2s.scores import edit_distance

WORD = "|"  # the boundary between words, a symbol of the inventory like any phoneme
PRONUNCIATION = "pronunciation.json"  # {"voice": ..., "words": {written: spoken}} in a raw folder

# Languages whose writing puts no spaces between words (ISO 639-1, plus Cantonese and
# Mandarin codes that some corpora use)
UNSPACED = frozenset({"zh", "ja", "th", "lo", "km", "my", "bo", "yue", "cmn", "wuu"})


def spaced(lang: str) -> bool:
    """Whether `lang` separates its words with spaces (its WER counts words, not characters)."""
    return lang.split("-")[0].split("_")[0].lower() not in UNSPACED


_VOWELS = "iyɨʉɯuɪʏʊeøɘɵɤoəɛœɜɞʌɔæɐaɶɑɒɚɝ"
_CONSONANTS = "pbtdʈɖcɟkɡqɢʔmɱnɳɲŋɴʙrʀⱱɾɽɸβfvθðszʃʒʂʐçʝxɣχʁħʕhɦɬɮʋɹɻjɰlɭʎʟwɥʍɕʑɫ"
_AFFRICATES = ("ts", "dz", "tʃ", "dʒ", "tɕ", "dʑ", "tʂ", "dʐ", "pf")
_DIPHTHONGS = ("aɪ", "eɪ", "ɔɪ", "aʊ", "oʊ", "əʊ", "ɪə", "eə", "ʊə", "ai", "ei", "au", "ou", "eʊ", "oɪ", "ɛɪ")
# The table: never reorder or remove entries (ids are positions); append new ones at the end.
INVENTORY: tuple[str, ...] = (
    WORD,
    *_VOWELS,
    *(v + "ː" for v in _VOWELS),
    *_CONSONANTS,
    *_AFFRICATES,
    *_DIPHTHONGS,
)
_ID = {p: i for i, p in enumerate(INVENTORY)}
WORD_ID = _ID[WORD]
_LONGEST = max(map(len, INVENTORY))
# marks that carry stress, tone, syllable or release information, or espeak-ng's own notation
_MARKS = set("ˈˌ'-.:|‖‿ʰʲʷˠˤ˞ʼ˥˦˧˨˩0123456789")
_SPELLING = {"g": "ɡ", "ʧ": "tʃ", "ʤ": "dʒ", "ʦ": "ts", "ʣ": "dz"}


def _clean(ipa: str) -> str:
    decomposed = unicodedata.normalize("NFD", ipa)
    kept = "".join(c for c in decomposed if c not in _MARKS and not unicodedata.combining(c))
    kept = "".join(_SPELLING.get(c, c) for c in kept)
    # espeak-ng's Mandarin marks a tone with a trailing ɜ after the vowel it sits on ("aɜ")
    if len(kept) > 1 and kept.endswith("ɜ") and kept[-2] in _VOWELS:
        kept = kept[:-1]
    return kept


def split_ipa(ipa: str, unknown: Counter | None = None) -> list[str]:
    """One espeak-ng phoneme (or any IPA string) as symbols of INVENTORY, longest first.
    Letters outside the table are skipped and counted in `unknown`."""
    s, out, i = _clean(ipa), [], 0
    while i < len(s):
        for n in range(min(_LONGEST, len(s) - i), 0, -1):
            if s[i : i + n] in _ID:
                out.append(s[i : i + n])
                i += n
                break
        else:
            if unknown is not None:
                unknown[s[i]] += 1
            i += 1
    return out


def ids(symbols: list[str]) -> list[int]:
    """Inventory ids of symbols (0-based; a CTC head puts its blank before them)."""
    return [_ID[s] for s in symbols]


def symbols(id_list) -> list[str]:
    return [INVENTORY[int(i)] for i in id_list]


def phoneme_edits(ref: list[int], hyp: list[int]) -> int:
    """Edits between two id sequences over phonemes alone (word boundaries left out), the
    numerator of a phoneme error rate."""
    return edit_distance([i for i in ref if i != WORD_ID], [i for i in hyp if i != WORD_ID])


def normal(text: str) -> str:
    """NFKC, lower case, punctuation and symbols as spaces (apostrophes kept: espeak-ng
    reads "don't" as one word)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(" " if unicodedata.category(c)[0] in "PS" and c != "'" else c for c in text)


def words_of(text: str, spaced: bool, spoken: dict[str, str]) -> list[str]:
    """The words of a transcript: whitespace-separated in a spaced language; in an unspaced
    one the longest written forms of the pronunciation table, else single characters."""
    text = normal(text)
    if spaced:
        return text.split()
    text, out, i = "".join(text.split()), [], 0
    longest = max(map(len, spoken), default=1)
    while i < len(text):
        n = next((n for n in range(min(longest, len(text) - i), 1, -1) if text[i : i + n] in spoken), 1)
        out.append(text[i : i + n])
        i += n
    return out


@dataclass
class Phonemizer:
    """Transcripts of one language -> inventory symbols with WORD between words."""

    voice: str
    spaced: bool = True
    spoken: dict[str, str] = field(default_factory=dict)  # written word -> what espeak-ng should read
    unknown: Counter = field(default_factory=Counter)  # letters outside the inventory, with counts

    def word(self, word: str) -> list[str]:
        out = []
        for phones in _ipa_words(self.spoken.get(word, word), self.voice):
            for p in phones:
                out += split_ipa(p, self.unknown)
        return out

    def __call__(self, text: str) -> list[str] | None:
        """The transcript's symbols, or None when it has none (no text, or nothing espeak-ng
        could read)."""
        out: list[str] = []
        for w in words_of(text or "", self.spaced, self.spoken):
            phones = self.word(w)
            if phones:
                out += ([WORD] if out else []) + phones
        return out or None

    def lexicon(self, texts) -> dict[str, str]:
        """{word: its symbols joined by spaces} of every word in `texts`."""
        return {
            w: " ".join(self.word(w))
            for t in texts
            for w in words_of(t or "", self.spaced, self.spoken)
            if self.word(w)
        }


@functools.lru_cache(maxsize=65536)
def _ipa_words(text: str, voice: str) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(w) for w in espeak.ipa_words(text, voice))


def read_pronunciation(raw_dir: Path) -> tuple[str | None, dict[str, str]]:
    """(voice, {written: spoken}) of a raw folder's pronunciation.json, or (None, {})."""
    path = Path(raw_dir) / PRONUNCIATION
    if not path.exists():
        return None, {}
    data = json.loads(path.read_text(encoding="utf-8"))
    words = {unicodedata.normalize("NFKC", k).casefold(): v for k, v in data.get("words", {}).items()}
    return data.get("voice"), words


def default_voice(lang: str) -> str:
    """The language key when espeak-ng has such a voice, else its part before "_" or "-"
    (en_grid -> en); the error names the closest voices."""
    for name in (lang, re.split(r"[_\-]", lang)[0]):
        if espeak.voice_problem(name) is None:
            return name
    raise ValueError(espeak.voice_problem(lang))
