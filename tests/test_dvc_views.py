"""What DVC shows of the pipeline: the metrics a researcher compares (apart from the
records of everything measured), the curves of `dvc plots`, and recipes as DVC experiments
(queued with the right params, compared with intervals from what each one committed)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from l2s import paths, training
from l2s.evaluation import experiments
from tests.helpers import REPO, repo_copy

RECORD = {
    "clips": 48,
    "stoi": 0.61,
    "estoi": 0.35,
    "pesq_nb": 1.2,
    "pesq_wb": 1.04,
    "dnsmos_ovrl": 2.3,
    "ceiling": {"stoi": 0.97},
    "ci95": {"stoi": {"low": 0.6, "high": 0.62}},
    "lip_reading": {"per": 0.14, "wer": 0.12, "cer": 0.08, "ci95": {"per": {"low": 0.1, "high": 0.2}}},
    "clips_per_s": 0.33,
}


def test_a_record_keeps_everything_and_the_metrics_the_figures(tmp_path, monkeypatch):
    monkeypatch.setenv("L2S_ROOT", str(tmp_path))
    paths.write_metrics("test", "m/en", RECORD)
    assert json.loads((tmp_path / "reports/records/test/m/en.json").read_text()) == RECORD
    metrics = json.loads((tmp_path / "reports/metrics/test/m/en.json").read_text())
    assert metrics == {k: RECORD[k] for k in ("stoi", "estoi", "pesq_nb", "pesq_wb", "dnsmos_ovrl")}
    assert json.loads((tmp_path / "reports/metrics/lips/m/en.json").read_text()) == {
        "per": 0.14,
        "wer": 0.12,
        "cer": 0.08,
    }
    # nested figures stay nested (a column `ceiling.wer`); one the record lacks is left out
    wer = {"wer": 0.5, "cer": 0.3, "ceiling": {"wer": 0.0, "cer": 0.0, "ci95": {}}, "clips_per_s": 80.0}
    paths.write_metrics("wer", "m/en", wer)
    metrics = json.loads((tmp_path / "reports/metrics/wer/m/en.json").read_text())
    assert metrics == {"wer": 0.5, "cer": 0.3, "ceiling": {"wer": 0.0, "cer": 0.0}}
    # a stage without figures to compare keeps its record alone
    paths.write_metrics("corpus", "en", {"clips": 480})
    assert not (tmp_path / "reports/metrics/corpus").exists()


def test_the_history_is_split_into_the_curves_dvc_draws(tmp_path):
    history = tmp_path / "history.csv"
    for row in (
        {"step": 25, "loss/ctc": 2.0},
        {"step": 50, "loss/ctc": 1.5, "val/stoi": 0.4, "val/estoi": 0.1, "val/per": 0.8},
        {"step": 75, "loss/recon": 1.1, "loss/d": 1.9, "loss/g": 60.0},
    ):
        paths.append_row(history, row)
    written = training.write_plots(history, "train", lambda kind: tmp_path / kind / "m.csv")
    assert written == [tmp_path / "validation/m.csv", tmp_path / "losses/m.csv"]
    assert (tmp_path / "validation/m.csv").read_text().splitlines() == [
        "step,val/stoi,val/estoi,val/per",
        "50,0.4,0.1,0.8",
    ]
    losses = (tmp_path / "losses/m.csv").read_text().splitlines()
    assert losses[0] == "step," + ",".join(training.PLOTS["train"]["losses"])
    assert [line.split(",")[0] for line in losses[1:]] == ["25", "50", "75"]  # loss/g is not drawn
    assert losses[1] == "25,2.0,NaN,NaN,NaN,NaN"  # what Vega leaves out (an empty cell is drawn at 0)


def test_dvc_yaml_draws_the_fields_the_stages_write_and_lists_every_metric():
    dvc = yaml.safe_load((REPO / "dvc.yaml").read_text())
    top = {next(iter(d)): next(iter(d.values())) for d in dvc["plots"]}
    assert {plot: props["y"] for plot, props in top.items()} == {
        f"reports/plots/{stage}/{kind}": list(fields)
        for stage in ("train", "asr")  # the vocoder's: its stage's own (none by default)
        for kind, fields in training.PLOTS[stage].items()
    }
    for entry in dvc["stages"]["vocoder"]["do"]["plots"]:
        (path, props), kind = next(iter(entry.items())), Path(next(iter(entry))).parent.name
        assert props["y"] in training.PLOTS["vocoder"][kind] and props["x"] == "step", path
    metrics = [next(iter(m)) for stage in dvc["stages"].values() for m in stage.get("do", stage).get("metrics", [])]
    assert all(m.startswith("reports/metrics/") for m in metrics), metrics
    declared = {Path(m).parts[2] for m in metrics}
    assert declared == {folder for folders in paths.METRICS.values() for folder in folders} | {"summary.json"}
    records = {
        Path(next(iter(o)) if isinstance(o, dict) else o).parts[2]
        for stage in dvc["stages"].values()
        for o in stage.get("do", stage).get("outs", [])
        if str(next(iter(o)) if isinstance(o, dict) else o).startswith("reports/records/")
    }
    assert records == {"corpus", *paths.METRICS}


def test_recipe_experiments_score_the_validation_split_once_per_seed(monkeypatch):
    monkeypatch.setenv("L2S_ROOT", str(REPO))
    queued = experiments.recipe(
        "nomem", {"model": {}, "lr": 1e-3}, [0, 1], {"preprocess": {"crop.align": "similarity"}}
    )
    assert [name for name, _ in queued] == ["nomem-s0", "nomem-s1"]
    items = queued[1][1]
    assert items[:2] == ["test.split=val", "test.naturalness=false"] and items[-1] == "train.seed=1"
    # a dict replaces what params.yaml has (DVC would merge it): removed, then set
    assert items.index("~train.model") + 1 == items.index("++train.model={}")
    assert "++train.lr=0.001" in items and "++preprocess.crop.align=similarity" in items


def test_a_study_queues_as_dvc_experiments_with_its_own_models(tmp_path):
    """Queued in a copy of the repository (nothing runs): DVC applies the -S items, and each
    experiment's params.yaml has the study's models, each on its languages, with the recipe."""
    repo = repo_copy(tmp_path / "repo")
    env = dict(
        os.environ,
        L2S_ROOT=str(repo),
        PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@t",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@t",
    )
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", "base"], cwd=repo, check=True, env=env)
    code = (
        "from l2s.evaluation import ablation; raise SystemExit(ablation.main(['--study', 'multilingual', '--queue']))"
    )
    subprocess.run([sys.executable, "-c", code], cwd=repo, env=env, check=True, capture_output=True)
    shown = json.loads(
        subprocess.run(["dvc", "exp", "show", "--json"], cwd=repo, env=env, capture_output=True, text=True).stdout
    )
    queued = {
        rev["name"]: rev["data"]["params"]["params.yaml"]["data"]
        for row in shown
        for exp in row.get("experiments") or []
        for rev in exp["revs"]
    }
    assert set(queued) == {"multilingual-head-s0", "multilingual-nohead-s0"}
    nohead = queued["multilingual-nohead-s0"]
    assert set(nohead["models"]) == {"multi", "en_only", "es_only", "zh_only"}
    assert nohead["models"]["zh_only"] == {
        "languages": ["zh"],
        "train": {
            **yaml.safe_load((REPO / "params.yaml").read_text())["studies"]["multilingual"]["recipes"]["nohead"],
            "seed": 0,
        },
    }
    assert nohead["models"]["multi"]["train"]["model"] == {}  # the recipe's empty dict, not params.yaml's
    assert set(nohead["evaluations"]) == {"multi-en", "multi-es", "multi-zh", "en_only-en", "es_only-es", "zh_only-zh"}
    assert nohead["test"]["split"] == "val" and nohead["test"]["naturalness"] is False


def _commit(repo: Path, env: dict, files: dict[str, str], ref: str | None = None) -> str:
    for rel, content in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(content)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", "x", "--allow-empty"], cwd=repo, check=True, env=env)
    sha = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    if ref:
        subprocess.run(["git", "update-ref", ref, sha], cwd=repo, check=True)
    return sha


def test_experiments_compare_with_intervals_over_the_clips_they_scored(tmp_path, monkeypatch):
    """The table of `ablation --table --experiments`: read from the commits DVC keeps
    under refs/exps, seeds pooled, the difference paired on the same clips."""
    repo = tmp_path / "repo"
    repo.mkdir()
    env = dict(
        os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t"
    )
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    params = yaml.safe_dump({"evaluations": {"m-en": {"model": "m", "lang": "en"}}, "test": {"split": "val"}})
    header = "clip_id,word_edits,words,char_edits,chars\n"

    def experiment(name, edits, wer):
        rows = "".join(f"c{i},{e},6,{e},20\n" for i, e in enumerate(edits))
        summary = json.dumps({"m-en": {"stoi": 0.6, "estoi": 0.4, "wer": wer, "cer": wer / 2, "lip_wer": 0.2}})
        files = {"params.yaml": params, "reports/metrics/summary.json": summary, "reports/wer/m/en.csv": header + rows}
        _commit(repo, env, files, f"refs/exps/ab/cdef/base/{name}")

    many = [4] * 40
    experiment("base-s0", many, 4 / 6)
    experiment("base-s1", many, 4 / 6)
    experiment("better-s0", [1] * 40, 1 / 6)
    experiment("better-s1", [2] * 40, 2 / 6)
    monkeypatch.setenv("L2S_ROOT", str(repo))
    lines = experiments.table(["base", "better"]).splitlines()
    assert lines[0].startswith("| recipe | split | seeds | m-en WER / STOI") and "minus base" in lines[0]
    base, better = lines[2].split(" | "), lines[3].split(" | ")
    assert base[:3] == ["| base", "val", "2"] and base[3] == "67% / 0.600"
    assert better[3] == "25% / 0.600" and better[-1].startswith("-0.417") and "lower" in better[-1]
    with pytest.raises(FileNotFoundError, match="no DVC experiments named \\['worse'\\]"):
        experiments.table(["base", "worse"])
