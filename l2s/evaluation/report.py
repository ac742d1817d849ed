"""The cross-language report: its tables, gathered from what the stages wrote, and its
rendering (`l2s report`, stage `report`).

Everything here reads files under reports/ and outputs/; notebooks/06_report.ipynb
turns the tables into figures and audio players, and `render` runs it into
reports/report.html.
"""

from __future__ import annotations

import functools
import json
import logging
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from l2s import config, paths, training
from l2s.evaluation import text
from l2s.scores import SCORES

METRICS = (*SCORES, "wer", "cer")

log = logging.getLogger(__name__)


def _read_json(path: Path, stage: str) -> dict:
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; run: dvc repro {stage}")
    return json.loads(path.read_text(encoding="utf-8"))


def results(params: config.Params) -> pd.DataFrame:
    """One row per evaluation (model x language): every metric, generated and ceiling,
    and the recogniser's own error rates on the recorded speech."""
    rows = []
    for key, ev in params.evaluations.items():
        test = _read_json(paths.record_path("test", f"{ev.model}/{ev.lang}"), f"test@{key}")
        wer = _read_json(paths.record_path("wer", f"{ev.model}/{ev.lang}"), f"wer@{key}")
        row = {
            "model": ev.model,
            "language": ev.lang,
            "seen": ev.lang in params.models[ev.model].languages,
            "clips": test["clips"],
            "vocoder": params.test.vocoder,
        }
        for source in (test, wer):
            for prefix, means in (("", source), (f"{paths.GRIFFIN_LIM}_", source.get(paths.GRIFFIN_LIM, {}))):
                for name, value in means.items():
                    if name in METRICS:
                        row[f"{prefix}{name}"] = value
                        row[f"{prefix}ceiling_{name}"] = means["ceiling"][name]
                row |= _interval_columns(means.get("ci95", {}), prefix)
        row |= {f"recorded_{name}": value for name, value in test.get("recorded", {}).items()}
        second = wer.get("second")
        if second:  # the second recogniser (asr.second), and its paired difference from the first
            for name in ("wer", "cer"):
                row[f"second_{name}"], row[f"second_ceiling_{name}"] = second[name], second["ceiling"][name]
                diff = second["minus_first"][name]
                row |= {f"second_minus_first_{name}{end}": diff[key] for end, key in _DIFFERENCE.items()}
            row |= _interval_columns(second.get("ci95", {}), "second_")
        lips = test.get("lip_reading", {})
        row |= {f"lip_{name}": value for name, value in lips.items() if name != "ci95"}
        row |= _interval_columns(lips.get("ci95", {}), "lip_")
        asr = paths.record_path("asr", ev.lang)
        if asr.exists():
            own = json.loads(asr.read_text(encoding="utf-8"))
            row["asr_wer"], row["asr_cer"] = own.get("wer"), own.get("cer")
        rows.append(row)
    return pd.DataFrame(rows)


_DIFFERENCE = {"": "difference", "_low": "low", "_high": "high"}


def _interval_columns(intervals: dict, prefix: str) -> dict:
    """A metrics file's ci95 entries ({name: {"low", "high"}}) as <prefix><name>_low/_high."""
    return {f"{prefix}{name}_{end}": ends[end] for name, ends in intervals.items() for end in ("low", "high")}


def interval_table(results: pd.DataFrame) -> pd.DataFrame:
    """Rows model x language: each figure of the generated speech and of the lip reader
    with its 95 % bootstrap interval over the test clips, as text ("0.602 [0.585, 0.619]");
    the recogniser's and the lip reader's error in `unit`: WER, or CER for a language
    written without spaces."""
    rows = []
    for r in results.to_dict("records"):
        unit = "wer" if text.spaced(r["language"]) else "cer"
        cells = {"model": r["model"], "language": r["language"], "unit": unit.upper()}
        for column, label in (
            ("stoi", "STOI"),
            ("estoi", "ESTOI"),
            ("pesq_wb", "PESQ wb"),
            ("dnsmos_ovrl", "DNSMOS OVRL"),
            (unit, "generated speech"),
            (f"lip_{unit}", "lip reading"),
            ("lip_per", "lip reading PER"),
        ):
            value, low, high = (r.get(k) for k in (column, f"{column}_low", f"{column}_high"))
            if value is None or pd.isna(value):
                continue
            cells[label] = _with_interval(value, low, high)
        rows.append(cells)
    return pd.DataFrame(rows).set_index(["model", "language"])


