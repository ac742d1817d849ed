"""Where things live in the repository.

Notebooks run with the kernel's working directory wherever papermill or JupyterLab put
it, so every path is resolved from the repository root: the nearest folder upwards
holding params.yaml and dvc.yaml, or $L2S_ROOT when set.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path


def root() -> Path:
    if os.environ.get("L2S_ROOT"):
        return Path(os.environ["L2S_ROOT"]).resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "params.yaml").exists() and (folder / "dvc.yaml").exists():
            return folder
    raise FileNotFoundError(
        f"no l2s repository (a folder with params.yaml and dvc.yaml) at or above {here}; "
        "run from inside the repository or set L2S_ROOT"
    )


@contextlib.contextmanager
def rooted_at(folder: Path) -> Iterator[Path]:
    """Run the stages' code in another repository root, and its spawned workers too
    (they inherit $L2S_ROOT): a scratch repository for a variant of the data."""
    before = os.environ.get("L2S_ROOT")
    os.environ["L2S_ROOT"] = str(folder)
    try:
        yield folder
    finally:
        if before is None:
            del os.environ["L2S_ROOT"]
        else:
            os.environ["L2S_ROOT"] = before


def resolve(path: str | Path) -> Path:
    path = Path(path)
    return path if path.is_absolute() else root() / path


def raw_dir(lang: str) -> Path:
    return root() / "data" / "raw" / lang


def interim_dir(lang: str) -> Path:
    """Per-video preprocessing cache: lets a re-run skip videos whose inputs are unchanged."""
    return root() / "data" / "interim" / lang


def processed_dir(lang: str) -> Path:
    return root() / "data" / "processed" / lang


def model_dir(model: str) -> Path:
    """A trained VCA-GAN model: checkpoints, TensorBoard logs and the training history."""
    return root() / "models" / model


BEST = "best.pt"  # in a model's folder: the checkpoint of the best validation STOI
LAST = "last.pt"  # in a model's folder: the latest checkpoint, which a run resumes from
# in an ablation run's folder: the checkpoint at the end of the lip-reading pre-training,
# from which runs that differ only after it start (ablation --from-reader)
READER = "reader.pt"
# in a test folder, beside a neural vocoder's speech: the same mels voiced by Griffin-Lim
# (its sub-folder, and the prefix of its scores)
GRIFFIN_LIM = "griffin_lim"


def best_checkpoint(model: str) -> Path:
    """The checkpoint the test stage and `l2s speak` use."""
    return model_dir(model) / BEST


def train_plot(model: str, kind: str) -> Path:
    """One `kind` of curves (PLOTS) of the training history as `dvc plots` reads it: the
    history itself is models/<model>/history.csv."""
    return root() / "reports" / "plots" / "train" / kind / f"{model}.csv"


def asr_plot(lang: str, kind: str) -> Path:
    """One `kind` of curves (PLOTS) of the recogniser's training history as `dvc plots` reads it."""
    return root() / "reports" / "plots" / "asr" / kind / f"{lang}.csv"


def vocoder_dir(name: str) -> Path:
    """A trained neural vocoder (stage vocoder@<name>): checkpoints, TensorBoard logs, history."""
    return root() / "models" / "vocoders" / name


def vocoder_plot(name: str, kind: str) -> Path:
    """One `kind` of curves (PLOTS) of the vocoder's training history as `dvc plots` reads it."""
    return root() / "reports" / "plots" / "vocoder" / kind / f"{name}.csv"


def test_dir(model: str, lang: str) -> Path:
    """What the test stage writes for one evaluation: wav/, mel/, ceiling/, scores.csv
    (and griffin_lim/ beside a neural vocoder)."""
    return root() / "outputs" / model / lang


def asr_dir(lang: str) -> Path:
    return root() / "models" / "asr" / lang


SECOND_ASR = "second"  # the folder of the second recogniser (asr.second) under asr_dir


def asr_checkpoint(lang: str, second: bool = False) -> Path:
    """The recogniser of `lang` (`second`: the second one, asr.second)."""
    return asr_dir(lang) / (SECOND_ASR if second else "") / "asr.pt"


def transcripts(model: str, lang: str) -> Path:
    """The wer stage's per-clip transcripts and edit counts."""
    return root() / "reports" / "wer" / model / f"{lang}.csv"


def notebook(name: str) -> Path:
    return root() / "notebooks" / f"{name}.ipynb"


def executed_notebook(name: str) -> Path:
    """Where a stage's executed copy of its notebook goes (an output, never a dependency)."""
    return root() / "reports" / "notebooks" / f"{name}.ipynb"


def report_html() -> Path:
    return root() / "reports" / "report.html"


def report_screenshot() -> Path:
    """The whole report page as a browser shows it, kept in git for readers of the repository."""
    return root() / "reports" / "report.jpg"


