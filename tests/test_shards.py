"""Processed arrays in shards (preprocess.shard_clips, l2s.data.shards): read as one array
would be, and training on them is training on the single files."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from l2s import config, paths
from l2s.data import preprocess, shards
from l2s.data.dataset import ProcessedLanguage
from l2s.vcagan import train
from tests.helpers import english_root, kill_at, logged_losses, weights_that_differ, write_params


def _arrays(folder, per_shard, data):
    writers = shards.create(
        folder, {k: v.dtype for k, v in data.items()}, {k: v.shape[1:] for k, v in data.items()}, 10, per_shard
    )
    for k, v in data.items():
        writers[k][0:4] = v[0:4]  # rows arrive a video (a few clips) at a time
        writers[k][4:10] = v[4:10]
        writers[k].flush()
    return {k: shards.load(folder, k) for k in data}


def test_shards_read_as_the_single_file_does(tmp_path):
    rng = np.random.default_rng(0)
    data = {
        "frames": rng.integers(0, 255, (10, 5, 4, 4), dtype=np.uint8),
        "mel": rng.normal(size=(10, 3, 20)).astype(np.float16),
    }
    single = _arrays(tmp_path / "single", 0, data)
    sharded = _arrays(tmp_path / "sharded", 4, data)  # 4 + 4 + 2 clips
    assert sorted(p.name for p in (tmp_path / "sharded" / "frames").iterdir()) == [
        "00000.npy",
        "00001.npy",
        "00002.npy",
    ]
    assert isinstance(single["mel"], np.memmap) and isinstance(sharded["mel"], shards.ShardedArray)
    for k in data:
        a, b = single[k], sharded[k]
        assert len(a) == len(b) == 10 and a.shape == b.shape and a.dtype == b.dtype
        for key in (0, 5, 9, -1, (7, slice(1, 3)), (3, 2, slice(None, 2)), slice(3, 6), [9, 0, 4]):
            assert np.array_equal(a[key], b[key]), (k, key)
        assert np.array_equal(np.asarray(b), data[k])
    with pytest.raises(IndexError, match="clip 10 of 10"):
        sharded["frames"][10]
    # a loader worker gets the view without the parent's open files, and re-opens what it reads
    again = pickle.loads(pickle.dumps(sharded["frames"]))
    assert again._open == {} and np.array_equal(again[6], data["frames"][6])
    # switching layouts leaves nothing of the other behind
    _arrays(tmp_path / "sharded", 0, data)
    assert not (tmp_path / "sharded" / "frames").exists() and not (tmp_path / "sharded" / shards.INDEX).exists()


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    small = {
        "steps": 3,
        "reader_steps": 1,
        "reader_batch_size": 2,
        "batch_size": 2,
        "window": 16,
        "eval_every": 3,
        "eval_clips": 1,
    }
    return english_root(tmp_path_factory.mktemp("shardroot"), train=small, models={"tiny": {"languages": ["en"]}})


@pytest.mark.slow
def test_training_on_shards_is_training_on_single_files(root, tmp_path, monkeypatch):
    monkeypatch.setenv("L2S_ROOT", str(root))
    params = config.load(root / "params.yaml")
    before = ProcessedLanguage("en")
    single_print = before.fingerprint()
    train.train("tiny", params, tmp_path / "single")

    saved = tmp_path / "processed-single"
    shutil.copytree(paths.processed_dir("en"), saved)
    params = config.load(write_params(root, base=root / "params.yaml", preprocess={"shard_clips": 3}))
    metrics = preprocess.run("en", params)  # every video from the cache: only the layout changes
    out = paths.processed_dir("en")
    assert metrics["clips"] == 8 and not (out / "frames.npy").exists()
    assert [p.name for p in sorted((out / "mel").iterdir())] == ["00000.npy", "00001.npy", "00002.npy"]
    after = ProcessedLanguage("en")
    for k in shards.SHARDED:
        assert np.array_equal(np.asarray(getattr(after, k)), np.load(saved / f"{k}.npy"))
    assert after.fingerprint() != single_print  # a checkpoint knows which files it was trained on
    train.train("tiny", params, tmp_path / "sharded")
    assert weights_that_differ(tmp_path / "single/last.pt", tmp_path / "sharded/last.pt", ("generator",), atol=0) == []
    assert torch.load(tmp_path / "sharded/last.pt", weights_only=False)["step"] == 3


@pytest.mark.slow
def test_a_run_killed_on_shards_resumes_exactly(root, tmp_path):
    """Kill a training run on sharded data mid-epoch; the resumed run logs the same losses
    as an uninterrupted one: the sampler's clip indices do not care which file holds a clip."""
    params = config.load(
        write_params(
            root,
            base=root / "params.yaml",
            preprocess={"shard_clips": 3},
            train={"steps": 8, "eval_every": 4, "log_every": 1},
        )
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv("L2S_ROOT", str(root))
        preprocess.run("en", params)
    assert (root / "data/processed/en" / shards.INDEX).exists()
    cmd = [sys.executable, "-m", "l2s.vcagan.train", "tiny", "--out"]
    env = dict(os.environ, L2S_ROOT=str(root), PYTHONUNBUFFERED="1")
    reference = subprocess.run([*cmd, str(tmp_path / "reference")], cwd=root, env=env, capture_output=True, text=True)
    assert reference.returncode == 0, reference.stderr[-3000:]
    expected = logged_losses(reference.stderr)
    assert sorted(expected) == list(range(1, 9))
    kill_at([*cmd, str(tmp_path / "killed")], root, "step 5/8")  # the checkpoint of step 4 is mid-epoch
    resumed = subprocess.run([*cmd, str(tmp_path / "killed")], cwd=root, env=env, capture_output=True, text=True)
    assert resumed.returncode == 0 and "from step 4" in resumed.stderr, resumed.stderr[-3000:]
    again = logged_losses(resumed.stderr)
    assert sorted(again) == [5, 6, 7, 8] and all(again[s] == expected[s] for s in again), (again, expected)


@pytest.mark.slow
def test_each_rank_reads_its_own_clips_of_the_shards(root, monkeypatch):
    from l2s import bench

    monkeypatch.setenv("L2S_ROOT", str(root))
    pre, whole = bench.shard_rows(clips_per_shard=3, steps=1)
    # a pre-training step reads its 2 whole clips: frames, mel and the whole audio of each
    clip = 75 * 88 * 88 + 80 * 300 * 2 + 48_000 * 2
    assert pre[1] == f"{2 * clip / 1e6:.2f} MB" and f"rank 0 {2 * clip / 1e6:.2f} MB, rank 1" in pre[2]
    # a whole-model step of 2 windows of 16 frames reads those frames and mel, and the audio whole
    window = 16 * 88 * 88 + 80 * 64 * 2 + 48_000 * 2
    assert whole[1] == f"{2 * window / 1e6:.2f} MB"
    assert "frame shards opened: " in pre[2] and pre[2].endswith("of 3")