def _with_interval(value: float, low: float | None, high: float | None, spec: str = ".3f") -> str:
    """ "0.602 [0.585, 0.619]", or the value alone where no interval was recorded."""
    ends = "" if low is None or pd.isna(low) else f" [{low:{spec}}, {high:{spec}}]"
    return f"{value:{spec}}{ends}"


NAMES = {
    "stoi": "STOI",
    "estoi": "ESTOI",
    "pesq_nb": "PESQ nb",
    "pesq_wb": "PESQ wb",
    "dnsmos_ovrl": "DNSMOS OVRL",  # SIG and BAK: naturalness_table
    "wer": "WER",
    "cer": "CER",
}


def summary_table(results: pd.DataFrame) -> pd.DataFrame:
    """One row per model and language, one column pair per metric: the generated speech
    and, beside it, its ceiling (the recorded speech through the same vocoder path); for the
    scores that need no reference (DNSMOS), the recorded speech's own as well."""
    columns = {}
    for metric, name in NAMES.items():
        if metric in results:
            columns[(name, "generated")] = results[metric].to_numpy()
            columns[(name, "ceiling")] = results[f"ceiling_{metric}"].to_numpy()
            if f"recorded_{metric}" in results:
                columns[(name, "recorded")] = results[f"recorded_{metric}"].to_numpy()
    index = pd.MultiIndex.from_frame(results[["model", "language"]])
    return pd.DataFrame(columns, index=index)


def naturalness_table(results: pd.DataFrame) -> pd.DataFrame | None:
    """Rows model x language: DNSMOS P.835 (OVRL, SIG, BAK; 1 to 5, higher is better) of the
    recorded speech, the ceiling and the generated speech (None before the test stage
    scored it)."""
    if "recorded_dnsmos_ovrl" not in results:
        return None
    columns = {}
    for metric in ("dnsmos_ovrl", "dnsmos_sig", "dnsmos_bak"):
        name = metric.removeprefix("dnsmos_").upper()
        for speech, column in (
            ("recorded", f"recorded_{metric}"),
            ("ceiling", f"ceiling_{metric}"),
            ("generated", metric),
        ):
            columns[(name, speech)] = results[column].to_numpy()
    return pd.DataFrame(columns, index=pd.MultiIndex.from_frame(results[["model", "language"]]))


def recogniser_table(results: pd.DataFrame) -> pd.DataFrame | None:
    """Rows model x language: the generated speech's error as the first and the second
    recogniser hear it (WER, CER for an unspaced language), each with its interval, their
    paired difference, and whether the two judges agree within the clips' noise (None
    without a second recogniser)."""
    if "second_wer" not in results:
        return None
    rows = []
    for r in results.to_dict("records"):
        unit = "wer" if text.spaced(r["language"]) else "cer"
        cells = {"model": r["model"], "language": r["language"], "unit": unit.upper()}
        for label, prefix in (("first recogniser", ""), ("second recogniser", "second_")):
            cells[label] = _with_interval(*(r.get(f"{prefix}{unit}{end}") for end in ("", "_low", "_high")))
            cells[f"{label}: floor"] = r.get(f"{prefix}ceiling_{unit}")
        diff, low, high = (r[f"second_minus_first_{unit}{end}"] for end in _DIFFERENCE)
        cells["second minus first"] = _with_interval(diff, low, high, "+.3f")
        cells["verdict"] = (
            "agree" if low <= 0 <= high else ("second: higher error" if low > 0 else "second: lower error")
        )
        rows.append(cells)
    return pd.DataFrame(rows).set_index(["model", "language"])


