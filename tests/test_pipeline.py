"""The DVC pipeline at smoke size, in a temporary copy of the repository: the stages run
their notebooks through papermill, write per-language metrics, and the data round-trips
through the default DVC remote."""

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from l2s import training
from l2s.evaluation import browser, plots_page
from tests.helpers import digest, repo_copy, talking_video, write_params

SMOKE = {
    "languages": {"en": {"source": "synthetic"}, "zh": {"source": "synthetic"}},
    "corpus": {"speakers": 2, "utterances_per_speaker": 3, "languages": {"en": {}, "zh": {}}},
    # one test and one validation clip per speaker
    "preprocess": {"split": {"mode": "overlap", "val_fraction": 0.2, "test_fraction": 0.2}},
}


def _run(cmd, cwd):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    env.pop("L2S_ROOT", None)
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert out.returncode == 0, f"{' '.join(cmd)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout


@pytest.fixture(scope="module")
def smoke_repo(tmp_path_factory):
    repo = repo_copy(tmp_path_factory.mktemp("repo"))
    for made in ("metrics", "records", "plots"):  # what the default pipeline committed, for its languages
        shutil.rmtree(repo / "reports" / made, ignore_errors=True)
    write_params(repo, **SMOKE)
    _run(["dvc", "repro", "preprocess"], repo)
    return repo


@pytest.mark.slow
def test_dvc_repro_preprocess_smoke(smoke_repo):
    repo = smoke_repo
    for lang in ("en", "zh"):
        raw = repo / "data/raw" / lang
        assert len(list(raw.rglob("*.mp4"))) == 6 and (raw / "manifest.csv").exists()
        assert len(list(raw.rglob("*.align.json"))) == 6
        processed = repo / "data/processed" / lang
        frames = np.load(processed / "frames.npy", mmap_mode="r")
        metrics = json.loads((repo / f"reports/metrics/preprocess/{lang}.json").read_text())
        assert frames.shape[1:] == (75, 88, 88)  # mouth crops
        assert metrics["clips"] == frames.shape[0] == 6 - metrics["rejected"]
        assert metrics["clips"] >= 5, metrics  # the synthetic faces must be found
        assert (repo / f"reports/notebooks/01_preprocess_{lang}.ipynb").exists()
        assert (processed / "rejects.csv").exists()
    shown = json.loads(_run(["dvc", "metrics", "show", "--json"], repo))
    files = next(iter(shown.values()))["data"]
    for lang in ("en", "zh"):  # what was kept is a metric; the corpus's counts are a record
        assert set(files[f"reports/metrics/preprocess/{lang}.json"]["data"]) == {"clips", "rejected", "hours"}
        assert f"reports/metrics/corpus/{lang}.json" not in files
        assert json.loads((repo / f"reports/records/corpus/{lang}.json").read_text())["clips"] == 6
        record = json.loads((repo / f"reports/records/preprocess/{lang}.json").read_text())
        assert {"rejected_by_reason", "sync", "train", "val", "test"} <= set(record)
    # nothing changed: a second repro does nothing
    assert "up to date" in _run(["dvc", "status", "preprocess"], repo)


