"""A trained generator from its checkpoint alone, and speech from preprocessed frames."""

from __future__ import annotations

from pathlib import Path

import torch

from l2s.config import MelConfig
from l2s.model import Generator, ModelConfig, normalise_frames, unit_to_mel


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> tuple[Generator, dict]:
    """Rebuild the generator from a checkpoint (it carries its model config); eval mode."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}; train the model first: dvc repro train@<model>")
    ck = torch.load(path, map_location=device, weights_only=False)
    if "model_config" not in ck or "generator" not in ck:
        raise ValueError(f"{path} is not an l2s checkpoint (no model_config/generator)")
    gen = Generator(ModelConfig(**ck["model_config"])).to(device)
    gen.load_state_dict(ck["generator"])
    gen.eval()
    meta = {"languages": ck.get("languages", []), "mel": MelConfig(**ck["mel"]), "step": ck.get("step")}
    return gen, meta


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
