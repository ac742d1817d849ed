"""The ablation runner's pieces that need no training: overrides checked before a run,
studies in params, and the markdown summary (means over seeds, CER for an unspaced language)."""

import csv

import pytest

from l2s import config
from l2s.evaluation import ablation
from tests.helpers import write_params

REPO_PARAMS = config.load()


def test_overrides_are_checked_before_training():
    params = ablation.with_overrides(REPO_PARAMS, "multi", {"ctc_weight": 2.0, "seed": 1})
    assert params.train_config("multi").ctc_weight == 2.0 and params.train_config("multi").seed == 1
    with pytest.raises(config.ConfigError, match="ctc_wieght"):
        ablation.with_overrides(REPO_PARAMS, "multi", {"ctc_wieght": 2.0})
    assert ablation._value("3e-3") == 0.003 and ablation._value("{dropout: 0.0}") == {"dropout": 0.0}


def test_study_runs_each_recipe_with_each_model(tmp_path, monkeypatch):
    study = {
        "models": {"both": {"languages": ["en", "es"]}, "en_only": {"languages": ["en"]}},
        "recipes": {
            "head": {},
            # without the head, without the memory that reads with it
            "nohead": {
                "ctc_weight": 0,
                "reader_steps": 0,
                "freeze_reader": False,
                "reader_to_decoder": False,
                "model": {},
            },
        },
        "seeds": [3],
    }
    load, path = config.load, write_params(tmp_path, studies={"s": study})
    monkeypatch.setattr(config, "load", lambda: load(path))
    calls = []
    monkeypatch.setattr(ablation, "run", lambda name, overrides, seeds, model, entry: calls.append((name, seeds)) or [])
    ablation.study("s")
    names = [("s_head_both", [3]), ("s_head_en_only", [3]), ("s_nohead_both", [3]), ("s_nohead_en_only", [3])]
    assert calls == names
    # a study's model is not one of params' models: with_overrides adds it (and its evaluations)
    params = load(path)
    entry = params.studies["s"].models["en_only"]
    assert ablation.with_overrides(params, "en_only", {"seed": 3}, entry).train_config("en_only").seed == 3
    with pytest.raises(config.ConfigError, match=r"studies\.s\.recipes\.bad .*ctc_wieght"):
        load(write_params(tmp_path, studies={"s": {**study, "recipes": {"bad": {"ctc_wieght": 1}}}}))


def test_summary_means_over_seeds(tmp_path, monkeypatch):
    monkeypatch.setenv("L2S_ROOT", str(tmp_path))  # no clip tables: no intervals
    path = tmp_path / "ablations.csv"
    rows = [
        {
            "name": "a",
            "seed": s,
            "lang": lang,
            "stoi": 0.6 + 0.1 * s,
            "estoi": 0.4,
            "wer": w,
            "cer": c,
            "lip_wer": 0.2,
            "lip_cer": 0.1,
            "s_per_step": 0.1,
            "tflop": 30.0,
        }
        for s in (0, 1)
        for lang, w, c in (("en", 0.5 + 0.1 * s, 0.3), ("zh", 0.9, 0.4))
    ]
    ablation._append(path, rows)
    ablation._append(path, rows[:1])  # a re-run replaces its own row
    table = ablation.summary(path)
    assert "en WER (lip) / STOI / ESTOI" in table and "zh CER (lip)" in table
    assert "| a | 0, 1 | 55% (20%) / 0.650 / 0.400 | 40% (10%) / 0.650 / 0.400 |  |  | 0.100 | 30.0 |" in table


def test_summary_compares_the_speech_of_runs_on_the_same_clips(tmp_path, monkeypatch):
    monkeypatch.setenv("L2S_ROOT", str(tmp_path))
    rows = []
    for name, seed, wrong in (("a", 0, 3), ("a", 1, 3), ("b", 0, 1), ("b", 1, 1)):
        rows.append({"name": name, "seed": seed, "lang": "zh", "stoi": 0.6, "estoi": 0.4, "wer": 1, "cer": wrong / 10})
        rows[-1] |= {"lip_wer": 0.2, "lip_cer": 0.1, "s_per_step": 0.1, "tflop": 30.0}
        folder = tmp_path / "models" / "ablations" / name / f"s{seed}" / "val_zh"
        folder.mkdir(parents=True)
        # zh is scored in characters: a gets 3 of 10 wrong in every clip, b 1 (b: 2 fewer)
        lines = ["clip_id,word_edits,words,char_edits,chars"] + [f"c{i},1,1,{wrong},10" for i in range(20)]
        (folder / "transcripts.csv").write_text("\n".join(lines) + "\n")
    ablation._append(tmp_path / "ablations.csv", rows)
    a, b = (line.split(" | ") for line in ablation.summary(tmp_path / "ablations.csv").splitlines()[2:])
    assert a[3:5] == ["0.300 [0.300, 0.300]", ""]
    assert b[3:5] == ["0.100 [0.100, 0.100]", "-0.200 [-0.200, -0.200] lower"]


