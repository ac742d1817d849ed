"""The test stage: a model speaks every clip of a language's test split, and is scored.

`l2s test <model>-<lang>` (stage test@<model>-<lang>) runs the generator of
models/<model>/best.pt over whole clips, vocodes them with one batched, seeded
Griffin-Lim per batch and scores each clip against the recorded speech: STOI, ESTOI,
PESQ narrow- and wide-band. The ground truth goes through the same spectrogram ->
Griffin-Lim path and is scored the same way: that is the ceiling a perfect generator
would reach with this vocoder. DNSMOS P.835 (l2s.scores.dnsmos), which needs no reference,
scores the generated speech, the ceiling and the recorded speech itself (test.naturalness;
the ablation runner, which compares recipes by intelligibility, leaves it out).

With a neural vocoder (test.vocoder: <name>) the same mels are also voiced by Griffin-Lim
and scored beside it, so the report compares the two vocoders on the same clips.

outputs/<model>/<lang>/
    wav/<clip>.wav        generated speech (test.save_wav)
    mel/<clip>.npz        generated ln-mel and linear spectrogram (test.save_mel)
    ceiling/<clip>.wav    ground truth through the vocoder path (for the WER ceiling)
    griffin_lim/          with a neural vocoder: wav/ and ceiling/ voiced by Griffin-Lim
    scores.csv            one row per clip: every score, generated and ceiling (and with a
                          neural vocoder the same again, griffin_lim_ before each name), and
                          the recorded speech's DNSMOS (recorded_dnsmos_ovrl, _sig, _bak)
    lipreading.csv        a model with a lip-reading head: per clip the phonemes and words it
                          reads from the lips (l2s.evaluation.lipreading), next to the truth
reports/records/test/<model>/<lang>.json   means over the clips, and the lip reader's phoneme
                          error rate, WER and CER; under ci95 the 95 % bootstrap interval of
                          each over the clips (l2s.evaluation.bootstrap); the means alone
                          are the DVC metrics reports/metrics/{test,lips}/<model>/<lang>.json
"""

from __future__ import annotations

import dataclasses
import logging
import math
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from l2s import config, parallel, paths
from l2s.config import MELS_PER_FRAME
from l2s.data.dataset import ClipDataset, ProcessedLanguage
from l2s.data.features import magnitude, prepare
from l2s.evaluation import bootstrap, lipreading, text
from l2s.evaluation.lipreading import LipReader
from l2s.scores import SCORES, naturalness, speech_scores
from l2s.vcagan.inference import generate, language_index, load_generator
from l2s.vcagan.vocoder import to_waves

log = logging.getLogger(__name__)


def run(key: str, params: config.Params | None = None) -> dict:
    """Synthesise and score the test split (test.split) of evaluation `key` (<model>-<lang>);
    returns its record."""
    params = params or config.load()
    ev = params.evaluation(key)
    checkpoint = paths.best_checkpoint(ev.model)
    if not checkpoint.exists():
        raise FileNotFoundError(f"no checkpoint at {checkpoint}; train the model first: dvc repro train@{ev.model}")
    metrics = {"split": params.test.split} | speak(
        checkpoint, ev.lang, params.test.split, params.test, paths.test_dir(ev.model, ev.lang)
    )
    paths.write_metrics("test", f"{ev.model}/{ev.lang}", metrics)
    log.info("%s: %s", key, {k: v for k, v in metrics.items() if k != "ceiling"})
    return metrics