def recogniser_note(table: pd.DataFrame) -> str:
    """A sentence on where the two recognisers of `recogniser_table` disagree."""
    apart = table[table.verdict != "agree"]
    if apart.empty:
        return (
            f"The two recognisers agree on all {len(table)} evaluations: each paired difference's "
            "95 % interval holds zero."
        )
    named = "; ".join(
        f"{m} / {lang}: {row.verdict} ({row['second minus first']})" for (m, lang), row in apart.iterrows()
    )
    return (
        f"The two recognisers disagree on {len(apart)} of {len(table)} evaluations, where the paired "
        f"difference's 95 % interval excludes zero: {named}. Read those figures as the recognisers' "
        "range, not one number."
    )


def learning_status(history: pd.DataFrame, metric: str = "val/stoi") -> pd.DataFrame:
    """Per model: its last validation step and score, its best, and whether it was still
    improving when training stopped (the best score came at the last validation): a model
    that was could gain from more steps."""
    rows = []
    if history.empty or metric not in history:
        return pd.DataFrame(rows)
    for model, h in history.dropna(subset=[metric]).groupby("model"):
        last, best = h.iloc[-1], h.loc[h[metric].idxmax()]
        rows.append(
            {
                "model": model,
                "last step": int(last.step),
                f"last {metric}": last[metric],
                "best step": int(best.step),
                f"best {metric}": best[metric],
                "still improving": bool(len(h) > 1 and best.step == last.step),
            }
        )
    return pd.DataFrame(rows)


