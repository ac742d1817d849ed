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


# Debian packages with fonts for the scripts espeak-ng speaks (`make setup` installs them)
FONT_PACKAGES = "fonts-noto-cjk fonts-noto-core"


def use_fonts(texts) -> list[str]:
    """Make matplotlib draw every character of `texts` (the languages' transcripts):
    DejaVu Sans first, then, for the characters it lacks (Hanzi, Devanagari, Arabic, ...),
    the installed fonts that have them, as a fallback chain. Characters that no installed
    font has are named once in a warning with the packages to install, instead of
    matplotlib's warning per glyph and figure. Returns the chain. Call it after any
    plotting theme (seaborn's set_theme resets the fonts)."""
    import contextlib
    import warnings

    from matplotlib import font_manager

    needed = {c for t in texts for c in str(t) if not c.isspace() and c.isprintable()}
    chain, missing = _font_chain(font_manager.fontManager.ttflist, needed)
    if missing:  # matplotlib's font list is cached: fonts installed since are not in it yet
        known = {f.fname for f in font_manager.fontManager.ttflist}
        for path in font_manager.findSystemFonts():
            if path not in known:
                with contextlib.suppress(Exception):  # a file it cannot read: not a font to use
                    font_manager.fontManager.addfont(path)
        chain, missing = _font_chain(font_manager.fontManager.ttflist, needed)
    plt.rcParams["font.family"] = chain
    plt.rcParams["axes.unicode_minus"] = True
    if missing:
        sample = "".join(sorted(missing)[:12])
        logging.getLogger(__name__).warning(
            "no installed font has %d of the characters to draw (%s...); install: sudo apt-get install %s",
            len(missing),
            sample,
            FONT_PACKAGES,
        )
    # said once above; matplotlib would repeat it for every glyph of every figure
    warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font")
    return chain


def _font_chain(fonts, needed: set[str]) -> tuple[list[str], set[str]]:
    """DejaVu Sans, then the fonts that draw what it cannot, and what none draws."""
    from matplotlib import ft2font

    chain, missing = [], set(needed)
    # regular sans fonts first, so that a fallback looks like its neighbours; of the CJK
    # faces, Simplified Chinese (the default corpus's Mandarin)
    candidates = sorted(
        fonts,
        key=lambda f: (
            f.name != "DejaVu Sans",
            "Sans" not in f.name,
            f.weight not in (400, "normal"),
            "CJK" in f.name and not f.name.endswith(" SC"),
            f.name,
        ),
    )
    for entry in candidates:
        if entry.name in chain or entry.name.startswith("Last Resort"):  # its glyphs are all boxes
            continue
        try:
            charmap = ft2font.FT2Font(entry.fname).get_charmap()
        except (OSError, RuntimeError):  # an unreadable font file: skip it
            continue
        covers = {c for c in missing if ord(c) in charmap}
        if covers or entry.name == "DejaVu Sans":
            chain.append(entry.name)
            missing -= covers
        if not missing and chain:
            break
    return chain, missing


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