@pytest.mark.slow
def test_dvc_repro_end_to_end_smoke(smoke_repo):
    """Every stage after preprocessing: train, test (with a cross-lingual pair: a model
    that never saw zh, tested on zh), asr, wer and the HTML report."""
    repo = smoke_repo
    write_params(
        repo,
        base=repo / "params.yaml",
        # both parts of the recipe: lip-reading pre-training, then the whole model
        train={
            "steps": 4,
            "reader_steps": 2,
            "reader_batch_size": 2,
            "batch_size": 2,
            "window": 16,
            "eval_every": 2,
            "eval_clips": 1,
            "log_every": 1,
        },
        models={"m": {"languages": ["en"]}},
        evaluations={"m-en": {"model": "m", "lang": "en"}, "m-zh": {"model": "m", "lang": "zh"}},
        test={"workers": 1, "vocoder": "v"},  # the neural vocoder, Griffin-Lim beside it
        asr={"steps": 10, "batch_size": 4},
        vocoder={
            "model": {"dim": 16, "intermediate": 32, "blocks": 2, "mpd_channels": [4, 4], "mrd_channels": 4},
            "steps": 2,
            "batch_size": 2,
            "gan_start": 1,
            "eval_every": 2,
            "eval_clips": 1,
        },
        vocoders={"v": {"languages": ["en"]}},
    )
    _run(["dvc", "repro"], repo)
    # the neural vocoder's stage ran its notebook (players of recorded, Griffin-Lim and vocoder speech)
    assert (repo / "models/vocoders/v/best.pt").exists()
    assert "<audio" in (repo / "reports/notebooks/07_vocoder_v.ipynb").read_text()
    records = {
        p.relative_to(repo / "reports/records").with_suffix("").as_posix(): json.loads(p.read_text())
        for p in (repo / "reports/records").rglob("*.json")
    }
    assert records["vocoder/v"]["steps"] == 2
    for stage in ("test", "wer"):
        for lang in ("en", "zh"):
            metrics = records[f"{stage}/m/{lang}"]
            assert metrics["clips"] == 2 and "ceiling" in metrics
            assert "ceiling" in metrics["griffin_lim"]  # the same mels voiced by Griffin-Lim
    test_figures = records["test/m/zh"]
    assert {"stoi", "estoi", "pesq_nb", "pesq_wb", "dnsmos_ovrl", "dnsmos_sig", "dnsmos_bak"} <= set(test_figures)
    # naturalness needs no reference: the recorded speech, the ceiling and both voicings
    assert 1 <= test_figures["recorded"]["dnsmos_ovrl"] <= 5 and 1 <= test_figures["ceiling"]["dnsmos_ovrl"] <= 5
    assert "dnsmos_ovrl" in test_figures["griffin_lim"]
    assert {"wer", "cer"} <= set(records["wer/m/en"])
    second = records["wer/m/en"]["second"]  # the second, independent judge
    assert {"wer", "cer", "ceiling", "minus_first"} <= set(second)
    assert (repo / "models/asr/en/second/asr.pt").exists()
    for lang in ("en", "zh"):  # what the lips carry, per model and language
        assert {"per", "wer", "cer"} <= set(records[f"test/m/{lang}"]["lip_reading"])
    # every figure with its 95 % interval over the test clips, the figure inside it
    test_zh, wer_en = records["test/m/zh"], records["wer/m/en"]
    for figures, name in ((test_zh, "stoi"), (test_zh, "pesq_wb"), (wer_en, "cer"), (test_zh["lip_reading"], "per")):
        ends = figures["ci95"][name]
        assert ends["low"] <= figures[name] <= ends["high"], (name, figures)
    for lang in ("en", "zh"):
        assert "wer" in records[f"asr/{lang}"]
        assert list((repo / "outputs/m" / lang / "wav").rglob("*.wav"))
    _metrics_read_at_100_columns(repo, records)
    _plots_render_without_a_complaint(repo)
    html = (repo / "reports/report.html").read_text(encoding="utf-8")
    assert ">en<" in html and ">zh<" in html and "<audio" in html
    # both vocoders side by side: scores, and a labelled player of each
    assert "copy synthesis, Griffin-Lim" in html and "copy synthesis, v" in html
    assert "DNSMOS OVRL" in html and "recorded" in html and "Two recognisers" in html
    labels = set(re.findall(r'<audio [^>]*title="([^"]*)"', html))
    # the test clips' players, and the Real footage section's (its recorded and generated speech)
    assert labels == {"recorded", "ceiling", "generated (v)", "generated (Griffin-Lim)", "generated"}
    assert "def " not in html  # rendered without input cells
    # the page as a reader's browser shows it: nothing broken, no warning output, Hanzi in a
    # font that has them (in the page, and no glyph missing from the figures), a section per
    # language, and its screenshot for readers of the repository
    page = browser.open_page(repo / "reports/report.html")
    assert page.problems() == []
    assert page.images and page.audio and page.hanzi_distinct
    assert [s for s in page.sections if s.startswith("Language")] == ["Language en", "Language zh"]
    assert "Summary" in page.sections and "still improving" in page.text and "How sure" in page.text
    assert "Real footage" in page.sections and "cannot speak for a real person" in page.text
    assert "missing from font" not in (repo / "reports/notebooks/06_report.ipynb").read_text(encoding="utf-8")
    assert (repo / "reports/report.jpg").stat().st_size > 20_000
    assert "up to date" in _run(["dvc", "status"], repo)
    # test.naturalness: false (the ablation runner's scoring) leaves DNSMOS out and nothing else
    without = json.loads(
        _run([sys.executable, "-c", _SPEAK_WITHOUT_NATURALNESS, str(repo / "models/m/best.pt"), "zh"], repo)
    )
    assert not [k for k in json.dumps(without).split('"') if k.startswith("dnsmos") or k == "recorded"], without
    assert {k: without[k] for k in ("stoi", "estoi", "pesq_wb")} == {
        k: test_zh[k] for k in ("stoi", "estoi", "pesq_wb")
    }
    # the JupyterLab notebook runs on what the pipeline made
    explore = ["papermill", "notebooks/explore.ipynb", str(repo / "explore.ipynb"), "-k", "python3"]
    _run([*explore, "--cwd", "notebooks", "-p", "model", "m", "-p", "lang", "zh"], repo)


