"""Read data/processed/<lang>/ for training and evaluation: memory-mapped, no decoding."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import torch

from l2s import paths
from l2s.splits import SPLITS


class ProcessedLanguage:
    """The preprocessed clips of one language (arrays memory-mapped, tables in memory)."""

    def __init__(self, lang: str, root: Path | None = None):
        self.lang = lang
        self.dir = Path(root) if root else paths.processed_dir(lang)
        if not (self.dir / "info.json").exists():
            raise FileNotFoundError(
                f"no processed data for language {lang!r} at {self.dir}; run: dvc repro preprocess@{lang}"
            )
        self.info = json.loads((self.dir / "info.json").read_text(encoding="utf-8"))
        self.frames = np.load(self.dir / "frames.npy", mmap_mode="r")
        self.audio = np.load(self.dir / "audio.npy", mmap_mode="r")
        self.mel = np.load(self.dir / "mel.npy", mmap_mode="r")
        with open(self.dir / "clips.csv", newline="", encoding="utf-8") as f:
            self.clips = list(csv.DictReader(f))
        self._index = {c["clip_id"]: i for i, c in enumerate(self.clips)}

    def __len__(self) -> int:
        return len(self.clips)

    def split(self, name: str) -> list[int]:
        """Row indices of a split (train, val or test)."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; choose one of {', '.join(SPLITS)}")
        ids = (self.dir / "splits" / f"{name}.txt").read_text(encoding="utf-8").splitlines()
        if not ids:
            raise ValueError(f"split {name!r} of language {self.lang!r} is empty ({self.dir / 'splits'})")
        return [self._index[i] for i in ids]


class ClipDataset(torch.utils.data.Dataset):
    """Whole clips of one split: frames uint8 [T, H, W(, 3)], log-mel [n_mels, M], audio, text."""

    def __init__(self, data: ProcessedLanguage, split: str):
        self.data = data
        self.rows = data.split(split)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict:
        r = self.rows[i]
        clip = self.data.clips[r]
        return {
            "frames": torch.from_numpy(np.array(self.data.frames[r])),
            "mel": torch.from_numpy(np.array(self.data.mel[r], dtype=np.float32)),
            "audio": torch.from_numpy(self.data.audio[r].astype(np.float32) / 32767),
            "valid_frames": int(clip["valid_frames"]),
            "text": clip["text"],
            "clip_id": clip["clip_id"],
            "language": self.data.lang,
        }
