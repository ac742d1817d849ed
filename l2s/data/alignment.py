"""Word and phoneme timings, and the `<clip>.align.json` file that keeps them beside a video.

The corpus generator writes one per clip (from espeak-ng's own events); a user may put
one beside their videos too. Preprocessing uses the word timings to give a cut clip
exactly the words spoken inside it; later analyses (homophenes) use the phonemes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

SUFFIX = ".align.json"


@dataclass(frozen=True)
class Span:
    """A labelled stretch of time in seconds."""

    label: str
    start: float
    end: float

    def shifted(self, seconds: float) -> Span:
        return Span(self.label, self.start + seconds, self.end + seconds)


def path_for(video: Path) -> Path:
    return video.with_suffix(SUFFIX)


def write(video: Path, words: list[Span], phonemes: list[Span], **info) -> Path:
    """Write the timings of `video` (plus any descriptive `info`) beside it."""

    def rows(spans):
        return [{"label": s.label, "start": round(s.start, 4), "end": round(s.end, 4)} for s in spans]

    data = {**info, "words": rows(words), "phonemes": rows(phonemes)}
    path = path_for(video)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def read(video: Path) -> dict:
    """The alignment of `video` with `words` and `phonemes` as Span lists ({} if none)."""
    path = path_for(video)
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    for key in ("words", "phonemes"):
        data[key] = [Span(s["label"], float(s["start"]), float(s["end"])) for s in data.get(key, [])]
    return data