def _metrics_read_at_100_columns(repo: Path, records: dict) -> None:
    """DVC's metrics are the figures a researcher compares, each folder a table that fits
    100 columns; timings and bookkeeping stay in the records."""
    shown = json.loads(_run(["dvc", "metrics", "show", "--json"], repo))
    files = next(iter(shown.values()))["data"]
    assert set(files["reports/metrics/test/m/zh.json"]["data"]) == {
        "stoi",
        "estoi",
        "pesq_nb",
        "pesq_wb",
        "dnsmos_ovrl",
    }
    assert files["reports/metrics/lips/m/en.json"]["data"] == {
        k: records["test/m/en"]["lip_reading"][k] for k in ("per", "wer", "cer")
    }
    assert files["reports/metrics/train/m.json"]["data"]["val_stoi"] == records["train/m"]["val_stoi"]
    summary = files["reports/metrics/summary.json"]["data"]
    assert set(summary) == {"m-en", "m-zh"} and summary["m-zh"]["cer"] == records["wer/m/zh"]["cer"]
    timings = re.compile(r"seconds|_per_s|_ms_|per_clip|loss")
    flat = json.dumps(files)
    assert not timings.search(flat), [k for k in re.findall(r'"([^"]+)":', flat) if timings.search(k)]
    assert "clips_per_s" in records["test/m/en"] and "train_seconds" in records["asr/en"]  # kept, apart
    for folder in ("preprocess", "train", "vocoder", "asr", "test", "lips", "wer"):  # summary.json: for dvc exp show
        table = _run(["dvc", "metrics", "show", f"reports/metrics/{folder}"], repo)
        assert table.strip() and max(map(len, table.splitlines())) <= 100, table


def _plots_render_without_a_complaint(repo: Path) -> None:
    """`dvc plots show` renders every curve of dvc.yaml's `plots:`, for the model and the
    vocoder, and says nothing else: no error, no field it could not find."""
    out = subprocess.run(
        ["dvc", "plots", "show", "--json"],
        cwd=repo,
        env=dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}"),
        capture_output=True,
        text=True,
    )
    complaints = [line for line in out.stderr.splitlines() if re.search(r"ERROR|WARNING|failed", line)]
    assert out.returncode == 0 and not complaints, out.stderr[-3000:]
    shown = json.loads(out.stdout)
    assert "errors" not in shown, shown["errors"]
    drawn = {}  # plot -> the fields of its lines
    for definition, plots in shown["data"].items():
        for plot in plots:
            content = plot["content"]
            # one line per field, or a single field's plot, which names it in its layers
            single = re.search(r'"y": \{"field": "([^"]+)"', json.dumps(content))
            for row in content["data"]["values"]:
                drawn.setdefault(definition, set()).add(row.get("field") or single[1])
    expected = {
        **{f"reports/plots/train/{kind}/m.csv": set(fields) for kind, fields in training.PLOTS["train"].items()},
        **{f"reports/plots/asr/validation/{lang}.csv": {"val_cer", "val_wer"} for lang in ("en", "zh")},
        # the vocoder stage's own plots, one field each
        "reports/plots/vocoder/validation/v.csv": {"val/pesq_wb"},
        "reports/plots/vocoder/losses/v.csv": {"loss/mel"},
    }
    assert drawn == expected
    # the page as a browser draws it, offline: a chart of each plot, and no error
    page = repo.parent / "dvc_plots"  # outside the repository, which later tests copy
    _run(["dvc", "plots", "show", "--html-template", str(plots_page.default_path()), "-o", str(page)], repo)
    charts, errors = _charts_drawn(page / "index.html", len(expected))
    assert charts == len(expected) and not errors, errors


