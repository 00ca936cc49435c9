"""Typed records that cross the boundary between the harness and the store.

These are plain dataclasses (no SQLAlchemy, no torch) so that the harness, the store,
the reports and users' own scripts share one vocabulary.
"""

from __future__ import annotations

import enum
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from results.errors import UsageError
from results.stats import Stats, summarize


class CaseStatus(enum.StrEnum):
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    FINISHED = "finished"  # every case has a row; some may be failed or skipped
    INTERRUPTED = "interrupted"  # Ctrl-C, or a crash detected by a stale heartbeat


STALE_AFTER_ENV = "BENCH_STALE_AFTER"
DEFAULT_STALE_AFTER = timedelta(minutes=10)  # runners beat every ~30 s


def worst_status(statuses: Iterable[str]) -> str | None:
    """The status a group of runs shows: stale, running or interrupted if any run is (in
    that order), else None (every run finished)."""
    shown = set(statuses)
    return next((s for s in ("stale", "running", "interrupted") if s in shown), None)


def stale_after() -> timedelta:
    """How long a running run may stay silent: $BENCH_STALE_AFTER seconds, else 10 min.

    From 1 ms (shorter rounds to nothing) to 10 years (315,360,000 s; a timedelta
    overflows near 2.7 million years, and no runner is silent for a decade).
    """
    raw = os.environ.get(STALE_AFTER_ENV)
    if not raw:
        return DEFAULT_STALE_AFTER
    low, high = 0.001, 10 * 365 * 86_400
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and low <= seconds <= high):
        shown = raw if len(raw) <= 40 else f"{raw[:37]}..."
        raise UsageError(
            f"{STALE_AFTER_ENV}={shown!r}: expected a number of seconds from {low} to "
            f"{high:,} (10 years), e.g. 600"
        )
    return timedelta(seconds=seconds)


@dataclass
class RunRecord:
    """One invocation of ``bench run`` (or one import)."""

    suite: str
    suite_digest: str
    environment: dict[str, Any]
    fingerprint: str  # digest of the comparable part of the environment
    started_at: datetime
    label: str | None = None
    status: RunStatus = RunStatus.RUNNING
    finished_at: datetime | None = None
    commit: str | None = None  # the bench project's git commit, when known
    group: str | None = None  # shards of one logical run share a group
    shard: str | None = None  # "I/N"
    heartbeat_at: datetime | None = None
    planned: int | None = None  # number of cases this run intends to execute
    suite_source: str | None = None  # built-in name or absolute path: what --resume loads
    plan: dict[str, Any] | None = None  # {"device": ..., "filters": [...]}: for --resume
    rounds: int = 1  # times the plan runs, each round in fresh worker processes
    seed: int | None = None  # shuffles the case order of each round (harness.schedule)
    warnings: list[str] = field(default_factory=list)  # what may have disturbed the numbers
    system: dict[str, Any] | None = None  # state at start that changes per run (load, ...)
    peaks: dict[str, Any] | None = None  # measured device peaks, for the roofline
    host: str | None = None  # where the runner process lives, for --resume
    pid: int | None = None
    # assigned by the store
    id: int | None = None
    uid: str | None = None
    counts: dict[str, int] = field(default_factory=dict)  # status -> count, filled on read

    def is_stale(self, now: datetime | None = None, after: timedelta | None = None) -> bool:
        """Running, but silent for longer than ``after``: its process was most likely killed.

        Derived on read, never written: a reader cannot tell a dead runner from a slow
        network, and a runner that wakes up again goes on writing its rows.
        """
        if self.status != RunStatus.RUNNING:
            return False
        last = self.heartbeat_at or self.started_at
        return (now or datetime.now(UTC)) - last > (after or stale_after())

    def shown_status(self, now: datetime | None = None) -> str:
        """``stale`` for a stale run, else the stored status."""
        return "stale" if self.is_stale(now) else str(self.status)


@dataclass
class ResultRecord:
    """One case of one run: its identity, cost, outcome and raw samples."""

    case_key: str
    case_id: str
    workload: str
    params: dict[str, Any]
    status: CaseStatus
    error: str | None = None
    macs: int | None = None
    parameters: int | None = None
    bytes: int | None = None  # minimum bytes moved (cost model), for the roofline
    activation_bytes: int | None = None  # cost model: largest live activations, eager
    activation_bytes_efficient: int | None = None  # the MobileNetV2 paper's accounting
    weight_bytes: int | None = None  # cost model: parameters x dtype size
    samples: list[float] = field(default_factory=list)  # seconds per call, one per sample
    # How many of ``samples`` each round took, in round order; [] means one round.
    round_sizes: list[int] = field(default_factory=list)
    calls_per_sample: int = 1
    target_met: bool | None = None
    started_at: datetime | None = None
    duration_s: float | None = None  # wall time spent on the case, warm-up included
    target: float | None = None  # the precision it was timed for (also: round tolerance)
    # Other processes competed for the case's CPUs (or GPU) while it was timed, in any
    # round; ``others_cpu``: the most cores they used, on average over a round.
    contended: bool | None = None
    others_cpu: float | None = None
    peak_memory: int | None = None  # bytes one call allocates (untimed pass); None: unknown
    compile_s: float | None = None  # mode = compile: torch.compile's time (not a sample)
    clocks: dict[str, Any] | None = None  # GPU SM clock statistics over the sampling
    device_facts: dict[str, Any] | None = None  # the case's own device (name, index, ...)
    # Statistics that came without raw samples (an imported file that kept only its
    # summary). Ignored when there are samples: statistics are derived from those.
    summary: Stats | None = None
    # assigned by the store
    id: int | None = None
    run_id: int | None = None

    @property
    def stats(self) -> Stats | None:
        if not self.samples:
            return self.summary
        return summarize(self.samples, self.round_sizes, self.target)

    @property
    def rounds(self) -> int:
        """Rounds that produced samples (1 for a single-round or imported result)."""
        return max(1, len(self.round_sizes))

    @property
    def round_medians(self) -> list[float]:
        """The median of each round, in round order ([median] for one round)."""
        s = self.stats
        return list(s.round_medians) if s and s.round_medians else ([s.median] if s else [])
