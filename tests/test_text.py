"""Transcript normalisation and corpus-level WER/CER on hand-made sentences."""

import pytest

from l2s.evaluation import text


def test_normalise_case_punctuation_and_spaces():
    assert text.normalise("  Bin BLUE, at K-nine   again! ", "en") == "bin blue at k nine again"
    assert text.normalise("blue,green", "en") == "blue green"  # punctuation splits, never glues
    assert text.normalise("Don't stop. It\u2019s", "en") == "dont stop its"


def test_normalise_nfkc_keeps_accents():
    assert text.normalise("ＰＯＮ　Rojo", "es") == "pon rojo"  # full-width letters and space
    assert text.normalise("DÉ", "es") == "dé"
    assert text.normalise("de\u0301", "es") == "dé"  # decomposed accent composed
    assert text.normalise("dé", "es") != text.normalise("de", "es")


def test_normalise_unspaced_languages_drop_spaces():
    assert text.normalise("送 绿在，戊七。现在", "zh") == "送绿在戊七现在"
    assert text.normalise("ｔｈｅ", "ja") == "the"
    assert text.spaced("en") and text.spaced("es-ES") and not text.spaced("zh") and not text.spaced("zh_CN")


def test_tokens_words_or_characters():
    assert text.tokens("Bin blue at K", "en") == ["bin", "blue", "at", "k"]
    assert text.tokens("送绿 在", "zh") == ["送", "绿", "在"]
    assert text.tokens("  ", "en") == []


def test_edit_distance():
    assert text.edit_distance([], []) == 0
    assert text.edit_distance(list("abc"), list("abc")) == 0
    assert text.edit_distance(list("abc"), list("axc")) == 1  # substitution
    assert text.edit_distance(list("abc"), list("abxc")) == 1  # insertion
    assert text.edit_distance(list("abc"), list("ac")) == 1  # deletion
    assert text.edit_distance(list("abc"), []) == 3
    assert text.edit_distance([], list("ab")) == 2
    assert text.edit_distance(list("kitten"), list("sitting")) == 3
    assert text.edit_distance(["bin", "blue"], ["blue", "bin"]) == 2


def test_wer_substitution_insertion_deletion():
    ref = ["bin blue at k nine again"]
    assert text.wer(ref, ["bin blue at k nine again"], "en") == 0
    assert text.wer(ref, ["bin red at k nine again"], "en") == pytest.approx(1 / 6)
    assert text.wer(ref, ["bin blue at k nine now again"], "en") == pytest.approx(1 / 6)
    assert text.wer(ref, ["bin blue k nine again"], "en") == pytest.approx(1 / 6)
    assert text.wer(ref, [""], "en") == 1.0  # empty hypothesis: every word deleted
    assert text.wer(ref, ["Bin BLUE at K, nine again."], "en") == 0  # normalised before scoring


def test_corpus_level_rates_are_total_edits_over_total_length():
    refs = ["a b", "c d e f g h i j"]  # 2 + 8 words
    hyps = ["x b", "c d e f g h i j"]  # one edit
    assert text.wer(refs, hyps, "en") == pytest.approx(1 / 10)  # a mean of sentence rates would give 0.25
    assert text.cer(refs, hyps, "en") == pytest.approx(1 / 10)
    assert text.wer([], [], "en") == 0.0
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        text.wer(refs, hyps[:1], "en")


def test_cer_chinese_and_spaces_ignored():
    ref = ["送绿在戊七现在"]
    assert text.cer(ref, ["送绿再戊七现在"], "zh") == pytest.approx(1 / 7)  # substitution
    assert text.cer(ref, ["送绿在戊七现"], "zh") == pytest.approx(1 / 7)  # deletion
    assert text.cer(ref, [""], "zh") == 1.0
    # in zh every character is a word, so WER is the same figure
    assert text.wer(ref, ["送绿再戊七现"], "zh") == text.cer(ref, ["送绿再戊七现"], "zh") == pytest.approx(2 / 7)
    assert text.cer(["bin blue"], ["binblue"], "en") == 0.0  # CER counts letters, not spaces
    assert text.wer(["bin blue"], ["binblue"], "en") == 1.0


def test_error_counts():
    counts = text.error_counts("bin blue at k", "bin blu at k now", "en")
    assert counts == {"word_edits": 2, "words": 4, "char_edits": 4, "chars": 10}


def test_substitutions_pair_what_was_said_with_what_was_heard():
    said = "bin blue at f two now".split()
    heard = "bin blue at s two please now".split()
    assert text.substitutions(said, heard) == [("f", "s")]
    assert text.substitutions(["pat", "bat"], ["mat", "bat"]) == [("pat", "mat")]
    assert text.substitutions(["a", "b"], []) == []
    assert text.substitutions(list("送绿在"), list("送率在")) == [("绿", "率")]
