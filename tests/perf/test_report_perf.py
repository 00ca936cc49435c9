"""How long ``bench report`` takes: build_site for 10,000 results over 100 runs.

Budget: under 10 s on a 2-core machine. With ``--benchmark-disable`` (the project's
default addopts) the build runs once and is still held to the budget; run with
``--benchmark-enable`` (or ``--benchmark-only``) for the statistics.
"""

from __future__ import annotations

import time

import pytest

from reports.site import build_site
from tests.reports.synthetic import make_frames  # the root is on sys.path (pyproject)

BUDGET_S = 10.0


@pytest.fixture(scope="module")
def database():
    runs, results = make_frames(100)
    assert len(runs) == 100 and len(results) == 10_000
    return runs, results


@pytest.mark.slow
@pytest.mark.benchmark(group="reports", min_rounds=3, warmup=False)
def test_build_site_10k_results_100_runs(benchmark, database, tmp_path):
    runs, results = database
    started = time.perf_counter()
    index = benchmark.pedantic(
        build_site, args=(runs, results, tmp_path), rounds=3, iterations=1, warmup_rounds=0
    )
    elapsed = time.perf_counter() - started
    assert index == tmp_path / "index.html"
    assert len(list(tmp_path.glob("run-*.html"))) == 100
    if benchmark.stats is not None:  # benchmarks enabled: three rounds, judge the median
        assert benchmark.stats.stats.median < BUDGET_S
    else:  # --benchmark-disable: one round
        assert elapsed < BUDGET_S
