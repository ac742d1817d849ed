"""Training one language's CTC recogniser on its recorded training speech."""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from l2s import config, paths
from l2s.config import MELS_PER_FRAME
from l2s.data.dataset import ProcessedLanguage
from l2s.evaluation import text
from l2s.evaluation.asr.model import SUBSAMPLE, CTCModel, build_model, spec_augment
from l2s.evaluation.asr.recognizers import FORMAT, CTCRecognizer
from l2s.parallel import CoreShare

log = logging.getLogger(__name__)


@dataclasses.dataclass
class TranscribedMels:
    """One split in memory: log-mels [N, n_mels, M] float32, valid mel frames, transcripts."""

    mel: np.ndarray
    lengths: np.ndarray
    texts: list[str]

    def __len__(self) -> int:
        return len(self.texts)


def load_split(data: ProcessedLanguage, split: str, lang: str, required: bool = True) -> TranscribedMels | None:
    """The clips of a split that have a transcript, normalised; None for an empty optional split."""
    try:
        rows = data.split(split)
    except ValueError as e:
        if required:
            raise ValueError(f"asr {lang}: {e}; the recogniser needs {split} clips (see preprocess.split)") from e
        return None
    rows = [r for r in rows if text.normalise(data.clips[r]["text"], lang)]
    if not rows:
        if required:
            raise ValueError(f"asr {lang}: no clip of the {split} split has a transcript")
        return None
    lengths = [min(data.mel.shape[-1], data.valid_frames(r) * MELS_PER_FRAME) for r in rows]
    return TranscribedMels(
        mel=np.stack([np.asarray(data.mel[r], dtype=np.float32) for r in rows]),
        lengths=np.array(lengths),
        texts=[text.normalise(data.clips[r]["text"], lang) for r in rows],
    )


def lexicon_of(texts: list[str], lang: str) -> list[str]:
    """The training words (every character in an unspaced language), sorted."""
    return sorted({w for t in texts for w in text.tokens(t, lang)})


def _lr_factor(step: int, steps: int) -> float:
    """Linear warm-up over the first 5 % of steps, then cosine decay to 5 % of the peak."""
    warm = max(1, steps // 20)
    if step < warm:
        return (step + 1) / warm
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, steps - warm)))


