"""What the two trainings share: the VCA-GAN generator's (l2s.vcagan.train) and the neural
vocoder's (l2s.vocoder.train).

One code path for one CPU process, N GPUs and N machines: a training module runs plainly,
or under torchrun, which sets RANK/WORLD_SIZE/LOCAL_RANK; then every process trains a
replica on its own shard of the data and DDP averages the gradients. Rank 0 alone logs
and writes checkpoints.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import logging
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from l2s import config, paths
from l2s.parallel import CoreShare

log = logging.getLogger(__name__)


class NonFiniteLoss(RuntimeError):
    """A loss became NaN or infinite: training stops, the last good checkpoint stays."""


@dataclasses.dataclass
class Dist:
    rank: int = 0
    local_rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed() -> tuple[Dist, torch.device]:
    """Join the process group when torchrun started us; otherwise a single process."""
    if "RANK" not in os.environ:
        return Dist(), torch.device("cuda" if torch.cuda.is_available() else "cpu")
    d = Dist(int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"]), int(os.environ["WORLD_SIZE"]))
    if torch.cuda.is_available():
        torch.cuda.set_device(d.local_rank)
        dist.init_process_group("nccl")
        return d, torch.device("cuda", d.local_rank)
    dist.init_process_group("gloo")
    return d, torch.device("cpu")


def autocast_dtype(precision: str, device: torch.device, cpu_bf16: bool = False) -> torch.dtype | None:
    """The autocast dtype of a precision setting (None: fp32): bf16 where the hardware has
    it, fp16 (with a gradient scaler in training) on GPUs without bf16.

    `auto` on a CPU is bf16 only where the CPU computes it natively (AVX-512-bf16 or AMX)
    and the caller says it pays there (`cpu_bf16`): inference, which has no gradients to
    lose (the paper preset's generator ran 1.7x faster), and the whole model's training
    steps (1.4-1.7x faster, the scores unchanged: README, Training). Elsewhere fp32: the lip
    reader's pre-training ran 1.66x slower in bf16 (narrow layers bound by memory and by the
    conversions), and the vocoder's training was never measured in bf16."""
    if precision == "fp32":
        return None
    if precision == "fp16":
        return torch.float16
    if precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    return torch.bfloat16 if cpu_bf16 and native else None


def use_cores() -> CoreShare:
    """This process's share of the CPU cores: those other processes leave free, of all of
    them or 1/n with n processes on the machine (torchrun's LOCAL_WORLD_SIZE), so that
    threads are never oversubscribed; the trainer calls its `update()` every step."""
    return CoreShare(processes=int(os.environ.get("LOCAL_WORLD_SIZE", 1)), what="training")


