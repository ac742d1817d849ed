"""What the pipeline notebooks share: parameter checks, the pictures they show and audio players."""

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


def mel_pair(
    recorded: np.ndarray, generated: np.ndarray, recorded_title: str, generated_title: str, side_by_side=False
):
    """Recorded and generated log-mel spectrograms one above the other (or side by side),
    the recorded one cut to the generated one's length; returns the figure."""
    shape = (1, 2) if side_by_side else (2, 1)
    fig, axes = plt.subplots(*shape, figsize=(13, 2.8) if side_by_side else (10, 5.5), sharey=side_by_side)
    mel_image(np.asarray(recorded, np.float32)[:, : generated.shape[1]], title=recorded_title, ax=axes[0])
    mel_image(np.asarray(generated, np.float32), title=generated_title, ax=axes[1])
    fig.tight_layout()
    return fig


def listen(wave: np.ndarray, sample_rate: int, label: str = ""):
    """An audio player, with a label above it when given."""
    from IPython.display import Audio, Markdown, display

    if label:
        display(Markdown(label))
    display(Audio(wave, rate=sample_rate))


def listening_table(rows: list[dict], columns: list[str]):
    """Clips as rows of an HTML table: the clip, its text, then one labelled audio player
    per column with a caption under it (say, what the recogniser heard). Each row maps
    "clip" and "text" to strings and each column to (wave, sample_rate, caption), or None
    for an empty cell."""
    import html

    from IPython.display import HTML, Audio, display

    def cell(name: str, entry) -> str:
        if entry is None:
            return "<td></td>"
        wave, rate, caption = entry
        player = Audio(wave, rate=rate)._repr_html_().replace("<audio ", f'<audio title="{html.escape(name)}" ', 1)
        under = f"<div><small>{html.escape(caption)}</small></div>" if caption else ""
        return f"<td><div><b>{html.escape(name)}</b></div>{player}{under}</td>"

    head = "".join(f"<th>{html.escape(c)}</th>" for c in ("clip", "text", *columns))
    body = "".join(
        f"<tr><td><code>{html.escape(r['clip'])}</code></td><td>{html.escape(r['text'])}</td>"
        + "".join(cell(c, r.get(c)) for c in columns)
        + "</tr>"
        for r in rows
    )
    display(HTML(f'<table class="listening"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'))
