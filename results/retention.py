"""Which runs `bench prune` deletes: all but the newest N per suite and label (no SQL).

A group (the shards of one nightly) counts as one run and goes whole, so a kept night is
never left with half its shards. Runs still running (and groups holding one) are neither
deleted nor counted: a nightly in progress does not push a finished one out.
"""

from __future__ import annotations

from collections.abc import Iterable

from results.records import RunRecord, RunStatus


def units(runs: Iterable[RunRecord]) -> list[list[RunRecord]]:
    """Runs gathered into logical runs (a group, or a run alone), newest first."""
    by_key: dict[str, list[RunRecord]] = {}
    for r in runs:
        by_key.setdefault(f"group:{r.group}" if r.group else f"run:{r.id}", []).append(r)
    return sorted(
        by_key.values(), key=lambda rs: max((r.started_at, r.id or 0) for r in rs), reverse=True
    )


def to_prune(runs: Iterable[RunRecord], keep: int) -> list[RunRecord]:
    """The runs beyond the newest ``keep`` logical runs of each (suite, label)."""
    if keep < 0:
        raise ValueError("keep must be at least 0")
    by_series: dict[tuple[str, str | None], list[list[RunRecord]]] = {}
    for unit in units(runs):
        if any(r.status == RunStatus.RUNNING for r in unit):
            continue
        by_series.setdefault((unit[0].suite, unit[0].label), []).append(unit)
    out = [r for series in by_series.values() for unit in series[keep:] for r in unit]
    return sorted(out, key=lambda r: r.id or 0)


def refuse_running(runs: Iterable[RunRecord]) -> list[RunRecord]:
    """The runs among ``runs`` that are running and alive (not stale): never deleted."""
    return [r for r in runs if r.status == RunStatus.RUNNING and not r.is_stale()]
