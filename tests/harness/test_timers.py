"""The sampling loop and statistics, driven by a deterministic fake clock."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from harness.timers import HostSource, measure
from harness.timing_config import TimingConfig, TimingOverrides
from results.stats import median_ci, rel_ci_halfwidth, summarize


class FakeClock:
    """A nanosecond clock that only moves when the fake workload runs."""

    def __init__(self, durations_ns):
        self.now_ns = 0
        self.calls = 0
        self._durations = iter(durations_ns)

    def clock(self) -> int:
        return self.now_ns

    def fn(self) -> None:
        self.calls += 1
        self.now_ns += next(self._durations)


def run(durations_ns, **config):
    clock = FakeClock(durations_ns)
    m = measure(clock.fn, TimingConfig(**config), HostSource(clock.clock))
    return m, clock


def test_constant_calls_are_blocked_to_block_time_and_stop_at_min_time() -> None:
    # 100 us per call, blocks of >= 1 ms -> 10 calls per sample, each sample exactly 100 us.
    m, clock = run(
        itertools.repeat(100_000),
        min_time=0.05,
        max_time=1.0,
        warmup_time=0.01,
        block_time=1e-3,
        min_samples=10,
        target=0.01,
    )
    assert m.calls_per_sample == 10
    assert set(m.samples) == {100e-6}
    assert m.target_met
    # Stopped at the first check after min_time: 50 samples of 1 ms (checked every 10).
    assert len(m.samples) == 50
    assert math.isclose(m.elapsed, 0.05)


def test_min_samples_is_honoured_even_for_slow_calls() -> None:
    m, _ = run(
        itertools.repeat(2_000_000_000),
        min_time=0.1,
        max_time=1.0,
        warmup_time=0.0,
        min_warmup_calls=1,
        min_samples=10,
    )
    assert len(m.samples) == 10
    assert m.calls_per_sample == 1
    assert m.target_met  # identical samples: a zero-width CI


def test_noise_that_never_settles_stops_at_max_time() -> None:
    # Alternating 1 ms and 3 ms calls: the median's CI never narrows to +-1%.
    m, _ = run(
        itertools.cycle([1_000_000, 3_000_000]),
        min_time=0.1,
        max_time=0.5,
        warmup_time=0.0,
        min_warmup_calls=2,
        block_time=1e-6,
        target=0.01,
    )
    assert not m.target_met
    assert 0.5 <= m.elapsed < 0.5 + 0.2  # at most one batch of overshoot
    assert set(m.samples) == {1e-3, 3e-3}


def test_target_met_once_ci_is_tight_enough() -> None:
    # Mostly 1.000 ms with a rare 1.5 ms outlier: the median CI is tight, so it stops.
    pattern = [1_000_000] * 19 + [1_500_000]
    m, _ = run(
        itertools.cycle(pattern),
        min_time=0.05,
        max_time=5.0,
        warmup_time=0.0,
        min_warmup_calls=3,
        block_time=1e-6,
        target=0.01,
    )
    assert m.target_met
    assert rel_ci_halfwidth(m.samples) <= 0.01
    assert m.elapsed < 1.0


def test_warmup_excludes_first_call_costs_from_block_sizing() -> None:
    # The first call pays 50 ms (autotuning, allocation); later calls take 10 us.
    durations = itertools.chain([50_000_000], itertools.repeat(10_000))
    m, clock = run(
        durations, min_time=0.01, max_time=1.0, warmup_time=0.06, block_time=1e-3, min_samples=10
    )
    assert m.calls_per_sample == 100  # sized from 10 us, not from the 50 ms first call
    assert m.warmup_calls > 3
    assert all(s == pytest.approx(10e-6) for s in m.samples)


def test_cold_mode_times_single_calls() -> None:
    m, _ = run(itertools.repeat(10_000), min_time=0.001, warmup_time=0.0, cold=True)
    assert m.calls_per_sample == 1


def test_summary_statistics() -> None:
    s = summarize([1, 2, 3, 4, 5, 6, 7, 8, 9])
    assert (s.n, s.median, s.q1, s.q3, s.min, s.max) == (9, 5, 3, 7, 1, 9)
    assert s.iqr == 4
    assert s.mean == 5
    assert s.stdev == pytest.approx(np.std(range(1, 10), ddof=1))
    assert s.rel_iqr == pytest.approx(0.8)
    assert s.noisy
    assert not summarize([1.0, 1.01, 1.02, 0.99]).noisy


def test_median_ci_covers_the_median_at_its_nominal_rate() -> None:
    rng = np.random.default_rng(1)
    hits = 0
    for _ in range(400):
        x = rng.lognormal(0.0, 0.5, size=51)  # true median 1.0
        lo, hi = median_ci(x)
        hits += lo <= 1.0 <= hi
    assert 0.91 <= hits / 400 <= 0.99


def test_timing_overrides_apply_per_device() -> None:
    over = TimingOverrides(min_time_ms=200, max_time_ms=100)
    assert over.check() is not None  # min above max is a suite error
    ok = TimingOverrides(min_time_ms=200, cold=True)
    cpu, cuda = ok.for_device("cpu"), ok.for_device("cuda:1")
    assert cpu.min_time == cuda.min_time == 0.2
    assert cpu.warmup_time == 0.1 and cuda.warmup_time == 0.025
    assert cuda.cold
