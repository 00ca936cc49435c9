"""Does bench's host timer agree with torch.utils.benchmark on the same CPU case?

A benchmark, not a unit test: it runs only under `nox -s perf` (benchmarks enabled).
The two timers are interleaved round by round so that drifts in machine load hit both
alike; the figure is the ratio of their medians, written to the JSON's extra_info.
"""

from __future__ import annotations

import statistics

import pytest

ROUNDS = 12  # alternating which timer goes first (ABBA), so drift hits both alike


def test_host_timer_agrees_with_torch_benchmark(benchmark) -> None:
    if benchmark.disabled:
        pytest.skip("a benchmark: run with --benchmark-enable (nox -s perf)")
    import torch
    import torch.utils.benchmark as tb

    from harness.cases import Case
    from harness.execute import case_settings, prepare
    from harness.timers import HostSource, measure
    from harness.timing_config import TimingConfig

    case = Case.make("conv", channels=64, size=28, threads=1)
    # torch's adaptive_autorange times blocks of >= 10 ms; use the same block length so
    # that this compares the timers, not two block policies (on a busy machine a median
    # of short blocks dodges interference that a long block's mean absorbs).
    config = TimingConfig(min_time=0.3, max_time=2.0, block_time=0.01)
    ours, theirs = [], []
    with case_settings(case), torch.inference_mode():
        call = prepare(case).call
        timer = tb.Timer(stmt="call()", globals={"call": call}, num_threads=1)

        def bench_timer() -> None:
            ours.append(statistics.median(measure(call, config, HostSource()).samples))

        def torch_timer() -> None:
            m = timer.adaptive_autorange(threshold=0.01, min_run_time=0.3, max_run_time=2.0)
            theirs.append(m.median)

        def one_round() -> None:
            first, second = (
                (bench_timer, torch_timer) if len(ours) % 2 else (torch_timer, bench_timer)
            )
            first()
            second()

        benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    # The median of the per-round ratios: each pair was measured back to back, so slow
    # drifts of the machine (frequency, neighbours) cancel within a pair.
    ratio = statistics.median(o / t for o, t in zip(ours, theirs, strict=True))
    benchmark.extra_info.update(
        bench_median_s=statistics.median(ours),
        torch_median_s=statistics.median(theirs),
        ratio=ratio,
        rounds_bench_s=ours,
        rounds_torch_s=theirs,
        case=case.id,
    )
    print(
        f"\nbench {statistics.median(ours) * 1e6:.1f} us, "
        f"torch.utils.benchmark {statistics.median(theirs) * 1e6:.1f} us, ratio {ratio:.3f}"
    )
    assert abs(ratio - 1) < 0.05
