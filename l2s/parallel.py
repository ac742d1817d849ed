"""Run work over both cores without oversubscribing threads.

Each worker process is limited to one thread for torch, OpenCV and BLAS: two workers
on two cores each spawning a thread per core made everything slower (Griffin-Lim ran 17x
slower with oversubscribed threads on a 2-core machine).

A process that computes with several threads (training, the test stage's generator, the
recogniser) keeps them to the cores that other processes leave free (`CoreShare`): on a
shared machine more threads than free cores cost far more than their share.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from tqdm.auto import tqdm

log = logging.getLogger(__name__)

_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def single_thread() -> None:
    """Limit this process to one compute thread (call first thing in a worker)."""
    for var in _THREAD_VARS:
        os.environ[var] = "1"
    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def imap(
    fn: Callable[[Any], Any], items: Iterable[Any], workers: int, desc: str, total: int | None = None
) -> Iterator[Any]:
    """Yield fn(item) for every item, unordered, with a progress bar.

    workers=1 runs in this process (simple to debug and profile). More workers use
    spawned processes: forking a process that already holds MediaPipe or OpenMP state
    can deadlock.
    """
    items = list(items)
    total = len(items) if total is None else total
    bar = tqdm(total=total, desc=desc, unit="item", smoothing=0.1)
    try:
        if workers <= 1 or len(items) <= 1:
            for item in items:
                yield fn(item)
                bar.update()
            return
        ctx = mp.get_context("spawn")
        with ctx.Pool(min(workers, len(items)), initializer=single_thread) as pool:
            for result in pool.imap_unordered(fn, items, chunksize=1):
                yield result
                bar.update()
    finally:
        bar.close()


def usable_cores() -> list[int]:
    """The cores this process may run on: its affinity mask (a container's or taskset's
    cpuset), else every core."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return list(range(os.cpu_count() or 1))


def busy_seconds(cores: list[int]) -> float | None:
    """Seconds the given cores have spent busy since boot, by every process together
    (/proc/stat: all but idle and I/O wait; time the hypervisor took counts as busy, the core
    was not ours); None where the kernel does not say (not Linux)."""
    try:
        with open("/proc/stat") as f:
            lines = [line.split() for line in f if line.startswith("cpu") and line[3].isdigit()]
    except OSError:
        return None
    ticks = {int(fields[0][3:]): [int(v) for v in fields[1:9]] for fields in lines}
    if not set(cores) <= set(ticks):
        return None
    busy = sum(sum(t) - t[3] - t[4] for core, t in ticks.items() if core in cores)
    return busy / os.sysconf("SC_CLK_TCK")


class CoreShare:
    """This process's torch threads, kept to the cores that other processes leave free.

    Why: torch's OpenMP threads meet at the end of every parallel region, and one whose core
    another process holds is descheduled for a time slice while its partner waits. On 2
    cores with one kept busy by another process, a demo training step on 2 threads took 5x
    (lip-reading pre-training) and 8x (the whole model) as long as alone; on 1 thread 1.5x
    and 1.6x (`l2s bench --only shared`, README). Passive waiting (OMP_WAIT_POLICY) helped
    less (1.8x and 3.4x) and cost 5-12 % alone.

    `update()`, called every step, measures at most every `every` seconds how many cores
    other processes used meanwhile (all busy time on our cores minus our own CPU time) and
    sets the thread count to the rest, at least 1 and at most `cores // processes` (torchrun
    processes on one machine count each other as others, which leaves each its share).
    OMP_NUM_THREADS, where set, fixes the count instead: a run that must repeat bit for bit
    keeps one thread count (the test suite sets it). `look`: seconds of a first measurement
    before the first step (0: start on every core and measure after `every` seconds).
    """

    def __init__(self, processes: int = 1, every: float = 5.0, what: str = "this process", look: float = 0.25):
        self.cores = usable_cores()
        self.limit = max(1, len(self.cores) // max(1, processes))
        self.every = every
        self.what = what
        fixed = os.environ.get("OMP_NUM_THREADS", "").strip()
        self.fixed = int(fixed) if fixed.isdigit() and int(fixed) > 0 else None
        self.threads, self.others = 0, 0.0
        if self.fixed is not None:
            self._set(self.fixed, "OMP_NUM_THREADS")
            self._mark = None
            return
        self._mark = self._sample()
        if self._mark is None or look <= 0:  # every core of ours, until there is something to measure
            self._set(self.limit, "")
            return
        time.sleep(look)  # a first look at what the others use, before the first step
        self._set(self._free(), "")

    def _sample(self) -> tuple[float, float, float] | None:
        busy = busy_seconds(self.cores)
        return None if busy is None else (time.monotonic(), busy, time.process_time())

    def _free(self) -> int:
        """Threads for the cores left free since the last mark (which it moves on)."""
        now = self._sample()
        wall, busy, own = (b - a for a, b in zip(self._mark, now))
        self._mark = now
        others = max(0.0, (busy - own) / max(wall, 1e-6))
        self.others = others
        return max(1, min(self.limit, int(len(self.cores) - others + 0.5)))

    def _set(self, threads: int, why: str) -> None:
        import torch

        if threads != self.threads:
            if self.threads or threads < self.limit:
                reason = why or f"other processes use {self.others:.1f} of {len(self.cores)} cores"
                log.info("%s: %d compute thread(s) (%s)", self.what, threads, reason)
            torch.set_num_threads(threads)
            self.threads = threads

    def update(self) -> int:
        """The thread count, measured again when `every` seconds have passed."""
        if self._mark is not None and time.monotonic() - self._mark[0] >= self.every:
            self._set(self._free(), "")
        return self.threads


def free_port() -> int:
    """A TCP port of this host that nothing listens on now (for a rendezvous or a scheduler)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
