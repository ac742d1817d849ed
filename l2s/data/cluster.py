"""Preprocessing's work spread over processes and machines by Dask distributed.

One video is one task: it reads the raw video and writes its per-video cache file (the
clips, or the reason it was rejected), so a task's result is a file, not a message, and the
order in which tasks finish changes nothing (preprocess.pack gathers the files in the order
of the videos). Where the tasks run:

    preprocess.cluster: ""                      a local cluster of preprocess.workers processes
                                                (one process, no Dask, with workers: 1)
    preprocess.cluster: tcp://head-node:8786    a running Dask cluster: `dask scheduler` on one
                                                machine, `dask worker tcp://head-node:8786
                                                --nthreads 1` on each (or dask-jobqueue on Slurm)

A remote cluster's workers need this repository's environment (the same l2s, MediaPipe,
ffmpeg) and the raw videos and data/interim/<lang> at the same paths (a shared file system).

A worker that dies mid-video (killed, out of memory, its node lost) loses only that video's
task: the scheduler gives it to another worker (up to distributed.scheduler.allowed-failures
times), and every video that finished is already in its cache file. Each task leaves a
marker beside its cache file while it runs; a task that finds its own run's marker there is
a retry, and says which worker had it before, so the stage can report what was retried.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tqdm import tqdm

log = logging.getLogger(__name__)

MARKER = ".running"  # suffix of the marker a task leaves beside its cache file while it runs


@dataclasses.dataclass(frozen=True)
class Tracked:
    """A task's function wrapped with its attempt marker (picklable: it goes to the workers)."""

    fn: Callable[[Any], dict]
    run: str  # this run's id: a marker of another run is a leftover of a killed run, not a retry
    one_thread: bool = False  # on a worker: one compute thread (OpenCV's pool too), as every task is one

    def __call__(self, task: Any, marker: Path) -> dict:
        if self.one_thread:
            _one_thread()
        me = f"{socket.gethostname()}:{os.getpid()}"
        before = None
        with contextlib.suppress(FileNotFoundError, ValueError):
            found = json.loads(marker.read_text(encoding="utf-8"))
            before = found["worker"] if found.get("run") == self.run else None
        marker.write_text(json.dumps({"run": self.run, "worker": me}), encoding="utf-8")
        try:
            result = self.fn(task)
        finally:  # not reached when the worker dies: the marker stays for the retry to find
            marker.unlink(missing_ok=True)
        return result | ({"retried_after": before} if before else {})


@functools.cache
def _one_thread() -> None:
    """Once per worker process: one thread for torch and OpenCV (the nannies set OMP_NUM_THREADS
    and its kin to 1; OpenCV keeps a pool of its own)."""
    from l2s.parallel import single_thread

    single_thread()


def map_tasks(
    fn: Callable[[Any], dict],
    tasks: list[Any],
    markers: list[Path],
    workers: int,
    address: str = "",
    desc: str = "tasks",
) -> Iterator[tuple[Any, dict]]:
    """Yield (task, fn(task)) for every task, unordered, with one progress bar for all of
    them: in this process (workers 1, no address), on a local Dask cluster of `workers`
    processes, or on the running cluster at `address`. `markers`: a path per task for its
    attempt marker. A task whose worker died more often than the scheduler allows yields
    {"status": "error", "detail": ...}, and the rest go on."""
    here = Tracked(fn, uuid.uuid4().hex)
    bar = tqdm(total=len(tasks), desc=desc, unit="item", smoothing=0.1)
    try:
        if not address and (workers <= 1 or len(tasks) <= 1):
            for task, marker in zip(tasks, markers):
                yield task, here(task, marker)
                bar.update()
            return
        run = dataclasses.replace(here, one_thread=True)
        with _client(address, min(workers, len(tasks))) as client:
            from distributed import as_completed

            # pure=False: two videos never share a result, and a retry must run again
            futures = client.map(run, tasks, markers, pure=False)
            task_of = {f.key: task for f, task in zip(futures, tasks)}
            for future in as_completed(futures):
                if future.status == "error":
                    error = future.exception()
                    yield task_of[future.key], {"status": "error", "detail": f"{type(error).__name__}: {error}"}
                else:
                    yield task_of[future.key], future.result()
                bar.update()
                future.release()
    finally:
        bar.close()


# What a local cluster changes of Dask's defaults, to cost no more than a process pool. Dask
# starts its workers with MALLOC_TRIM_THRESHOLD_=65536, which hands freed memory back to the
# system at once and turns off glibc's adaptive mmap threshold: every frame array is then
# mapped and faulted in afresh (8.3 M page faults against 0.47 M for 480 videos, twice the
# system time), so here the workers get Dask's thread limits without it. And each worker
# checks its event loop every 20 ms, its memory every 100 ms and the system every 500 ms, and
# profiles its tasks, while the scheduler steals work: checked every second or two instead.
# A running cluster (preprocess.cluster) keeps the settings its operators gave it.
QUIET = {
    "distributed.nanny.pre-spawn-environ": {"OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1, "OPENBLAS_NUM_THREADS": 1},
    "distributed.admin.tick.interval": "1s",
    "distributed.worker.memory.monitor-interval": "2s",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.profile.enabled": False,
    "distributed.scheduler.work-stealing": False,  # every task is one video: nothing to balance
}


@contextlib.contextmanager
def _client(address: str, workers: int):
    """A Dask client of the cluster at `address`, or of a local cluster of `workers`
    single-threaded processes (closed on exit)."""
    import dask
    from distributed import Client, LocalCluster

    # the cluster's life cycle (workers registered, streams opened and closed) is not the
    # stage's news; its warnings and errors are
    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(max(level, logging.WARNING))
    try:
        if address:
            with Client(address) as client:
                log.info(
                    "preprocessing on the Dask cluster at %s: %d workers",
                    address,
                    len(client.scheduler_info()["workers"]),
                )
                yield client
            return
        # one thread per process (and one compute thread in it: Tracked.one_thread), so two
        # workers do not oversubscribe two cores; the dashboard on any free port (":0"), as
        # 8787 may be another cluster's; the cluster's own watching slowed down (QUIET)
        with (
            dask.config.set(QUIET),
            LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
            Client(cluster) as client,
        ):
            yield client
    finally:
        quiet.setLevel(level)


@contextlib.contextmanager
def dask_cli(workers: int = 2) -> Iterator[str]:
    """A scheduler and `workers` single-threaded workers started with the `dask` command line
    on this host, as on the machines of a cluster; yields the scheduler's address (for
    preprocess.cluster) once every worker has joined, and stops them on exit."""
    import subprocess
    import sys

    from distributed import Client

    from l2s.parallel import free_port

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = str(Path(sys.executable).parent / "dask")
    quiet = {"stderr": subprocess.DEVNULL}
    procs = [subprocess.Popen([dask, "scheduler", "--port", str(port), "--no-dashboard"], **quiet)]
    try:
        worker = [dask, "worker", address, "--nthreads", "1", "--no-dashboard"]
        env = dict(os.environ, OMP_NUM_THREADS="1")
        procs += [subprocess.Popen(worker, env=env, **quiet) for _ in range(workers)]
        with Client(address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=120)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            p.wait(timeout=60)
