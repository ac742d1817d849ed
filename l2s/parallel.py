"""Run work over both cores without oversubscribing threads.

Each worker process is limited to one thread for torch, OpenCV and BLAS: two workers
on two cores each spawning a thread per core made everything slower (Griffin-Lim ran 17x
slower with oversubscribed threads on a 2-core machine).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from tqdm.auto import tqdm

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
