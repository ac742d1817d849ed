"""CoreShare: the thread count follows the cores other processes leave free."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import torch

from l2s import parallel


@pytest.fixture
def threads_restored(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


class Clock:
    """Stand-ins for the wall clock, the cores' busy seconds and this process's CPU time."""

    def __init__(self, monkeypatch, cores: int):
        self.wall = self.busy = self.own = 0.0
        monkeypatch.setattr(parallel, "usable_cores", lambda: list(range(cores)))
        monkeypatch.setattr(parallel, "busy_seconds", lambda _: self.busy)
        monkeypatch.setattr(parallel.time, "monotonic", lambda: self.wall)
        monkeypatch.setattr(parallel.time, "process_time", lambda: self.own)
        monkeypatch.setattr(parallel.time, "sleep", self.run)
        self.others = 0.0  # cores the other processes keep busy
        self.ours = 0.0  # cores this process keeps busy

    def run(self, seconds: float) -> None:
        self.wall += seconds
        self.own += self.ours * seconds
        self.busy += (self.ours + self.others) * seconds


def test_threads_follow_the_free_cores(monkeypatch, threads_restored):
    clock = Clock(monkeypatch, cores=4)
    clock.others = 1.0
    share = parallel.CoreShare(every=5.0)
    assert share.threads == torch.get_num_threads() == 3
    clock.ours, clock.others = 3.0, 2.6  # another process starts: 3.6 cores of others are 3 taken
    clock.run(4.0)
    assert share.update() == 3  # not measured again before `every` seconds
    clock.run(1.0)
    assert share.update() == 1 == torch.get_num_threads()
    clock.others = 0.1
    clock.run(5.0)
    assert share.update() == 4  # they left: every core again
    clock.others = 0.4  # less than half a core in use counts as free
    clock.run(5.0)
    assert share.update() == 4


def test_processes_on_one_machine_each_keep_their_share(monkeypatch, threads_restored):
    clock = Clock(monkeypatch, cores=4)
    clock.others = 2.0  # the other torchrun process on this machine
    assert parallel.CoreShare(processes=2).threads == 2
    clock.others = 3.0
    assert parallel.CoreShare(processes=2).threads == 1


def test_omp_num_threads_fixes_the_count(monkeypatch, threads_restored):
    clock = Clock(monkeypatch, cores=4)
    clock.others = 3.0
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    share = parallel.CoreShare(every=0.0)
    clock.run(10.0)
    assert share.update() == 2 == torch.get_num_threads()


def test_without_a_way_to_measure_every_core_is_used(monkeypatch, threads_restored):
    monkeypatch.setattr(parallel, "busy_seconds", lambda _: None)
    monkeypatch.setattr(parallel, "usable_cores", lambda: [0, 1])
    share = parallel.CoreShare()
    assert share.threads == 2 and share.update() == 2


@pytest.mark.skipif(parallel.busy_seconds(parallel.usable_cores()) is None, reason="needs Linux's /proc/stat")
def test_a_busy_process_is_measured(threads_restored):
    """A real busy loop in another process shows as others' use (at least most of a core,
    even while other tests share the machine) and leaves this process fewer threads."""
    cores = len(parallel.usable_cores())
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        share = parallel.CoreShare(look=0.5)
    finally:
        busy.kill()
        busy.wait()
    assert share.others >= 0.6, share.others
    assert share.threads <= max(1, cores - 1)
