"""The wer stage: what a recogniser understands of the generated speech.

`l2s wer <model>-<lang>` (stage wer@<model>-<lang>) transcribes the test stage's
generated speech with the language's recogniser (stage asr@<lang>, or the backend named
in params) and scores it against the transcripts: corpus-level WER and CER after the
language's text normalisation (l2s.text; CER is the main figure for languages written
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

from l2s import asr, config, paths, text
from l2s.evaluate import evaluation, output_dir

log = logging.getLogger(__name__)


def transcripts_path(model: str, lang: str) -> Path:
    return paths.root() / "reports" / "wer" / model / f"{lang}.csv"


def run(key: str, params: config.Params | None = None) -> dict:
    """Transcribe and score evaluation `key` (<model>-<lang>); returns its metrics."""
    params = params or config.load()
    ev = evaluation(params, key)
    out = output_dir(ev.model, ev.lang)
    scores = out / "scores.csv"
    if not scores.exists():
        raise FileNotFoundError(f"no test outputs at {out}; run: dvc repro test@{key}")
    with open(scores, newline="", encoding="utf-8") as f:
        clips = [(r["clip_id"], r["text"]) for r in csv.DictReader(f)]
    recogniser = asr.load_recognizer(ev.lang, params)

    t0 = time.perf_counter()
    generated = recogniser.transcribe([_generated_input(out, clip_id) for clip_id, _ in clips])
    ceiling = recogniser.transcribe([out / "ceiling" / f"{clip_id}.wav" for clip_id, _ in clips])
    elapsed = time.perf_counter() - t0

    rows = []
    for (clip_id, ref), hyp, ceil in zip(clips, generated, ceiling):
        counts = text.error_counts(ref, hyp, ev.lang)
        upper = text.error_counts(ref, ceil, ev.lang)
        rows.append(
            {
                "clip_id": clip_id,
                "reference": text.normalise(ref, ev.lang),
                "hypothesis": hyp,
                "ceiling_hypothesis": ceil,
                **counts,
                "ceiling_word_edits": upper["word_edits"],
                "ceiling_char_edits": upper["char_edits"],
            }
        )
    paths.write_csv(transcripts_path(ev.model, ev.lang), rows)

    # corpus-level rates from the per-clip counts (as text.wer / text.cer, without a second alignment)
    def rate(edits: str, length: str) -> float:
        return round(sum(r[edits] for r in rows) / max(1, sum(r[length] for r in rows)), 4)

    metrics = {
        "clips": len(rows),
        "wer": rate("word_edits", "words"),
        "cer": rate("char_edits", "chars"),
        "ceiling": {"wer": rate("ceiling_word_edits", "words"), "cer": rate("ceiling_char_edits", "chars")},
        "clips_per_s": round(2 * len(rows) / elapsed, 2),
    }
    paths.write_metrics("wer", f"{ev.model}/{ev.lang}", metrics)
    log.info("%s: %s", key, metrics)
    return metrics


def _generated_input(out: Path, clip_id: str) -> Path:
    """The generated wav, or its mel when the test stage saved no audio (test.save_wav)."""
    wav = out / "wav" / f"{clip_id}.wav"
    return wav if wav.exists() else out / "mel" / f"{clip_id}.npz"
