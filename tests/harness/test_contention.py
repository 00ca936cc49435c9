"""Contention: the readings are judged right, and a run beside busy loops says so."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from harness import contention
from harness.contention import Reading, judge
from harness.runner import run_suite
from harness.suites import parse_suite
from results.store import Store


def reading(wall: float, own: float, busy: float | None, run=None, wait=None) -> Reading:
    return Reading(wall=wall, own_cpu=own, busy=busy, run=run, wait=wait)


def test_runqueue_wait_decides_where_it_is_known() -> None:
    before = reading(0.0, 0.0, 0.0, run=0.0, wait=0.0)
    # 2 threads ran 1.8 s and waited 0.02 s in 1 s: idle enough
    quiet = judge(before, reading(1.0, 1.8, 1.85, run=1.8, wait=0.02), threads=2, cpus=2)
    assert not quiet.contended and quiet.wait_fraction == pytest.approx(0.02 / 1.8)
    assert quiet.others_cpu == pytest.approx(0.05)
    # they waited 40% of their run time: another process had their cores
    busy = judge(before, reading(1.0, 1.2, 2.0, run=1.2, wait=0.48), threads=2, cpus=2)
    assert busy.contended and busy.others_cpu == pytest.approx(0.8)
    # one thread on a 2-core machine beside one busy loop: others fit on the free core
    beside = judge(before, reading(1.0, 1.0, 2.0, run=1.0, wait=0.01), threads=1, cpus=2)
    assert not beside.contended and beside.others_cpu == pytest.approx(1.0)


def test_without_schedstat_others_beyond_the_free_cores_count() -> None:
    before = reading(0.0, 0.0, 0.0)
    fits = judge(before, reading(1.0, 1.0, 2.0), threads=1, cpus=2)
    assert not fits.contended and fits.wait_fraction is None
    crowded = judge(before, reading(1.0, 1.0, 2.5), threads=1, cpus=4)
    assert not crowded.contended  # 1.5 cores of others on 3 free cores
    over = judge(before, reading(1.0, 2.0, 2.4), threads=2, cpus=2)
    assert over.contended  # 0.4 cores of others, none free
    unknown = judge(before, reading(1.0, 1.0, None), threads=1, cpus=1)
    assert not unknown.contended and unknown.others_cpu is None


def test_another_process_on_the_gpu_is_contention() -> None:
    before = reading(0.0, 0.0, 0.0, run=0.0, wait=0.0)
    after = reading(1.0, 1.0, 1.0, run=1.0, wait=0.0)
    assert judge(before, after, threads=1, cpus=2, gpu_others=1).contended
    assert (
        "1 other process(es) on the GPU"
        in judge(before, after, threads=1, cpus=2, gpu_others=1).describe()
    )


def test_readings_count_this_process_time() -> None:
    """Our own CPU time, from getrusage and from schedstat, agrees with process_time."""
    before, t0 = contention.read(), time.process_time()
    while time.process_time() - t0 < 0.2:
        pass
    after, spent = contention.read(), time.process_time() - t0
    assert after.own_cpu - before.own_cpu == pytest.approx(spent, abs=0.02)
    if before.run is not None:
        assert after.run - before.run == pytest.approx(spent, abs=0.02)
    if before.busy is not None:  # /proc/stat ticks include our time (10 ms resolution)
        assert after.busy - before.busy >= spent - 0.05


BUSY = "import sys\nprint('ready', flush=True)\nwhile True:\n    pass\n"


@pytest.fixture
def busy_loops() -> Iterator[int]:
    """One busy-looping process per CPU this process may use, started and running."""
    cpus = len(contention.allowed_cpus())
    procs = [
        subprocess.Popen([sys.executable, "-c", BUSY], stdout=subprocess.PIPE, text=True)
        for _ in range(cpus)
    ]
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        yield cpus
    finally:
        for p in procs:
            p.kill()
            p.wait()


@pytest.mark.slow
def test_a_run_beside_busy_loops_is_contended_and_warns(tmp_path, busy_loops) -> None:
    threads = len(os.sched_getaffinity(0))
    suite = parse_suite(
        b"[timing]\nmin_time_ms = 200\nmax_time_ms = 400\nwarmup_ms = 20\n"
        b'[[sweep]]\nworkload = "conv"\nchannels = [16, 32]\nsize = 16\nthreads = '
        + str(threads).encode(),
        source="busy.toml",
        default_name="busy",
    )
    with Store.open(f"sqlite:///{tmp_path / 'r.db'}", create=True) as store:
        outcome = run_suite(suite, suite.cases, store, peaks=False, rounds=1)
        rows = store.results(outcome.run.id)
    assert [r.contended for r in rows] == [True, True]
    assert all(r.others_cpu is not None and r.others_cpu > 0.5 for r in rows)
    (warning,) = [w for w in outcome.run.warnings if w.startswith("the machine was busy")]
    assert "2 of 2 case(s) contended" in warning
