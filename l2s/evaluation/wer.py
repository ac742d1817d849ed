"""The wer stage: what a recogniser understands of the generated speech.

`l2s wer <model>-<lang>` (stage wer@<model>-<lang>) transcribes the test stage's
generated speech with the language's recogniser (stage asr@<lang>, or the backend named
in params) and scores it against the transcripts: corpus-level WER and CER after the
language's text normalisation (l2s.evaluation.text; CER is the main figure for languages written
without spaces). The ground truth sent through the same vocoder path is transcribed
too: the ceiling.

reports/wer/<model>/<lang>.csv             one row per clip: reference, both hypotheses, edits
reports/metrics/wer/<model>/<lang>.json    corpus-level figures (`dvc metrics show`)
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
    wrote to `out`: the generated speech and its ceiling."""
    with open(out / "scores.csv", newline="", encoding="utf-8") as f:
        clips = [(r["clip_id"], r["text"]) for r in csv.DictReader(f)]
    recogniser = asr.load_recognizer(lang, params)

    t0 = time.perf_counter()
    generated = recogniser.transcribe([_generated_input(out, clip_id) for clip_id, _ in clips])
    ceiling = recogniser.transcribe([out / "ceiling" / f"{clip_id}.wav" for clip_id, _ in clips])
    elapsed = time.perf_counter() - t0

    rows = []
    for (clip_id, ref), hyp, ceil in zip(clips, generated, ceiling):
        counts = text.error_counts(ref, hyp, lang)
        upper = text.error_counts(ref, ceil, lang)
        rows.append(
            {
                "clip_id": clip_id,
                "reference": text.normalise(ref, lang),
                "hypothesis": hyp,
                "ceiling_hypothesis": ceil,
                **counts,
                "ceiling_word_edits": upper["word_edits"],
                "ceiling_char_edits": upper["char_edits"],
            }
        )
    ceiling_counts = [{**r, "word_edits": r["ceiling_word_edits"], "char_edits": r["ceiling_char_edits"]} for r in rows]
    metrics = {
        "clips": len(rows),
        **_rounded(text.corpus_rates(rows)),
        "ceiling": _rounded(text.corpus_rates(ceiling_counts)),
        "clips_per_s": round(2 * len(rows) / elapsed, 2),
    }
    return rows, metrics


def _generated_input(out: Path, clip_id: str) -> Path:
    """The generated wav, or its mel when the test stage saved no audio (test.save_wav)."""
    wav = out / "wav" / f"{clip_id}.wav"
    return wav if wav.exists() else out / "mel" / f"{clip_id}.npz"


def _rounded(rates: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in rates.items()}
