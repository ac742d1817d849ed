"""The cross-language report's tables, gathered from what the stages wrote.

Everything here reads files under reports/ and outputs/; notebooks/06_report.ipynb
turns the tables into figures, audio players and reports/report.html.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pandas as pd

from l2s import config, paths, text
from l2s.evaluate import SCORES, output_dir
from l2s.wer import transcripts_path

METRICS = (*SCORES, "wer", "cer")


def _read_json(path: Path, stage: str) -> dict:
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; run: dvc repro {stage}")
    return json.loads(path.read_text(encoding="utf-8"))


def results(params: config.Params) -> pd.DataFrame:
    """One row per evaluation (model x language): every metric, generated and ceiling,
    and the recogniser's own error rates on the recorded speech."""
    rows = []
    for key, ev in params.evaluations.items():
        test = _read_json(paths.metrics_path("test", f"{ev.model}/{ev.lang}"), f"test@{key}")
        wer = _read_json(paths.metrics_path("wer", f"{ev.model}/{ev.lang}"), f"wer@{key}")
        row = {
            "model": ev.model,
            "language": ev.lang,
            "seen": ev.lang in params.models[ev.model].languages,
            "clips": test["clips"],
        }
        for source in (test, wer):
            for name, value in source.items():
                if name in METRICS:
                    row[name] = value
                    row[f"ceiling_{name}"] = source["ceiling"][name]
        asr = paths.metrics_path("asr", ev.lang)
        if asr.exists():
            own = json.loads(asr.read_text(encoding="utf-8"))
            row["asr_wer"], row["asr_cer"] = own.get("wer"), own.get("cer")
        rows.append(row)
    return pd.DataFrame(rows)


def metric_table(results: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Rows model x language: the metric for generated speech beside its ceiling."""
    table = results.set_index(["model", "language"])[[metric, f"ceiling_{metric}"]]
    return table.rename(columns={metric: "generated", f"ceiling_{metric}": "ceiling"})


def clip_scores(params: config.Params) -> pd.DataFrame:
    """Every test clip of every evaluation: its scores and its word/character error rates."""
    frames = []
    for ev in params.evaluations.values():
        scores = pd.read_csv(output_dir(ev.model, ev.lang) / "scores.csv")
        path = transcripts_path(ev.model, ev.lang)
        if path.exists():
            t = pd.read_csv(path, keep_default_na=False)
            for prefix in ("", "ceiling_"):
                t[f"{prefix}wer"] = t[f"{prefix}word_edits"] / t.words.clip(lower=1)
                t[f"{prefix}cer"] = t[f"{prefix}char_edits"] / t.chars.clip(lower=1)
            keep = ["clip_id", "reference", "hypothesis", "wer", "cer", "ceiling_wer", "ceiling_cer"]
            scores = scores.merge(t[keep], on="clip_id")
        frames.append(scores.assign(model=ev.model, language=ev.lang))
    return pd.concat(frames, ignore_index=True)


def confusions(params: config.Params, top: int = 8) -> pd.DataFrame:
    """The word substitutions the recogniser makes most often on generated speech, per
    language: on lip-to-speech output these are mostly homophenes, words that look alike
    on the lips (p/b/m, f/v) and only sound different."""
    rows = []
    for ev in params.evaluations.values():
        path = transcripts_path(ev.model, ev.lang)
        if not path.exists():
            continue
        t = pd.read_csv(path, keep_default_na=False)
        pairs = Counter()
        for ref, hyp in zip(t.reference, t.hypothesis):
            pairs.update(text.substitutions(text.tokens(ref, ev.lang), text.tokens(hyp, ev.lang)))
        for (said, heard), n in pairs.most_common(top):
            rows.append({"model": ev.model, "language": ev.lang, "said": said, "heard": heard, "count": n})
    return pd.DataFrame(rows, columns=["model", "language", "said", "heard", "count"])


def training_history(params: config.Params) -> pd.DataFrame:
    """Validation and loss history of every model (the train stage's dvc plots files)."""
    frames = []
    for name in params.models:
        path = paths.root() / "reports" / "plots" / "train" / f"{name}.csv"
        if path.exists():
            frames.append(pd.read_csv(path).assign(model=name))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
