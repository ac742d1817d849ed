"""What l2s knows about the GRID corpus (Cooke et al. 2006), in one place: its speakers,
VCA-GAN's subject settings, and its .align transcripts.

The adapter that lists a GRID folder's videos is in `sources` (`source: grid`); params.yaml's
`languages.<lang>.subject` is checked against `SUBJECTS` when params load.
"""

from __future__ import annotations

import re
from pathlib import Path

from l2s.data.alignment import Span

# GRID's speakers are s1 ... s34; s21 has no video in the corpus
SPEAKERS = tuple(f"s{n}" for n in range(1, 35) if n != 21)
# VCA-GAN's four-speaker setting
FOUR = ("s1", "s2", "s4", "s29")
# VCA-GAN's unseen-speaker setting, as its published split file (data/unseen_splits.txt
# of the authors' repository) holds it: these speakers' videos are only val or only
# test, the other 16 speakers' only train.
UNSEEN_VAL = ("s9", "s20", "s23", "s27", "s29", "s30", "s34")
UNSEEN_TEST = ("s2", "s4", "s11", "s13", "s15", "s18", "s19", "s25", "s31", "s33")
# VCA-GAN's --subject settings: one speaker, four, overlap (every speaker in every split), unseen
SUBJECTS = ("four", "overlap", "unseen", *SPEAKERS)
ALIGN_UNITS = 25000  # .align times count 1/25000 s: 1000 per video frame at 25 fps
SILENCE = frozenset({"sil", "sp"})  # silence markers, not words
SPEAKER_FOLDER = re.compile(r"s\d+")  # a speaker's folder in the corpus


def subject_problem(subject: str) -> str | None:
    """Why `subject` is not one of VCA-GAN's GRID settings, or None when it is."""
    if subject in SUBJECTS:
        return None
    problem = "GRID needs a subject setting" if not subject else f"{subject!r} is not a GRID subject setting"
    return (
        f"{problem}; choose one of: four ({', '.join(FOUR)}), overlap (all speakers, each in every split), "
        "unseen (held-out speakers), or one speaker s1 ... s34 (not s21: GRID has no video of s21)"
    )


def unseen_split(speaker: str) -> str:
    """The split of a speaker's videos in the unseen setting."""
    if speaker in UNSEEN_TEST:
        return "test"
    return "val" if speaker in UNSEEN_VAL else "train"


def read_align(path: Path) -> tuple[Span, ...]:
    """The words of a GRID .align file (lines `start end word`, times in 1/25000 s), in
    seconds; the silence markers sil and sp are left out."""
    words = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        try:
            start, end, word = parts
            start_s, end_s = float(start) / ALIGN_UNITS, float(end) / ALIGN_UNITS
        except ValueError:
            raise ValueError(
                f"{path}, line {number}: expected 'start end word' with times in 1/25000 s, got {line!r}"
            ) from None
        if word not in SILENCE:
            words.append(Span(word, start_s, end_s))
    return tuple(words)