def speak(
    checkpoint: Path, lang: str, split: str, cfg: config.TestConfig, out: Path, reader: LipReader | None = None
) -> dict:
    """Speak every clip of one split with the generator of `checkpoint` into `out` (emptied
    first: our own folder), score it, and return the means. The test stage runs it on the
    test split; ablations on the validation split. `reader`: the words its lip reader reads
    (default: those of the language's training split)."""
    data = ProcessedLanguage(lang)
    gen, meta = load_generator(checkpoint)
    _check_features(checkpoint, meta, data)
    mel_cfg = meta["mel"]
    language = language_index(gen, meta["languages"], lang)
    clips = ClipDataset(data, split)
    shutil.rmtree(out, ignore_errors=True)
    torch.manual_seed(cfg.seed)  # the generator's noise input: the same outputs on every run

    reader = (reader or LipReader(data)) if gen.reader is not None else None
    neural = _neural_vocoder(cfg.vocoder, mel_cfg)
    # the folder (under out) and score prefix of each voicing: the chosen vocoder, and
    # Griffin-Lim beside a neural one
    voicings = {"": neural} | ({paths.GRIFFIN_LIM: None} if neural is not None else {})
    cores = parallel.CoreShare(what=f"test {lang}")
    t0 = time.perf_counter()
    jobs, reading = [], []
    loader = torch.utils.data.DataLoader(clips, batch_size=cfg.batch_size)
    linear_vocoder = cfg.vocoder == "linear"
    for batch in loader:
        cores.update()
        lengths = batch["valid_frames"]
        spec_frames = (lengths * MELS_PER_FRAME).tolist()
        spec = generate(gen, batch["frames"], lengths, language)
        mel, linear = spec.mel, spec.linear
        if reader is not None:
            reading += lipreading.read(spec.output.phoneme_logits, lengths, reader)
        audio = batch["audio"].numpy()
        if linear_vocoder:
            generated, truth = linear, torch.stack([magnitude(prepare(a, mel_cfg), mel_cfg) for a in audio])
        else:
            generated, truth = mel, batch["mel"]
        for i, clip_id in enumerate(batch["clip_id"]):
            _save_spectrograms(out, clip_id, cfg, mel[i, :, : spec_frames[i]], linear[i, :, : spec_frames[i]])
        for name, vocoder in voicings.items():
            vocode = dict(
                cfg=mel_cfg,
                lengths=spec_frames,
                linear=linear_vocoder,
                iterations=cfg.griffin_lim_iters,
                neural=vocoder,
            )
            waves, ceiling = to_waves(generated, seed=cfg.seed, **vocode), to_waves(truth, seed=cfg.seed, **vocode)
            for i, clip_id in enumerate(batch["clip_id"]):
                _save_waves(out / name, clip_id, cfg, waves[i], ceiling[i], mel_cfg.sample_rate)
                ref = audio[i][: spec_frames[i] * mel_cfg.hop]
                jobs.append((name, clip_id, ref, waves[i], ceiling[i], mel_cfg.sample_rate, cfg.naturalness))
    synth_s = time.perf_counter() - t0

    scores = {clip_id: {} for _, clip_id, *_ in jobs}
    for clip_id, clip_scores in parallel.imap(_score, jobs, cfg.workers, desc=f"scoring {lang} {split}"):
        scores[clip_id] |= clip_scores
    rows = [
        {k: data.clips[r][k] for k in ("clip_id", "speaker", "text")} | scores[data.clips[r]["clip_id"]]
        for r in clips.rows
    ]
    paths.write_csv(out / "scores.csv", rows, digits=4)
    lips = lip_reading_scores(data, clips.rows, reading, lang, out) if reader is not None else {}
    elapsed = time.perf_counter() - t0
    scored = [s for s in SCORES if s in rows[0]]  # without DNSMOS's under test.naturalness: false
    recorded = {"recorded": {s: _mean(rows, f"recorded_{s}") for s in RECORDED}} if cfg.naturalness else {}
    return {
        "clips": len(rows),
        **_means(rows, "", scored),
        **recorded,
        **{name: _means(rows, f"{name}_", scored) for name in voicings if name},
        **lips,
        "clips_per_s": round(len(rows) / elapsed, 2),
        "synthesis_clips_per_s": round(len(rows) / synth_s, 2),
    }


def _neural_vocoder(name: str, mel_cfg: config.MelConfig) -> torch.nn.Module | None:
    """The neural vocoder test.vocoder names (None: Griffin-Lim), checked against the
    generator's audio features."""
    if name in ("mel", "linear"):
        return None
    from l2s.vocoder.model import load_vocoder

    path = paths.vocoder_dir(name) / paths.BEST
    if not path.exists():
        raise FileNotFoundError(f"test.vocoder is {name}, but {path} does not exist: dvc repro vocoder@{name}")
    return load_vocoder(path, mel=mel_cfg)[0]


