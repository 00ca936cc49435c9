"""Compare two runs case by case: is head faster, slower or the same as base? (numpy only)

The units of evidence (:mod:`results.verdicts`), per case, best first:

- ``run``: when both sides hold the case in at least 2 runs (``group:NAME`` of repeated
  runs), each run's median is a unit: the interval sees the drift between runs.
- ``round``: when both sides' results have at least 2 rounds (each round a fresh worker
  process), each round's median is a unit: the interval sees the spread between
  processes, not the drift between runs, since a run's rounds share its machine state.
  The shards of a group hold each case once, so a group compares by the rounds of the
  shard that ran the case. Two or three rounds a side give few degrees of freedom and a
  wide interval: such a compare is often ``ambiguous``, and says so.
- ``sample``: one round on a side (imported pytest-benchmark files; ``--rounds 1``): a
  percentile bootstrap of the ratio of sample medians, the only spread one process
  shows. Drift between runs and processes is not measured, so the rule asks the change
  to exceed the threshold by the whole within-run interval.

Every unit takes the decision rule of :func:`results.verdicts.decide` on its interval
(default 99%): ``slower`` when the whole interval lies above ``1 + threshold``, ``faster``
when wholly below ``1 / (1 + threshold)``, ``same`` when wholly inside, ``ambiguous``
otherwise. For the sample bootstrap the rule tests "the change is larger than the
threshold" directly: in simulations (n = 10..100, lognormal noise, threshold 5%) pure
noise and true +2% changes are never called slower, +20% changes 95-100% of the time.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from results.records import CaseStatus, ResultRecord
from results.verdicts import (
    CaseVerdict,
    Change,
    Unit,
    Verdict,
    ambiguity_reason,
    decide,
    shift_change,
)

__all__ = [
    "CaseComparison",
    "CaseVerdict",
    "Change",
    "Verdict",
    "bootstrap_medians",
    "compare_runs",
    "compare_samples",
    "environment_diff",
    "merge_results",
    "sample_problem",
    "stable_seed",
    "unit_note",
]

RESAMPLES = 2000
MIN_SAMPLES = 5  # below this a bootstrap interval of the median means little
CONFIDENCE = 0.99


def compare_samples(
    base: Sequence[float],
    head: Sequence[float],
    *,
    threshold: float = 0.05,
    confidence: float = CONFIDENCE,
    seed: int = 0,
    resamples: int = RESAMPLES,
) -> Change:
    """The ratio of medians of ``head`` over ``base``, its bootstrap CI, and a verdict."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if threshold < 0:
        raise ValueError(f"threshold must be >= 0, got {threshold}")
    b, h = np.sort(np.asarray(base, dtype=float)), np.sort(np.asarray(head, dtype=float))
    for side, a in (("base", b), ("head", h)):
        if (problem := sample_problem(a)) is not None:
            raise ValueError(f"{side}: {problem}")
    return _compare_sorted(b, h, threshold, confidence, seed, resamples)


def _compare_sorted(
    b: np.ndarray, h: np.ndarray, threshold: float, confidence: float, seed: int, resamples: int
) -> Change:
    rng = np.random.default_rng(seed)
    ratios = np.sort(bootstrap_medians(h, rng, resamples) / bootstrap_medians(b, rng, resamples))
    alpha = 1 - confidence
    lo, hi = _quantile(ratios, alpha / 2), _quantile(ratios, 1 - alpha / 2)
    mb, mh = _quantile(b, 0.5), _quantile(h, 0.5)
    return Change(
        ratio=mh / mb,
        ci_low=lo,
        ci_high=hi,
        verdict=decide(lo, hi, threshold),
        significant=lo > 1 or hi < 1,
        unit="sample",
        confidence=confidence,
        base_level=mb,
        head_level=mh,
    )


def bootstrap_medians(
    sorted_samples: np.ndarray, rng: np.random.Generator, draws: int
) -> np.ndarray:
    """``draws`` medians of bootstrap resamples of ``sorted_samples``.

    Exact, and O(draws) whatever the sample size: a resample is ``x[floor(len * U_i)]`` for
    uniform U_i, so its k-th order statistic is ``x[floor(len * U_(k))]`` and
    ``U_(k) ~ Beta(k, len + 1 - k)``. For an even length the next order statistic, given
    U_(k), is the minimum of the len - k uniforms above it. Brute force (resample, then
    np.median) costs ~len times more: seconds for a suite of a thousand cases.
    """
    m = sorted_samples.size
    k = (m + 1) // 2
    u = rng.beta(k, m + 1 - k, size=draws)
    low = sorted_samples[np.minimum((u * m).astype(np.intp), m - 1)]
    if m % 2:
        return low
    # The minimum of m - k uniforms is Beta(1, m - k): 1 - V ** (1 / (m - k)), cheaper.
    u_next = u + (1 - u) * (1 - rng.random(draws) ** (1 / (m - k)))
    return (low + sorted_samples[np.minimum((u_next * m).astype(np.intp), m - 1)]) / 2


