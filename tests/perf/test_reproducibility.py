"""Do bench's numbers reproduce? Run-to-run spread with 1 and 3 rounds, and a case timed
alone against the same case after a 512-channel conv in the same worker.

Benchmarks, not unit tests: they run only under `nox -s perf` (benchmarks enabled), take
a few minutes, and write their figures to the JSON's extra_info (quoted in the README).
Configurations are interleaved so that drifts of the machine hit each alike.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

SUITE = """
[timing]
min_time_ms = 300
max_time_ms = 2000

[[sweep]]
workload = "separable"
channels = 64
size = 56
batch = 8
threads = 1

[[sweep]]
workload = "conv"
channels = 64
size = 28
threads = 1

[[sweep]]
workload = "depthwise"
channels = 128
size = 56
threads = 1

[[sweep]]
workload = "mobilenet_v2"
alpha = 0.35
resolution = 128
threads = 1
"""
RUNS = 5


def enabled(benchmark) -> None:
    if benchmark.disabled:
        pytest.skip("a benchmark: run with --benchmark-enable (nox -s perf)")


def bench(*args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def cv(values: list[float]) -> float:
    return statistics.stdev(values) / statistics.mean(values)


def test_run_to_run_spread_with_one_and_three_rounds(benchmark, tmp_path: Path) -> None:
    """Five `bench run`s per setting, interleaved: the coefficient of variation of each
    case's median across runs, with --rounds 1 and --rounds 3."""
    enabled(benchmark)
    suite = tmp_path / "four.toml"
    suite.write_text(SUITE)
    db = f"sqlite:///{tmp_path / 'r.db'}"
    medians: dict[int, dict[str, list[float]]] = {1: {}, 3: {}}

    def once() -> None:
        for _ in range(RUNS):
            for rounds in (1, 3):
                bench("run", str(suite), "--db", db, "--no-peaks", "--rounds", str(rounds))
                shown = json.loads(bench("show", "latest", "--db", db, "--json"))
                for r in shown["results"]:
                    medians[rounds].setdefault(r["case_id"], []).append(r["median"])

    benchmark.pedantic(once, rounds=1, iterations=1)
    spread = {
        rounds: {case: cv(values) for case, values in by_case.items()}
        for rounds, by_case in medians.items()
    }
    benchmark.extra_info["cv_of_run_medians"] = spread
    benchmark.extra_info["medians"] = medians
    print(json.dumps(spread, indent=1))
    for rounds in (1, 3):
        assert len(spread[rounds]) == 4 and all(len(v) == RUNS for v in medians[rounds].values())


def test_a_case_alone_and_after_a_big_conv(benchmark) -> None:
    """The same case in a fresh worker, alone or after a 512-channel conv in that worker
    (ABBA, 4 pairs): the ratio of its medians, which DESIGN.md 4 wants within 5%."""
    enabled(benchmark)
    from harness.cases import Case
    from harness.timing_config import TimingConfig
    from harness.worker import ProcessExecutor

    case = Case.make("separable", channels=64, size=56, batch=8, threads=1)
    big = Case.make("conv", channels=512, size=56, batch=2, threads=1)
    config = TimingConfig(min_time=0.5, max_time=3.0)

    def timed(after_big: bool) -> float:
        executor = ProcessExecutor()
        try:
            if after_big:
                assert executor.run_case(big, config).status == "ok"
            record = executor.run_case(case, config)
            assert record.status == "ok", record.error
            return record.stats.median
        finally:
            executor.close()

    alone: list[float] = []
    after: list[float] = []

    def pairs() -> None:
        for i in range(4):
            first_big = i % 2 == 1  # ABBA
            for which in (first_big, not first_big):
                (after if which else alone).append(timed(which))

    benchmark.pedantic(pairs, rounds=1, iterations=1)
    ratios = [b / a for a, b in zip(alone, after, strict=True)]
    ratio = statistics.median(ratios)
    benchmark.extra_info.update(alone=alone, after=after, ratio=ratio)
    print(f"after / alone: {ratio:.3f} (pairs: {', '.join(f'{r:.3f}' for r in ratios)})")
    assert abs(ratio - 1) < 0.05
