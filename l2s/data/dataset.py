"""Read data/processed/<lang>/ for training and evaluation: memory-mapped, no decoding."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import torch

from l2s import paths
from l2s.config import MELS_PER_FRAME
from l2s.data import phonemes, shards
from l2s.data.features import LOG_MEL_MIN, PCM_SCALE
from l2s.data.splits import SPLITS


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
        # one file each or in shards (preprocess.shard_clips): read clip by clip either way
        self.frames = shards.load(self.dir, "frames")
        self.audio = shards.load(self.dir, "audio")
        self.mel = shards.load(self.dir, "mel")
        # the phoneme of every video frame, where the corpus gave word timings (else None)
        track = self.dir / "frame_phonemes.npy"
        self.frame_phonemes = np.load(track, mmap_mode="r") if track.exists() else None
        with open(self.dir / "clips.csv", newline="", encoding="utf-8") as f:
            self.clips = list(csv.DictReader(f))
        self._index = {c["clip_id"]: i for i, c in enumerate(self.clips)}

    def __len__(self) -> int:
        return len(self.clips)

    def source(self, i: int) -> Path:
        """The video clip `i` was cut from (clips.csv keeps it relative to the raw folder)."""
        from l2s import config

        return config.load().raw_folder(self.lang) / self.clips[i]["source"]

    def fingerprint(self) -> str:
        """A digest of everything training reads (tables, splits, arrays): a checkpoint
        resumes only on the data it was trained on. About 2 s for the default corpus's
        three languages (1 GB), next to minutes of training."""
        import hashlib

        digest = hashlib.md5()
        arrays = [f.relative_to(self.dir).as_posix() for k in shards.SHARDED for f in shards.files(self.dir, k)]
        for name in ("clips.csv", "splits/train.txt", "splits/val.txt", "splits/test.txt", *arrays,
                     "frame_phonemes.npy"):  # fmt: skip
            path = self.dir / name
            digest.update(name.encode())
            if path.exists():
                with open(path, "rb") as f:
                    digest.update(hashlib.file_digest(f, "md5").digest())
        return digest.hexdigest()[:16]

    @property
    def sample_rate(self) -> int:
        return self.info["preprocess"]["mel"]["sample_rate"]

    def row(self, clip_id: str) -> int:
        """The row of a clip in the arrays and in `clips`."""
        if clip_id not in self._index:
            raise KeyError(f"no clip {clip_id!r} in {self.dir}")
        return self._index[clip_id]

    def wave(self, row: int) -> np.ndarray:
        """The clip's recorded speech as float32 in [-1, 1] (stored as int16)."""
        return self.audio[row].astype(np.float32) / PCM_SCALE

    def phoneme_ids(self, row: int) -> np.ndarray:
        """The clip's transcript as inventory ids (l2s.data.phonemes); empty when it has none."""
        return np.array(phonemes.ids(self.clips[row].get("phonemes", "").split()), dtype=np.int64)

    def valid_frames(self, row: int) -> int:
        """Video frames of the clip before its padding."""
        return int(self.clips[row]["valid_frames"])

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
            "audio": torch.from_numpy(self.data.wave(r)),
            "valid_frames": self.data.valid_frames(r),
            "text": clip["text"],
            "clip_id": clip["clip_id"],
            "language": self.data.lang,
        }


