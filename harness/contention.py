"""Was the machine busy with other work while a case was timed? (no torch)

Two readings of the same thing, both from Linux's /proc, taken around the sampling loop:

- **run-queue wait** of this process's threads (``/proc/self/task/*/schedstat``, in ns):
  time they were runnable but had no CPU. It is the direct measure — a case whose
  threads wait is being descheduled by someone else — and it stays near zero when other
  work runs on cores the case does not need.
- **others' CPU time** on the CPUs this process may use (``/proc/stat`` minus our own
  ``getrusage``): how many cores other processes (and the hypervisor, as steal) took.

A case is ``contended`` when its threads waited for more than ``WAIT_LIMIT`` of the time
they ran, or, where schedstat is unreadable, when others used more than the cores the
case left free plus ``SPARE_CORES``. An idle 2-core VM shows waits of 0.5-1%; one busy
loop beside a 2-thread case gives 30-80% (measured while building this module).

On CUDA devices, other processes holding the same GPU (harness.nvml, when nvidia-ml-py
is installed) also make a case contended.
"""

from __future__ import annotations

import glob
import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass

WAIT_LIMIT = 0.05  # run-queue wait / run time above which a case was descheduled
SPARE_CORES = 0.25  # others' use beyond the free cores tolerated without schedstat


@dataclass(frozen=True)
class Reading:
    wall: float  # seconds (perf_counter)
    own_cpu: float  # this process's CPU seconds, all threads
    busy: float | None  # busy CPU seconds of the allowed CPUs (None: no /proc/stat)
    run: float | None  # schedstat: seconds our threads ran (None: unreadable)
    wait: float | None  # schedstat: seconds our threads waited for a CPU


@dataclass(frozen=True)
class Contention:
    others_cpu: float | None  # cores other processes used on our CPUs, on average
    wait_fraction: float | None  # our threads' run-queue wait / their run time
    gpu_others: int = 0  # other processes on the case's GPU
    contended: bool = False

    def describe(self) -> str:
        parts = []
        if self.wait_fraction is not None:
            parts.append(f"threads waited {100 * self.wait_fraction:.0f}% of their run time")
        if self.others_cpu is not None:
            parts.append(f"other processes used {self.others_cpu:.2f} cores")
        if self.gpu_others:
            parts.append(f"{self.gpu_others} other process(es) on the GPU")
        return ", ".join(parts)


def allowed_cpus() -> set[int]:
    try:
        return os.sched_getaffinity(0)
    except (AttributeError, OSError):  # not Linux
        return set(range(os.cpu_count() or 1))


def _busy_seconds(cpus: set[int]) -> float | None:
    """CPU seconds spent busy (user, nice, system, irq, softirq, steal) on ``cpus``."""
    try:
        with open("/proc/stat") as f:
            lines = [line.split() for line in f if line.startswith("cpu")]
    except OSError:
        return None
    ticks = 0
    for fields in lines:
        name = fields[0]
        if name == "cpu" or int(name[3:]) not in cpus:
            continue
        v = [int(x) for x in fields[1:9]]
        ticks += v[0] + v[1] + v[2] + v[5] + v[6] + v[7]  # iowait and idle are not busy
    return ticks / os.sysconf("SC_CLK_TCK")


def _schedstat() -> tuple[float, float] | tuple[None, None]:
    """Seconds this process's threads ran and waited on a run queue (ns precision)."""
    run = wait = 0
    paths = glob.glob("/proc/self/task/*/schedstat")
    if not paths:
        return None, None
    for path in paths:
        try:
            with open(path) as f:
                fields = f.read().split()
        except OSError:  # the thread ended meanwhile: its time is gone, and small
            continue
        run += int(fields[0])
        wait += int(fields[1])
    return run / 1e9, wait / 1e9


def read(cpus: set[int] | None = None) -> Reading:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    run, wait = _schedstat()
    return Reading(
        wall=time.perf_counter(),
        own_cpu=usage.ru_utime + usage.ru_stime,
        busy=_busy_seconds(cpus if cpus is not None else allowed_cpus()),
        run=run,
        wait=wait,
    )


def judge(
    before: Reading, after: Reading, *, threads: int, cpus: int, gpu_others: int = 0
) -> Contention:
    """Contention between two readings, for a case running ``threads`` threads."""
    wall = after.wall - before.wall
    others = None
    if before.busy is not None and after.busy is not None and wall > 0:
        own = after.own_cpu - before.own_cpu
        others = max(0.0, (after.busy - before.busy - own) / wall)
    fraction = None
    if before.run is not None and after.run is not None:
        ran = after.run - before.run
        waited = after.wait - before.wait  # type: ignore[operator]
        fraction = waited / ran if ran > 0 else None
    if fraction is not None:
        busy = fraction > WAIT_LIMIT
    else:
        busy = others is not None and others > max(0, cpus - threads) + SPARE_CORES
    return Contention(others, fraction, gpu_others, busy or gpu_others > 0)


class Meter:
    """``with Meter(threads) as m: ...`` then ``m.result``: contention over the block."""

    def __init__(self, threads: int, gpu_others: Callable[[], int] | None = None) -> None:
        self._cpus = allowed_cpus()
        self._threads = threads
        self._gpu_others = gpu_others
        self.result: Contention | None = None

    def __enter__(self) -> Meter:
        self._before = read(self._cpus)
        return self

    def __exit__(self, *exc: object) -> None:
        after = read(self._cpus)
        gpu = self._gpu_others() if self._gpu_others else 0
        self.result = judge(
            self._before, after, threads=self._threads, cpus=len(self._cpus), gpu_others=gpu
        )