def sample_problem(sorted_samples: np.ndarray) -> str | None:
    """Why these samples (sorted ascending) cannot be compared, or None."""
    n = sorted_samples.size
    if n < MIN_SAMPLES:
        return f"{n} samples; at least {MIN_SAMPLES} are needed"
    if not (sorted_samples[0] > 0 and np.isfinite(sorted_samples[-1])):  # NaN sorts last
        return "samples must be finite and positive"
    return None


def _quantile(sorted_samples: np.ndarray, q: float) -> float:
    """np.quantile's default (linear) on a sorted array, without its per-call overhead."""
    a = sorted_samples
    if a.size == 1:
        return float(a[0])
    pos = q * (a.size - 1)
    i = min(int(pos), a.size - 2)
    return float(a[i] + (pos - i) * (a[i + 1] - a[i]))


# -- runs: match cases by key ------------------------------------------------------------

_PREFERENCE = {CaseStatus.OK: 2, CaseStatus.FAILED: 1, CaseStatus.SKIPPED: 0}


@dataclass(frozen=True)
class CaseComparison:
    case_key: str
    case_id: str
    verdict: CaseVerdict
    reason: str | None = None  # why the case is incomparable or ambiguous
    base_median: float | None = None  # each side's level (Change.base_level) or median
    head_median: float | None = None
    change: Change | None = None  # None when incomparable
    # Flags of the results used (DESIGN.md 4): IQR/median > 10% or rounds that disagree;
    # other processes competed for the CPU (or GPU) while the case was timed.
    noisy: bool = False
    contended: bool = False
    # The reason without its details, for counting: "missing in head", "failed in base",
    # "environment differs", results.verdicts.TOO_WIDE / STRADDLES, ...
    reason_kind: str | None = None


def merge_results(records: Iterable[ResultRecord]) -> dict[str, ResultRecord]:
    """One result per case key, in first-seen order: the shards of a group, or a resumed run.

    A resumed run may hold a key twice (skipped, then retried); the shards of a group hold
    each key once. Where a key repeats, ok beats failed beats skipped, then the later row.
    """
    merged: dict[str, ResultRecord] = {}
    for r in records:
        old = merged.get(r.case_key)
        if old is None or _PREFERENCE[r.status] >= _PREFERENCE[old.status]:
            merged[r.case_key] = r
    return merged


def compare_runs(
    base: Iterable[ResultRecord],
    head: Iterable[ResultRecord],
    *,
    base_fingerprint: str,
    head_fingerprint: str,
    threshold: float = 0.05,
    allow_env_mismatch: bool = False,
    confidence: float = CONFIDENCE,
) -> list[CaseComparison]:
    """Every case of either side, base's order first, with a verdict.

    Runs from different environments (fingerprints) make every case incomparable unless
    ``allow_env_mismatch``: a faster machine is not a faster commit. Results of several
    runs on a side (``run_id``) that each hold a case give the case ``run`` units.
    """
    base, head = list(base), list(head)
    b, h = merge_results(base), merge_results(head)
    b_runs, h_runs = _per_run(base), _per_run(head)
    env_reason = None
    if base_fingerprint != head_fingerprint and not allow_env_mismatch:
        env_reason = f"environment differs (fingerprint {base_fingerprint} vs {head_fingerprint})"
    out = []
    for key in [*b, *(k for k in h if k not in b)]:
        rb, rh = b.get(key), h.get(key)
        case_id = (rh if rh is not None else b[key]).case_id
        flags = {"noisy": _any((rb, rh), "noisy"), "contended": _any((rb, rh), "contended")}
        problem = (
            (env_reason, "environment differs")
            if env_reason
            else _incomparable(rb, "base") or _incomparable(rh, "head")
        )
        if problem is not None:
            shown = _median(rb), _median(rh)
            out.append(
                CaseComparison(
                    key,
                    case_id,
                    "incomparable",
                    problem[0],
                    *shown,
                    None,
                    **flags,
                    reason_kind=problem[1],
                )
            )
            continue
        assert rb is not None and rh is not None  # _incomparable said so
        units = _units(key, rb, rh, b_runs, h_runs)
        if units is None:
            ab, ah = _sorted(rb), _sorted(rh)
            change = _compare_sorted(ab, ah, threshold, confidence, stable_seed(key), RESAMPLES)
        else:
            unit, ub, uh, used = units
            change = shift_change(ub, uh, unit=unit, threshold=threshold, confidence=confidence)
            flags = {"noisy": _any(used, "noisy"), "contended": _any(used, "contended")}
        why, kind = None, None
        if change.verdict == "ambiguous":
            why, kind = ambiguity_reason(change, threshold)
        shown = change.base_level, change.head_level
        out.append(
            CaseComparison(
                key, case_id, change.verdict, why, *shown, change, **flags, reason_kind=kind
            )
        )
    return out


