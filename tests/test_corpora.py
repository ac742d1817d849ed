"""The seed's corpora as distributed: LRW (500 words, 29-frame clips) and TCD-TIMIT
(volunteers and lipspeakers, TIMIT sentences), on small fixtures of their layouts, and
LRW's short clips through preprocessing, multilingual training, the test stage and a
recogniser that decides among the corpus's words."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch

from l2s import config, paths
from l2s.config import ConfigError, LanguageSource
from l2s.data import preprocess
from l2s.data.alignment import Span
from l2s.data.dataset import ProcessedLanguage, WindowDataset
from l2s.data.sources import list_items, read_lrw_transcript
from l2s.evaluation import decoding
from tests.helpers import english_root, talking_video, write_params


def _touch(path, txt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0")
    if txt is not None:
        path.with_suffix(".txt").write_text(txt, encoding="utf-8")


def _lrw_txt(word, duration):
    return f"Text: {word}\nConf: 6\nDuration: {duration} seconds\n"


# --------------------------------------------------------------------------- LRW


def test_lrw_folders_give_words_splits_and_spans(tmp_path, caplog):
    _touch(tmp_path / "ABOUT/train/ABOUT_00001.mp4", _lrw_txt("ABOUT", 0.3))
    _touch(tmp_path / "ABOUT/val/ABOUT_00001.mp4", _lrw_txt("ABOUT", 0.5))
    _touch(tmp_path / "ABOUT/test/ABOUT_00001.mp4")  # no .txt: the folder names the word
    _touch(tmp_path / "AFTER/train/AFTER_00002.mp4", _lrw_txt("AFTER", 2.0))  # longer than a clip: capped
    _touch(tmp_path / "AFTER/train/notes.mp4")  # not an LRW clip name
    _touch(tmp_path / "lipread_files.txt")
    items = {i.utt_id: i for i in list_items(LanguageSource(source="lrw"), tmp_path)}
    assert {u: (i.speaker, i.split, i.text) for u, i in items.items()} == {
        "ABOUT/train/ABOUT_00001": ("unknown", "train", "about"),
        "ABOUT/val/ABOUT_00001": ("unknown", "val", "about"),
        "ABOUT/test/ABOUT_00001": ("unknown", "test", "about"),
        "AFTER/train/AFTER_00002": ("unknown", "train", "after"),
    }
    assert items["ABOUT/train/ABOUT_00001"].words == (Span("about", 0.43, 0.73),)  # centred in 1.16 s
    assert items["AFTER/train/AFTER_00002"].words == (Span("after", 0.0, 1.16),)
    assert items["ABOUT/test/ABOUT_00001"].words == ()
    assert "1 of 4 clips have no .txt beside them" in caplog.text
    with pytest.raises(FileNotFoundError, match="holds no LRW word folders"):
        list_items(LanguageSource(source="lrw"), tmp_path / "ABOUT")


def test_lrw_transcript_errors_reject_their_clip_only(tmp_path):
    path = tmp_path / "ABOUT_00001.txt"
    path.write_text("Text: ABOUT\nConf: 6\n", encoding="utf-8")
    assert read_lrw_transcript(path) == ("about", ())  # no duration: no timing
    path.write_text("Text: ABOUT\nDuration: long\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"ABOUT_00001.txt: expected 'Duration: <seconds> seconds'"):
        read_lrw_transcript(path)
    _touch(tmp_path / "lrw/ABOUT/train/ABOUT_00001.mp4", "Conf: 6\n")
    _touch(tmp_path / "lrw/ABOUT/train/ABOUT_00002.mp4", _lrw_txt("ABOUT", 0.3))
    bad, good = list_items(LanguageSource(source="lrw"), tmp_path / "lrw")
    assert "no 'Text:' line" in bad.problem and good.problem is None


def test_an_lrw_language_has_lrw_clips_unless_it_says_otherwise(workdir):
    lrw = {"source": "lrw", "path": "data/raw/lrw"}
    params = config.load(write_params(workdir, languages={"en_lrw": lrw}))
    cfg = params.preprocess_for("en_lrw")
    assert (cfg.clip_seconds, cfg.min_seconds, cfg.clip_frames) == (1.16, 1.0, 29)
    assert params.preprocess.clip_frames == 75  # the section itself is unchanged
    own = config.load(write_params(workdir, languages={"en_lrw": {**lrw, "clip_seconds": 1.2, "min_seconds": 0.8}}))
    assert own.preprocess_for("en_lrw").clip_frames == 30
    with pytest.raises(
        ConfigError,
        match=r"languages.en_lrw \(its own clip_seconds 1.16, min_seconds 2, over preprocess\): .*must not exceed",
    ):
        config.load(write_params(workdir, languages={"en_lrw": {**lrw, "min_seconds": 2.0}}))
    with pytest.raises(ConfigError, match=r"languages.xx.camera: only for source tcd_timit"):
        config.load(write_params(workdir, languages={"xx": {"source": "folder", "camera": "30degcam"}}))


# --------------------------------------------------------------------------- TCD-TIMIT

PROMPTS = (
    "; TIMIT's prompt list: the sentence, then its id\n"
    ";\n"
    "She had your dark suit in greasy wash water all year. (sa1)\n"
    "Don't ask me to carry an oily rag like that. (sa2)\n"
    "Elderly people are often excluded. (si1399)\n"
)


def test_tcd_timit_speakers_cameras_and_prompts(tmp_path, caplog):
    _touch(tmp_path / "volunteers/01M/Clips/straightcam/sa1.mp4")
    _touch(tmp_path / "volunteers/01M/Clips/straightcam/si1399.mp4")
    _touch(tmp_path / "volunteers/01M/Clips/30degcam/sa1.mp4")
    _touch(tmp_path / "volunteers/02F/Clips/straightcam/sa2.mp4", "Don't ask me")  # its own .txt wins
    _touch(tmp_path / "volunteers/02F/Clips/straightcam/sx99.mp4")  # in no prompt list
    _touch(tmp_path / "lipspeakers/Lipspkr1/Clips/straightcam/sa1.mp4")
    (tmp_path / "PROMPTS.TXT").write_text(PROMPTS, encoding="utf-8")
    items = {i.utt_id: i for i in list_items(LanguageSource(source="tcd_timit"), tmp_path)}
    assert {u: (i.speaker, i.text, i.split) for u, i in items.items()} == {
        "lipspeakers/Lipspkr1/straightcam/sa1": (
            "Lipspkr1",
            "she had your dark suit in greasy wash water all year.",
            None,
        ),
        "volunteers/01M/straightcam/sa1": ("01M", "she had your dark suit in greasy wash water all year.", None),
        "volunteers/01M/straightcam/si1399": ("01M", "elderly people are often excluded.", None),
        "volunteers/02F/straightcam/sa2": ("02F", "Don't ask me", None),
        "volunteers/02F/straightcam/sx99": ("02F", None, None),
    }
    assert "1 of 5 videos have no transcript" in caplog.text
    angled = list_items(LanguageSource(source="tcd_timit", camera="30degcam", group="volunteers"), tmp_path)
    assert [i.utt_id for i in angled] == ["volunteers/01M/30degcam/sa1"]
    (tmp_path / "PROMPTS.TXT").write_text("a sentence without its id\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"PROMPTS.TXT, line 1: expected TIMIT's 'sentence text \(sx39\)'"):
        list_items(LanguageSource(source="tcd_timit"), tmp_path)
    with pytest.raises(FileNotFoundError, match="holds none of the TCD-TIMIT folders lipspeakers/"):
        list_items(LanguageSource(source="tcd_timit", group="lipspeakers"), tmp_path / "volunteers")


# --------------------------------------------------------------------------- LRW end to end

LRW_WORDS = {"ABOUT": 0.4, "AFTER": 0.5}
TINY = {
    "steps": 4,
    "reader_steps": 2,
    "reader_batch_size": 4,
    "batch_size": 4,
    "window": 40,  # longer than LRW's clips: they are padded, the 3 s clips cut
    "eval_every": 4,
    "eval_clips": 2,
    "log_every": 1,
}


@pytest.fixture(scope="module")
def lrw_root(tmp_path_factory, face_frame):
    """A repository with the embedded corpus's English (8 clips of 75 frames; 4 train, 2 val,
    2 test) and a small LRW (two words; 3 train, 1 val and 1 test clip each, 29 frames),
    both preprocessed."""
    root = tmp_path_factory.mktemp("lrwroot")
    raw = root / "data/raw/en_lrw"
    for word, duration in LRW_WORDS.items():
        for split, count in (("train", 3), ("val", 1), ("test", 1)):
            for n in range(count):
                video = raw / word / split / f"{word}_{n + 1:05d}.mp4"
                talking_video(video, face_frame, seconds=1.16)
                video.with_suffix(".txt").write_text(_lrw_txt(word, duration), encoding="utf-8")
    english_root(root, train=TINY, models={"tiny": {"languages": ["en", "en_lrw"]}})
    params = config.load(
        write_params(
            root,
            base=root / "params.yaml",
            languages={"en": {"source": "synthetic"}, "en_lrw": {"source": "lrw"}},
            evaluations={
                "tiny-en": {"model": "tiny", "lang": "en"},
                "tiny-en_lrw": {"model": "tiny", "lang": "en_lrw"},
            },
            test={"workers": 1, "naturalness": False, "griffin_lim_iters": 4},
            asr={"steps": 30, "batch_size": 6, "second": {}},
            preprocess={"workers": 1, "split": {"mode": "overlap", "val_fraction": 0.25, "test_fraction": 0.25}},
        )
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv("L2S_ROOT", str(root))
        preprocess.run("en", params)  # from its cache, with a test split now
        preprocess.run("en_lrw", params)
    return root


@pytest.mark.slow
def test_lrw_clips_are_29_frames_with_the_folders_splits(lrw_root, monkeypatch):
    monkeypatch.setenv("L2S_ROOT", str(lrw_root))
    data = ProcessedLanguage("en_lrw")
    assert data.frames.shape[:2] == (10, 29) and data.mel.shape[-1] == 29 * 4
    assert data.info["preprocess"]["clip_seconds"] == 1.16
    assert {c["text"] for c in data.clips} == {"about", "after"}
    for split, count in (("train", 6), ("val", 2), ("test", 2)):
        assert [data.clips[r]["utt_id"].split("/")[1] for r in data.split(split)] == [split] * count
    # the word's span, centred in the clip, gives its frames' phonemes (train.frame_ce_weight)
    track = np.asarray(data.frame_phonemes[data.row("ABOUT/train/ABOUT_00001")])
    spoken = np.flatnonzero(track >= 0)
    assert spoken.min() >= 9 and spoken.max() <= 20, spoken  # 0.38-0.78 s at 25 fps


@pytest.mark.slow
def test_clips_of_different_lengths_share_a_batch(lrw_root, monkeypatch):
    monkeypatch.setenv("L2S_ROOT", str(lrw_root))
    params = config.load()
    data = [ProcessedLanguage("en"), ProcessedLanguage("en_lrw")]
    whole = WindowDataset(data, "train", 75, params.preprocess.mel, whole=True)
    batch = torch.utils.data.default_collate([whole[i] for i in range(len(whole))])
    lrw = batch["language"] == 1
    assert batch["frames"].shape[1] == 75 and batch["mel"].shape[-1] == 300 and batch["linear"].shape[-1] == 300
    assert set(batch["length"][lrw].tolist()) == {29} and set(batch["length"][~lrw].tolist()) == {75}
    # past its 29 frames an LRW clip holds its last frame and is silent
    first = int(torch.nonzero(lrw)[0, 0])
    assert torch.equal(batch["frames"][first, 29:], batch["frames"][first, 28:29].expand(46, -1, -1))
    assert float(batch["mel"][first, :, 29 * 4 :].max()) == pytest.approx(np.log(1e-5))
    assert batch["audio"].shape[-1] == 75 * 640 and not batch["audio"][first, 29 * 640 :].any()
    assert (batch["phoneme_length"][lrw] > 0).all()  # a whole LRW clip keeps its word for the reader


@pytest.mark.slow
def test_a_model_of_lrw_and_long_clips_trains_and_speaks_lrw(lrw_root, monkeypatch):
    monkeypatch.setenv("L2S_ROOT", str(lrw_root))
    from l2s.evaluation import report
    from l2s.evaluation import test as test_stage
    from l2s.evaluation import wer as wer_stage
    from l2s.evaluation.asr import stage as asr_stage
    from l2s.vcagan import train

    params = config.load()
    train.train("tiny", params, paths.model_dir("tiny"))
    metrics = test_stage.run("tiny-en_lrw", params)
    assert metrics["clips"] == 2
    wavs = sorted((paths.test_dir("tiny", "en_lrw") / "wav").rglob("*.wav"))
    assert len(wavs) == 2
    assert {soundfile.info(str(w)).duration for w in wavs} == {1.16}  # 29 frames of speech, no more

    # LRW's recogniser decides among its words: one per clip, always a word of the lexicon
    asr = asr_stage.run("en_lrw", params)
    assert asr["lexicon_words"] == 2 and asr["test_clips"] == 2
    checkpoint = torch.load(paths.asr_checkpoint("en_lrw"), weights_only=True)
    assert checkpoint["isolated_words"] is True
    from l2s.evaluation.asr.recognizers import load_recognizer

    heard = load_recognizer("en_lrw", params).transcribe([str(w) for w in wavs])
    assert set(heard) <= {"about", "after"} and len(heard) == 2
    scored = wer_stage.run("tiny-en_lrw", params)
    assert scored["clips"] == 2 and scored["wer"] in (0.0, 0.5, 1.0)  # each clip right or wrong: one word
    # the report sets LRW's short clips beside the 3 s ones
    test_stage.run("tiny-en", params)
    asr_stage.run("en", params)
    wer_stage.run("tiny-en", params)
    table = report.results(params).set_index("language")
    assert table.loc["en_lrw", "wer"] == scored["wer"] and table.loc["en_lrw", "stoi"] == metrics["stoi"]
    assert table.loc["en", "clips"] == 2


def test_one_word_of_the_lexicon_per_clip():
    vocab = ["a", "b", "o", "t", "u"]
    # posteriors that spell "abut" best by path; of the lexicon's words "about" is likelier than "tab"
    frames = [{"a": 0.9}, {"b": 0.9}, {"-": 0.6, "o": 0.3}, {"u": 0.9}, {"t": 0.9}]
    lp = np.log(np.array([[f.get("-", 0.0) + 1e-4, *(f.get(c, 0.0) + 1e-4 for c in vocab)] for f in frames]))
    assert decoding.greedy_decode(lp, vocab) == "abut"
    assert decoding.word_decode(lp, vocab, ["about", "tab", "boat"]) == "about"
    assert decoding.word_decode(lp, vocab, ["zzz"]) == ""  # nothing it can spell
    assert decoding.word_decode(lp[:0], vocab, ["about"]) == ""
