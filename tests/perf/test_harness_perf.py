"""Benchmarks of the harness's own hot paths (pytest-benchmark; `nox -s perf`).

Targets (issue 5, on a 2-core machine): expanding a 100,000-case suite under 2 s; storing
10,000 results of 100 samples each into SQLite at >= 5,000 results/s; loading them back
as a DataFrame under 1 s. The targets are asserted on the measured medians, so only when
benchmarks are enabled. Under the project's default `--benchmark-disable` each body runs
once, at small sizes, as a smoke test of the same code.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from harness.cases import Case
from harness.costmodel import cost
from results.records import CaseStatus, ResultRecord, RunRecord, RunStatus

CASES = 100_000  # suite expansion and pricing
RESULTS = 10_000  # storing and loading
SAMPLES = 100  # per result
ROUNDS = 3  # each round of the big benchmarks takes seconds: few rounds, median of them


@dataclass(frozen=True)
class Sizes:
    cases: int
    results: int


@pytest.fixture(scope="module")
def n(request: pytest.FixtureRequest) -> Sizes:
    """The issue's sizes when benchmarks run; small ones for the smoke run."""
    config = request.config
    if not config.getoption("benchmark_disable") or config.getoption("benchmark_enable"):
        return Sizes(CASES, RESULTS)
    return Sizes(2_000, 100)


def median(benchmark: Any) -> float | None:
    """The measured median in seconds, or None when benchmarks are disabled."""
    return benchmark.stats.stats.median if benchmark.stats else None


def suite_toml(cases: int) -> str:
    # 2 workloads x 5 kernels x 2 strides x 10 sizes x 10 batches x n channels.
    channels = cases // 2000
    assert channels * 2000 == cases
    return f"""
name = "big"
[[sweep]]
workload = ["conv", "separable"]
channels = {list(range(8, 8 * (channels + 1), 8))}
size = {list(range(8, 88, 8))}
batch = {list(range(1, 11))}
kernel = [1, 3, 5, 7, 9]
stride = [1, 2]
"""


@pytest.fixture(scope="module")
def big_suite(tmp_path_factory: pytest.TempPathFactory, n: Sizes) -> Path:
    path = tmp_path_factory.mktemp("perf") / "big.toml"
    path.write_text(suite_toml(n.cases))
    return path


def test_expand_100k_cases(benchmark, big_suite: Path, n: Sizes) -> None:
    from harness.suites import load_suite

    suite = benchmark.pedantic(load_suite, args=(str(big_suite),), rounds=ROUNDS)
    assert len(suite.cases) == n.cases
    benchmark.extra_info["cases"] = len(suite.cases)
    if (m := median(benchmark)) is not None:
        assert m < 2.0, f"expanding {CASES} cases took {m:.2f} s (target < 2 s)"


def test_price_100k_cases(benchmark, big_suite: Path, n: Sizes) -> None:
    from harness import costmodel
    from harness.suites import load_suite

    cases = load_suite(str(big_suite)).cases

    def price() -> list:
        return [cost(c.workload, c.params) for c in cases]

    # Cold: as `bench list` pays it, without the profile cache of an earlier round.
    costs = benchmark.pedantic(price, setup=costmodel._profile.cache_clear, rounds=ROUNDS)
    assert len(costs) == n.cases and all(c.macs > 0 for c in costs)
    benchmark.extra_info["cases"] = len(costs)


@pytest.fixture(scope="module")
def records(n: Sizes) -> list[ResultRecord]:
    rng = random.Random(0)
    out = []
    for i in range(n.results):
        case = Case.make("conv", channels=8 + i % 500, size=8 + i // 500, batch=1 + i % 7)
        base = 1e-4 * (1 + i % 13)
        out.append(
            ResultRecord(
                case_key=case.key,
                case_id=case.id,
                workload=case.workload,
                params=case.params,
                status=CaseStatus.OK,
                macs=1_000_000 + i,
                parameters=1_000 + i,
                bytes=10_000 + i,
                samples=[base * (1 + 0.05 * rng.random()) for _ in range(SAMPLES)],
                calls_per_sample=10,
                target_met=True,
                started_at=datetime.now(UTC),
                duration_s=0.5,
            )
        )
    return out


def new_run(store: Any) -> RunRecord:
    return store.start_run(
        RunRecord(
            suite="perf",
            suite_digest="0" * 64,
            environment={"cpu_model": "perf"},
            fingerprint="perf",
            started_at=datetime.now(UTC),
        )
    )


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[list]:
    opened: list = []
    yield opened
    for store in opened:
        store.close()


def test_store_10k_results(benchmark, records, stores: list, tmp_path: Path, n: Sizes) -> None:
    from results.store import Store

    def fresh() -> tuple[tuple, dict]:
        # Each round writes into a new database: opening and migrating are not timed.
        store = Store.open(f"sqlite:///{tmp_path / f'r{len(stores)}.db'}", create=True)
        stores.append(store)
        return (store, new_run(store).id), {}

    def store_all(store: Any, run_id: int) -> int:
        return store.add_results(run_id, records)

    assert benchmark.pedantic(store_all, setup=fresh, rounds=ROUNDS) == n.results
    assert len(stores[-1].results(1)) == n.results
    if (m := median(benchmark)) is not None:
        rate = n.results / m
        benchmark.extra_info["results_per_s"] = round(rate)
        assert rate >= 5000, f"stored {rate:.0f} results/s (target >= 5,000)"


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory, records) -> Iterator[Any]:
    from results.store import Store

    path = tmp_path_factory.mktemp("perf") / "filled.db"
    with Store.open(f"sqlite:///{path}", create=True) as store:
        run = new_run(store)
        store.add_results(run.id, records)
        store.finish_run(run.id, RunStatus.FINISHED)
        yield store


@pytest.mark.parametrize("samples", [False, True], ids=["frame", "frame+samples"])
def test_load_10k_results(benchmark, filled, samples: bool, n: Sizes) -> None:
    from results.frames import results_frame

    df = benchmark.pedantic(
        results_frame, args=(filled,), kwargs={"include_samples": samples}, rounds=5
    )
    assert len(df) == n.results and df["median"].notna().all()
    assert ("samples" in df.columns) == samples
    # The target is for the frame reports use; with samples it is measured for reference.
    if (m := median(benchmark)) is not None and not samples:
        assert m < 1.0, f"loading {RESULTS} results took {m:.2f} s (target < 1 s)"
