"""Train a VCA-GAN model: `python -m l2s.vcagan.train MODEL` (or `l2s train MODEL`).

One code path for one CPU process, N GPUs and N machines: run it plainly, or under
torchrun, which sets RANK/WORLD_SIZE/LOCAL_RANK; then every process trains a replica on
its own shard of the data (DistributedSampler) and DDP averages the gradients. Rank 0
alone logs and writes checkpoints.

models/<name>/ holds last.pt (written to a temporary file and renamed, so a kill mid-save
loses nothing), best.pt (by validation STOI), TensorBoard logs under tb/ and the scalar
history (history.csv, copied to reports/plots/train/<name>.csv for `dvc plots`). A run restarts from
last.pt when it exists and was trained for the same model, languages and recipe: model,
optimisers, step and every RNG state, so the next losses are those of an uninterrupted
run (raising `steps` continues a finished run).
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

from l2s import config, paths, training
from l2s.data.dataset import ProcessedLanguage, ResumableSampler, WindowDataset
from l2s.data.features import LOG_MEL_MIN, mel_to_unit
from l2s.data.phonemes import INVENTORY, WORD_ID, phoneme_edits
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
from l2s.vcagan import losses
from l2s.vcagan.inference import generate, generator_checkpoint, read_lips
from l2s.vcagan.model import Discriminators, Generator, SyncNet, channels_last, mel_scales, normalise_frames
from l2s.vcagan.presets import ModelConfig, model_config

log = logging.getLogger(__name__)


# train settings a run may change and still resume from last.pt (more steps continue a
# finished run; precision sets the autocast of the steps still to come, so a run can go on
# in bf16 from a checkpoint made in fp32); any other change is another recipe, which starts afresh
RESUMABLE = (
    "steps",
    "eval_every",
    "eval_clips",
    "log_every",
    "loader_workers",
    "nproc",
    "nnodes",
    "rdzv_endpoint",
    "precision",
)


class Trainer:
    def __init__(
        self,
        name: str,
        params: config.Params,
        out: Path,
        history: Path,
        d: Dist,
        device: torch.device,
        keep_reader: bool = False,
        must_resume: bool = False,
    ):
        """keep_reader: also save the state at the end of the lip-reading pre-training
        (paths.READER), for runs that differ only after it. must_resume: fail, instead of
        starting afresh, when last.pt cannot be resumed with these settings."""
        self.out, self.history, self.d, self.device = out, history, d, device
        self.keep_reader, self.must_resume = keep_reader, must_resume
        self.cfg = params.train_config(name)
        self.languages = params.models[name].languages
        torch.manual_seed(self.cfg.seed)  # identical initial replicas on every rank
        n_lang = len(self.languages) if (self.cfg.language_embedding and len(self.languages) > 1) else 0
        self.mel_cfg = params.preprocess.mel
        recipe = {
            "languages": n_lang,
            "phonemes": len(INVENTORY) + 1 if self.cfg.ctc_weight else 0,  # + the CTC blank
            "reader_to_decoder": self.cfg.reader_to_decoder,
            "crop_margin": self.cfg.random_crop,
        }
        self.model_cfg = model_config(self.cfg.preset, {**self.cfg.model, **recipe}, self.mel_cfg, internal=True)
        self.gen = Generator(self.model_cfg).to(device)
        self.disc = Discriminators(self.model_cfg).to(device)
        self.sync = SyncNet(self.model_cfg).to(device)
        if self.cfg.channels_last:
            for m in (self.gen, self.disc, self.sync):
                channels_last(m)
        self.opt_g = torch.optim.Adam(
            list(self.gen.parameters()) + list(self.sync.parameters()),
            lr=self.cfg.lr,
            weight_decay=self.cfg.weight_decay,
            amsgrad=True,
        )
        self.opt_d = torch.optim.Adam(
            self.disc.parameters(), lr=self.cfg.lr, weight_decay=self.cfg.weight_decay, amsgrad=True
        )
        # `auto` on a CPU: the pre-training in fp32 (slower in bf16), the whole model in bf16
        self.reader_dtype = autocast_dtype(self.cfg.precision, device)
        self.dtype = autocast_dtype(self.cfg.precision, device, cpu_bf16=True)
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.dtype == torch.float16)
        self.step = 0
        self.best_stoi = -math.inf
        self.data = [ProcessedLanguage(lang) for lang in self.languages]
        self.data_fingerprints = {d.lang: d.fingerprint() for d in self.data}  # resume only on the same data
        augment = dict(flip=self.cfg.flip, erase=self.cfg.erase, time_mask=self.cfg.time_mask, seed=self.cfg.seed)
        self.train_set = WindowDataset(self.data, "train", self.cfg.window, self.mel_cfg, **augment)
        clip_frames = max(d.frames.shape[1] for d in self.data)  # languages' clips may differ (LRW: 29)
        # lip-reading pre-training sees whole clips: their transcripts are its targets
        self.reader_set = WindowDataset(self.data, "train", clip_frames, self.mel_cfg, **augment)
        if self.cfg.ctc_weight and self.cfg.window < clip_frames and not self.cfg.freeze_reader and d.main:
            log.warning(
                "train.window %d is shorter than the clips (%d frames): only clips that fit in a window "
                "train the lip-reading head; set window: %d",
                self.cfg.window,
                clip_frames,
                clip_frames,
            )
        # the networks as a training step calls them: DDP replicas when there are several
        # processes (and compiled when asked); checkpoints and validation use the plain ones
        self.gen_step, self.disc_step, self.sync_step = self.gen, self.disc, self.sync
        if d.world > 1:
            ids = [device.index] if device.type == "cuda" else None
            # lip-reading pre-training leaves the decoder out, a frozen reader the front-end
            partial = bool(self.cfg.reader_steps or self.cfg.freeze_reader)
            self.gen_step = DDP(self.gen, device_ids=ids, find_unused_parameters=partial)
            self.disc_step = DDP(self.disc, device_ids=ids)
            self.sync_step = DDP(self.sync, device_ids=ids)
        if self.cfg.compile:
            self.gen_step = torch.compile(self.gen_step)

    # ------------------------------------------------------------------ checkpoints

    def state(self) -> dict:
        # what the training frames were made with, so a new video can be cropped the same way
        preprocess = self.data[0].info["preprocess"]
        return {
            **generator_checkpoint(self.gen, self.languages, self.mel_cfg, preprocess),
            "discriminators": self.disc.state_dict(),
            "sync": self.sync.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "scaler": self.scaler.state_dict(),
            "step": self.step,
            "best_stoi": self.best_stoi,
            "rng": rng_state(),
            "data": self.data_fingerprints,
            "train_config": dataclasses.asdict(self.cfg),
        }

    def save(self, name: str) -> None:
        if not self.d.main:
            return
        with paths.atomic(self.out / name) as tmp:
            torch.save(self.state(), tmp)

    def resume(self) -> bool:
        """Restore last.pt. Rank 0 reads it and sends it to the others, so that nodes without
        a shared disk resume too; every rank ran with the same RNG stream (validation runs
        under a forked RNG), so one saved state serves all of them."""
        path = self.out / paths.LAST
        ck = load_to_resume(path, self.d)
        if ck is None:
            return False
        now = {
            "model_config": dataclasses.asdict(self.model_cfg),
            "languages": self.languages,
            "train_config": dataclasses.asdict(self.cfg),
            "data": self.data_fingerprints,
        }
        ck = _with_new_defaults(ck)
        resumable = RESUMABLE
        if ck["step"] < min(ck["train_config"].get("gan_start", 0), self.cfg.gan_start):
            # the adversarial phase has begun in neither recipe: moving its start changes nothing
            # trained so far (a decoder trained longer from another run's reader.pt)
            resumable += ("gan_start",)
        if not same_run(ck, path, "model_config", now, resumable):
            return False
        self.gen.load_state_dict(ck["generator"])
        self.disc.load_state_dict(ck["discriminators"])
        self.sync.load_state_dict(ck["sync"])
        self.opt_g.load_state_dict(ck["opt_g"])
        self.opt_d.load_state_dict(ck["opt_d"])
        if ck["scaler"]:  # empty when saved without fp16 (the run may have changed precision)
            self.scaler.load_state_dict(ck["scaler"])
        self.step, self.best_stoi = ck["step"], ck["best_stoi"]
        set_rng_state(ck["rng"])
        if self.d.main:
            log.info("resumed %s from step %d", path, self.step)
        return True

    # ------------------------------------------------------------------ one step

    def _autocast(self, reading: bool = False):
        dtype = self.reader_dtype if reading else self.dtype
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=dtype)

    def _batch(self, batch: dict) -> dict:
        b = {k: v.to(self.device, non_blocking=True) for k, v in batch.items() if torch.is_tensor(v)}
        b["mel_unit"] = mel_to_unit(b["mel"])
        return b

    def learning_rate(self, step: int) -> float:
        """train.lr at `step`: linear warm-up, then constant or cosine decay to 5 %. With
        train.lr_per_phase each phase (lip-reading pre-training, then the whole model) has its
        own schedule: the decoder starts learning only when the pre-training ends, and one
        schedule over the whole run left it a sixth of lr."""
        cfg = self.cfg
        first, end = 0, cfg.steps
        if cfg.lr_per_phase:
            first, end = next(((f, e) for _, f, e in self._phases() if step < e), (first, end))
        return cosine_lr(cfg.lr, step - first, end - first, cfg.warmup_steps, cfg.lr_decay)

    def reader_step(self, b: dict) -> dict[str, float]:
        """Lip-reading pre-training: the visual front-end and the CTC head alone."""
        lang = b["language"] if self.model_cfg.languages else None
        with self._autocast(reading=True):
            out = self.gen_step(
                normalise_frames(b["frames"]), b["length"], lang, read_only=True, mel_unit=self._memory_mel(b)
            )
        loss = losses.lip_reading_ctc(out.phoneme_logits, b["length"], b["phonemes"], b["phoneme_length"])
        frame_ce = self._frame_ce(out.phoneme_logits, b)
        memory, memory_scalars = self._memory_loss(out, b)
        self.opt_g.zero_grad(set_to_none=True)
        self.scaler.scale(loss + self.cfg.frame_ce_weight * frame_ce + self.cfg.memory_weight * memory).backward()
        self.scaler.step(self.opt_g)
        self.scaler.update()
        scalars = {"loss/ctc": loss, **self._frame_ce_scalar(frame_ce), **memory_scalars}
        return finite(scalars, self.step, self.out)

    def _memory_mel(self, b: dict) -> torch.Tensor | None:
        """The ground-truth mel the memory learns from, or None where it does not learn: no
        memory, memory_weight 0, or frozen with the reader."""
        memory = self.gen.memory
        learns = memory is not None and self.cfg.memory_weight > 0 and memory.values.requires_grad
        return b["mel_unit"] if learns else None

    def _memory_loss(self, out, b: dict) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The memory's summed losses (0 when it did not learn this step) and each by name."""
        if out.memory is None:
            return torch.zeros((), device=self.device), {}
        parts = losses.memory_losses(out, b["length"], b["phonemes"], b["phoneme_length"])
        return sum(parts.values()), {f"loss/memory_{k}": v for k, v in parts.items()}

    def _frame_ce(self, logits: torch.Tensor, b: dict) -> torch.Tensor:
        """The frame-wise phoneme loss, computed only where it is weighted (an option)."""
        if not self.cfg.frame_ce_weight:
            return torch.zeros((), device=logits.device)
        return losses.frame_phoneme_ce(logits, b["frame_phonemes"])

    def _frame_ce_scalar(self, frame_ce: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"loss/frame_ce": frame_ce} if self.cfg.frame_ce_weight else {}

    def _freeze_reader(self) -> None:
        """After pre-training: the front-end and head keep their weights and batch statistics,
        and so does the memory, which is part of what reads the lips."""
        for module in filter(None, (self.gen.frontend, self.gen.memory, self.gen.reader)):
            module.requires_grad_(False)
            module.eval()

    def train_step(self, batch: dict) -> dict[str, float]:
        cfg = self.cfg
        b = self._batch(batch)
        for opt in (self.opt_g, self.opt_d):
            for group in opt.param_groups:
                group["lr"] = self.learning_rate(self.step)
        if self.step < cfg.reader_steps:
            return self.reader_step(b)
        if cfg.freeze_reader and self.gen.frontend.stem[0].weight.requires_grad:
            self._freeze_reader()
        adversarial = self.step >= cfg.gan_start and cfg.gan_weight > 0
        lang = b["language"] if self.model_cfg.languages else None
        with self._autocast():
            out = self.gen_step(normalise_frames(b["frames"]), b["length"], lang, mel_unit=self._memory_mel(b))
        real = [r.detach().requires_grad_(True) for r in mel_scales(b["mel_unit"])]
        context, length = out.context.detach(), b["length"]
        zero = torch.zeros((), device=self.device)

        # discriminators: real vs generated (detached), R1 on the real unconditional head
        loss_d = r1 = loss_adv = zero
        if adversarial:
            with self._autocast():
                d_real = self.disc_step(real, context, length)
                d_fake = self.disc_step([m.detach() for m in out.mels], context, length)
                loss_d = losses.discriminator_adversarial(d_real, d_fake)
            r1 = losses.r1_penalty([u for u, _ in d_real], real) if cfg.r1_weight else zero
            self.opt_d.zero_grad(set_to_none=True)
            self.scaler.scale(cfg.gan_weight * loss_d + cfg.r1_weight * r1).backward()
            self.scaler.step(self.opt_d)

        # generator (+ sync network): adversarial + reconstruction + synchronisation + lip reading
        with self._autocast():
            if adversarial:
                loss_adv = losses.generator_adversarial(self.disc_step(out.mels, out.context, length))
            # the sync network learns from real speech; the generator is pushed to speech
            # whose audio embedding matches the (fixed) visual one
            v_real, a_real = self.sync_step(out.frame_features, b["mel_unit"])
            _, a_fake = self.sync_step(out.frame_features.detach(), out.mels[-1])
        loss_rec = losses.reconstruction(out, b["mel_unit"], b["linear"], length)
        loss_sync = losses.sync_infonce(v_real.float(), a_real.float(), length)
        loss_gsync = losses.sync_generator(v_real.detach(), a_fake, length)
        loss_ctc = loss_frame_ce = zero
        if out.phoneme_logits is not None:
            loss_ctc = losses.lip_reading_ctc(out.phoneme_logits, length, b["phonemes"], b["phoneme_length"])
            loss_frame_ce = self._frame_ce(out.phoneme_logits, b)
        loss_memory, memory_scalars = self._memory_loss(out, b)
        loss_g = (
            cfg.gan_weight * loss_adv
            + cfg.recon_weight * loss_rec
            + cfg.sync_weight * (loss_sync + loss_gsync)
            + cfg.ctc_weight * loss_ctc
            + cfg.frame_ce_weight * loss_frame_ce
            + cfg.memory_weight * loss_memory
        )
        self.opt_g.zero_grad(set_to_none=True)
        self.scaler.scale(loss_g).backward()
        self.scaler.step(self.opt_g)
        self.scaler.update()
        scalars = {
            "loss/d": loss_d,
            "loss/r1": r1,
            "loss/adv": loss_adv,
            "loss/recon": loss_rec,
            "loss/sync": loss_sync,
            "loss/gen_sync": loss_gsync,
            "loss/ctc": loss_ctc,
            **self._frame_ce_scalar(loss_frame_ce),
            **memory_scalars,
            "loss/g": loss_g,
        }
        return finite(scalars, self.step, self.out)

    # ------------------------------------------------------------------ validation

    @torch.no_grad()
    def validate(self, writer) -> dict[str, float]:
        """Losses and STOI/ESTOI of Griffin-Lim audio on a few whole validation clips.

        Runs under a forked RNG: validating (on rank 0 only) must not shift the random
        stream that training continues with."""
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            return self._validate(writer)

    def _validate(self, writer) -> dict[str, float]:
        from l2s.scores import stoi
        from l2s.vcagan.vocoder import to_wave

        self.gen.eval()
        val = WindowDataset(self.data, "val", self.cfg.window, self.mel_cfg, whole=True)
        picks = np.linspace(0, len(val) - 1, min(self.cfg.eval_clips, len(val))).round().astype(int)
        recon, s, e, edits, symbols = [], [], [], 0, 0
        for j, i in enumerate(picks):
            item = val[int(i)]
            batch = {k: (v.unsqueeze(0) if torch.is_tensor(v) else torch.tensor([v])) for k, v in item.items()}
            b = self._batch(batch)
            lang = item["language"] if self.model_cfg.languages else None
            spec = generate(self.gen, batch["frames"], b["length"], lang, self.dtype)
            recon.append(float(losses.reconstruction(spec.output, b["mel_unit"], b["linear"], b["length"])))
            if spec.output.phoneme_logits is not None and item["phoneme_length"]:
                truth = [int(i) - 1 for i in item["phonemes"][: item["phoneme_length"]]]
                edits += phoneme_edits(truth, read_lips(spec.output.phoneme_logits, b["length"])[0])
                symbols += sum(i != WORD_ID for i in truth)
            mel = spec.mel[0].cpu()
            wave = to_wave(mel, self.mel_cfg, seed=self.cfg.seed)
            ref = item["audio"].numpy()
            s.append(stoi(ref, wave, self.mel_cfg.sample_rate))
            e.append(stoi(ref, wave, self.mel_cfg.sample_rate, extended=True))
            if writer is not None and j < 2:
                writer.add_audio(f"val/{j}/generated", wave, self.step, self.mel_cfg.sample_rate)
                writer.add_image(f"val/{j}/mel", _mel_picture(mel, item["mel"]), self.step, dataformats="HW")
        self.gen.train()
        if not self.gen.frontend.stem[0].weight.requires_grad:
            self._freeze_reader()  # frozen parts stay in eval mode
        scores = {"val/recon": float(np.mean(recon)), "val/stoi": float(np.mean(s)), "val/estoi": float(np.mean(e))}
        if symbols:
            scores["val/per"] = edits / symbols  # phoneme error rate of the lip-reading head
        return scores

    # ------------------------------------------------------------------ the loop

    def _phases(self) -> list[tuple[WindowDataset, int, int]]:
        """(dataset, first step, end step) of each part of the run: lip-reading pre-training
        on whole clips (train.reader_steps), then the whole model on windows."""
        cfg = self.cfg
        phases = [(self.reader_set, 0, min(cfg.reader_steps, cfg.steps))] if cfg.reader_steps else []
        return phases + [(self.train_set, min(cfg.reader_steps, cfg.steps), cfg.steps)]

    def fit(self, cores: CoreShare | None = None) -> dict:
        """Train to cfg.steps (resuming where the last run stopped); `cores`: the thread count,
        kept to the cores other processes leave free (l2s.training.use_cores)."""
        cfg = self.cfg
        resumed = self.resume()
        if self.must_resume and not resumed:
            raise ValueError(f"{self.out / paths.LAST} cannot be resumed with these settings (see the warning above)")
        per_rank = len(self.train_set) // self.d.world
        largest = max(cfg.batch_size, cfg.reader_batch)
        if per_rank < largest:
            raise ValueError(
                f"the train split of {', '.join(self.languages)} has {len(self.train_set)} clips: too few for "
                f"batch_size {largest} x {self.d.world} processes"
            )
        writer = None
        if self.d.main:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(self.out / "tb")
            if not resumed:
                self.history.unlink(missing_ok=True)
        t0, seen = time.perf_counter(), 0
        last: dict[str, float] = {}
        for dataset, first, end in self._phases():
            if self.step >= end:
                continue
            size = cfg.reader_batch if dataset is self.reader_set else cfg.batch_size
            batches = len(dataset) // self.d.world // size
            sampler = ResumableSampler(dataset, self.d.world, self.d.rank, cfg.seed, size)
            # workers are re-made each epoch so that they see the dataset's new epoch number
            loader = torch.utils.data.DataLoader(
                dataset,
                batch_size=size,
                sampler=sampler,
                drop_last=True,
                num_workers=cfg.loader_workers,
                pin_memory=self.device.type == "cuda",
                # its own generator: a new iterator (every epoch, and after a resume) would
                # otherwise draw from torch's global RNG and shift the generator's noise
                generator=torch.Generator().manual_seed(cfg.seed),
            )
            epoch = (self.step - first) // batches
            while self.step < end:
                sampler.set_epoch(epoch)
                sampler.skip_batches = self.step - first - epoch * batches  # non-zero only right after a resume
                dataset.epoch = epoch
                for batch in loader:
                    if cores is not None:
                        cores.update()
                    last = self.train_step(batch)
                    self.step += 1
                    seen += 1
                    if self.keep_reader and self.step == end and dataset is self.reader_set and end < cfg.steps:
                        self.save(paths.READER)
                    if self.d.main and (self.step % cfg.log_every == 0 or self.step == cfg.steps):
                        log_step(writer, self.step, cfg.steps, last, seen / (time.perf_counter() - t0))
                    if self.step % cfg.eval_every == 0 or self.step == cfg.steps:
                        self._evaluate_and_save(writer, last)
                    if self.step >= end:
                        break
                epoch += 1
        if writer is not None:
            writer.close()
        return self._metrics()

    def _evaluate_and_save(self, writer, last: dict[str, float]) -> None:
        if self.d.main:
            scores = self.validate(writer)
            record_validation(writer, self.history, self.step, last, scores)
            if scores["val/stoi"] > self.best_stoi:
                self.best_stoi = scores["val/stoi"]
                self.save(paths.BEST)
            self.save(paths.LAST)
        if self.d.world > 1:
            dist.barrier()  # nobody runs ahead of the checkpoint being written

    def _metrics(self) -> dict:
        return final_metrics(self.history, self.step, "best_val_stoi", self.best_stoi)