def _charts_drawn(html: Path, expected: int) -> tuple[int, list[str]]:
    """The charts Vega drew in a headless Chromium (a canvas each), and the page's errors."""
    from playwright.sync_api import sync_playwright

    errors = []
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=browser.chromium(), args=["--no-sandbox"])
        try:
            page = chromium.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
            page.goto(html.resolve().as_uri(), wait_until="load")
            count = "n => document.querySelectorAll('.vega-embed canvas').length >= n"
            with contextlib.suppress(Exception):  # fewer charts: counted below
                page.wait_for_function(count, arg=expected, timeout=20_000)
            charts = page.evaluate("() => document.querySelectorAll('.vega-embed canvas').length")
        finally:
            chromium.close()
    return charts, errors


# README's view of experiments: every column but the train settings and each evaluation's
# WER (summary.json) dropped, then --only-changed (--keep would keep its columns unchanged too)
VIEW = r"(?!Experiment$|train\.|[^/:]*\.wer$)"


@pytest.mark.slow
def test_a_recipe_as_a_dvc_experiment(smoke_repo):
    """`dvc exp run -S train.<knob>=...` after the end-to-end run: the pipeline again with a
    recipe variant, scored on the validation split, in a temporary copy of the repository
    (what a queued experiment gets: git- and DVC-tracked files); `dvc exp show` lists it
    beside the baseline, in a view that reads at 100 columns."""
    repo = smoke_repo
    git = dict(
        os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t"
    )
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "baseline"], cwd=repo, check=True, env=git)
    before = digest(repo / "reports")
    variant = ["-S", "train.lr=1e-3", "-S", "test.split=val", "-S", "test.naturalness=false"]
    _run(["dvc", "exp", "run", "--temp", "-n", "lr-val", *variant], repo)
    assert digest(repo / "reports") == before  # the workspace keeps the baseline
    shown = json.loads(_run(["dvc", "exp", "show", "--json"], repo))
    (baseline,) = [row for row in shown if row["rev"] != "workspace"]
    (experiment,) = [rev for exp in baseline["experiments"] for rev in exp["revs"] if rev["name"] == "lr-val"]

    def figures(row):
        data = row["data"]
        return data["params"]["params.yaml"]["data"], data["metrics"]["reports/metrics/summary.json"]["data"]

    (params, summary), (base_params, base_summary) = figures(experiment), figures(baseline)
    assert params["train"]["lr"] == 1e-3 and params["test"]["split"] == "val" and base_params["test"]["split"] == "test"
    assert set(summary) == {"m-en", "m-zh"} and summary != base_summary
    # what README shows: the changed settings and each evaluation's WER that changed
    view = ["dvc", "exp", "show", "--no-pager", "--only-changed", "--drop", VIEW]
    table = subprocess.run(
        view,
        cwd=repo,
        env=dict(os.environ, COLUMNS="100", PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}"),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = table.splitlines()
    assert "…" not in table and max(map(len, lines)) <= 100, table
    assert any("lr-val" in line for line in lines) and "train.lr" in table, table
    changed = [key for key in summary if summary[key]["wer"] != base_summary[key]["wer"]]
    assert all(f"{key}.wer" in table for key in changed) and "train.preset" not in table, table
    subprocess.run(["dvc", "exp", "remove", "lr-val"], cwd=repo, check=True, capture_output=True, env=git)


@pytest.mark.slow
def test_a_second_clone_pulls_what_the_first_computed(smoke_repo, tmp_path):
    """After the end-to-end run: `dvc push` to the remote, then a second clone (what git
    would give it: the files git does not ignore) that `dvc pull`s has every stage up to
    date, processed data and models included, and `dvc repro` recomputes nothing."""
    repo = smoke_repo
    _run(["dvc", "push"], repo)
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=repo,
        capture_output=True,
        check=True,
    )
    clone = tmp_path / "clone"
    for rel in filter(None, listed.stdout.decode().split("\0")):
        if not rel.startswith(".dvc/storage/") and (repo / rel).is_file():
            (clone / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(repo / rel, clone / rel)
    assert not (clone / "data/processed/en").exists() and not (clone / "models/m").exists()
    subprocess.run(["git", "init", "-q"], cwd=clone, check=True)
    _run(["dvc", "remote", "modify", "--local", "local", "url", str(repo / ".dvc/storage")], clone)
    _run(["dvc", "pull"], clone)
    assert "up to date" in _run(["dvc", "status"], clone)
    assert "Running stage" not in _run(["dvc", "repro"], clone)
    for product in ("models/m/best.pt", "data/processed/zh/mel.npy", "models/asr/en/asr.pt"):
        assert (clone / product).read_bytes() == (repo / product).read_bytes(), product


_SPEAK_WITHOUT_NATURALNESS = """
import dataclasses, json, sys, tempfile
from pathlib import Path
from l2s import config
from l2s.evaluation import test
params = config.load()
cfg = dataclasses.replace(params.test, naturalness=False, save_mel=False)
with tempfile.TemporaryDirectory() as out:
    print(json.dumps(test.speak(Path(sys.argv[1]), sys.argv[2], "test", cfg, Path(out))))
"""


@pytest.mark.slow
def test_dvc_push_pull_round_trip(smoke_repo):
    repo = smoke_repo
    processed = repo / "data/processed/en"

    def pulled_back() -> dict[str, str]:
        """Push, delete the processed data and the cache, pull: what comes back."""
        _run(["dvc", "push"], repo)
        shutil.rmtree(processed)
        shutil.rmtree(repo / ".dvc/cache")
        _run(["dvc", "pull", "preprocess@en"], repo)
        return digest(processed)

    before = digest(processed)
    assert pulled_back() == before
    # the processed data in shards (preprocess.shard_clips): DVC versions the shard set
    params = repo / "params.yaml"
    write_params(repo, base=params, preprocess={"shard_clips": 3})
    _run(["dvc", "repro", "preprocess@en"], repo)  # re-packed from the per-video cache
    assert (processed / "shards.json").exists() and len(list((processed / "frames").iterdir())) > 1
    sharded = digest(processed)
    assert pulled_back() == sharded
    write_params(repo, base=params, preprocess={"shard_clips": 0})  # as the later tests expect it
    _run(["dvc", "repro", "preprocess@en"], repo)
    assert digest(processed) == before


@pytest.mark.slow
def test_a_users_folder_language_through_dvc(smoke_repo, face_frame):
    repo = smoke_repo
    raw = repo / "data/raw/xx"
    for i in range(2):
        talking_video(raw / f"anna/clip {i}.mp4", face_frame)
        (raw / f"anna/clip {i}.txt").write_text(f"frase número {i}\n", encoding="utf-8")
    (raw / "anna/broken.mp4").write_bytes(b"not a video")
    write_params(repo, languages={**SMOKE["languages"], "xx": {"source": "folder", "voice": "es"}})
    _run(["dvc", "add", "data/raw/xx"], repo)  # the user's raw data, versioned on its own
    _run(["dvc", "repro", "preprocess@xx"], repo)
    record = json.loads((repo / "reports/records/preprocess/xx.json").read_text())
    assert record["clips"] == 2 and record["rejected_by_reason"]["corrupt"] == 1
    assert (raw / "anna/broken.mp4").read_bytes() == b"not a video"
    assert "preprocess@xx" not in _run(["dvc", "status"], repo)
