"""History analysis: which cases got slower (or faster) and stayed so? (no torch)

For each case of a suite, over its logical runs ordered by start time and restricted to
the fingerprint of the newest run, the *baseline* is the previous ``window`` runs before
the last ``recent`` ones. A case regressed when each of the recent runs, compared with the
baseline by :func:`results.compare.compare_samples`, is ``slower`` (improved: ``faster``).

The baseline pools the raw samples of its runs rather than taking the median of their
medians: ``compare_samples`` needs samples for its interval, and the pooled sample carries
the run-to-run spread into that interval (a mixture of shifted runs is wider). Its median
is robust to one odd baseline run out of several. Requiring *every* recent run to clear
the threshold with its whole interval is what keeps one noisy night from paging anyone.

Runs that share a ``group`` (the shards of one nightly) count as one logical run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from results.compare import (
    CaseVerdict,
    Change,
    compare_samples,
    merge_results,
    sample_problem,
    stable_seed,
)
from results.records import CaseStatus, ResultRecord, RunRecord

if TYPE_CHECKING:
    from results.store import Store

WINDOW = 5
RECENT = 2


@dataclass(frozen=True)
class LogicalRun:
    """One run, or the runs of one group (shards of one nightly), and their results."""

    runs: tuple[RunRecord, ...]
    results: dict[str, ResultRecord] = field(default_factory=dict)  # case key -> result

    @property
    def started_at(self) -> datetime:
        return min(r.started_at for r in self.runs)

    @property
    def name(self) -> str:
        """The group, or the run's uid prefix."""
        return self.runs[0].group or self.runs[0].uid[:8]  # type: ignore[index]

    @property
    def ids(self) -> tuple[int, ...]:
        return tuple(r.id for r in self.runs)  # type: ignore[misc]

    @property
    def uids(self) -> tuple[str, ...]:
        return tuple(r.uid for r in self.runs)  # type: ignore[misc]


@dataclass(frozen=True)
class Trend:
    """One case's recent runs against its baseline."""

    suite: str
    case_key: str
    case_id: str
    verdict: CaseVerdict
    reason: str | None  # why incomparable
    change: Change | None  # the recent runs pooled, against the baseline
    recent_changes: tuple[Change, ...]  # each recent run against the baseline, oldest first
    baseline: tuple[LogicalRun, ...]  # runs whose samples form the baseline
    recent: tuple[LogicalRun, ...]


@dataclass
class History:
    trends: list[Trend] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # suites skipped, and why

    def with_verdict(self, verdict: CaseVerdict) -> list[Trend]:
        return [t for t in self.trends if t.verdict == verdict]


def logical_runs(runs: Iterable[RunRecord]) -> list[LogicalRun]:
    """Group runs by ``group`` (ungrouped runs stand alone), oldest first; no results."""
    by_key: dict[str, list[RunRecord]] = {}
    for r in runs:
        by_key.setdefault(f"group:{r.group}" if r.group else f"run:{r.id}", []).append(r)
    merged = [LogicalRun(tuple(sorted(rs, key=lambda r: r.id or 0))) for rs in by_key.values()]
    return sorted(merged, key=lambda lr: (lr.started_at, lr.ids))


def analyze(
    suite: str,
    history: Sequence[LogicalRun],
    *,
    window: int = WINDOW,
    recent: int = RECENT,
    threshold: float = 0.05,
) -> list[Trend]:
    """Trends of the cases of the newest run of ``history`` (oldest first, with results)."""
    if window < 1 or recent < 1:
        raise ValueError("window and recent must be at least 1")
    if len(history) < recent + 1:
        return []
    last = tuple(history[-recent:])
    before = tuple(history[-recent - window : -recent])
    return [
        _trend(suite, key, case.case_id, before, last, threshold)
        for key, case in last[-1].results.items()
    ]


def _trend(
    suite: str,
    key: str,
    case_id: str,
    before: tuple[LogicalRun, ...],
    last: tuple[LogicalRun, ...],
    threshold: float,
) -> Trend:
    def incomparable(reason: str) -> Trend:
        return Trend(suite, key, case_id, "incomparable", reason, None, (), (), last)

    for lr in last:
        if (problem := _problem(lr.results.get(key))) is not None:
            return incomparable(f"{problem} in recent run {lr.name}")
    baseline = tuple(lr for lr in before if _problem(lr.results.get(key)) is None)
    if not baseline:
        return incomparable(f"no ok result in the {len(before)} runs before the recent ones")
    pooled = [x for lr in baseline for x in lr.results[key].samples]
    seed = stable_seed(key)

    def against_baseline(samples: list[float]) -> Change:
        return compare_samples(pooled, samples, threshold=threshold, seed=seed)

    each = tuple(against_baseline(lr.results[key].samples) for lr in last)
    overall = against_baseline([x for lr in last for x in lr.results[key].samples])
    verdicts = {c.verdict for c in each}
    verdict: CaseVerdict = verdicts.pop() if len(verdicts) == 1 else "same"
    return Trend(suite, key, case_id, verdict, None, overall, each, baseline, last)


def _problem(r: ResultRecord | None) -> str | None:
    if r is None:
        return "missing"
    if r.status != CaseStatus.OK:
        return str(r.status)
    return sample_problem(np.sort(np.asarray(r.samples, dtype=float)))


def find_regressions(
    store: Store,
    *,
    suite: str | None = None,
    label: str | None = None,
    window: int = WINDOW,
    recent: int = RECENT,
    threshold: float = 0.05,
) -> History:
    """:func:`analyze` each suite (or just ``suite``) over the runs with ``label``, if given."""
    runs = store.runs(suite=suite, label=label)  # newest first
    out = History()
    if not runs:
        which = ", ".join(f"{k} {v!r}" for k, v in (("suite", suite), ("label", label)) if v)
        out.notes.append(f"no runs{' with ' + which if which else ''}")
    for name in sorted({r.suite for r in runs}):
        of_suite = [r for r in runs if r.suite == name]
        newest = of_suite[0]
        # Only runs on the newest run's kind of machine: another GPU is not a regression.
        history = logical_runs(r for r in of_suite if r.fingerprint == newest.fingerprint)
        if len(history) < recent + 1:
            out.notes.append(
                f"suite {name}: {len(history)} run(s) with fingerprint {newest.fingerprint}; "
                f"need at least {recent + 1} (--recent {recent}, plus a baseline)"
            )
            continue
        loaded = [_load(store, lr) for lr in history[-(window + recent) :]]
        out.trends.extend(analyze(name, loaded, window=window, recent=recent, threshold=threshold))
    return out


def _load(store: Store, lr: LogicalRun) -> LogicalRun:
    results = merge_results(x for r in lr.runs for x in store.results(r.id))  # type: ignore[arg-type]
    return LogicalRun(lr.runs, results)
