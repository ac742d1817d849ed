"""Preprocessing through Dask distributed (l2s.data.cluster): the same bytes however the
work is spread, a worker that dies mid-video loses nothing, and a wrong address says so."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from l2s import config, paths
from l2s.data import cluster, preprocess
from tests.helpers import corpus_root, digest, write_params


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A repository root with the raw videos of a small English corpus, not preprocessed."""
    return corpus_root(tmp_path_factory.mktemp("clusterroot"), preprocessed=False)


def _preprocess(root: Path, monkeypatch, **settings) -> tuple[dict, dict[str, str]]:
    """Preprocess en from scratch (no cache) with `settings`; the metrics and the digest of
    data/processed/en."""
    monkeypatch.setenv("L2S_ROOT", str(root))
    shutil.rmtree(root / "data" / "interim", ignore_errors=True)
    shutil.rmtree(root / "data" / "processed", ignore_errors=True)
    params = config.load(write_params(root, base=root / "params.yaml", preprocess=settings))
    metrics = preprocess.run("en", params)
    return metrics, digest(paths.processed_dir("en"))


@pytest.fixture(scope="module")
def dask_cli_cluster():
    with cluster.dask_cli(2) as address:
        yield address


@pytest.mark.slow
def test_the_same_bytes_from_one_worker_two_workers_and_a_cluster(root, monkeypatch, dask_cli_cluster):
    one, alone = _preprocess(root, monkeypatch, workers=1)
    two, local = _preprocess(root, monkeypatch, workers=2)
    three, remote = _preprocess(root, monkeypatch, workers=2, cluster=dask_cli_cluster)
    assert one["clips"] == 8 and one["retried"] == 0
    assert alone == local == remote
    # how the work was spread is not a setting of the data: the cache serves all three
    monkeypatch.setenv("L2S_ROOT", str(root))
    params = config.load(write_params(root, base=root / "params.yaml", preprocess={"workers": 1, "cluster": ""}))
    tasks = [
        preprocess.cache_key(item, params.preprocess)
        for item in preprocess.list_items(params.source("en"), params.raw_dir("en"))
    ]
    assert sorted(f"{t}.npz" for t in tasks) == sorted(p.name for p in paths.interim_dir("en").iterdir())


def dies_once(task):
    """A preprocessing task that kills its worker process the first time it meets the first
    video (its flag file beside the cache says it did), as an out-of-memory kill would."""
    flag = task.cache.with_suffix(".killed")
    if task.item.utt_id.endswith("_0001") and not flag.exists():
        flag.write_text("killed once")
        os._exit(1)
    return preprocess.run_task(task)


@pytest.mark.slow
def test_a_worker_that_dies_mid_video_loses_nothing(root, monkeypatch):
    _, reference = _preprocess(root, monkeypatch, workers=1)
    shutil.rmtree(root / "data" / "interim")
    shutil.rmtree(root / "data" / "processed")
    params = config.load(write_params(root, base=root / "params.yaml", preprocess={"workers": 2}))
    items = preprocess.list_items(params.source("en"), params.raw_dir("en"))
    cache = paths.interim_dir("en")
    cache.mkdir(parents=True)
    tasks = [
        preprocess.Task(i, params.preprocess, cache / f"{preprocess.cache_key(i, params.preprocess)}.npz")
        for i in items
    ]
    markers = [t.cache.with_suffix(cluster.MARKER) for t in tasks]
    results = {t.item.utt_id: r for t, r in cluster.map_tasks(dies_once, tasks, markers, 2, desc="dying")}
    victims = [u for u in results if u.endswith("_0001")]
    assert victims and all(results[u].get("retried_after") for u in victims), results
    assert all(r["status"] == "done" for r in results.values())
    assert not any("retried_after" in r for u, r in results.items() if u not in victims)
    assert all(t.cache.exists() for t in tasks) and not any(m.exists() for m in markers)
    # the stage then finds every video in the cache and packs the same bytes
    metrics = preprocess.run("en", params)
    assert digest(paths.processed_dir("en")) == reference and metrics["retried"] == 0


def test_a_cluster_address_is_checked_on_load():
    with pytest.raises(config.ConfigError, match="tcp://head-node:8786"):
        config.PreprocessConfig(cluster="head-node")
    assert config.PreprocessConfig(cluster="tcp://10.0.0.1:8786").cluster == "tcp://10.0.0.1:8786"
    shaping = config.PreprocessConfig(workers=8, cluster="tcp://10.0.0.1:8786").shaping()
    assert shaping == config.PreprocessConfig().shaping() and "workers" not in shaping