def visible_gpus() -> int:
    """GPUs this machine offers, counted without initialising CUDA in the caller (a Jupyter
    kernel that touched CUDA could not hand the devices to torchrun's workers)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
        return 0
    if not shutil.which("nvidia-smi"):
        return 0
    out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True)
    n = sum(line.startswith("GPU ") for line in out.stdout.splitlines())
    if os.environ.get("CUDA_VISIBLE_DEVICES"):
        n = min(n, len(os.environ["CUDA_VISIBLE_DEVICES"].split(",")))
    return n


def launch_command(module: str, name: str, cfg, params_path: str | None = None) -> list[str]:
    """The command that runs training `module` for `name` on this machine: torchrun over
    every GPU (and the nodes of `cfg`: nproc, nnodes, rdzv_endpoint), or one plain CPU process."""
    nproc = visible_gpus() if cfg.nproc == "auto" else int(cfg.nproc)
    script = ["-m", module, name] + (["--params", str(params_path)] if params_path else [])
    if nproc <= 1 and cfg.nnodes == 1:
        return [sys.executable, *script]
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={max(1, nproc)}", f"--nnodes={cfg.nnodes}"]
    if cfg.nnodes > 1:
        run_id = f"l2s-{module.split('.')[1]}-{name}"
        cmd += ["--rdzv-backend=c10d", f"--rdzv-endpoint={cfg.rdzv_endpoint}", f"--rdzv-id={run_id}"]
    else:
        cmd += ["--standalone"]
    return cmd + script


def cosine_lr(lr: float, step: int, end: int, warmup: int, decay: str = "cosine") -> float:
    """`lr` at `step` of a schedule over [0, end): linear warm-up, then constant (decay
    "none") or cosine decay to 5 %."""
    if step < warmup:
        return lr * (step + 1) / warmup
    if decay == "none":
        return lr
    done = min(1.0, (step - warmup) / max(1, end - warmup))
    return lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * done)))


def rng_state() -> dict:
    return {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"].cpu())
    np.random.set_state(state["numpy"])
    if state["cuda"]:
        torch.cuda.set_rng_state_all(state["cuda"])


def load_to_resume(path: Path, d: Dist) -> dict | None:
    """The checkpoint to resume from, or None. Rank 0 reads it and sends it to the others,
    so that nodes without a shared disk resume too."""
    ck = torch.load(path, map_location="cpu", weights_only=False) if d.main and path.exists() else None
    if d.world > 1:
        box = [ck]
        dist.broadcast_object_list(box, src=0)
        ck = box[0]
    return ck


def same_run(ck: dict, path: Path, what: str, now: dict, resumable: tuple[str, ...]) -> bool:
    """Whether checkpoint `ck` (at `path`) continues the run described by `now`: the same
    `what` (model or vocoder config) and languages, the same training data, and the same
    recipe but for the `resumable` settings (more steps, another eval cadence). Says why
    not, in a warning."""
    if ck.get(what) != now[what] or ck.get("languages") != now["languages"]:
        log.warning("%s was trained for another %s or languages: starting afresh", path, what.split("_")[0])
        return False
    before, settings = ck.get("train_config", {}), now["train_config"]
    changed = sorted(k for k in settings if k not in resumable and before.get(k) != settings[k])
    if changed:
        log.warning("%s was trained with other settings (%s): starting afresh", path, ", ".join(changed))
        return False
    if ck.get("step", 0) > settings.get("steps", math.inf):
        # fewer steps is another recipe (the learning rate decays to the last step), not a
        # finished run to stop early: `dvc exp run -S train.steps=...` must train it
        log.warning("%s is at step %d, past this run's %d steps: starting afresh", path, ck["step"], settings["steps"])
        return False
    if ck.get("data") != now["data"]:
        log.warning("%s was trained on other data (data/processed changed since): starting afresh", path)
        return False
    return True


def finite(scalars: dict[str, torch.Tensor], step: int, out: Path) -> dict[str, float]:
    """The losses as floats; NonFiniteLoss when one is NaN or infinite."""
    values = {k: float(v.detach()) for k, v in scalars.items()}
    bad = [k for k, v in values.items() if not math.isfinite(v)]
    if bad:
        raise NonFiniteLoss(
            f"{', '.join(bad)} became non-finite at step {step + 1}; the last good checkpoint is {out / 'last.pt'}"
        )
    return values


def log_step(writer, step: int, total: int, scalars: dict[str, float], rate: float) -> None:
    """The progress line (each loss by its short name) and the losses to TensorBoard."""
    losses = "  ".join(f"{k.split('/')[1]} {v:.3f}" for k, v in scalars.items())
    log.info("step %d/%d  %s  (%.2f steps/s)", step, total, losses, rate)
    for k, v in scalars.items():
        writer.add_scalar(k, v, step)


def record_validation(writer, history: Path, step: int, last: dict[str, float], scores: dict[str, float]) -> None:
    """Validation scores to TensorBoard, and a row of history.csv with the last losses."""
    for k, v in scores.items():
        writer.add_scalar(k, v, step)
    paths.append_row(history, {"step": step, **last, **scores})


# The curves `dvc plots show` draws of a training history, one file per kind and model,
# each with every column listed here (NaN where a run never logged it: a model without
# the lip-reading head has no val/per), so that dvc.yaml's top-level `plots:` can name the
# same fields for every model. NaN, not an empty cell: Vega draws an empty cell at zero,
# a point the run never had, and leaves NaN out. stage -> kind -> columns.
PLOTS = {
    "train": {
        "validation": ("val/stoi", "val/estoi", "val/per"),
        "losses": ("loss/ctc", "loss/recon", "loss/sync", "loss/adv", "loss/d"),
    },
    "vocoder": {
        "validation": ("val/stoi", "val/estoi", "val/pesq_wb"),
        "losses": ("loss/mel", "loss/g"),
    },
    # the recogniser that scores generated speech (stage asr; its second judge is left out)
    "asr": {"validation": ("val_cer", "val_wer")},
}


def write_plots(history: Path, stage: str, plot_path) -> list[Path]:
    """Split the history CSV into the files of PLOTS[stage]: plot_path(kind) for each kind,
    with the rows that carry any of its columns (the losses every log_every steps, the
    validation scores every eval_every)."""
    rows = list(csv.DictReader(open(history, newline=""))) if history.exists() else []
    written = []
    for kind, columns in PLOTS[stage].items():
        kept = [
            {"step": row["step"], **{c: row.get(c) or "NaN" for c in columns}}
            for row in rows
            if any(row.get(c, "") != "" for c in columns)
        ]
        path = plot_path(kind)
        paths.write_csv(path, kept, ["step", *columns])
        written.append(path)
    return written


def final_metrics(history: Path, step: int, best_name: str, best: float) -> dict:
    """A run's metrics: its steps, the best validation score and the last row of its history
    (without the columns its last phase does not log, such as the frozen memory's losses)."""
    rows = list(csv.DictReader(open(history))) if history.exists() else []
    final = rows[-1] if rows else {}
    return {
        "steps": step,
        best_name: round(best, 4),
        **{k.replace("/", "_"): round(float(v), 4) for k, v in final.items() if k != "step" and v != ""},
    }


def command_line(doc: str, module: str, what: str, section: str, default_out: str, train, argv=None) -> int:
    """`python -m <module> NAME [--params] [--out]`: train NAME of params.yaml's `section`;
    a bad parameter, missing data or a NaN loss ends with its message and status 2."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=doc.splitlines()[0])
    parser.add_argument(what, help=f"a {what} of params.yaml `{section}:`")
    parser.add_argument("--params", help="params file (default: the repository's)")
    parser.add_argument("--out", help=f"output folder (default: {default_out})")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    try:
        train(getattr(args, what), config.load(args.params) if args.params else None, args.out)
    except (config.ConfigError, FileNotFoundError, ValueError, NonFiniteLoss) as e:
        logging.getLogger("l2s").error("%s", e)
        return 2
    return 0
