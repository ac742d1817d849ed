"""Train a neural vocoder: `python -m l2s.vocoder.train NAME` (stage vocoder@<name>).

The vocoder learns ln-mel -> waveform from the training split's recorded speech (random
segments of `vocoder.segment_frames` frames): the multi-resolution mel L1 alone until
`vocoder.gan_start` (Vocos' mel pre-training), then also the adversarial and
feature-matching losses of the multi-period and multi-resolution discriminators.

The same entry point as the generator's (l2s.training): one CPU process, or torchrun over
GPUs and machines. models/vocoders/<name>/ holds last.pt (which a run resumes from exactly,
if it was trained with the same recipe), best.pt (by the validation clips' wide-band PESQ),
TensorBoard logs under tb/ (losses, scores, audio) and history.csv.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

from l2s import config, paths
from l2s.config import MELS_PER_FRAME
from l2s.data.dataset import ProcessedLanguage, ResumableSampler
from l2s.data.features import finish
from l2s.parallel import CoreShare
from l2s.training import (
    Dist,
    autocast_dtype,
    command_line,
    cosine_lr,
    final_metrics,
    finite,
    load_to_resume,
    log_step,
    record_validation,
    rng_state,
    same_run,
    set_rng_state,
    setup_distributed,
    use_cores,
    write_plots,
)
from l2s.vocoder import losses
from l2s.vocoder.data import SpeechSegments
from l2s.vocoder.discriminators import Discriminators
from l2s.vocoder.model import Vocoder, vocoder_checkpoint
from l2s.vocoder.presets import vocoder_config

log = logging.getLogger(__name__)

# settings a run may change and still resume from last.pt; any other is another recipe
RESUMABLE = ("steps", "eval_every", "eval_clips", "log_every", "nproc", "nnodes", "rdzv_endpoint")


class VocoderTrainer:
    def __init__(self, name: str, params: config.Params, out: Path, d: Dist, device: torch.device):
        self.out, self.d, self.device = out, d, device
        self.history = out / "history.csv"
        self.cfg = params.vocoder_config(name)
        self.languages = params.vocoders[name].languages
        self.mel_cfg = params.preprocess.mel
        torch.manual_seed(self.cfg.seed)  # identical initial replicas on every rank
        self.model_cfg = vocoder_config(self.cfg.preset, self.cfg.model, self.mel_cfg)
        self.vocoder = Vocoder(self.model_cfg).to(device)
        self.disc = Discriminators(self.model_cfg).to(device)
        self.mel_loss = losses.MultiResolutionMelLoss(self.mel_cfg.sample_rate).to(device)
        # AdamW with Vocos' and HiFi-GAN's betas: a short momentum suits the adversarial game
        self.opt_g = torch.optim.AdamW(self.vocoder.parameters(), lr=self.cfg.lr, betas=(0.8, 0.9))
        self.opt_d = torch.optim.AdamW(self.disc.parameters(), lr=self.cfg.lr, betas=(0.8, 0.9))
        self.dtype = autocast_dtype(self.cfg.precision, device)
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.dtype == torch.float16)
        self.step, self.best_pesq = 0, -math.inf
        self.data = [ProcessedLanguage(lang) for lang in self.languages]
        self.data_fingerprints = {d.lang: d.fingerprint() for d in self.data}  # resume only on the same data
        self.train_set = SpeechSegments(self.data, "train", self.cfg.segment_frames, self.mel_cfg, self.cfg.seed)
        self.voc_step, self.disc_step = self.vocoder, self.disc
        if d.world > 1:
            ids = [device.index] if device.type == "cuda" else None
            self.voc_step = DDP(self.vocoder, device_ids=ids)
            self.disc_step = DDP(self.disc, device_ids=ids)

    # ------------------------------------------------------------------ checkpoints

    def state(self) -> dict:
        return vocoder_checkpoint(
            self.vocoder,
            self.mel_cfg,
            languages=self.languages,
            step=self.step,
            best_pesq=self.best_pesq,
            discriminators=self.disc.state_dict(),
            opt_g=self.opt_g.state_dict(),
            opt_d=self.opt_d.state_dict(),
            scaler=self.scaler.state_dict(),
            rng=rng_state(),
            data=self.data_fingerprints,
            train_config=dataclasses.asdict(self.cfg),
        )

    def save(self, name: str) -> None:
        if self.d.main:
            with paths.atomic(self.out / name) as tmp:
                torch.save(self.state(), tmp)

    def resume(self) -> bool:
        path = self.out / paths.LAST
        ck = load_to_resume(path, self.d)
        if ck is None:
            return False
        now = {
            "vocoder_config": dataclasses.asdict(self.model_cfg),
            "languages": self.languages,
            "train_config": dataclasses.asdict(self.cfg),
            "data": self.data_fingerprints,
        }
        if not same_run(ck, path, "vocoder_config", now, RESUMABLE):
            return False
        self.vocoder.load_state_dict(ck["vocoder"])
        self.disc.load_state_dict(ck["discriminators"])
        self.opt_g.load_state_dict(ck["opt_g"])
        self.opt_d.load_state_dict(ck["opt_d"])
        self.scaler.load_state_dict(ck["scaler"])
        self.step, self.best_pesq = ck["step"], ck["best_pesq"]
        set_rng_state(ck["rng"])
        if self.d.main:
            log.info("resumed %s from step %d", path, self.step)
        return True

    # ------------------------------------------------------------------ one step

    def _autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def train_step(self, batch: dict) -> dict[str, float]:
        cfg = self.cfg
        lr = cosine_lr(cfg.lr, self.step, cfg.steps, cfg.warmup_steps, cfg.lr_decay)
        for opt in (self.opt_g, self.opt_d):
            for group in opt.param_groups:
                group["lr"] = lr
        mel, real = batch["mel"].to(self.device), batch["wave"].to(self.device)
        with self._autocast():
            fake = self.voc_step(mel)
        scalars: dict[str, torch.Tensor] = {}
        if self.step >= cfg.gan_start:
            with self._autocast():
                loss_d, parts = losses.discriminator_loss(
                    self.disc_step(real), self.disc_step(fake.detach()), cfg.adversarial
                )
            self.opt_d.zero_grad(set_to_none=True)
            self.scaler.scale(loss_d).backward()
            self.scaler.step(self.opt_d)
            scalars.update({f"loss/{k}": v for k, v in parts.items()})
        mel_loss = self.mel_loss(fake, real)
        if self.step >= cfg.gan_start:
            with self._autocast():
                loss_g, parts = losses.generator_loss(
                    mel_loss, self.disc_step(real), self.disc_step(fake), cfg.adversarial
                )
            scalars.update({f"loss/{k}": v for k, v in parts.items() if k != "mel"})
        else:
            loss_g = losses.MEL_WEIGHT * mel_loss
        self.opt_g.zero_grad(set_to_none=True)
        self.scaler.scale(loss_g).backward()
        self.scaler.step(self.opt_g)
        self.scaler.update()
        return finite({"loss/mel": mel_loss, "loss/g": loss_g, **scalars}, self.step, self.out)

    # ------------------------------------------------------------------ validation

    @torch.no_grad()
    def validate(self, writer) -> dict[str, float]:
        """Copy synthesis of the first `eval_clips` validation clips, spread over the
        languages: recorded speech -> its mel -> the vocoder -> STOI, ESTOI, PESQ wb."""
        from l2s.scores import pesq, stoi

        self.vocoder.eval()
        rate = self.mel_cfg.sample_rate
        scores: dict[str, list[float]] = {"stoi": [], "estoi": [], "pesq_wb": []}
        per_language = max(1, self.cfg.eval_clips // len(self.data))
        with torch.random.fork_rng():
            for data in self.data:
                for n, r in enumerate(data.split("val")[:per_language]):
                    frames = data.valid_frames(r) * MELS_PER_FRAME
                    mel = torch.from_numpy(np.array(data.mel[r, :, :frames], dtype=np.float32))
                    wave = finish(self.vocoder(mel[None].to(self.device))[0].cpu().numpy(), self.mel_cfg)
                    ref = data.wave(r)[: len(wave)]
                    scores["stoi"].append(stoi(ref, wave, rate))
                    scores["estoi"].append(stoi(ref, wave, rate, extended=True))
                    scores["pesq_wb"].append(pesq(ref, wave, rate, "wb"))
                    if writer is not None and n == 0:
                        writer.add_audio(f"val/{data.lang}", wave, self.step, sample_rate=rate)
        self.vocoder.train()
        return {f"val/{k}": float(np.nanmean(v)) for k, v in scores.items()}

    # ------------------------------------------------------------------ the loop

    def fit(self, cores: CoreShare | None = None) -> dict:
        """Train to cfg.steps (resuming where the last run stopped); `cores`: the thread count,
        kept to the cores other processes leave free (l2s.training.use_cores)."""
        cfg = self.cfg
        resumed = self.resume()
        batches = len(self.train_set) // self.d.world // cfg.batch_size
        if batches < 1:
            raise ValueError(
                f"the train split of {', '.join(self.languages)} has {len(self.train_set)} clips: too few for "
                f"batch_size {cfg.batch_size} x {self.d.world} processes"
            )
        writer = None
        if self.d.main:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(self.out / "tb")
            if not resumed:
                self.history.unlink(missing_ok=True)
        sampler = ResumableSampler(self.train_set, self.d.world, self.d.rank, cfg.seed, cfg.batch_size)
        loader = torch.utils.data.DataLoader(
            self.train_set,
            batch_size=cfg.batch_size,
            sampler=sampler,
            drop_last=True,
            pin_memory=self.device.type == "cuda",
            generator=torch.Generator().manual_seed(cfg.seed),
        )
        t0, seen, last = time.perf_counter(), 0, {}
        epoch = self.step // batches
        while self.step < cfg.steps:
            sampler.set_epoch(epoch)
            sampler.skip_batches = self.step - epoch * batches  # non-zero only right after a resume
            self.train_set.epoch = epoch
            for batch in loader:
                if cores is not None:
                    cores.update()
                last = self.train_step(batch)
                self.step += 1
                seen += 1
                if self.d.main and (self.step % cfg.log_every == 0 or self.step == cfg.steps):
                    log_step(writer, self.step, cfg.steps, last, seen / (time.perf_counter() - t0))
                if self.step % cfg.eval_every == 0 or self.step == cfg.steps:
                    self._evaluate_and_save(writer, last)
                if self.step >= cfg.steps:
                    break
            epoch += 1
        if writer is not None:
            writer.close()
        return self._metrics()

    def _evaluate_and_save(self, writer, last: dict[str, float]) -> None:
        if self.d.main:
            scores = self.validate(writer)
            record_validation(writer, self.history, self.step, last, scores)
            if scores["val/pesq_wb"] > self.best_pesq:
                self.best_pesq = scores["val/pesq_wb"]
                self.save(paths.BEST)
            self.save(paths.LAST)
        if self.d.world > 1:
            dist.barrier()  # nobody runs ahead of the checkpoint being written

    def _metrics(self) -> dict:
        return final_metrics(self.history, self.step, "best_val_pesq_wb", self.best_pesq)


def train(name: str, params: config.Params | None = None, out: Path | None = None) -> dict:
    """Train vocoder `name` of params.yaml; returns its metrics (written by rank 0)."""
    params = params or config.load()
    params.vocoder_config(name)
    d, device = setup_distributed()
    pipeline = out is None
    out = Path(out) if out else paths.vocoder_dir(name)
    if d.main:
        out.mkdir(parents=True, exist_ok=True)
    cores = use_cores()
    try:
        trainer = VocoderTrainer(name, params, out, d, device)
        metrics = trainer.fit(cores)
        if d.main and pipeline:
            paths.write_metrics("vocoder", name, metrics)
            write_plots(trainer.history, "vocoder", functools.partial(paths.vocoder_plot, name))
        elif d.main:
            paths.write_json(out / "metrics.json", metrics)
        return metrics
    finally:
        if d.world > 1:
            dist.destroy_process_group()


def main(argv: list[str] | None = None) -> int:
    return command_line(__doc__, "l2s.vocoder.train", "vocoder", "vocoders", "models/vocoders/<name>", train, argv)


if __name__ == "__main__":
    sys.exit(main())