def _with_new_defaults(ck: dict) -> dict:
    """A checkpoint whose model and train configs also hold the keys added since it was
    written, at their defaults (a new option defaults to what the code did before: off), so
    that a run started before an option existed still resumes."""
    ck = dict(ck)
    for key, defaults in (("model_config", ModelConfig()), ("train_config", config.TrainConfig())):
        if isinstance(ck.get(key), dict):
            ck[key] = {**dataclasses.asdict(defaults), **ck[key]}
    return ck


def _mel_picture(generated: torch.Tensor, target: torch.Tensor) -> np.ndarray:
    """Generated above target, both ln-mel scaled to [0, 1], low frequencies at the bottom."""
    both = torch.cat([target, generated[:, : target.shape[1]]], dim=0).flip(0)
    return (1 - both / LOG_MEL_MIN).clamp(0, 1).numpy()


def train(
    name: str,
    params: config.Params | None = None,
    out: Path | None = None,
    keep_reader: bool = False,
    must_resume: bool = False,
) -> dict:
    """Train model `name` of params.yaml; returns its metrics (written by rank 0).
    keep_reader, must_resume: see `Trainer`."""
    params = params or config.load()
    params.train_config(name)
    d, device = setup_distributed()
    # the default run also feeds `dvc plots`; the history itself lives beside the weights,
    # where it survives a resume (DVC deletes the stage's plain outputs before a re-run)
    pipeline = out is None
    out = Path(out) if out else paths.model_dir(name)
    history = out / "history.csv"
    if d.main:
        out.mkdir(parents=True, exist_ok=True)
    cores = use_cores()
    try:
        trainer = Trainer(name, params, out, history, d, device, keep_reader, must_resume)
        metrics = trainer.fit(cores)
        if d.main and pipeline:  # the pipeline's run: metrics and plots for DVC
            paths.write_metrics("train", name, metrics)
            write_plots(history, "train", functools.partial(paths.train_plot, name))
        elif d.main:
            paths.write_json(out / "metrics.json", metrics)
            paths.write_json(out / "config.json", dataclasses.asdict(trainer.model_cfg))
        return metrics
    finally:
        if d.world > 1:
            dist.destroy_process_group()


def launch_command(name: str, params: config.Params, params_path: str | None = None) -> list[str]:
    """The command that trains model `name` on this machine (l2s.training.launch_command)."""
    return training.launch_command("l2s.vcagan.train", name, params.train_config(name), params_path)


def main(argv: list[str] | None = None) -> int:
    return command_line(__doc__, "l2s.vcagan.train", "model", "models", "models/<model>", train, argv)


if __name__ == "__main__":
    sys.exit(main())
