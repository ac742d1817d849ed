"""The processed arrays of a language (frames, audio, mel) as one file each or in shards.

One file each (`frames.npy`, ...; preprocess.shard_clips: 0, the default) suits a corpus
that sits on one disk. With shard_clips: N, each array is cut into files of N clips
(`frames/00000.npy`, `frames/00001.npy`, ...) listed in `shards.json`: a corpus the size of
LRS3 (150 k clips, about 90 GB of mouth crops) becomes files of a size a shared file
system, DVC and `dvc push` handle one by one, and a new clip changes only its shard.

Either way the arrays are memory-mapped and read clip by clip: a process (a torchrun rank)
reads only the clips its batches hold, and opens only the shards they are in. The reader
(`load`) gives a sharded array the indexing the trainers use on a single one: a clip
(`a[i]`), a clip's part (`a[i, :, s:e]`) and a few clips (`a[i:j]`, `a[[i, j]]`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

INDEX = "shards.json"
SHARDED = ("frames", "audio", "mel")  # the large arrays; the small tables stay single files


class ShardedArray:
    """A read-only view of one array's shards as if they were one array of clips."""

    def __init__(self, folder: Path, name: str, index: dict):
        self.folder, self.name = folder, name
        self.per_shard = index["clips_per_shard"]
        spec = index["arrays"][name]
        self.shape = (index["clips"], *spec["shape"])
        self.dtype = np.dtype(spec["dtype"])
        self.ndim = len(self.shape)
        self._open: dict[int, np.ndarray] = {}
        self.bytes_read = 0  # what this process has read of it so far (l2s bench --only cluster)

    def __len__(self) -> int:
        return self.shape[0]

    def shard(self, number: int) -> np.ndarray:
        """Shard `number`, memory-mapped when first needed."""
        if number not in self._open:
            self._open[number] = np.load(self.folder / self.name / f"{number:05d}.npy", mmap_mode="r")
        return self._open[number]

    def _clip(self, i: int) -> tuple[np.ndarray, int]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"clip {i} of {len(self)} in {self.folder / self.name}")
        i %= len(self)
        return self.shard(i // self.per_shard), i % self.per_shard

    def __getitem__(self, key):
        rest = ()
        if isinstance(key, tuple):
            key, rest = key[0], key[1:]
        if isinstance(key, (int, np.integer)):
            shard, j = self._clip(int(key))
            part = shard[(j, *rest)]
            self.bytes_read += part.nbytes
            return part
        rows = range(len(self))[key] if isinstance(key, slice) else np.asarray(key).reshape(-1)
        return (
            np.stack([self[(int(i), *rest)] for i in rows]) if len(rows) else np.empty((0, *self.shape[1:]), self.dtype)
        )

    def __array__(self, dtype=None, copy=None):
        whole = self[:]
        return whole.astype(dtype) if dtype is not None else whole

    def __getstate__(self):  # loader workers re-open the shards they need, and count their own reads
        return {**self.__dict__, "_open": {}, "bytes_read": 0}


def load(folder: Path, name: str):
    """Array `name` of a processed folder: its single file, memory-mapped, or its shards."""
    single = folder / f"{name}.npy"
    if single.exists():
        return np.load(single, mmap_mode="r")
    index = folder / INDEX
    if index.exists():
        found = json.loads(index.read_text(encoding="utf-8"))
        if name in found["arrays"]:
            return ShardedArray(folder, name, found)
    raise FileNotFoundError(f"{folder} holds neither {single.name} nor shards of {name} ({INDEX})")


def files(folder: Path, name: str) -> list[Path]:
    """The files that hold array `name` (its single file, or the index and its shards)."""
    single = folder / f"{name}.npy"
    if single.exists() or not (folder / INDEX).exists():
        return [single]
    return [folder / INDEX, *sorted((folder / name).glob("*.npy"))]


class ShardWriter:
    """Writes rows [i, i + k) of one array into the shards they fall in."""

    def __init__(self, folder: Path, name: str, dtype, clip_shape: tuple, clips: int, per_shard: int):
        (folder / name).mkdir(parents=True)
        self.per_shard = per_shard
        self.shards = [
            np.lib.format.open_memmap(
                folder / name / f"{s:05d}.npy",
                mode="w+",
                dtype=dtype,
                shape=(min(per_shard, clips - s * per_shard), *clip_shape),
            )
            for s in range(-(-clips // per_shard))
        ]

    def __setitem__(self, rows: slice, values: np.ndarray) -> None:
        for i, value in zip(range(rows.start, rows.stop), values):
            self.shards[i // self.per_shard][i % self.per_shard] = value

    def flush(self) -> None:
        for s in self.shards:
            s.flush()


def create(folder: Path, dtypes: dict, shapes: dict, clips: int, per_shard: int) -> dict:
    """Writable arrays of `clips` clips for each name of `dtypes` (clip shapes in `shapes`):
    single memory-mapped files (per_shard 0) or shards of `per_shard` clips with their index.
    Whatever the other layout left in `folder` is removed first (our own output folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in dtypes:
        (folder / f"{name}.npy").unlink(missing_ok=True)
        shutil.rmtree(folder / name, ignore_errors=True)
    (folder / INDEX).unlink(missing_ok=True)
    if not per_shard:
        return {
            k: np.lib.format.open_memmap(folder / f"{k}.npy", mode="w+", dtype=dtypes[k], shape=(clips, *shapes[k]))
            for k in dtypes
        }
    index = {
        "clips": clips,
        "clips_per_shard": per_shard,
        "shards": -(-clips // per_shard),
        "arrays": {k: {"dtype": np.dtype(dtypes[k]).str, "shape": list(shapes[k])} for k in dtypes},
    }
    (folder / INDEX).write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")
    return {k: ShardWriter(folder, k, dtypes[k], shapes[k], clips, per_shard) for k in dtypes}