class WindowDataset(torch.utils.data.Dataset):
    """Random training windows over the clips of one or more languages.

    A window is `window` video frames with their 4-per-frame log-mel and linear
    spectrogram. A window that holds all of a clip's valid frames (`window` at least the
    clip's length, or `whole`) also carries the transcript's phoneme ids, padded to the
    window (`phonemes`, `phoneme_length`); any other window, and a clip without phonemes,
    has phoneme_length 0 and trains without the lip-reading loss: a transcript says what
    the whole clip says, not which part of it a window holds. Where the corpus gave word
    timings, `frame_phonemes` holds the phoneme class of each frame (IGNORE elsewhere).

    Languages may have clips of different lengths (LRW's are 29 frames, the embedded
    corpus's 75): every window is as long as the longest clip allows, and a shorter clip
    is padded as preprocessing pads a short video (its last frame held, silence), with
    `length` its frames before the padding; so one batch can mix languages.

    The linear target is computed from the clip's audio on the fly (a few ms), which keeps
    data/processed compact. The window position and augmentation of
    item i in epoch e come from a generator seeded by (seed, e, i), never from the global
    RNG: a run resumed in the middle of an epoch draws exactly what an uninterrupted one
    would, whatever the number of loader workers.
    """

    def __init__(
        self,
        languages: list[ProcessedLanguage],
        split: str,
        window: int,
        mel_cfg,
        flip: bool = False,
        erase: bool = False,
        whole: bool = False,
        seed: int = 0,
        time_mask: int = 0,
    ):
        self.languages = languages
        self.seed, self.epoch = seed, 0
        self.index = [(k, r) for k, d in enumerate(languages) for r in d.split(split)]
        self.longest = max(d.frames.shape[1] for d in languages)  # frames of the longest clips
        self.window, self.mel_cfg, self.flip, self.erase, self.whole = window, mel_cfg, flip, erase, whole
        self.time_mask = time_mask

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict:
        from l2s.data.features import magnitude, prepare

        k, r = self.index[i]
        data = self.languages[k]
        gen = torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch) * 1_000_003 + i)
        valid = data.valid_frames(r)
        w = self.longest if self.whole else min(self.window, self.longest)
        start = 0 if self.whole else int(torch.randint(0, max(1, valid - w + 1), (), generator=gen))
        m = MELS_PER_FRAME
        frames = _padded(torch.from_numpy(np.array(data.frames[r, start : start + w])), w, edge=True)
        mel = torch.from_numpy(np.array(data.mel[r, :, start * m : (start + w) * m], dtype=np.float32))
        mel = _padded(mel.T, w * m, fill=LOG_MEL_MIN).T
        audio = data.wave(r)
        linear = magnitude(prepare(audio, self.mel_cfg), self.mel_cfg)[:, start * m : (start + w) * m]
        linear = _padded(linear.T, w * m).T
        if self.flip and torch.rand((), generator=gen) < 0.5:
            frames = frames.flip(-1)
        if self.erase and torch.rand((), generator=gen) < 0.5:
            frames = _erase(frames, gen)
        if self.time_mask:
            frames = _mask_time(frames, min(w, max(valid - start, 1)), self.time_mask, gen)
        labels = data.phoneme_ids(r) + 1 if start == 0 and valid <= w else np.zeros(0, np.int64)
        labels = labels if len(labels) <= w else labels[:0]  # CTC cannot emit more labels than frames
        item = {
            "frames": frames,
            "mel": mel,
            "linear": linear,
            "length": min(w, max(valid - start, 1)),
            "language": k,
            "phonemes": torch.from_numpy(np.pad(labels, (0, w - len(labels)))),  # 0 (CTC blank) pads
            "phoneme_length": len(labels),
            "frame_phonemes": self._frame_labels(data, r, start, w),
        }
        if self.whole:  # the reference speech, for validation scores; training never needs it
            item["audio"] = _padded(torch.from_numpy(audio), w * m * self.mel_cfg.hop)
        return item

    @staticmethod
    def _frame_labels(data: ProcessedLanguage, row: int, start: int, w: int) -> torch.Tensor:
        """The window's per-frame phoneme classes (inventory id + 1, as the CTC head counts
        them); IGNORE where unknown."""
        if data.frame_phonemes is None:
            return torch.full((w,), IGNORE, dtype=torch.long)
        track = torch.from_numpy(np.array(data.frame_phonemes[row, start : start + w], dtype=np.int64))
        track = _padded(track, w, fill=-1)
        return torch.where(track >= 0, track + 1, torch.full_like(track, IGNORE))


IGNORE = -100  # a frame without a phoneme label (cross-entropy's ignore_index)


def _padded(x: torch.Tensor, n: int, edge: bool = False, fill: float = 0.0) -> torch.Tensor:
    """x with axis 0 padded to n: its last entry repeated (`edge`), else `fill`."""
    if len(x) >= n:
        return x
    tail = (
        x[-1:].expand(n - len(x), *x.shape[1:]) if edge else torch.full((n - len(x), *x.shape[1:]), fill, dtype=x.dtype)
    )
    return torch.cat([x, tail])


def _erase(frames: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Blank one random rectangle (2-20 % of the area) in every frame of the window."""
    _, h, w = frames.shape[:3]
    area = float(torch.empty(()).uniform_(0.02, 0.2, generator=gen)) * h * w
    aspect = float(torch.empty(()).uniform_(0.3, 3.3, generator=gen))
    eh, ew = min(h, int(round((area * aspect) ** 0.5))), min(w, int(round((area / aspect) ** 0.5)))
    y = int(torch.randint(0, h - eh + 1, (), generator=gen))
    x = int(torch.randint(0, w - ew + 1, (), generator=gen))
    frames = frames.clone()
    frames[:, y : y + eh, x : x + ew] = 0
    return frames


def _mask_time(frames: torch.Tensor, valid: int, longest: int, gen: torch.Generator) -> torch.Tensor:
    """Per started second (25 frames) of the `valid` frames, one span of 0 to `longest`
    frames at a random place, replaced by the mean frame of the valid part: the reader
    learns to bridge frames it cannot see (a hand, a blur, a dropped frame) from context."""
    frames = frames.clone()
    mean = frames[:valid].float().mean(dim=0).round().to(frames.dtype)
    for _ in range(-(-valid // 25)):
        n = int(torch.randint(0, longest + 1, (), generator=gen))
        if 0 < n < valid:
            at = int(torch.randint(0, valid - n + 1, (), generator=gen))
            frames[at : at + n] = mean
    return frames


class ResumableSampler(torch.utils.data.DistributedSampler):
    """This process's share of a seeded per-epoch shuffle, able to start mid-epoch.

    Used with one process too (num_replicas=1), so that single-process and DDP training
    share one code path and a resumed run skips exactly the batches already trained on.
    """

    def __init__(self, dataset, num_replicas: int, rank: int, seed: int, batch_size: int):
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed, drop_last=True)
        self.batch_size = batch_size
        self.skip_batches = 0

    def __iter__(self):
        indices = list(super().__iter__())
        return iter(indices[self.skip_batches * self.batch_size :])

    def __len__(self) -> int:
        return super().__len__() - self.skip_batches * self.batch_size