def test_reader_summary_gives_each_language_and_the_mean_over_seeds(tmp_path, monkeypatch):
    monkeypatch.setenv("L2S_ROOT", str(tmp_path))  # no clip tables: no intervals
    path = tmp_path / "reader_ablations.csv"
    rows = [
        {"name": "a", "seed": s, "lang": lang, "lip_per": per + 0.02 * s, "lip_wer": 0.3, "lip_cer": 0.2, "tflop": 18.2}
        for s in (0, 1)
        for lang, per in (("en", 0.30), ("zh", 0.20))
    ]
    import csv

    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    table = ablation.reader_summary(path).splitlines()
    assert table[0].startswith("| name | seeds | en PER / WER | zh PER / CER | mean PER (seeds' range) |")
    # en: 0.30 and 0.32; zh: 0.20 and 0.22 (its CER); the mean over languages per seed: 0.25 and 0.27
    assert table[2] == (
        "| a | 0, 1 | 0.310 (0.300-0.320) / 30% | 0.210 (0.200-0.220) / 20% | 0.260 (0.250-0.270) |  |  | 18.2 |"
    )


def _reader_run(root, name, seed, lang, read):
    """A kept clip table of a reader-only run: clip i has 10 phonemes, `read(i)` of them right."""
    folder = root / "models" / "ablations" / name / f"s{seed}" / f"lipreading_{lang}"
    folder.mkdir(parents=True)
    truth = "p b t d k m n f v s"
    lines = ["clip_id,text,phonemes,read_phonemes,read_text"]
    for i in range(30):
        right = truth.split()[: read(i)]
        lines.append(f"c{i},x,{truth},{' '.join(right + ['z'] * (10 - len(right)))},x")
    (folder / "lipreading.csv").write_text("\n".join(lines) + "\n")


def test_reader_summary_compares_runs_on_the_same_clips(tmp_path, monkeypatch):
    monkeypatch.setenv("L2S_ROOT", str(tmp_path))
    rows = []
    for name, seed, per in (("a", 0, 0.5), ("a", 1, 0.5), ("b", 0, 0.3), ("b", 1, 0.3), ("c", 0, 0.5)):
        rows.append(
            {"name": name, "seed": seed, "lang": "en", "lip_per": per, "lip_wer": 0.5, "lip_cer": 0.5, "tflop": 1}
        )
        # a reads 5 of 10 phonemes of every clip; b one or three more, clip by clip; c as a, one seed
        _reader_run(tmp_path, name, seed, "en", (lambda i: 5) if name != "b" else (lambda i: 6 + 2 * (i % 2)))
    ablation._append(tmp_path / "reader_ablations.csv", rows)
    table = ablation.reader_summary(tmp_path / "reader_ablations.csv").splitlines()
    assert "minus a [95 % CI]" in table[0]
    a, b, c = (line.split(" | ") for line in table[2:])
    assert a[4] == "0.500 [0.500, 0.500]" and a[5] == ""
    assert b[4].startswith("0.300 [") and b[5].startswith("-0.200 [") and b[5].endswith("lower")
    assert c[5] == "+0.000 [+0.000, +0.000] one seed"


def test_reader_confusions_count_substituted_words(tmp_path, monkeypatch):
    monkeypatch.setenv("L2S_ROOT", str(tmp_path))
    folder = tmp_path / "models" / "ablations" / "a" / "s0" / "lipreading_en"
    folder.mkdir(parents=True)
    (folder / "lipreading.csv").write_text(
        "clip_id,text,phonemes,read_phonemes,read_text\n"
        "c1,set blue at b,x,x,lay blue at p\n"
        "c2,set red now,x,x,lay red now\n"
    )
    table = ablation.reader_confusions(["a"]).splitlines()
    assert table[2] == "| a s0 | en | 3 of 7 | set -> lay 2, b -> p 1 |"


def test_a_variant_repository_reads_this_ones_raw_videos_with_other_settings(workdir, tmp_path_factory):
    from l2s import paths

    (workdir / "data" / "raw" / "en").mkdir(parents=True)
    (workdir / "data" / "raw" / "en" / "a.mp4").write_bytes(b"video")
    folder = tmp_path_factory.mktemp("scratch") / "v"
    with ablation.variant_repository(folder, {"preprocess": {"crop": {"align": "similarity"}}}, raw_from=workdir) as p:
        assert paths.root() == folder.resolve()
        assert p.preprocess.crop.align == "similarity" and p.preprocess.crop.size == 88  # merged, not replaced
        assert (paths.raw_dir("en") / "a.mp4").read_bytes() == b"video"
    assert paths.root() == workdir and not folder.exists()
    assert (workdir / "data" / "raw" / "en" / "a.mp4").exists()  # the user's videos stay
    with pytest.raises(RuntimeError), ablation.variant_repository(folder, {}):
        raise RuntimeError("a run that fails keeps what it built")
    assert (folder / "params.yaml").exists()


