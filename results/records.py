"""Typed records that cross the boundary between the harness and the store.

These are plain dataclasses (no SQLAlchemy, no torch) so that the harness, the store,
the reports and users' own scripts share one vocabulary.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from results.stats import Stats, summarize


class CaseStatus(enum.StrEnum):
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    FINISHED = "finished"  # every case has a row; some may be failed or skipped
    INTERRUPTED = "interrupted"  # Ctrl-C, or a crash detected by a stale heartbeat


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
    # assigned by the store
    id: int | None = None
    uid: str | None = None
    counts: dict[str, int] = field(default_factory=dict)  # status -> count, filled on read


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
    samples: list[float] = field(default_factory=list)  # seconds per call, one per sample
    calls_per_sample: int = 1
    target_met: bool | None = None
    started_at: datetime | None = None
    duration_s: float | None = None  # wall time spent on the case, warm-up included
    # assigned by the store
    id: int | None = None
    run_id: int | None = None

    @property
    def stats(self) -> Stats | None:
        return summarize(self.samples) if self.samples else None
