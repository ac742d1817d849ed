"""The motion-cost reading: a nuisance that drives the errors is found, the others cost ~0."""

from __future__ import annotations

import numpy as np

from l2s.evaluation.motion_cost import PARTS, merge_runs, part_costs


def _rows(n: int = 300, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        nuisance = {k: float(rng.uniform(0, 1)) for part in PARTS.values() for k in part}
        nuisance["crf"] = float(rng.integers(18, 31))
        # only compression (crf above 18) and the head's yaw cost phonemes, plus noise
        per = 0.1 + 0.02 * (nuisance["crf"] - 18) + 0.1 * nuisance["yaw"] + rng.normal(0, 0.02)
        lang = "en" if i % 2 else "zh"
        per += 0.05 if lang == "zh" else 0.0  # a language constant is not motion
        rows.append({"lang": lang, "clip_id": str(i), "edits": per * 40, "phonemes": 40, **nuisance})
    return rows


def test_the_part_that_drives_the_errors_is_found():
    costs = part_costs(_rows(), draws=200)
    assert abs(costs["compression"]["cost"] - 0.12) < 0.02  # mean crf 24: 6 x 0.02
    assert abs(costs["head turn"]["cost"] - 0.05) < 0.02  # mean yaw 0.5 x 0.1
    for part in ("drift and zoom", "blinks", "lighting"):
        c = costs[part]
        assert abs(c["cost"]) < 0.02 and c["low"] < 0 < c["high"], (part, c)
    assert costs["compression"]["low"] > 0.08
    assert costs["all clips"]["clips"] == 300


def test_runs_of_the_same_clips_are_merged():
    rows = _rows(10)
    merged = merge_runs([rows, rows])
    assert len(merged) == 10
    assert merged[0]["edits"] == 2 * rows[0]["edits"] and merged[0]["phonemes"] == 80


def test_switch_off_table_gives_each_part_its_paired_gain():
    from l2s.evaluation.motion_cost import switch_off_table

    rows = [
        {"lang": "en", "off": "nothing", "lip_per": 0.30},
        {"lang": "zh", "off": "nothing", "lip_per": 0.20},
        {"lang": "en", "off": "lighting", "lip_per": 0.20},
        {"lang": "zh", "off": "lighting", "lip_per": 0.10},
    ]
    table = switch_off_table(rows).splitlines()
    assert table[2] == "| nothing | 0.300 | 0.200 | 0.250 | +0.000 |"
    assert table[3] == "| lighting | 0.200 | 0.100 | 0.150 | +0.100 |"


def test_speech_table_pairs_each_part_with_the_videos_as_they_are(tmp_path):
    from l2s import paths
    from l2s.evaluation.motion_cost import speech_table, switch_off_folder

    rng = np.random.default_rng(0)
    clips = [f"c{i}" for i in range(40)]
    words = {c: int(rng.integers(4, 9)) for c in clips}
    checkpoints = [tmp_path / f"s{seed}" / "best.pt" for seed in (0, 1)]
    # both seeds: lighting off halves the word errors, blinks off changes nothing
    for cp in checkpoints:
        for off, share in (("nothing", 0.4), ("lighting", 0.2), ("blinks", 0.4)):
            rows = [{"clip_id": c, "word_edits": round(share * words[c]), "words": words[c]} for c in clips]
            zh = [{"clip_id": c, "char_edits": round(share * 2 * words[c]), "chars": 2 * words[c]} for c in clips]
            paths.write_csv(switch_off_folder(cp, off) / "val_en" / "transcripts.csv", rows)
            paths.write_csv(switch_off_folder(cp, off) / "val_zh" / "transcripts.csv", zh)
    table = {
        line.split(" | ")[0].strip("| "): line
        for line in speech_table(checkpoints, ["lighting", "blinks"]).splitlines()
    }
    assert "en WER | zh CER" in table["switched off"]
    assert "lower" in table["lighting"] and table["lighting"].count("-0.") >= 1
    assert "+0.000" in table["blinks"] and "not shown" in table["blinks"]
    assert table["nothing"].endswith("|  |")


def test_train_without_builds_each_part_off_in_scratch_and_keeps_the_runs_here(workdir, tmp_path_factory, monkeypatch):
    import pytest

    from l2s import config, paths
    from l2s.corpus import build
    from l2s.data import preprocess
    from l2s.evaluation import ablation, motion_cost

    seen = []

    def fake_build(lang, params):  # what the corpus stage would see: the scratch root, the part off
        seen.append((lang, paths.root(), params.corpus.motion))
        paths.interim_dir(lang).mkdir(parents=True)
        paths.raw_dir(lang).mkdir(parents=True)
        (paths.raw_dir(lang) / build.MANIFEST).write_text("utt_id,speaker,path,text\ns1/a,s1,s1/a.mp4,a\n")

    def fake_preprocess(lang, params):
        paths.processed_dir(lang).mkdir(parents=True)
        (paths.processed_dir(lang) / "clips.csv").write_text("clip_id\n")

    def fake_run(name, overrides, seeds, reader_only, into, data):
        assert overrides == {} and into == workdir and set(data) == {"corpus"}
        assert reader_only == (not name.startswith("whole_"))
        return [{"name": name, "seed": s} for s in seeds]

    monkeypatch.setattr(build, "run", fake_build)
    monkeypatch.setattr(preprocess, "run", fake_preprocess)
    monkeypatch.setattr(ablation, "run", fake_run)
    scratch = tmp_path_factory.mktemp("scratch")
    rows = motion_cost.train_without(["head turn", "all"], [0, 1], scratch)
    assert [r["name"] for r in rows] == ["motion_off_head_turn"] * 2 + ["motion_off_all"] * 2
    langs = list(config.load().corpus.languages)
    assert [lang for lang, _, _ in seen] == langs * 2
    turn, everything = seen[0][2], seen[len(langs)][2]
    assert seen[0][1] == scratch / "motion_off_head_turn"
    assert (turn.yaw, turn.pitch, turn.roll, turn.head, turn.lighting) == (0.0, 0.0, 0.0, True, True)
    assert not (everything.head or everything.blinks or everything.lighting or everything.compression)
    assert not any(scratch.iterdir())  # the rebuilt corpora are gone once scored
    assert paths.root() == workdir
    rows = motion_cost.train_without(["all"], [0], scratch, reader_only=False)  # whole runs, named apart
    assert [r["name"] for r in rows] == ["whole_motion_off_all"]
    with pytest.raises(config.ConfigError, match="unknown motion part"):
        motion_cost.train_without(["hair"], [0], scratch)
