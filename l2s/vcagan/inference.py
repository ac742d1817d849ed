"""A trained generator from its checkpoint alone, and the one forward pass from frames to
spectrograms (`generate`) that training's validation, the test stage, `l2s speak` and the
notebooks share, with its precision (`autocast_dtype`) and language vector (`language_index`)."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from pathlib import Path

import numpy as np
import torch

from l2s import config
from l2s.config import MELS_PER_FRAME, MelConfig, PreprocessConfig
from l2s.data.dataset import ProcessedLanguage
from l2s.data.features import unit_to_mel
from l2s.vcagan.model import Generator, GeneratorOutput, normalise_frames
from l2s.vcagan.presets import ModelConfig

log = logging.getLogger(__name__)

# Version of what a checkpoint holds. 1: weights, model config, languages, mel features;
# 2: also the preprocessing its training data was made with (crop, fps), for `l2s speak`.
CHECKPOINT_FORMAT = 2


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


def language_index(gen: Generator, languages: list[str], lang: str | None) -> int | None:
    """The language vector a generator should speak `lang` with: its index in the model's
    `languages` when the model has language vectors and was trained on `lang`; otherwise
    None, as for a language it never saw."""
    if not gen.cfg.languages or lang not in languages:
        return None
    return languages.index(lang)


@dataclasses.dataclass
class Generated:
    """Spectrograms of a batch of clips: what every user of the generator takes from it."""

    mel: torch.Tensor  # ln-mel [B, n_mels, 4T], float32
    linear: torch.Tensor  # the postnet's linear magnitude [B, n_linear, 4T], float32
    output: GeneratorOutput  # all the generator gave: unit mels of every scale, visual features


@torch.no_grad()
def generate(
    gen: Generator,
    frames: torch.Tensor,
    lengths: torch.Tensor | None = None,
    language: int | None = None,
    dtype: torch.dtype | None = None,
) -> Generated:
    """The generator's forward pass from uint8 frames [B, T, H, W] (valid for `lengths`
    frames, default all) to spectrograms, speaking with language vector `language`
    (see `language_index`) under autocast `dtype` (None: fp32; see `autocast_dtype`).

    The generator's noise is drawn from torch's global RNG: seed it for repeatable speech."""
    device = next(gen.parameters()).device
    frames = normalise_frames(frames.to(device))
    if lengths is None:
        lengths = torch.full((frames.shape[0],), frames.shape[1], dtype=torch.long)
    lengths = lengths.to(device)
    lang = None if language is None else torch.full_like(lengths, language)
    autocast = torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()
    with autocast:
        out = gen(frames, lengths, lang)
    return Generated(unit_to_mel(out.mels[-1][:, 0].float()), out.linear[:, 0].float(), out)


def read_lips(logits: torch.Tensor, lengths: torch.Tensor) -> list[list[int]]:
    """Best path of the lip-reading head (repeats collapsed, blanks dropped): per clip the
    inventory ids (l2s.data.phonemes) it reads in its valid frames."""
    best = logits.argmax(-1).cpu()
    out = []
    for path, n in zip(best, lengths.tolist()):
        path = path[:n]
        keep = path[(path != 0) & torch.cat([torch.tensor([True]), path[1:] != path[:-1]])]
        out.append([int(i) - 1 for i in keep])
    return out


def generate_clip(
    gen: Generator, languages: list[str], data: ProcessedLanguage, row: int, dtype: torch.dtype | None = None
) -> Generated:
    """Speech for one preprocessed clip (row `row` of `data`) as the test stage makes it,
    with the language vector the model has for the clip's language (`languages`: the
    model's); the spectrograms are cut to the clip's valid frames."""
    valid = data.valid_frames(row)
    frames = torch.from_numpy(np.array(data.frames[row : row + 1]))
    language = language_index(gen, languages, data.lang)
    spec = generate(gen, frames, torch.tensor([valid]), language, dtype)
    steps = valid * MELS_PER_FRAME
    return dataclasses.replace(spec, mel=spec.mel[..., :steps], linear=spec.linear[..., :steps])
