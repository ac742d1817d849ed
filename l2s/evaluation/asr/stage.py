"""The asr stage (`l2s asr LANG`, stage asr@<lang>): train the language's recogniser,
then score it on the recorded test speech, directly and after mel -> Griffin-Lim -> mel
(the test stage's path), which is the error floor of every WER the wer stage reports."""

from __future__ import annotations

import functools
import logging
import time
from pathlib import Path

import torch

from l2s import config, paths
from l2s.evaluation import text
from l2s.evaluation.asr.inputs import resynthesise
from l2s.evaluation.asr.recognizers import CTCRecognizer
from l2s.evaluation.asr.training import AsrTrainer, TranscribedMels
from l2s.parallel import CoreShare
from l2s.training import write_plots

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
    """Train the recogniser of `lang` and, with asr.second, the second one; returns the
    metrics, with each one's WER/CER on ground truth (the second's under "second").

    Writes asr.pt (best validation CER) and history.csv to `out`, by default models/asr/<lang>
    (the second's to its second/ folder), where the metrics also go to
    reports/records/asr/<lang>.json and its DVC metrics (else out/metrics.json)."""
    params = params or config.load()
    params.source(lang)
    default = out is None
    out = Path(out) if out else paths.asr_dir(lang)
    cores = CoreShare(what=f"asr {lang}")
    metrics = train(lang, params.asr, params.preprocess.mel, out, cores)
    second = params.asr.second_config()
    if second is not None:
        metrics["second"] = train(lang, second, params.preprocess.mel, out / paths.SECOND_ASR, cores)
    if default:
        paths.write_metrics("asr", lang, metrics)
        write_plots(out / "history.csv", "asr", functools.partial(paths.asr_plot, lang))
    else:
        paths.write_json(out / "metrics.json", metrics)
    return metrics


def train(
    lang: str, cfg: config.AsrConfig, mel_cfg: config.MelConfig, out: Path, cores: CoreShare | None = None
) -> dict:
    """One recogniser of `lang` with the settings `cfg`, into `out`; returns its metrics.
    `cores`: the thread count to keep to the cores other processes leave free."""
    out.mkdir(parents=True, exist_ok=True)
    trainer = AsrTrainer(lang, cfg, mel_cfg)
    log.info(
        "asr %s (seed %d, hidden %d): %d train clips, %d val, %d test; %d characters, %d lexicon words",
        lang,
        cfg.seed,
        cfg.hidden,
        len(trainer.train),
        len(trainer.val) if trainer.val else 0,
        len(trainer.test),
        len(trainer.vocab),
        len(trainer.lexicon),
    )
    best, summary = trainer.fit(out / "history.csv", cores)
    path = out / paths.asr_checkpoint(lang).name
    with paths.atomic(path) as tmp:
        torch.save(trainer.checkpoint(best, {"trained": summary}), tmp)
    rec = CTCRecognizer.load(path, cfg.decoding, cfg.beam)
    metrics = {
        "lang": lang,
        "seed": cfg.seed,
        "hidden": cfg.hidden,
        "layers": cfg.layers,
        "train_clips": len(trainer.train),
        "characters": len(trainer.vocab),
        "lexicon_words": len(trainer.lexicon),
        "decoding": cfg.decoding,
        **summary,
        **evaluate(rec, trainer.test, cfg.seed),
    }
    log.info(
        "asr %s: test WER %.4f CER %.4f; through Griffin-Lim WER %.4f CER %.4f",
        lang,
        metrics["wer"],
        metrics["cer"],
        metrics["wer_griffin_lim"],
        metrics["cer_griffin_lim"],
    )
    return metrics
