"""`python -m harness.gpucheck`: the one-screen summary `nox -s gpu` prints on a GPU.

1. Timer agreement: bench's event timer against an independent one on a few cases —
   ``triton.testing.do_bench`` where triton is installed, else a loop of
   synchronize / perf_counter / call / synchronize around every call (slower to settle,
   and it includes launch latency, so short kernels read longer on it).
2. The roofs the latest run measured, per math mode.
3. The SM clocks over the run's samples and what was dropped as throttled; the run's
   warnings; ok / failed / skipped per execution mode.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from typing import Any

AGREEMENT_CASES = (
    {"workload": "conv", "channels": 256, "size": 56, "batch": 32, "dtype": "float16"},
    {"workload": "separable", "channels": 256, "size": 56, "batch": 32, "dtype": "float16"},
    {"workload": "depthwise", "channels": 256, "size": 56, "batch": 32, "dtype": "float32"},
    {"workload": "mobilenet_v2", "batch": 32, "dtype": "float16"},
)


def reference_ms(fn: Any, device: str) -> tuple[float, str]:
    """An independent median time per call in ms, and which timer gave it."""
    try:
        from triton.testing import do_bench
    except ImportError:
        import torch

        dev = torch.device(device)
        for _ in range(10):
            fn()
        times = []
        for _ in range(200):
            torch.cuda.synchronize(dev)
            t0 = time.perf_counter()
            fn()
            torch.cuda.synchronize(dev)
            times.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(times), "synchronize + perf_counter"
    return float(do_bench(fn, return_mode="median")), "triton.testing.do_bench"


def agreement(device: str) -> list[str]:
    import torch

    from harness.cases import Case
    from harness.execute import case_settings, prepare
    from harness.timers import measure, source_for
    from harness.timing_config import TimingConfig

    lines = []
    config = TimingConfig(min_time=0.3, max_time=2.0, warmup_time=0.05, block_time=1e-4)
    for spec in AGREEMENT_CASES:
        params = {k: v for k, v in spec.items() if k != "workload"}
        case = Case.make(spec["workload"], **params, device=device)
        with case_settings(case), torch.inference_mode():
            call = prepare(case).call
            ours = statistics.median(measure(call, config, source_for(device)).samples) * 1e3
            theirs, how = reference_ms(call, device)
        lines.append(
            f"  {case.id:<58} bench {ours:8.4f} ms  {how} {theirs:8.4f} ms  "
            f"ratio {ours / theirs:5.3f}"
        )
    return lines


def run_summary(db: str | None, ref: str) -> list[str]:
    from results.store import Store

    with Store.open(db) as store:
        run = store.resolve_run(ref)
        results = store.results(run.id)  # type: ignore[arg-type]
    lines = [f"run {run.uid[:8]} ({run.suite}, {len(results)} cases)"]  # type: ignore[index]
    for device, peaks in (run.peaks or {}).items():
        if not isinstance(peaks, dict) or "macs_per_s_by_mode" not in peaks:
            lines.append(f"  roofs {device}: not measured ({peaks})")
            continue
        roofs = ", ".join(
            f"{mode} {value / 1e12:.1f} TMAC/s"
            for mode, value in peaks["macs_per_s_by_mode"].items()
        )
        lines.append(f"  roofs {device}: {roofs}; copy {peaks['bytes_per_s'] / 1e12:.2f} TB/s")
    clocks = [r.clocks for r in results if r.clocks]
    if clocks:
        lows = [c["sm_mhz_min"] for c in clocks if c.get("sm_mhz_min")]
        dropped = sum(c.get("dropped_batches", 0) for c in clocks)
        batches = sum(c.get("batches", 0) for c in clocks)
        lines.append(
            f"  SM clock: default {clocks[0].get('default_mhz')} MHz, lowest seen "
            f"{min(lows) if lows else '?'} MHz; {dropped} of {batches} batches dropped as "
            f"throttled in {sum(c.get('dropped_batches', 0) > 0 for c in clocks)} case(s)"
        )
    else:
        lines.append("  SM clock: not read (install nvidia-ml-py: pip install 'bench[gpu]')")
    by_mode = Counter((r.params.get("mode", "eager"), str(r.status)) for r in results)
    for mode in ("eager", "compile", "cuda_graph"):
        counts = ", ".join(f"{n} {s}" for (m, s), n in sorted(by_mode.items()) if m == mode)
        lines.append(f"  mode {mode}: {counts or 'no case'}")
    compile_s = [r.compile_s for r in results if r.compile_s]
    if compile_s:
        lines.append(f"  compile time: {min(compile_s):.1f}-{max(compile_s):.1f} s per case")
    for r in results:
        if str(r.status) == "failed":
            lines.append(f"  FAILED {r.case_id}: {(r.error or '').splitlines()[0][:120]}")
    lines += [f"  warning: {w}" for w in run.warnings]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.gpucheck", description=__doc__)
    parser.add_argument("--db", default=None, help="database of the run (default: BENCH_DB)")
    parser.add_argument("--run", default="latest", help="the run to summarise")
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print("no CUDA device: nothing to check")
        return 0
    print(f"== {torch.cuda.get_device_name(0)} · torch {torch.__version__} ==")
    print("timer agreement (median per call):")
    for line in agreement(args.device):
        print(line)
    for line in run_summary(args.db, args.run):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