# What `dvc metrics show` and `dvc metrics diff` list of each stage's record: the figures a
# researcher compares, in files of a few columns each, so that one folder of them reads as
# a table at 100 columns (one row per language, model or evaluation). Everything else a
# stage measures (intervals, timings, counts by reason, losses) stays in its record,
# reports/records/<stage>/<name>.json, which the notebooks and the report read.
# stage -> {metrics folder: (the part of the record it reads, its keys, dotted for nested ones)}
METRICS: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {
    "preprocess": {"preprocess": ("", ("clips", "rejected", "hours"))},
    "train": {"train": ("", ("best_val_stoi", "val_stoi", "val_estoi", "val_per"))},
    "vocoder": {"vocoder": ("", ("best_val_pesq_wb", "val_stoi", "val_estoi"))},
    "asr": {"asr": ("", ("wer", "cer", "second.wer", "second.cer"))},
    "test": {
        "test": ("", ("stoi", "estoi", "pesq_nb", "pesq_wb", "dnsmos_ovrl")),
        "lips": ("lip_reading", ("per", "wer", "cer")),
    },
    # ceiling: the recorded speech through the same vocoder, heard by the same recogniser
    "wer": {"wer": ("", ("wer", "cer", "ceiling.wer", "ceiling.cer", "second.wer"))},
}


def record_path(stage: str, name: str) -> Path:
    """reports/records/<stage>/<name>.json: all that a stage measured of one item."""
    return root() / "reports" / "records" / stage / f"{name}.json"


def metrics_path(folder: str, name: str) -> Path:
    """reports/metrics/<folder>/<name>.json: a DVC metrics file (METRICS)."""
    return root() / "reports" / "metrics" / folder / f"{name}.json"


def summary_path() -> Path:
    """reports/metrics/summary.json: every evaluation's figures, one name each (l2s.evaluation.summary)."""
    return root() / "reports" / "metrics" / "summary.json"


def headline(record: dict, part: str, keys: tuple[str, ...]) -> dict:
    """The `keys` of record[part] (the whole record when `part` is empty), nested as they
    are there; a key the record lacks (a model without a lip-reading head has no val_per)
    is left out."""
    source = record.get(part, {}) if part else record
    out: dict = {}
    for key in keys:
        *parents, leaf = key.split(".")
        value, into = source, out
        for parent in parents:
            value = value.get(parent, {}) if isinstance(value, dict) else {}
        if not isinstance(value, dict) or leaf not in value:
            continue
        for parent in parents:
            into = into.setdefault(parent, {})
        into[leaf] = value[leaf]
    return out


def write_metrics(stage: str, name: str, record: dict) -> Path:
    """A stage's `record` of one item to reports/records/<stage>/<name>.json, and its
    figures (METRICS[stage]) to the DVC metrics files reports/metrics/<folder>/<name>.json."""
    path = record_path(stage, name)
    write_json(path, record)
    for folder, (part, keys) in METRICS.get(stage, {}).items():
        write_json(metrics_path(folder, name), headline(record, part, keys))
    return path


@contextlib.contextmanager
def atomic(path: str | Path) -> Iterator[Path]:
    """A temporary path beside `path` to write to; when the block ends without an error it
    replaces `path` in one step, so a run killed mid-write leaves the old file whole.
    The temporary name keeps the suffix, for writers that choose a format by it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: str | Path, data: dict | list, indent: int | None = 2) -> None:
    """UTF-8 JSON (non-ASCII text kept readable), written atomically."""
    text = json.dumps(data, indent=indent, ensure_ascii=False) + "\n"
    with atomic(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def append_row(path: Path, row: dict) -> None:
    """Add a row to a CSV history (header first when the file is new); floats to 5 decimals.
    A row with columns the file lacks rewrites it with the wider header (training logs more
    losses once its lip-reading pre-training ends)."""
    columns = []
    if path.exists():
        with open(path, newline="") as f:
            columns = next(csv.reader(f), [])
    if path.exists() and set(row) <= set(columns):
        with open(path, "a", newline="") as f:
            csv.DictWriter(f, fieldnames=columns).writerow(_rounded(row, 5))
        return
    rows = list(csv.DictReader(open(path, newline=""))) if path.exists() else []
    write_csv(path, [*rows, _rounded(row, 5)], list(dict.fromkeys([*columns, *row])))


def write_csv(path: Path, rows: list[dict], columns: list[str] | None = None, digits: int | None = None) -> None:
    """A CSV of `rows` (columns: the given ones, else the first row's keys), its folder made;
    floats rounded to `digits` decimals when given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=columns or list(rows[0]))
        w.writeheader()
        w.writerows(rows if digits is None else (_rounded(r, digits) for r in rows))


def _rounded(row: dict, digits: int) -> dict:
    return {k: (round(v, digits) if isinstance(v, float) else v) for k, v in row.items()}
