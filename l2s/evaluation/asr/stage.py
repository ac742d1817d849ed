"""The asr stage (`l2s asr LANG`, stage asr@<lang>): train the language's recogniser,
then score it on the recorded test speech, directly and after mel -> Griffin-Lim -> mel
(the test stage's path), which is the error floor of every WER the wer stage reports."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import torch

from l2s import config, paths
from l2s.evaluation import text
from l2s.evaluation.asr.inputs import resynthesise
from l2s.evaluation.asr.recognizers import CTCRecognizer
from l2s.evaluation.asr.training import AsrTrainer, TranscribedMels

log = logging.getLogger(__name__)


def evaluate(rec: CTCRecognizer, clips: TranscribedMels, seed: int = 0) -> dict:
    """WER/CER of the recogniser on ground-truth speech: the stored mel of each whole clip (as
    a wav of it would give) and the same through mel -> Griffin-Lim -> mel (the test path)."""
    lang = rec.lang
    mels = list(clips.mel)
    start = time.perf_counter()
    lps = rec.log_probs(mels)
    hyps = [rec.decode(lp) for lp in lps]
    seconds = time.perf_counter() - start
    greedy = [rec.decode(lp, "greedy") for lp in lps]
    start = time.perf_counter()
    gl_mels = resynthesise(clips.mel, rec.mel_cfg, seed)
    gl_seconds = time.perf_counter() - start
    gl_hyps = rec.transcribe_mels(gl_mels)
    errors = [(ref, hyp) for ref, hyp in zip(clips.texts, hyps) if ref != hyp]
    for ref, hyp in errors[:5]:
        log.info("asr %s test error: %r -> %r", lang, ref, hyp)
    return {
        "test_clips": len(clips),
        "wer": round(text.wer(clips.texts, hyps, lang), 5),
        "cer": round(text.cer(clips.texts, hyps, lang), 5),
        "wer_greedy": round(text.wer(clips.texts, greedy, lang), 5),
        "cer_greedy": round(text.cer(clips.texts, greedy, lang), 5),
        "wer_griffin_lim": round(text.wer(clips.texts, gl_hyps, lang), 5),
        "cer_griffin_lim": round(text.cer(clips.texts, gl_hyps, lang), 5),
        "decode_ms_per_clip": round(1000 * seconds / len(clips), 2),
        "griffin_lim_ms_per_clip": round(1000 * gl_seconds / len(clips), 1),
    }


def run(lang: str, params: config.Params | None = None, out: str | Path | None = None) -> dict:
    """Train the recogniser of `lang`; returns its metrics, with its WER/CER on ground truth.

    Writes asr.pt (best validation CER) and history.csv to `out`, by default models/asr/<lang>,
    where the metrics also go to reports/metrics/asr/<lang>.json (else out/metrics.json)."""
    params = params or config.load()
    params.source(lang)
    default = out is None
    out = Path(out) if out else paths.asr_dir(lang)
    out.mkdir(parents=True, exist_ok=True)
    # the suite and a busy machine set OMP_NUM_THREADS; otherwise every core
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1))
    trainer = AsrTrainer(lang, params)
    log.info(
        "asr %s: %d train clips, %d val, %d test; %d characters, %d lexicon words",
        lang,
        len(trainer.train),
        len(trainer.val) if trainer.val else 0,
        len(trainer.test),
        len(trainer.vocab),
        len(trainer.lexicon),
    )
    best, summary = trainer.fit(out / "history.csv")
    path = out / paths.asr_checkpoint(lang).name
    with paths.atomic(path) as tmp:
        torch.save(trainer.checkpoint(best, {"trained": summary}), tmp)
    rec = CTCRecognizer.load(path, params.asr.decoding, params.asr.beam)
    metrics = {
        "lang": lang,
        "train_clips": len(trainer.train),
        "characters": len(trainer.vocab),
        "lexicon_words": len(trainer.lexicon),
        "decoding": params.asr.decoding,
        **summary,
        **evaluate(rec, trainer.test, params.asr.seed),
    }
    log.info(
        "asr %s: test WER %.4f CER %.4f; through Griffin-Lim WER %.4f CER %.4f",
        lang,
        metrics["wer"],
        metrics["cer"],
        metrics["wer_griffin_lim"],
        metrics["cer_griffin_lim"],
    )
    if default:
        paths.write_metrics("asr", lang, metrics)
    else:
        paths.write_json(out / "metrics.json", metrics)
    return metrics