def metric_table(results: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Rows model x language: the metric for generated speech beside its ceiling."""
    table = results.set_index(["model", "language"])[[metric, f"ceiling_{metric}"]]
    return table.rename(columns={metric: "generated", f"ceiling_{metric}": "ceiling"})


def vocoder_table(results: pd.DataFrame) -> pd.DataFrame | None:
    """With a neural vocoder (test.vocoder: <name>), rows model x language x metric: the
    generated speech and the recorded speech (copy synthesis: recorded -> mel -> vocoder)
    voiced by Griffin-Lim and by the neural vocoder, from the same mels. None with
    Griffin-Lim alone."""
    if f"{paths.GRIFFIN_LIM}_stoi" not in results:
        return None
    name = results.vocoder.iloc[0]
    rows = []
    for r in results.to_dict("records"):
        for metric in METRICS:
            if metric in r and f"{paths.GRIFFIN_LIM}_{metric}" in r:
                rows.append(
                    {
                        "model": r["model"],
                        "language": r["language"],
                        "metric": metric,
                        "generated, Griffin-Lim": r[f"{paths.GRIFFIN_LIM}_{metric}"],
                        f"generated, {name}": r[metric],
                        "copy synthesis, Griffin-Lim": r[f"{paths.GRIFFIN_LIM}_ceiling_{metric}"],
                        f"copy synthesis, {name}": r[f"ceiling_{metric}"],
                    }
                )
    return pd.DataFrame(rows).set_index(["model", "language", "metric"])


def content_table(results: pd.DataFrame) -> pd.DataFrame:
    """What each stage keeps of the words, per model and language, with the same recogniser
    and decoding: the recogniser on recorded speech (the floor), the model's lip reader
    (what the lips carry) and the recogniser on the generated speech (what we voice). WER,
    or CER in a language written without spaces; the lip reader's phoneme error beside."""
    rows = []
    for r in results.itertuples():
        unit = "wer" if text.spaced(r.language) else "cer"
        rows.append(
            {
                "model": r.model,
                "language": r.language,
                "unit": unit.upper(),
                "floor (recorded speech)": getattr(r, f"asr_{unit}", np.nan),
                "lip reading": getattr(r, f"lip_{unit}", np.nan),
                "generated speech": getattr(r, unit),
                "lip reading PER": getattr(r, "lip_per", np.nan),
            }
        )
    return pd.DataFrame(rows).set_index(["model", "language"])


def phoneme_confusions(params: config.Params, top: int = 12) -> dict[tuple[str, str], pd.DataFrame]:
    """Per model and language: how the lip reader reads each of the language's `top` most
    frequent phonemes (rows: said, columns: read, each row sums to 1 over the aligned
    phonemes). Large off-diagonal cells are the homophenes of that language: phonemes the
    lips do not tell apart."""
    from l2s.data.phonemes import WORD

    out = {}
    for ev in params.evaluations.values():
        path = paths.test_dir(ev.model, ev.lang) / "lipreading.csv"
        if not path.exists():
            continue
        t = pd.read_csv(path, keep_default_na=False)
        pairs = Counter()
        for truth, read in zip(t.phonemes, t.read_phonemes):
            said = [p for p in truth.split() if p != WORD]
            heard = [p for p in read.split() if p != WORD]
            pairs.update(text.aligned(said, heard))
        if not pairs:
            continue
        totals = Counter()
        for (s, _), n in pairs.items():
            totals[s] += n
        frequent = [p for p, _ in totals.most_common(top)]
        matrix = pd.DataFrame(0.0, index=frequent, columns=frequent)
        for (s, h), n in pairs.items():
            if s in frequent and h in frequent:
                matrix.loc[s, h] += n / totals[s]
        out[(ev.model, ev.lang)] = matrix
    return out


def clip_scores(params: config.Params) -> pd.DataFrame:
    """Every test clip of every evaluation: its scores and its word/character error rates."""
    frames = []
    for ev in params.evaluations.values():
        scores = pd.read_csv(paths.test_dir(ev.model, ev.lang) / "scores.csv")
        path = paths.transcripts(ev.model, ev.lang)
        if path.exists():
            t = pd.read_csv(path, keep_default_na=False)
            keep = ["clip_id", "reference"]
            for prefix in ("", "ceiling_", f"{paths.GRIFFIN_LIM}_", f"{paths.GRIFFIN_LIM}_ceiling_"):
                if f"{prefix}hypothesis" in t:
                    t[f"{prefix}wer"] = text.rate(t[f"{prefix}word_edits"], t.words)
                    t[f"{prefix}cer"] = text.rate(t[f"{prefix}char_edits"], t.chars)
                    keep += [f"{prefix}hypothesis", f"{prefix}wer", f"{prefix}cer"]
            scores = scores.merge(t[keep], on="clip_id")
        frames.append(scores.assign(model=ev.model, language=ev.lang))
    return pd.concat(frames, ignore_index=True)


def generated_vs_ceiling(clips: pd.DataFrame, metrics: tuple[str, ...], keep: tuple[str, ...] = ()) -> pd.DataFrame:
    """A long table for box plots: a row per clip, metric and speech (generated, or the
    ceiling: the recorded speech through the same vocoder), with the `keep` columns."""
    parts = []
    for metric in metrics:
        for speech, column in (("generated", metric), ("ceiling", f"ceiling_{metric}")):
            if column in clips:
                part = clips[[*keep, column]].rename(columns={column: "value"})
                parts.append(part.assign(metric=metric, speech=speech))
    return pd.concat(parts, ignore_index=True)


def generated_mel(model: str, lang: str, clip_id: str) -> np.ndarray | None:
    """The ln-mel the test stage generated for a clip, or None when it saved none (test.save_mel)."""
    path = paths.test_dir(model, lang) / "mel" / f"{clip_id}.npz"
    if not path.exists():
        return None
    with np.load(path) as z:
        return z["mel"]


def test_wave(
    model: str, lang: str, clip_id: str, kind: str = "wav", voicing: str = ""
) -> tuple[np.ndarray, int] | None:
    """A wave the test stage wrote for a clip and its sample rate, or None when it saved
    none (test.save_wav): kind wav (generated) or ceiling, voicing "" (test.vocoder) or
    griffin_lim (beside a neural vocoder)."""
    import soundfile as sf

    path = paths.test_dir(model, lang) / voicing / kind / f"{clip_id}.wav"
    return sf.read(path) if path.exists() else None


def confusions(params: config.Params, top: int = 8) -> pd.DataFrame:
    """The word substitutions the recogniser makes most often on generated speech, per
    language: on lip-to-speech output these are mostly homophenes, words that look alike
    on the lips (p/b/m, f/v) and only sound different."""
    rows = []
    for ev in params.evaluations.values():
        path = paths.transcripts(ev.model, ev.lang)
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
    """Validation and loss history of every model (the train stage's dvc plots files, one
    per kind of curve, joined again on the step)."""
    frames = []
    for name in params.models:
        kinds = [paths.train_plot(name, kind) for kind in training.PLOTS["train"]]
        if all(path.exists() for path in kinds):
            joined = functools.reduce(
                lambda a, b: a.merge(b, on="step", how="outer"), (pd.read_csv(path) for path in kinds)
            )
            frames.append(joined.dropna(axis="columns", how="all").assign(model=name))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


# The lab template without what it fetches from the web (require.js, MathJax, mermaid: the
# report has no widgets, formulas or diagrams) and with the styles of our tables: the page
# carries everything and reads the same offline.
_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_css -%}
<style>
  body { font-family: "DejaVu Sans", "Noto Sans", "Noto Sans CJK SC", "Noto Sans CJK JP", sans-serif; }
  table.listening td, table.listening th { vertical-align: top; padding: 6px 10px; text-align: left; }
  table.listening audio { width: 220px; }
  table.listening small { color: #444; }
</style>
{%- endblock html_head_css -%}
"""


def render(params_file: str | Path | None = None, screenshot: bool = True) -> Path:
    """Run notebooks/06_report.ipynb (papermill) and write it without its code to
    reports/report.html, and (`screenshot`) the whole page as a headless browser shows it
    to reports/report.jpg; returns the HTML's path.

    What the kernel wrote to stderr (log lines, library warnings) stays in the executed
    notebook under reports/notebooks for whoever debugs; the reader's page has none."""
    import jinja2
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    notebook, executed = paths.notebook("06_report"), paths.executed_notebook("06_report")
    executed.parent.mkdir(parents=True, exist_ok=True)
    parameters = {"params_file": str(Path(params_file).resolve())} if params_file else {}
    try:
        papermill.execute_notebook(
            notebook, executed, parameters=parameters, kernel_name="python3", cwd=notebook.parent, log_output=True
        )
    except papermill.PapermillExecutionError as e:  # the notebook's own error, without the kernel's traceback
        raise ValueError(f"{notebook.name} stopped: {e.ename}: {e.evalue} (the executed copy: {executed})") from None
    nb = nbformat.read(executed, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")]
    exporter = HTMLExporter(
        extra_loaders=[jinja2.DictLoader({"l2s_report.html.j2": _TEMPLATE})],
        template_file="l2s_report.html.j2",
        exclude_input=True,
        exclude_output_prompt=True,
    )
    html, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": "l2s report"}})
    with paths.atomic(paths.report_html()) as tmp:
        tmp.write_text(html, encoding="utf-8")
    if screenshot:
        from l2s.evaluation import browser

        page = browser.open_page(paths.report_html(), paths.report_screenshot())
        for problem in page.problems():
            log.warning("report.html as a browser shows it: %s", problem)
    return paths.report_html()


if __name__ == "__main__":  # the report stage: python -m l2s.evaluation.report
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    render()
