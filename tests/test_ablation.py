"""The ablation runner's pieces that need no training: overrides checked before a run,
studies in params, and the markdown summary (means over seeds, CER for an unspaced language)."""

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


def test_summary_means_over_seeds(tmp_path):
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
    assert "| a | 0, 1 | 55% (20%) / 0.650 / 0.400 | 40% (10%) / 0.650 / 0.400 | 0.100 | 30.0 |" in table


def test_reader_summary_gives_each_language_and_the_mean_over_seeds(tmp_path):
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
    assert table[0] == "| name | seeds | en PER / WER | zh PER / CER | mean PER | TFLOP |"
    # en: 0.30 and 0.32; zh: 0.20 and 0.22 (its CER); the mean over languages per seed: 0.25 and 0.27
    assert (
        table[2] == "| a | 0, 1 | 0.310 (0.300-0.320) / 30% | 0.210 (0.200-0.220) / 20% | 0.260 (0.250-0.270) | 18.2 |"
    )


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
