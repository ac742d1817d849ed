"""The wer stage: what a recogniser understands of the generated speech.

`l2s wer <model>-<lang>` (stage wer@<model>-<lang>) transcribes the test stage's
generated speech with the language's recogniser (stage asr@<lang>, or the backend named
in params) and scores it against the transcripts: corpus-level WER and CER after the
language's text normalisation (l2s.evaluation.text; CER is the main figure for languages written
without spaces). The ground truth sent through the same vocoder path is transcribed
too: the ceiling.

reports/wer/<model>/<lang>.csv             one row per clip: reference, both hypotheses, edits
reports/metrics/wer/<model>/<lang>.json    corpus-level figures (`dvc metrics show`), with
                                           their 95 % bootstrap intervals over the clips (ci95)
"""

from __future__ import annotations

import csv
import logging
import time
from pathlib import Path

from l2s import config, paths
from l2s.evaluation import asr, text

log = logging.getLogger(__name__)


def run(key: str, params: config.Params | None = None) -> dict:
    """Transcribe and score evaluation `key` (<model>-<lang>); returns its metrics."""
    params = params or config.load()
    ev = params.evaluation(key)
    out = paths.test_dir(ev.model, ev.lang)
    if not (out / "scores.csv").exists():
        raise FileNotFoundError(f"no test outputs at {out}; run: dvc repro test@{key}")
    rows, metrics = transcribe(out, ev.lang, params)
    paths.write_csv(paths.transcripts(ev.model, ev.lang), rows)
    paths.write_metrics("wer", f"{ev.model}/{ev.lang}", metrics)
    log.info("%s: %s", key, metrics)
    return metrics


def transcribe(out: Path, lang: str, params: config.Params) -> tuple[list[dict], dict]:
    """Per-clip transcripts and corpus-level rates of the speech l2s.evaluation.test.speak
    wrote to `out`: the generated speech and its ceiling, and the same voiced by Griffin-Lim
    when the test stage wrote that beside a neural vocoder (columns and metrics prefixed
    griffin_lim)."""
    with open(out / "scores.csv", newline="", encoding="utf-8") as f:
        clips = [(r["clip_id"], r["text"]) for r in csv.DictReader(f)]
    recogniser = asr.load_recognizer(lang, params)
    voicings = [""] + ([paths.GRIFFIN_LIM] if (out / paths.GRIFFIN_LIM).is_dir() else [])

    t0 = time.perf_counter()
    rows = [{"clip_id": clip_id, "reference": text.normalise(ref, lang)} for clip_id, ref in clips]
    metrics = {"clips": len(rows)}
    for voicing in voicings:
        folder, prefix = out / voicing, f"{voicing}_" if voicing else ""
        heard = {
            "": recogniser.transcribe([_generated_input(folder, clip_id, out) for clip_id, _ in clips]),
            "ceiling_": recogniser.transcribe([folder / "ceiling" / f"{clip_id}.wav" for clip_id, _ in clips]),
        }
        rates = {}
        for part, hypotheses in heard.items():
            counts = [text.error_counts(ref, hyp, lang) for (_, ref), hyp in zip(clips, hypotheses)]
            for row, hyp, c in zip(rows, hypotheses, counts):
                edits = {k: v for k, v in c.items() if k.endswith("edits") or not prefix + part}  # lengths once
                row |= {f"{prefix}{part}hypothesis": hyp} | {f"{prefix}{part}{k}": v for k, v in edits.items()}
            rates[part] = _rounded(text.corpus_rates(counts)) | {"ci95": text.rate_intervals(counts)}
        means = rates[""] | {"ceiling": rates["ceiling_"]}
        metrics |= means if not voicing else {voicing: means}
    elapsed = time.perf_counter() - t0
    metrics["clips_per_s"] = round(2 * len(voicings) * len(rows) / elapsed, 2)
    return rows, metrics


def _generated_input(folder: Path, clip_id: str, out: Path) -> Path:
    """The generated wav, or its mel when the test stage saved no audio (test.save_wav)."""
    wav = folder / "wav" / f"{clip_id}.wav"
    return wav if wav.exists() else out / "mel" / f"{clip_id}.npz"


def _rounded(rates: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in rates.items()}
