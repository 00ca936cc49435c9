"""A case's later round merged into the record of its rounds so far (pure, no database)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from results.records import CaseStatus, ResultRecord


def merge_round(stored: ResultRecord, new: ResultRecord) -> ResultRecord:
    """``stored`` (a case's rounds so far) with the round ``new`` appended."""
    rounds_before = len(stored.round_sizes) or (1 if stored.samples else 0)
    number = rounds_before + 1
    status, error = stored.status, stored.error
    if new.status != CaseStatus.OK and status == CaseStatus.OK:
        # A later round that failed, or was skipped (its device went away), leaves the
        # case short of its rounds: it is not the ok case it was planned as.
        what = new.error or str(new.status)
        if new.status == CaseStatus.SKIPPED:
            what = f"skipped: {what}"
        status, error = CaseStatus.FAILED, f"round {number}: {what}"
    samples, sizes = list(stored.samples), list(stored.round_sizes)
    if new.status == CaseStatus.OK and new.samples:
        samples += list(new.samples)
        sizes.append(len(new.samples))
    both = [x for x in (stored.others_cpu, new.others_cpu) if x is not None]
    met = [x for x in (stored.target_met, new.target_met) if x is not None]
    return replace(
        stored,
        status=status,
        error=error,
        samples=samples,
        round_sizes=sizes,
        # Every round sizes its blocks alike (same per-call time); keep the first's count.
        calls_per_sample=stored.calls_per_sample,
        target_met=all(met) if met else None,
        duration_s=(stored.duration_s or 0.0) + (new.duration_s or 0.0),
        contended=_any_true(stored.contended, new.contended),
        others_cpu=max(both) if both else None,
        peak_memory=_largest(stored.peak_memory, new.peak_memory),
        compile_s=stored.compile_s if stored.compile_s is not None else new.compile_s,
        clocks=merge_clocks(stored.clocks, new.clocks),
        device_facts=stored.device_facts or new.device_facts,
    )


def _largest(*values: int | None) -> int | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def merge_clocks(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any] | None:
    """Clock statistics of two rounds as one: extremes and dropped counts combined."""
    if not a or not b:
        return a or b
    out = dict(a)
    for key in ("sm_mhz_min", "threshold_mhz"):
        if key in a and key in b:
            out[key] = min(a[key], b[key])
    for key in ("sm_mhz_max", "default_mhz"):
        if key in a and key in b:
            out[key] = max(a[key], b[key])
    for key in ("batches", "dropped_batches", "dropped_samples"):
        out[key] = a.get(key, 0) + b.get(key, 0)
    return out


def _any_true(*flags: bool | None) -> bool | None:
    """True if any flag is, None if none was measured, else False."""
    known = [f for f in flags if f is not None]
    return any(known) if known else None
