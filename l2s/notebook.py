"""What the pipeline notebooks share: parameter checks and the pictures they show."""

from __future__ import annotations

import logging

import matplotlib.pyplot as plt
import numpy as np

from l2s.config import ConfigError


def setup() -> None:
    """Log to the notebook (progress and warnings show in the executed copy) and find the repo."""
    from l2s import paths

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", force=True)
    paths.root()


def check_param(value, name: str, allowed: list[str]) -> str:
    """Papermill only warns about a mistyped -p name and leaves the default: the default
    is None, so a missing or misspelt parameter stops here with a clear message."""
    if value is None:
        raise ConfigError(
            f"notebook parameter {name!r} was not given (papermill -p {name} ...); one of: {', '.join(allowed)}"
        )
    if value not in allowed:
        raise ConfigError(f"notebook parameter {name}={value!r} is not in params.yaml; one of: {', '.join(allowed)}")
    return value


def frame_strip(frames: np.ndarray, n: int = 8, title: str = "", ax=None):
    """n evenly spaced frames side by side."""
    idx = np.linspace(0, len(frames) - 1, n).round().astype(int)
    strip = np.concatenate([frames[i] for i in idx], axis=1)
    ax = ax or plt.subplots(figsize=(2 * n, 2.4))[1]
    ax.imshow(strip, cmap="gray" if strip.ndim == 2 else None)
    ax.set_title(title)
    ax.axis("off")
    return ax


def mel_image(mel: np.ndarray, title: str = "", ax=None, hop_seconds: float = 0.01):
    """A log-mel spectrogram [n_mels, frames] with time in seconds."""
    ax = ax or plt.subplots(figsize=(10, 3))[1]
    im = ax.imshow(
        mel, origin="lower", aspect="auto", cmap="magma", extent=(0, mel.shape[1] * hop_seconds, 0, mel.shape[0])
    )
    ax.grid(False)  # a plotting theme's grid would cross the picture
    ax.set_xlabel("seconds")
    ax.set_ylabel("mel bin")
    ax.set_title(title)
    plt.colorbar(im, ax=ax, label="ln mel")
    return ax
