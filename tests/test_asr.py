"""The speech recogniser: CTC decoding of known posteriors, training on a tiny corpus of tone
"words", checkpoints that rebuild it alone, and clear errors for what is missing."""

import csv
import json
import os
import shutil
import sys

import numpy as np
import pytest
import soundfile
import torch

from l2s import cli, config
from l2s.config import MelConfig
from l2s.data.features import log_mel
from l2s.evaluation import decoding
from l2s.evaluation.asr import model as asr_model
from l2s.evaluation.asr import recognizers, stage
from tests.helpers import write_params

# Three "words", each a tone of its own pitch: a language a tiny model learns in seconds
WORDS = {"do": 330.0, "re": 880.0, "mi": 1760.0}
SR = 16000
CLIP_FRAMES = 25  # video frames of a 1 s clip: 100 mel frames, 4 per video frame
TINY = {"steps": 400, "batch_size": 8, "hidden": 48, "lr": 5e-3, "beam": 4, "second": {"seed": 1, "hidden": 32}}


def _sentence(words: list[str], rng: np.random.Generator) -> np.ndarray:
    """The words as 0.15-0.2 s tone bursts, 0.05-0.1 s apart, in a 1 s clip."""
    parts = [np.zeros(int(rng.uniform(0.03, 0.08) * SR), np.float32)]
    for w in words:
        t = np.arange(int(rng.uniform(0.15, 0.2) * SR)) / SR
        burst = np.sin(np.pi * t / t[-1]) * np.sin(2 * np.pi * WORDS[w] * t)
        parts += [0.5 * burst.astype(np.float32), np.zeros(int(rng.uniform(0.05, 0.1) * SR), np.float32)]
    wave = np.concatenate(parts)[:SR]
    wave = np.pad(wave, (0, SR - len(wave)))
    return wave + 1e-3 * rng.standard_normal(SR).astype(np.float32)


