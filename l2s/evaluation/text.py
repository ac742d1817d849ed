"""Transcript normalisation and error rates (WER, CER) for scoring recognised speech.

Normalisation, the same for references and hypotheses, so that only the words count:

1. Unicode NFKC (full-width letters and digits become ASCII, ligatures split, composed
   accents kept composed: Spanish "dé" stays one letter, distinct from "de"),
2. lower-case (`str.casefold`, which also folds German ß to ss),
3. punctuation and symbols (Unicode categories P* and S*) replaced by a space, so that
   "blue,green" stays two words; apostrophes inside a word are dropped instead
   ("don't" -> "dont"),
4. whitespace collapsed to single spaces and stripped,
5. languages written without spaces between words (`UNSPACED`: zh, ja, th, ...) drop
   the spaces altogether, as a transcript may or may not put them between characters.

Words for WER are the space-separated tokens; in an unspaced language there is no word
boundary in the text, so every character counts as a word and its "WER" is a character
error rate. CER (every character but the space) is then the main figure for such a
language. Corpus-level rates are total edits / total reference length, as auto_avsr
reports them, not a mean of per-sentence rates.
"""

from __future__ import annotations

import unicodedata

import numpy as np

from l2s.data.phonemes import UNSPACED, spaced  # noqa: F401  (part of this module's interface)
from l2s.scores import edit_distance

APOSTROPHES = {"'": "", "\u2019": "", "\u02bc": ""}  # straight, typographic, modifier letter


def normalise(text: str, lang: str) -> str:
    """The normalised transcript (rules in the module docstring)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(APOSTROPHES.get(ch, ch) for ch in text)
    text = "".join(" " if unicodedata.category(ch)[0] in "PS" else ch for ch in text)
    text = " ".join(text.split())
    return text if spaced(lang) else text.replace(" ", "")


def tokens(text: str, lang: str) -> list[str]:
    """Words for WER: space-separated words, or every character in an unspaced language."""
    text = normalise(text, lang)
    return text.split() if spaced(lang) else list(text)


def characters(text: str, lang: str) -> list[str]:
    """Characters for CER: the normalised text without its spaces."""
    return list(normalise(text, lang).replace(" ", ""))


def aligned(ref: list, hyp: list) -> list[tuple]:
    """The (reference, hypothesis) pairs of a minimum-edit alignment, matches included
    (insertions and deletions left out).

    Full dynamic-programming table with a backtrace; ties prefer a substitution over an
    insertion + deletion, so "said X, heard Y" is reported as such."""
    n, m = len(ref), len(hyp)
    cost = [[i + j if i == 0 or j == 0 else 0 for j in range(m + 1)] for i in range(n + 1)]
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost[i][j] = min(cost[i - 1][j] + 1, cost[i][j - 1] + 1, cost[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]))
    pairs, i, j = [], n, m
    while i > 0 and j > 0:
        if cost[i][j] == cost[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]):
            pairs.append((ref[i - 1], hyp[j - 1]))
            i, j = i - 1, j - 1
        elif cost[i][j] == cost[i - 1][j] + 1:
            i -= 1
        else:
            j -= 1
    return pairs[::-1]


def substitutions(ref: list, hyp: list) -> list[tuple]:
    """The (reference, hypothesis) pairs that a minimum-edit alignment substitutes."""
    return [(r, h) for r, h in aligned(ref, hyp) if r != h]


def error_counts(ref: str, hyp: str, lang: str) -> dict:
    """Edits and reference lengths of one sentence, in words and in characters."""
    ref_w, hyp_w = tokens(ref, lang), tokens(hyp, lang)
    ref_c, hyp_c = characters(ref, lang), characters(hyp, lang)
    return {
        "word_edits": edit_distance(ref_w, hyp_w),
        "words": len(ref_w),
        "char_edits": edit_distance(ref_c, hyp_c),
        "chars": len(ref_c),
    }


def rate(edits, length):
    """An error rate: edits over the reference length, a length of at least 1, so that a
    reference without words still counts its insertions. Numbers or array/pandas columns."""
    return edits / np.maximum(length, 1)


def corpus_rates(counts: list[dict]) -> dict[str, float]:
    """Corpus-level WER and CER from per-sentence `error_counts`: total edits over total
    reference length, as auto_avsr reports them, not a mean of per-sentence rates."""
    total = {key: sum(c[key] for c in counts) for key in ("word_edits", "words", "char_edits", "chars")}
    return {
        "wer": float(rate(total["word_edits"], total["words"])),
        "cer": float(rate(total["char_edits"], total["chars"])),
    }


def rate_intervals(counts: list[dict]) -> dict[str, dict[str, float]]:
    """95 % bootstrap intervals of corpus_rates over the sentences of `counts`, as a
    metrics file keeps them ({"wer": {"low", "high"}, "cer": ...}; none without sentences)."""
    from l2s.evaluation import bootstrap

    if not counts:
        return {}
    one = [0] * len(counts)  # one stratum: the sentences of one language
    return {
        unit: bootstrap.as_metrics(
            bootstrap.rate_interval([c[f"{kind}_edits"] for c in counts], [c[length] for c in counts], one)
        )
        for unit, kind, length in (("wer", "word", "words"), ("cer", "char", "chars"))
    }


def _counts(refs: list[str], hyps: list[str], lang: str) -> list[dict]:
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    return [error_counts(ref, hyp, lang) for ref, hyp in zip(refs, hyps)]


def wer(refs: list[str], hyps: list[str], lang: str) -> float:
    """Corpus word error rate: total word edits / total reference words."""
    return corpus_rates(_counts(refs, hyps, lang))["wer"]


def cer(refs: list[str], hyps: list[str], lang: str) -> float:
    """Corpus character error rate: total character edits / total reference characters."""
    return corpus_rates(_counts(refs, hyps, lang))["cer"]
