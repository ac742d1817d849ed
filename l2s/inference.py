"""A trained generator from its checkpoint alone, and speech from preprocessed frames."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import torch

from l2s import config
from l2s.config import MelConfig, PreprocessConfig
from l2s.model import CHECKPOINT_FORMAT, Generator, ModelConfig, normalise_frames, unit_to_mel

log = logging.getLogger(__name__)


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> tuple[Generator, dict]:
    """Rebuild the generator from a checkpoint (it carries its model config); eval mode.

    The dict says what data the generator expects: `languages`, `mel` (MelConfig),
    `preprocess` (PreprocessConfig; None in format-1 checkpoints, which did not record it)
    and the training `step`.

    A checkpoint written by another version of l2s fails here with a message that says
    so, not later with a shape error deep inside the model."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}; train the model first: dvc repro train@<model>")
    try:
        ck = torch.load(path, map_location=device, weights_only=False)
    except Exception as e:  # noqa: BLE001 - torch raises many kinds for a file that is not a checkpoint
        raise ValueError(f"{path} is not a readable PyTorch checkpoint ({type(e).__name__}: {e})") from e
    if not isinstance(ck, dict) or "model_config" not in ck or "generator" not in ck:
        raise ValueError(f"{path} is not an l2s checkpoint (no model_config/generator)")
    fmt = ck.get("format", 1)
    newer = "update l2s (git pull)" if fmt > CHECKPOINT_FORMAT else "retrain it with this version"
    if fmt not in range(1, CHECKPOINT_FORMAT + 1):
        raise ValueError(
            f"{path} was written by another version of l2s (checkpoint format {fmt}; this version reads "
            f"1 to {CHECKPOINT_FORMAT}): {newer}"
        )
    try:
        gen = Generator(ModelConfig(**ck["model_config"])).to(device)
        gen.load_state_dict(ck["generator"])
    except (TypeError, RuntimeError, config.ConfigError) as e:
        first = str(e).strip().splitlines()[0][:300]
        raise ValueError(
            f"{path} was written by another version of l2s: its generator does not fit this version's ({first}); "
            f"retrain it with this version, or check out the l2s commit that trained it"
        ) from e
    gen.eval()
    preprocess = config.parse(PreprocessConfig, ck["preprocess"], f"{path}: preprocess") if "preprocess" in ck else None
    meta = {"languages": ck.get("languages", []), "mel": MelConfig(**ck["mel"]), "preprocess": preprocess}
    meta["step"] = ck.get("step")
    return gen, meta


def generator_checkpoint(gen: Generator, languages: list[str], mel: MelConfig, preprocess: dict) -> dict:
    """What `load_generator` reads: the weights, the model config, and the data the generator
    expects (its languages, audio features and the preprocessing of its frames)."""
    return {
        "format": CHECKPOINT_FORMAT,
        "model_config": dataclasses.asdict(gen.cfg),
        "languages": languages,
        "mel": dataclasses.asdict(mel),
        "preprocess": preprocess,
        "generator": gen.state_dict(),
    }


@torch.no_grad()
def generate(
    gen: Generator, frames: torch.Tensor, lengths: torch.Tensor | None = None, language: torch.Tensor | None = None
) -> torch.Tensor:
    """uint8 frames [B, T, H, W] -> ln-mel [B, n_mels, 4T]."""
    frames = normalise_frames(frames.to(next(gen.parameters()).device))
    if lengths is None:
        lengths = torch.full((frames.shape[0],), frames.shape[1], dtype=torch.long, device=frames.device)
    out = gen(frames, lengths, language)
    return unit_to_mel(out.mels[-1][:, 0].float())