def unit_note(c: Change) -> str:
    """What a verdict's units measure, in a few words."""
    if c.unit == "run":
        return f"{c.n_base}+{c.n_head} runs: drift between runs measured"
    if c.unit == "round":
        return (
            f"{c.n_base}+{c.n_head} rounds: spread between processes measured, "
            "drift between runs not"
        )
    return "1 round: drift between runs not measured"


def _per_run(records: list[ResultRecord]) -> list[dict[str, ResultRecord]]:
    """The results of each run (``run_id``), merged within the run, in first-seen order."""
    by_run: dict[int | None, list[ResultRecord]] = {}
    for r in records:
        by_run.setdefault(r.run_id, []).append(r)
    return [merge_results(rs) for rs in by_run.values()]


def _units(
    key: str,
    rb: ResultRecord,
    rh: ResultRecord,
    b_runs: list[dict[str, ResultRecord]],
    h_runs: list[dict[str, ResultRecord]],
) -> tuple[Unit, list[float], list[float], list[ResultRecord]] | None:
    """The units of a case (run or round medians, and the results used); None: samples."""
    in_b = [rs[key] for rs in b_runs if _usable(rs.get(key))]
    in_h = [rs[key] for rs in h_runs if _usable(rs.get(key))]
    if len(in_b) >= 2 and len(in_h) >= 2:
        return "run", [_level(r) for r in in_b], [_level(r) for r in in_h], in_b + in_h
    if rb.rounds >= 2 or rh.rounds >= 2:
        # Rounds weigh alike on both sides even when only one side has several (a
        # single-round side is one unit): raw samples are never pooled across rounds.
        return "round", rb.round_medians, rh.round_medians, [rb, rh]
    return None


def _usable(r: ResultRecord | None) -> bool:
    return r is not None and _incomparable(r, "") is None


def _level(r: ResultRecord) -> float:
    s = r.stats
    assert s is not None
    return s.median


def stable_seed(case_key: str) -> int:
    """A bootstrap seed per case: verdicts reproduce, and cases draw independently."""
    return zlib.crc32(case_key.encode())


def _incomparable(r: ResultRecord | None, side: str) -> tuple[str, str] | None:
    """Why one side's result cannot be compared, and that reason's kind; None if it can."""
    if r is None:
        return f"missing in {side}", f"missing in {side}"
    if r.status != CaseStatus.OK:
        why = (r.error or "").strip().splitlines()
        kind = f"{r.status} in {side}"
        return kind + (f": {why[0]}" if why else ""), kind
    a = _sorted(r)
    if a is None:
        # Imported summaries only: a median without samples has no interval, and a
        # verdict without one would be the noise-blind comparison this module avoids.
        return f"no samples in {side}", f"no samples in {side}"
    problem = sample_problem(a)
    return (f"{side}: {problem}", f"unusable samples in {side}") if problem else None


def _sorted(r: ResultRecord | None) -> np.ndarray | None:
    return np.sort(np.asarray(r.samples, dtype=float)) if r is not None and r.samples else None


def _median(r: ResultRecord | None) -> float | None:
    """The result's headline median (the median of its round medians), or None."""
    s = r.stats if r is not None and r.samples else None
    return s.median if s is not None else None


def _any(results: Iterable[ResultRecord | None], what: str) -> bool:
    """A flag of any of ``results``: "noisy" (Stats.noisy) or "contended"."""
    rs = [r for r in results if r is not None]
    if what == "contended":
        return any(bool(r.contended) for r in rs)
    return any(s is not None and s.noisy for r in rs if r.samples and (s := r.stats) is not None)


def environment_diff(
    base: dict[str, Any], head: dict[str, Any], keys: Iterable[str] | None = None
) -> list[tuple[str, Any, Any]]:
    """``(key, base value, head value)`` for the keys (default: all) whose values differ."""
    names = sorted(set(base) | set(head)) if keys is None else list(keys)
    return [(k, base.get(k), head.get(k)) for k in names if base.get(k) != head.get(k)]
