"""Where things live in the repository.

Notebooks run with the kernel's working directory wherever papermill or JupyterLab put
it, so every path is resolved from the repository root: the nearest folder upwards
holding params.yaml and dvc.yaml, or $L2S_ROOT when set.
"""

from __future__ import annotations

import os
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


def metrics_path(stage: str, name: str) -> Path:
    return root() / "reports" / "metrics" / stage / f"{name}.json"


def write_metrics(stage: str, name: str, metrics: dict) -> Path:
    """reports/metrics/<stage>/<name>.json: one row per language (or model) in `dvc metrics show`."""
    import json

    path = metrics_path(stage, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def append_row(path: Path, row: dict) -> None:
    """Add a row to a CSV history (header first when the file is new); floats to 5 decimals."""
    import csv

    new = not path.exists()
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(row))
        if new:
            w.writeheader()
        w.writerow(_rounded(row, 5))


def write_csv(path: Path, rows: list[dict], columns: list[str] | None = None, digits: int | None = None) -> None:
    """A CSV of `rows` (columns: the given ones, else the first row's keys), its folder made;
    floats rounded to `digits` decimals when given."""
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=columns or list(rows[0]))
        w.writeheader()
        w.writerows(rows if digits is None else (_rounded(r, digits) for r in rows))


def _rounded(row: dict, digits: int) -> dict:
    return {k: (round(v, digits) if isinstance(v, float) else v) for k, v in row.items()}