def test_preprocess_overrides_run_a_recipe_on_a_variant(workdir, tmp_path_factory, monkeypatch):
    from l2s import paths
    from l2s.data import preprocess

    made = []
    monkeypatch.setattr(preprocess, "run", lambda lang, p: made.append((lang, p.preprocess.crop.align)) or None)
    calls = []
    monkeypatch.setattr(ablation, "run", lambda *a, **k: calls.append((a, k, paths.root())) or [])
    monkeypatch.setattr(ablation.shutil, "rmtree", lambda path: None)  # nothing was built to remove
    scratch = tmp_path_factory.mktemp("scratch")
    argv = ["similar", "--reader-only", "--preprocess", "crop.align=similarity", "--set", "precision=bf16"]
    assert ablation.main([*argv, "--scratch", str(scratch)]) == 0
    assert made == [(lang, "similarity") for lang in ("en", "es", "zh")]
    ((args, kwargs, root),) = calls
    assert args == ("similar", {"precision": "bf16"}, [0, 1]) and root == scratch / "similar"
    assert kwargs == {"reader_only": True, "into": workdir, "data": {"preprocess": {"crop": {"align": "similarity"}}}}
    # a whole run is heard in the scratch repository by this one's recognisers
    (workdir / "models" / "asr" / "en").mkdir(parents=True)
    (workdir / "models" / "asr" / "en" / "asr.pt").write_bytes(b"recogniser")
    monkeypatch.setattr(
        ablation, "run", lambda *a, **k: calls.append((paths.asr_checkpoint("en").read_bytes(), k["reader_only"])) or []
    )
    assert ablation.main(["whole", "--preprocess", "crop.align=similarity", "--scratch", str(scratch)]) == 0
    assert calls[-1] == (b"recogniser", False)
    assert (workdir / "models" / "asr" / "en" / "asr.pt").exists()
    with pytest.raises(SystemExit):
        ablation.main(["x", "--preprocess", "crop.align=affine", "--from-reader", "y"])  # another run's data


def test_a_larger_corpus_keeps_this_repositorys_validation_and_test_clips(workdir, tmp_path_factory, monkeypatch):
    from l2s import paths
    from l2s.corpus import build
    from l2s.data import preprocess

    # this repository's processed en: one clip in each split, one video rejected
    here = paths.processed_dir("en")
    (here / "splits").mkdir(parents=True)
    (here / "clips.csv").write_text("index,clip_id,utt_id\n0,s1/a,s1/a\n1,s1/b,s1/b\n2,s1/c,s1/c\n")
    for split, clip in (("train", "s1/a"), ("val", "s1/b"), ("test", "s1/c")):
        (here / "splits" / f"{split}.txt").write_text(clip + "\n")
    manifests = {}

    def fake_build(lang, params):  # the larger corpus: every old video and two new ones
        assert params.corpus.utterances_per_speaker == 120 and paths.root() != workdir
        paths.raw_dir(lang).mkdir(parents=True)
        rows = "".join(f"s1/{u},s1,s1/{u}.mp4,{u}\n" for u in "abcdef")
        (paths.raw_dir(lang) / build.MANIFEST).write_text("utt_id,speaker,path,text\n" + rows)

    def fake_preprocess(lang, params):
        with open(paths.raw_dir(lang) / build.MANIFEST, newline="") as f:
            manifests[lang] = {row["utt_id"]: row["split"] for row in csv.DictReader(f)}
        paths.interim_dir(lang).mkdir(parents=True)

    monkeypatch.setattr(build, "run", fake_build)
    monkeypatch.setattr(preprocess, "run", fake_preprocess)
    calls = []
    monkeypatch.setattr(ablation, "run", lambda *a, **k: calls.append((a, k)) or [])
    scratch = tmp_path_factory.mktemp("scratch")
    argv = ["utt120", "--reader-only", "--corpus", "utterances_per_speaker=120", "--scratch", str(scratch)]
    assert ablation.main(argv) == 0
    assert manifests["en"] == {
        "s1/a": "train",
        "s1/b": "val",
        "s1/c": "test",
        "s1/d": "train",
        "s1/e": "train",
        "s1/f": "train",
    }
    assert set(manifests["es"].values()) == {"train"}  # nothing preprocessed here: all of it trains
    ((args, kwargs),) = calls
    assert kwargs["data"] == {"corpus": {"utterances_per_speaker": 120}}
    assert not (scratch / "utt120").exists()  # the rebuilt corpus is gone once scored
    write_params(workdir, languages={"en": {"source": "folder"}})
    assert ablation.main(argv) == 2  # a user's own videos cannot be rebuilt