def write_processed(root, lang="en", counts=None, seed=0) -> dict:
    """A data/processed/<lang>/ of tone sentences in the format l2s.data.preprocess writes."""
    counts = counts or {"train": 32, "val": 4, "test": 4}
    rng = np.random.default_rng(seed)
    out = root / "data" / "processed" / lang
    (out / "splits").mkdir(parents=True, exist_ok=True)
    rows, mels, waves = [], [], []
    for split, n in counts.items():
        ids = []
        for i in range(n):
            words = list(rng.choice(list(WORDS), size=int(rng.integers(1, 4))))
            wave = _sentence(words, rng)
            clip_id = f"s1/{split}_{i:03d}"
            rows.append(
                {
                    "index": len(rows),
                    "clip_id": clip_id,
                    "utt_id": clip_id,
                    "speaker": "s1",
                    "text": " ".join(words),
                    "start": 0.0,
                    "valid_frames": CLIP_FRAMES,
                    "source": "",
                }
            )
            waves.append(wave)
            mels.append(log_mel(wave, MelConfig()))
            ids.append(clip_id)
        (out / "splits" / f"{split}.txt").write_text("".join(f"{c}\n" for c in ids), encoding="utf-8")
    np.save(out / "mel.npy", np.stack(mels).astype(np.float16))
    np.save(out / "audio.npy", (np.stack(waves) * 32767).astype(np.int16))
    np.save(out / "frames.npy", np.zeros((len(rows), CLIP_FRAMES, 4, 4), np.uint8))
    with open(out / "clips.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (out / "info.json").write_text(json.dumps({"language": lang}), encoding="utf-8")
    return {"waves": waves, "rows": rows}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A repository root with the tone corpus and its recogniser, trained through the CLI."""
    root = tmp_path_factory.mktemp("asrroot")
    (root / "dvc.yaml").write_text("stages: {}\n")
    write_params(root, asr=TINY)
    corpus = write_processed(root)
    old = os.environ.get("L2S_ROOT")
    os.environ["L2S_ROOT"] = str(root)
    try:
        assert cli.main(["asr", "en"]) == 0
    finally:
        if old is None:
            os.environ.pop("L2S_ROOT")
        else:
            os.environ["L2S_ROOT"] = old
    return root, corpus


# --------------------------------------------------------------------------- decoding


def _posteriors(frames: list[dict[str, float]], vocab: list[str]) -> np.ndarray:
    """Log-posteriors [T, vocab + 1] from per-frame {label: probability} ("-" is the blank)."""
    p = np.full((len(frames), len(vocab) + 1), 1e-6)
    for t, frame in enumerate(frames):
        for label, prob in frame.items():
            p[t, 0 if label == "-" else vocab.index(label) + 1] = prob
    return np.log(p / p.sum(1, keepdims=True))


VOCAB = [" ", "b", "e", "i", "l", "n", "u"]


def test_greedy_collapses_repeats_and_drops_blanks():
    frames = [{"-": 0.9}, {"b": 0.8}, {"b": 0.9}, {"-": 0.9}, {"i": 0.7}, {"n": 0.8}, {"n": 0.8}, {"-": 0.9}]
    frames += [{"n": 0.9}, {" ": 0.6}, {"-": 0.9}]
    assert decoding.greedy_decode(_posteriors(frames, VOCAB), VOCAB) == "binn"  # a blank splits a repeat
    assert decoding.greedy_decode(np.zeros((0, len(VOCAB) + 1)), VOCAB) == ""
    assert decoding.lexicon_decode(np.zeros((0, len(VOCAB) + 1)), VOCAB, decoding.build_trie(["bin"]), 4, True) == ""


def test_lexicon_beam_fixes_a_misspelling():
    # the best path spells "blie", which is no word; "u" is a close second at the vowel
    frames = [{"b": 0.9}, {"l": 0.9}, {"i": 0.55, "u": 0.4}, {"e": 0.9}, {"-": 0.9}, {" ": 0.8}]
    frames += [{"b": 0.9}, {"i": 0.9}, {"n": 0.9}, {"-": 0.9}]
    lp = _posteriors(frames, VOCAB)
    assert decoding.greedy_decode(lp, VOCAB) == "blie bin"
    trie = decoding.build_trie(["bin", "blue"])
    assert decoding.lexicon_decode(lp, VOCAB, trie, beam=8, spaced=True) == "blue bin"


def test_lexicon_beam_falls_back_to_greedy_without_a_whole_word():
    frames = [{"b": 0.9}, {"l": 0.9}, {"-": 0.9}]
    lp = _posteriors(frames, VOCAB)
    assert decoding.lexicon_decode(lp, VOCAB, decoding.build_trie(["blue"]), beam=4, spaced=True) == "bl"


def test_lexicon_beam_unspaced_language():
    vocab = ["七", "戊", "绿", "送"]
    frames = [{"送": 0.9}, {"-": 0.9}, {"绿": 0.5, "戊": 0.45}, {"-": 0.9}, {"七": 0.9}]
    lp = _posteriors(frames, vocab)
    # the lexicon of an unspaced language is its characters: "绿" is not one of them here
    trie = decoding.build_trie(["送", "戊", "七"])
    assert decoding.greedy_decode(lp, vocab) == "送绿七"
    assert decoding.lexicon_decode(lp, vocab, trie, beam=4, spaced=False) == "送戊七"


def test_model_output_lengths():
    model = asr_model.CTCModel(80, 5, hidden=8, layers=1, subsample=2)
    lengths = torch.tensor([100, 99, 37])
    lp, steps = model(torch.full((3, 80, 100), -5.0), lengths)
    assert lp.shape == (3, 50, 6)
    assert steps.tolist() == [50, 50, 19]
    assert torch.allclose(lp.exp().sum(-1), torch.ones(3, 50), atol=1e-5)


# --------------------------------------------------------------------------- training


def test_training_lowers_the_loss_and_reports_metrics(trained):
    root, _ = trained
    out = root / "models" / "asr" / "en"
    assert (out / "asr.pt").exists() and not list(out.glob("*.tmp*"))
    with open(out / "history.csv") as f:
        losses = [float(r["loss"]) for r in csv.DictReader(f)]
    assert len(losses) >= 5
    assert losses[-1] < 0.5 * losses[0], losses
    metrics = json.loads((root / "reports" / "records" / "asr" / "en.json").read_text())
    for key in ("wer", "cer", "wer_greedy", "wer_griffin_lim", "cer_griffin_lim", "decode_ms_per_clip"):
        assert 0 <= metrics[key] < 100, key
    assert metrics["train_clips"] == 32 and metrics["test_clips"] == 4
    assert metrics["wer"] <= 0.25 and metrics["wer_griffin_lim"] <= 0.25  # it learnt the tone words
    assert metrics["lexicon_words"] == 3


def test_training_is_deterministic(trained, tmp_path, monkeypatch):
    root, _ = trained
    monkeypatch.setenv("L2S_ROOT", str(root))
    params = config.load(write_params(tmp_path, base=root / "params.yaml", asr={"steps": 10}))
    first = stage.run("en", params, tmp_path / "a")
    second = stage.run("en", params, tmp_path / "b")
    histories = []
    for run in ("a", "b"):
        with open(tmp_path / run / "history.csv") as f:
            histories.append([{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)])
    assert histories[0] == histories[1]
    assert first["final_loss"] == second["final_loss"]
    assert (tmp_path / "a" / "metrics.json").exists()  # an explicit `out` keeps reports/ untouched


def test_checkpoint_alone_rebuilds_the_recognizer(trained, tmp_path, monkeypatch):
    root, corpus = trained
    monkeypatch.setenv("L2S_ROOT", str(root))
    rec = recognizers.load_recognizer("en")
    moved = tmp_path / "elsewhere.pt"
    shutil.copyfile(root / "models" / "asr" / "en" / "asr.pt", moved)
    again = recognizers.CTCRecognizer.load(moved, "lexicon", TINY["beam"])
    assert again.vocab == [" ", "d", "e", "i", "m", "o", "r"] and again.lexicon == ["do", "mi", "re"]
    assert again.mel_cfg == MelConfig() and again.lang == "en"
    assert not again.isolated  # sentences of several words: the beam spells them (LRW: tests/test_corpora.py)

    waves = corpus["waves"][-4:]
    wav, npz = tmp_path / "clip.wav", tmp_path / "clip.npz"
    soundfile.write(wav, waves[0], SR, subtype="FLOAT")
    np.savez(npz, mel=log_mel(waves[0], MelConfig()))
    texts = rec.transcribe(waves)
    refs = [r["text"] for r in corpus["rows"][-4:]]
    assert sum(t == r for t, r in zip(texts, refs)) >= 3, (texts, refs)
    assert again.transcribe(waves) == texts
    assert again.transcribe([wav, npz, str(npz)]) == [texts[0]] * 3
    mels = [log_mel(w, MelConfig()) for w in waves]
    for a, b in zip(rec.log_probs(mels), again.log_probs(mels)):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_a_second_recogniser_of_another_seed_and_size_judges_too(trained, tmp_path, monkeypatch):
    from l2s.evaluation import wer

    root, corpus = trained
    monkeypatch.setenv("L2S_ROOT", str(root))
    metrics = json.loads((root / "reports" / "records" / "asr" / "en.json").read_text())
    assert (metrics["seed"], metrics["hidden"]) == (0, 48)
    assert (metrics["second"]["seed"], metrics["second"]["hidden"]) == (1, 32) and metrics["second"]["wer"] <= 0.5
    first, second = (recognizers.load_recognizer("en", second=s) for s in (False, True))
    assert first.model.rnn.hidden_size == 48 and second.model.rnn.hidden_size == 32
    # the wer stage hears test outputs with both: the recorded test speech as "generated"
    out = tmp_path / "outputs"
    rows = corpus["rows"][-4:]
    for folder in ("wav", "ceiling"):
        for row, wave in zip(rows, corpus["waves"][-4:]):
            (out / folder / "s1").mkdir(parents=True, exist_ok=True)
            soundfile.write(out / folder / f"{row['clip_id']}.wav", wave, SR)
    with open(out / "scores.csv", "w", newline="") as f:
        f.write("clip_id,text\n" + "".join(f"{r['clip_id']},{r['text']}\n" for r in rows))
    params = config.load()
    transcripts, heard = wer.transcribe(out, "en", params)
    both = heard["second"]
    assert both["wer"] <= 0.5 and "ceiling" in both and "ci95" in both
    diff = both["minus_first"]["wer"]
    assert diff["low"] <= diff["difference"] <= diff["high"]
    assert diff["difference"] == pytest.approx(both["wer"] - heard["wer"], abs=1e-3)
    assert {"second_hypothesis", "second_word_edits", "second_ceiling_hypothesis"} <= set(transcripts[0])
    assert "second" not in wer.transcribe(out, "en", params, second=False)[1]  # how ablations hear


def test_the_second_recogniser_must_differ_and_knows_its_knobs(workdir):
    with pytest.raises(config.ConfigError, match="asr.second: the same settings"):
        config.load(write_params(workdir, asr={"second": {"seed": 0}}))
    with pytest.raises(config.ConfigError, match=r"asr.second: unknown \['beam'\]"):
        config.load(write_params(workdir, asr={"second": {"beam": 2}}))
    assert config.load(write_params(workdir, asr={"second": {}})).asr.second_config() is None


def test_bad_inputs_are_named(trained, tmp_path):
    root, _ = trained
    rec = recognizers.CTCRecognizer.load(root / "models" / "asr" / "en" / "asr.pt")
    with pytest.raises(FileNotFoundError, match="nothing.wav"):
        rec.transcribe([tmp_path / "nothing.wav"])
    np.savez(tmp_path / "bad.npz", spectrogram=np.zeros((80, 10)))
    with pytest.raises(ValueError, match="no array 'mel'"):
        rec.transcribe([tmp_path / "bad.npz"])
    with pytest.raises(ValueError, match="one-dimensional"):
        rec.transcribe([np.zeros((2, 100), np.float32)])
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not an l2s CTC recogniser"):
        recognizers.CTCRecognizer.load(tmp_path / "other.pt")


# --------------------------------------------------------------------------- errors


def test_missing_checkpoint_names_the_stage(workdir):
    with pytest.raises(FileNotFoundError, match=r"models/asr/es/asr\.pt.*dvc repro asr@es"):
        recognizers.load_recognizer("es")


def test_missing_processed_data_names_the_stage(workdir):
    with pytest.raises(FileNotFoundError, match="dvc repro preprocess@en"):
        stage.run("en")
    assert cli.main(["asr", "en"]) == 2


def test_empty_train_split_is_a_clear_error(workdir):
    write_processed(workdir, counts={"train": 0, "val": 2, "test": 2})
    with pytest.raises(ValueError, match="asr en: split 'train'.*empty"):
        stage.run("en")


def test_whisper_backend_errors(workdir, monkeypatch):
    params = config.load(write_params(workdir, asr={"backend": "faster-whisper", "model_dir": "models/whisper"}))
    with pytest.raises(FileNotFoundError, match=r"models/whisper.*never downloaded"):
        recognizers.load_recognizer("en", params)
    (workdir / "models" / "whisper").mkdir(parents=True)
    monkeypatch.setitem(sys.modules, "faster_whisper", None)  # as if not installed
    with pytest.raises(ImportError, match="pip install faster-whisper"):
        recognizers.load_recognizer("en", params)
