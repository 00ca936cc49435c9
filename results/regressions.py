"""History analysis: which cases got slower (or faster) and stayed so? (no torch)

For each case of a suite, over its logical runs ordered by start time and restricted to
the fingerprint of the newest run, the *baseline* is the ``window`` runs (default 15)
before the last ``recent`` ones (default 3).

**Unit: the run.** Each logical run contributes one value, the case's median in that run
(the median of its round medians), whatever its sample count: a disturbed run that kept
sampling for ten times longer weighs no more than a quiet one. The level of the baseline
is the 20%-trimmed mean of its log run medians, so one odd night does not move it; the
recent level is the mean of the recent runs'. The interval of their ratio is a t-interval
whose spread is the winsorized sd of the run medians around each level, pooled over
baseline and recent runs (:func:`results.verdicts.level_shift`): it carries the drift
between nights that the samples inside a run cannot show, and recent runs that disagree
(one odd night) widen it. Default confidence 90%: each end is a one-sided 95% bound.

**Verdicts** (:func:`results.verdicts.decide`): ``slower`` when the whole interval lies
above ``1 + threshold``, ``faster`` when below ``1 / (1 + threshold)``, ``same`` when
inside, ``ambiguous`` when it straddles a threshold or when fewer than ``min_baseline``
(default 3) baseline runs hold an ok result. ``incomparable``: the case is missing,
failed, skipped or without samples in one of the recent runs.

**Why these defaults.** Simulated histories (tests/verdict_sim.py, run through
:func:`analyze`'s arithmetic in tests/results/test_verdict_simulation.py): run effects of
sd 2-10%, unequal sample counts, one baseline run +10% with 10x the samples. Nothing
changed: at most ~3% of cases are flagged (at sd 10%); a +20% change held over the
recent runs is flagged in 94-96% of cases at sd 6% (100% at 2%). Detection at sd 6%
(with the outlier run) by window and recent runs: 5 and 2, 67% (53%); 15 and 2, 90%
(86%); 10 and 3, 93% (89%); 15 and 3, 96% (94%). The recent runs matter most: the level
of 3 nights is what the interval compares; a +20% regression on quiet nights is
flagged on its second or third night (``ambiguous`` before), a larger one sooner.

**Where it changed.** For each flagged case, :func:`results.changepoint.step_fit` over
the run medians of the baseline and recent runs names the first run at the new level.

Runs that share a ``group`` (the shards of one nightly) count as one logical run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from results.changepoint import step_fit
from results.compare import merge_results
from results.records import CaseStatus, ResultRecord, RunRecord
from results.stats import Stats
from results.verdicts import CaseVerdict, Change, ambiguity_reason, shift_change

if TYPE_CHECKING:
    from results.store import Store

WINDOW = 15
RECENT = 3
MIN_BASELINE = 3
CONFIDENCE = 0.90
THIN_BASELINE = "too few baseline runs"  # the kind of that ambiguous reason


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
    reason: str | None  # why incomparable or ambiguous
    change: Change | None  # recent level against the baseline level (unit: run)
    recent_ratios: tuple[float, ...]  # each recent run's median / the baseline level
    baseline: tuple[LogicalRun, ...]  # runs whose medians form the baseline
    recent: tuple[LogicalRun, ...]
    reason_kind: str | None = None  # the reason without run names, for counting
    changed_at: LogicalRun | None = None  # first run at the new level (slower/faster)
    step_ratio: float | None = None  # level after the step / level before it
    noisy_runs: tuple[str, ...] = ()  # names of runs used where the case was noisy
    contended_runs: tuple[str, ...] = ()  # ... where other processes competed for the CPU


@dataclass
class History:
    trends: list[Trend] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # suites skipped or thin, and why
    window: int = WINDOW
    recent: int = RECENT
    min_baseline: int = MIN_BASELINE
    confidence: float = CONFIDENCE

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
    min_baseline: int = MIN_BASELINE,
    confidence: float = CONFIDENCE,
) -> list[Trend]:
    """Trends of the cases of the newest run of ``history`` (oldest first, with results)."""
    if window < 1 or recent < 1 or min_baseline < 2:
        raise ValueError("window and recent must be at least 1, min_baseline at least 2")
    if len(history) < recent + 1:
        return []
    last = tuple(history[-recent:])
    before = tuple(history[-recent - window : -recent])
    judge = _Judge(threshold, min_baseline, confidence)
    return [
        judge.trend(suite, key, case.case_id, before, last)
        for key, case in last[-1].results.items()
    ]


@dataclass(frozen=True)
class _Judge:
    threshold: float
    min_baseline: int
    confidence: float

    def trend(
        self,
        suite: str,
        key: str,
        case_id: str,
        before: tuple[LogicalRun, ...],
        last: tuple[LogicalRun, ...],
    ) -> Trend:
        case = {"suite": suite, "case_key": key, "case_id": case_id, "recent": last}
        for lr in last:
            if (problem := _problem(lr.results.get(key))) is not None:
                return Trend(
                    **case,
                    verdict="incomparable",
                    reason=f"{problem} in recent run {lr.name}",
                    reason_kind=f"{problem} in a recent run",
                    change=None,
                    recent_ratios=(),
                    baseline=(),
                )
        baseline = tuple(lr for lr in before if _problem(lr.results.get(key)) is None)
        used = baseline + last
        stats = [_stats(lr, key) for lr in used]  # derived from the samples: once each
        case["noisy_runs"] = tuple(lr.name for lr, s in zip(used, stats, strict=True) if s.noisy)
        case["contended_runs"] = tuple(lr.name for lr in used if lr.results[key].contended)
        if len(baseline) < self.min_baseline:
            return Trend(
                **case,
                verdict="ambiguous",
                reason=(
                    f"{len(baseline)} ok baseline run(s) in the {len(before)} before the "
                    f"recent ones; at least {self.min_baseline} needed (--min-baseline)"
                ),
                reason_kind=THIN_BASELINE,
                change=None,
                recent_ratios=(),
                baseline=baseline,
            )
        base = [s.median for s in stats[: len(baseline)]]
        head = [s.median for s in stats[len(baseline) :]]
        change = shift_change(
            base, head, unit="run", threshold=self.threshold, confidence=self.confidence
        )
        assert change.base_level is not None
        reason, kind = None, None
        if change.verdict == "ambiguous":
            reason, kind = ambiguity_reason(change, self.threshold)
        elif change.verdict in ("slower", "faster") and (step := step_fit(base + head)):
            case["changed_at"], case["step_ratio"] = used[step.index], step.ratio
        return Trend(
            **case,
            verdict=change.verdict,
            reason=reason,
            reason_kind=kind,
            change=change,
            recent_ratios=tuple(m / change.base_level for m in head),
            baseline=baseline,
        )


def _stats(lr: LogicalRun, key: str) -> Stats:
    """The statistics of a result that _problem accepted (it has samples)."""
    s = lr.results[key].stats
    assert s is not None
    return s


def _problem(r: ResultRecord | None) -> str | None:
    """Why a result is no unit of evidence: missing, failed, skipped, no samples, bad."""
    if r is None:
        return "missing"
    if r.status != CaseStatus.OK:
        return str(r.status)
    if not r.samples:
        return "no samples"
    a = np.asarray(r.samples, dtype=float)
    if not (np.all(np.isfinite(a)) and a.min() > 0):
        return "bad samples"
    return None


def find_regressions(
    store: Store,
    *,
    suite: str | None = None,
    label: str | None = None,
    window: int = WINDOW,
    recent: int = RECENT,
    threshold: float = 0.05,
    min_baseline: int = MIN_BASELINE,
    confidence: float = CONFIDENCE,
) -> History:
    """:func:`analyze` each suite (or just ``suite``) over the runs with ``label``, if given."""
    runs = store.runs(suite=suite, label=label)  # newest first
    out = History(window=window, recent=recent, min_baseline=min_baseline, confidence=confidence)
    if not runs:
        which = ", ".join(f"{k} {v!r}" for k, v in (("suite", suite), ("label", label)) if v)
        out.notes.append(f"no runs{' with ' + which if which else ''}")
    for name in sorted({r.suite for r in runs}):
        of_suite = [r for r in runs if r.suite == name]
        newest = of_suite[0]
        # Only runs on the newest run's kind of machine: another GPU is not a regression.
        history = logical_runs(r for r in of_suite if r.fingerprint == newest.fingerprint)
        have = f"suite {name}: {len(history)} run(s) with fingerprint {newest.fingerprint}"
        if len(history) < recent + 1:
            out.notes.append(
                f"{have}; need at least {recent + 1} (--recent {recent}, plus a baseline), "
                f"and {recent + min_baseline} for a verdict (--min-baseline {min_baseline})"
            )
            continue
        if len(history) < recent + min_baseline:
            out.notes.append(
                f"{have}; a verdict needs {recent + min_baseline} (--recent {recent} plus "
                f"--min-baseline {min_baseline}): every case is ambiguous until then"
            )
        loaded = [_load(store, lr) for lr in history[-(window + recent) :]]
        out.trends.extend(
            analyze(
                name,
                loaded,
                window=window,
                recent=recent,
                threshold=threshold,
                min_baseline=min_baseline,
                confidence=confidence,
            )
        )
    return out


def _load(store: Store, lr: LogicalRun) -> LogicalRun:
    results = merge_results(x for r in lr.runs for x in store.results(r.id))  # type: ignore[arg-type]
    return LogicalRun(lr.runs, results)
