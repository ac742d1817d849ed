r"""The figures of every evaluation in one DVC metrics file: `python -m l2s.evaluation.summary`.

reports/metrics/summary.json holds, per evaluation (<model>-<lang>), the speech's STOI and
ESTOI, the recogniser's WER and CER on it, and the lip reader's WER:

    {"multi-en": {"stoi": 0.63, "estoi": 0.37, "wer": 0.51, "cer": 0.34, "lip_wer": 0.14}, ...}

It repeats figures of the test and wer stages' metrics on purpose, shaped for the other
view. Those files share their keys (every language's file has a `wer`), so that
`dvc metrics show reports/metrics/wer` is a table with a row per evaluation; but
`dvc exp show` makes a column of each key, and names a key that several files share by its
whole path (`reports/metrics/wer/multi/en.json:wer`), too wide to read. Here each figure
has a name of its own (`multi-en.wer`), so that experiments compare at a glance:

    dvc exp show --only-changed --drop '(?!Experiment$|train\.|[^/:]*\.wer$)'
"""

from __future__ import annotations

import json
import logging
import sys

from l2s import config, paths

log = logging.getLogger(__name__)

# (the stage's record, the figure there, its name here)
FIGURES = (
    ("test", "stoi", "stoi"),
    ("test", "estoi", "estoi"),
    ("wer", "wer", "wer"),
    ("wer", "cer", "cer"),
    ("test", "lip_reading.wer", "lip_wer"),
)


def summarise(params: config.Params) -> dict:
    """{evaluation: {figure: value}} from the test and wer stages' records; a missing record
    is an error that names the stage to run."""
    summary = {}
    for key, ev in params.evaluations.items():
        records = {}
        for stage in ("test", "wer"):
            path = paths.record_path(stage, f"{ev.model}/{ev.lang}")
            if not path.exists():
                raise FileNotFoundError(f"{path} is missing; run: dvc repro {stage}@{key}")
            records[stage] = json.loads(path.read_text(encoding="utf-8"))
        figures = {}
        for stage, source, name in FIGURES:
            value = records[stage]
            for part in source.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if value is not None:  # a model without the lip-reading head reads no words
                figures[name] = value
        summary[key] = figures
    return summary


def run(params: config.Params | None = None) -> dict:
    summary = summarise(params or config.load())
    paths.write_json(paths.summary_path(), summary)
    log.info("%s: %s", paths.summary_path(), summary)
    return summary


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        run()
    except (FileNotFoundError, config.ConfigError) as e:
        log.error("%s", e)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
