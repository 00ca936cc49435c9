"""Which shard runs which case: balanced by estimated time, the same on every machine.

A fleet waits for its slowest shard, so shards get equal *estimated work*, not equal
shares of keys (by key modulo N a 24-case suite split 8 + 16). The estimate comes from
the suite and the cost model only (no database, no clock), so every runner of a group,
and `--resume` later, computes the same assignment:

- a case takes about ``warm-up + max(min_time, min_samples × t_call)`` per round, where
  ``t_call`` is a roofline guess from its MACs and minimum bytes on a nominal device
  (what a case really costs is mostly its time budget: adaptive sampling stops at
  ``min_time`` once the target is met);
- speedup partners (``results.pairs``) go to one shard together, so they still run side
  by side in every round;
- units are placed largest first on the least loaded shard (LPT), ties broken by case
  key: within one case of each other when cases cost alike, and within 15% of the mean
  work for any suite with more units than shards (tested on the built-in suites).
"""

from __future__ import annotations

import heapq

from harness.cases import Case
from harness.costmodel import cost
from harness.schedule import units
from harness.timing_config import TimingOverrides

# Nominal devices for the guess: a few-core CPU and a data-centre GPU. Only the ratios
# between cases matter, and only for cases whose calls outlast their time budget.
_NOMINAL = {"cpu": (50e9, 20e9), "cuda": (100e12, 2e12), "mps": (5e12, 200e9)}
_BUILD_S = 0.2  # building, moving and checking a case's module, per round


def estimated_seconds(case: Case, timing: TimingOverrides) -> float:
    """A guess at the wall time of one round of ``case``."""
    config = timing.for_device(case.device)
    macs_per_s, bytes_per_s = _NOMINAL.get(case.device.partition(":")[0], _NOMINAL["cpu"])
    c = cost(case.workload, case.params)
    call = max(c.macs / macs_per_s, c.bytes / bytes_per_s, 1e-6)
    sampling = min(config.max_time, max(config.min_time, config.min_samples * call))
    return _BUILD_S + max(config.warmup_time, config.min_warmup_calls * call) + sampling


def assign(cases: list[Case], count: int, timing: TimingOverrides) -> dict[str, int]:
    """Case key -> shard index (0-based) for ``count`` shards."""
    if count < 1:
        raise ValueError("count must be at least 1")
    priced = [
        (sum(estimated_seconds(c, timing) for c in unit), min(c.key for c in unit), unit)
        for unit in units(cases)
    ]
    priced.sort(key=lambda p: (-p[0], p[1]))
    loads = [(0.0, i) for i in range(count)]  # (estimated seconds, shard): a min-heap
    out: dict[str, int] = {}
    for seconds, _, unit in priced:
        load, shard = heapq.heappop(loads)
        for c in unit:
            out[c.key] = shard
        heapq.heappush(loads, (load + seconds, shard))
    return out
