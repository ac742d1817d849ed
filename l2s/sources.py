"""Where a language's raw videos come from: one list of `RawItem`s per source kind.

Every source ends as the same list, so preprocessing does not care whether the videos
were made by the embedded corpus generator or recorded by a user. A source only reads:
it never writes into the raw folder.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path

from l2s import alignment
from l2s.alignment import Span
from l2s.config import LanguageSource

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".m4v", ".flv"}
MANIFEST = "manifest.csv"  # written by the corpus generator; the columns of RawItem
TRANSCRIPTS_CSV = "transcripts.csv"


@dataclass(frozen=True)
class RawItem:
    """One raw video and what is known about it."""

    utt_id: str  # unique within the language: the path below the raw folder, without suffix
    path: Path
    speaker: str
    text: str | None = None
    # word timings when known (the synthetic corpus keeps them): lets a cut clip keep
    # exactly the words it contains
    words: tuple[Span, ...] = field(default=())


def list_items(src: LanguageSource, raw_dir: Path) -> list[RawItem]:
    """The raw items of a language, sorted by id."""
    if not raw_dir.is_dir():
        hint = "run its corpus stage: dvc repro corpus@<lang>" if src.source == "synthetic" else "put your videos there"
        raise FileNotFoundError(f"raw data folder {raw_dir} does not exist ({hint})")
    items = _manifest(raw_dir) if src.source == "synthetic" else _folder(src, raw_dir)
    if not items:
        raise FileNotFoundError(f"no videos found in {raw_dir} (looked for {', '.join(sorted(VIDEO_SUFFIXES))})")
    return sorted(items, key=lambda i: i.utt_id)


def _alignment(video: Path) -> tuple[Span, ...]:
    return tuple(alignment.read(video).get("words", ()))


def _manifest(raw_dir: Path) -> list[RawItem]:
    manifest = raw_dir / MANIFEST
    if not manifest.exists():
        raise FileNotFoundError(
            f"{manifest} is missing: the synthetic corpus is incomplete; run dvc repro corpus@<lang>"
        )
    with open(manifest, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    items = []
    for row in rows:
        path = raw_dir / row["path"]
        items.append(RawItem(row["utt_id"], path, row["speaker"], row["text"], _alignment(path)))
    return items


def _folder(src: LanguageSource, raw_dir: Path) -> list[RawItem]:
    csv_texts: dict[str, dict[str, str]] = {}
    table = raw_dir / TRANSCRIPTS_CSV
    if src.transcripts in ("auto", "csv") and table.exists():
        with open(table, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if "path" not in row or "text" not in row:
                    raise ValueError(f"{table}: needs columns 'path' and 'text' (and optionally 'speaker')")
                csv_texts[Path(row["path"]).as_posix()] = row
    elif src.transcripts == "csv":
        raise FileNotFoundError(f"languages: transcripts 'csv' but {table} does not exist")

    items = []
    for path in sorted(raw_dir.rglob("*")):
        rel = path.relative_to(raw_dir)
        if path.suffix.lower() not in VIDEO_SUFFIXES or any(p.startswith(".") for p in rel.parts):
            continue
        row = csv_texts.get(rel.as_posix(), {})
        text = row.get("text")
        txt = path.with_suffix(".txt")
        if text is None and src.transcripts in ("auto", "txt") and txt.exists():
            text = txt.read_text(encoding="utf-8").strip()
        if src.speaker == "single":
            speaker = "speaker"
        else:
            speaker = row.get("speaker") or (rel.parts[0] if len(rel.parts) > 1 else "speaker")
        items.append(RawItem(rel.with_suffix("").as_posix(), path, speaker, text, _alignment(path)))
    return items