class AsrTrainer:
    """Trains one language's CTC recogniser; the batches and masks come from seeded generators."""

    def __init__(self, lang: str, cfg: config.AsrConfig, mel_cfg: config.MelConfig):
        self.lang, self.cfg, self.mel_cfg = lang, cfg, mel_cfg
        data = ProcessedLanguage(lang)
        self.train = load_split(data, "train", lang)
        self.val = load_split(data, "val", lang, required=False)
        self.test = load_split(data, "test", lang)
        self.vocab = sorted({ch for t in self.train.texts for ch in t})
        self.lexicon = lexicon_of(self.train.texts, lang)
        index = {ch: i + 1 for i, ch in enumerate(self.vocab)}
        # a character never seen in training cannot be learnt: drop it from the targets
        self.targets = [[index[ch] for ch in t if ch in index] for t in self.train.texts]
        torch.manual_seed(self.cfg.seed)
        self.model = CTCModel(self.mel_cfg.n_mels, len(self.vocab), self.cfg.hidden, self.cfg.layers, SUBSAMPLE)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=self.cfg.lr, weight_decay=1e-2)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: _lr_factor(s, self.cfg.steps))
        self.gen = torch.Generator().manual_seed(self.cfg.seed)

    def checkpoint(self, state_dict: dict | None = None, extra: dict | None = None) -> dict:
        return {
            "format": FORMAT,
            "lang": self.lang,
            "vocab": self.vocab,
            "lexicon": self.lexicon,
            # every training transcript one word of a spaced language (LRW): one word per clip
            "isolated_words": text.spaced(self.lang)
            and all(len(text.tokens(t, self.lang)) == 1 for t in self.train.texts),
            "model": {
                "n_mels": self.mel_cfg.n_mels,
                "hidden": self.cfg.hidden,
                "layers": self.cfg.layers,
                "subsample": self.model.subsample,
            },
            "mel": dataclasses.asdict(self.mel_cfg),
            "asr": dataclasses.asdict(self.cfg),
            "state_dict": state_dict if state_dict is not None else self.model.state_dict(),
            **(extra or {}),
        }

    def batches(self):
        """Endless batches of train clip indices: seeded shuffles, epoch after epoch."""
        while True:
            order = torch.randperm(len(self.train), generator=self.gen).tolist()
            size = min(self.cfg.batch_size, len(order))
            for i in range(0, len(order) - size + 1, size):
                yield order[i : i + size]

    def step(self, idx: list[int]) -> float:
        lengths = torch.from_numpy(self.train.lengths[idx])
        mel = torch.from_numpy(self.train.mel[idx, :, : int(lengths.max())])
        if self.cfg.spec_augment:
            mel = spec_augment(mel, lengths, self.gen)
        targets = [self.targets[i] for i in idx]
        self.model.train()
        log_probs, steps = self.model(mel, lengths)
        loss = F.ctc_loss(
            log_probs.transpose(0, 1),
            torch.tensor([c for t in targets for c in t], dtype=torch.long),
            steps,
            torch.tensor([len(t) for t in targets]),
            blank=0,
            zero_infinity=True,  # a clip too fast for its steps is skipped, not a NaN
        )
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        self.sched.step()
        return float(loss.detach())

    def recognizer(self, state_dict: dict | None = None, decoding: str | None = None) -> CTCRecognizer:
        ck = self.checkpoint(state_dict)
        model = build_model(ck)
        return CTCRecognizer(model, ck, decoding or self.cfg.decoding, self.cfg.beam)

    def fit(self, history: Path, cores: CoreShare | None = None) -> tuple[dict, dict]:
        """Train for asr.steps; returns the weights of the best validation CER and a summary.
        `cores` (l2s.parallel): the thread count, measured again as the steps go."""
        steps = self.cfg.steps
        every = max(1, min(100, steps // 10))
        best, best_cer, best_step = None, math.inf, 0
        batches = self.batches()
        losses: list[float] = []
        start = time.perf_counter()
        history.unlink(missing_ok=True)
        for step in range(1, steps + 1):
            if cores is not None:
                cores.update()
            loss = self.step(next(batches))
            if not math.isfinite(loss):
                raise RuntimeError(f"asr {self.lang}: the CTC loss became {loss} at step {step}")
            losses.append(loss)
            if step % every == 0 or step == steps:
                row = {"step": step, "loss": float(np.mean(losses[-every:])), "seconds": time.perf_counter() - start}
                if self.val is not None:
                    rec = self.recognizer(self.model.state_dict(), "greedy")
                    hyps = rec.transcribe_mels(_valid(self.val))
                    row["val_cer"] = text.cer(self.val.texts, hyps, self.lang)
                    row["val_wer"] = text.wer(self.val.texts, hyps, self.lang)
                    # ties go to the later weights, trained longer at a lower learning rate
                    if row["val_cer"] <= best_cer:
                        best, best_cer, best_step = copy.deepcopy(self.model.state_dict()), row["val_cer"], step
                paths.append_row(history, row)
                log.info(
                    "asr %s step %d/%d  loss %.4f%s  (%.0f s)",
                    self.lang,
                    step,
                    steps,
                    row["loss"],
                    f"  val cer {row['val_cer']:.4f} wer {row['val_wer']:.4f}" if "val_cer" in row else "",
                    row["seconds"],
                )
        if best is None:  # no validation split: the last weights
            best, best_step = copy.deepcopy(self.model.state_dict()), steps
        summary = {
            "train_seconds": round(time.perf_counter() - start, 1),
            "best_step": best_step,
            "final_loss": round(float(np.mean(losses[-every:])), 4),
        }
        if math.isfinite(best_cer):
            summary["val_cer"] = round(best_cer, 4)
        return best, summary


def _valid(clips: TranscribedMels) -> list[np.ndarray]:
    return [m[:, :n] for m, n in zip(clips.mel, clips.lengths)]