def _check_features(checkpoint: Path, meta: dict, data: ProcessedLanguage) -> None:
    """A model speaks only the crops and audio features it was trained on."""
    processed, name = data.info["preprocess"], f"data/processed/{data.lang}"
    if processed["mel"] != dataclasses.asdict(meta["mel"]):
        raise ValueError(
            f"{checkpoint} was trained on other audio features than {name} holds "
            "(preprocess.mel changed since training); train it again (dvc repro train@<model>)"
        )
    trained = meta["preprocess"]
    if trained is not None and dataclasses.asdict(trained.crop) != processed["crop"]:
        raise ValueError(
            f"{checkpoint} was trained on other crops ({dataclasses.asdict(trained.crop)}) than {name} holds "
            f"({processed['crop']}); train it again (dvc repro train@<model>)"
        )


def lip_reading_scores(data: ProcessedLanguage, rows: list[int], reading: list[dict], lang: str, out: Path) -> dict:
    """Scores of the lip reader over the test clips (with their 95 % intervals over the
    clips under ci95), and lipreading.csv."""
    table, counts, phone_errors = [], [], []
    for r, read in zip(rows, reading):
        clip = data.clips[r]
        truth = clip.get("phonemes", "").split()
        if truth:
            phone_errors.append(lipreading.phoneme_error(truth, read["read_phonemes"].split()))
        if clip["text"]:
            counts.append(text.error_counts(clip["text"], read["read_text"], lang))
        table.append({"clip_id": clip["clip_id"], "text": clip["text"], "phonemes": " ".join(truth), **read})
    paths.write_csv(out / "lipreading.csv", table)
    edits, phones = (sum(c) for c in zip(*phone_errors)) if phone_errors else (0, 0)
    rates = text.corpus_rates(counts) if counts else {"wer": math.nan, "cer": math.nan}
    intervals = {}
    if phone_errors:
        per = bootstrap.rate_interval(*zip(*phone_errors), [0] * len(phone_errors))
        intervals["per"] = bootstrap.as_metrics(per)
    if counts:
        intervals |= text.rate_intervals(counts)
    return {
        "lip_reading": {
            "per": round(edits / max(phones, 1), 4),
            "wer": round(rates["wer"], 4),
            "cer": round(rates["cer"], 4),
            "ci95": intervals,
        }
    }


def _save_waves(out: Path, clip_id: str, cfg: config.TestConfig, wave, ceiling, sample_rate: int) -> None:
    import soundfile as sf

    folders = ["ceiling"] + (["wav"] if cfg.save_wav else [])
    for folder, w in zip(folders, (ceiling, wave)):
        path = out / folder / f"{clip_id}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, w, sample_rate, subtype="PCM_16")


def _save_spectrograms(out: Path, clip_id: str, cfg: config.TestConfig, mel, linear) -> None:
    if cfg.save_mel:
        path = out / "mel" / f"{clip_id}.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, mel=mel.numpy().astype(np.float32), linear=linear.numpy().astype(np.float32))


def _score(job) -> tuple[str, dict]:
    voicing, clip_id, ref, wave, ceiling, sr, with_naturalness = job
    prefix = f"{voicing}_" if voicing else ""
    generated = speech_scores(ref, wave, sr, with_naturalness)
    upper = speech_scores(ref, ceiling, sr, with_naturalness)
    # the recorded speech's own naturalness, once per clip (it does not depend on the voicing)
    own = not voicing and with_naturalness
    recorded = {f"recorded_{k}": v for k, v in naturalness(ref, sr).items()} if own else {}
    return clip_id, {f"{prefix}{k}": v for k, v in generated.items()} | {
        f"{prefix}ceiling_{k}": v for k, v in upper.items()
    } | recorded


# what the recorded speech is scored by: the scores that need no reference
RECORDED = tuple(s for s in SCORES if s.startswith("dnsmos_"))


def _means(rows: list[dict], prefix: str, scored: list[str]) -> dict:
    """Each score's mean over the clips (those of `scored`), generated and ceiling, of one voicing."""
    means = {s: _mean(rows, f"{prefix}{s}") for s in scored}
    return means | {
        "ceiling": {s: _mean(rows, f"{prefix}ceiling_{s}") for s in scored},
        "ci95": {
            s: bootstrap.as_metrics(bootstrap.mean_interval([r[f"{prefix}{s}"] for r in rows]))
            for s, mean in means.items()
            if not math.isnan(mean)  # a score no clip has (PESQ of silence) has no interval
        },
    }


def _mean(rows: list[dict], key: str) -> float:
    values = [r[key] for r in rows if not math.isnan(r[key])]
    return round(float(np.mean(values)), 4) if values else math.nan
