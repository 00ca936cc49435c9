"""Rows of the result database as the dataclass records (results.records), and back."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, func, select

from results.errors import StoreError
from results.models import Environment, Result, Run
from results.records import CaseStatus, ResultRecord, RunRecord, RunStatus
from results.stats import Stats, summarize_many

RUN_SELECT = select(
    *Run.__table__.c, Environment.data.label("environment"), Environment.fingerprint
).join(Environment, Run.environment_id == Environment.id)

STAT_COLUMNS = ("median", "q1", "q3", "mean", "stdev", "min", "max")

# ResultRecord fields stored as columns (its other fields are derived or run-level)
RESULT_FIELDS = frozenset(
    {
        "id",
        "run_id",
        "case_key",
        "case_id",
        "workload",
        "params",
        "status",
        "error",
        "macs",
        "parameters",
        "bytes",
        "samples",
        "calls_per_sample",
        "target_met",
        "started_at",
        "duration_s",
        "round_sizes",
        "target",
        "contended",
        "others_cpu",
        "peak_memory",
        "compile_s",
        "clocks",
        "device_facts",
        "activation_bytes",
        "activation_bytes_efficient",
        "weight_bytes",
    }
)

# What add_round reads of a stored row to append a round to it.
ROUND_SELECT = tuple(
    Result.__table__.c[name]
    for name in (
        "id", "status", "error", "samples", "round_sizes", "calls_per_sample", "target_met",
        "started_at", "duration_s", "contended", "others_cpu", "target", "peak_memory",
        "compile_s", "clocks", "device_facts",
    )
)  # fmt: skip


def result_rows(run_id: int, records: list[ResultRecord]) -> list[dict[str, Any]]:
    """Rows for many results; single-round statistics computed in bulk (numpy, row-wise)."""
    bulk = summarize_many([r.samples for r in records])
    return [
        result_row(run_id, r, r.stats if len(r.round_sizes) > 1 else s or r.summary)
        for r, s in zip(records, bulk, strict=True)
    ]


def result_record(row: dict[str, Any]) -> ResultRecord:
    stats = {k: row.pop(k) for k in (*STAT_COLUMNS, "n_samples")}
    summary = None
    if not row["samples"] and stats["median"] is not None:  # statistics without samples
        summary = Stats(n=stats["n_samples"], **{k: stats[k] for k in STAT_COLUMNS})
    status = _enum(CaseStatus, row.pop("status"), f"result {row.get('id')}")
    row["round_sizes"] = list(row["round_sizes"] or [])
    return ResultRecord(**row, status=status, summary=summary)


def round_record(row: dict[str, Any], like: ResultRecord) -> ResultRecord:
    """The stored part of a case's row that add_round needs, as a record like ``like``."""
    samples = row["samples"] or []
    sizes = list(row["round_sizes"] or ([len(samples)] if samples else []))
    return replace(
        like,
        status=CaseStatus(row["status"]),
        error=row["error"],
        samples=samples,
        round_sizes=sizes,
        calls_per_sample=row["calls_per_sample"],
        target_met=row["target_met"],
        started_at=row["started_at"],
        duration_s=row["duration_s"],
        contended=row["contended"],
        others_cpu=row["others_cpu"],
        target=row["target"] if row["target"] is not None else like.target,
        peak_memory=row["peak_memory"],
        compile_s=row["compile_s"],
        clocks=row["clocks"],
        device_facts=row["device_facts"],
    )


def result_row(run_id: int, r: ResultRecord, s: Stats | None) -> dict[str, Any]:
    samples = list(map(float, r.samples))
    return {
        "run_id": run_id,
        "case_key": r.case_key,
        "case_id": r.case_id,
        "workload": r.workload,
        "params": r.params,
        "status": str(r.status),
        "error": r.error,
        "macs": r.macs,
        "parameters": r.parameters,
        "bytes": r.bytes,
        **{k: getattr(s, k) if s else None for k in STAT_COLUMNS},
        "n_samples": s.n if s else 0,  # a summary's own count when there are no samples
        "calls_per_sample": r.calls_per_sample,
        "target_met": r.target_met,
        "noisy": s.noisy if s else None,
        "samples": samples,
        "started_at": r.started_at,
        "duration_s": r.duration_s,
        "round_sizes": (list(r.round_sizes) or [len(samples)]) if samples else None,
        "round_medians": list(s.round_medians) if s and s.round_medians else None,
        "round_spread": s.round_spread if s else None,
        "target": r.target,
        "contended": r.contended,
        "others_cpu": r.others_cpu,
        "peak_memory": r.peak_memory,
        "compile_s": r.compile_s,
        "clocks": r.clocks,
        "device_facts": r.device_facts,
        "math_mode": (r.device_facts or {}).get("math_mode"),
        "activation_bytes": r.activation_bytes,
        "activation_bytes_efficient": r.activation_bytes_efficient,
        "weight_bytes": r.weight_bytes,
    }


# RunRecord fields stored as runs columns of the same name (written and read alike).
RUN_FIELDS = (
    "suite", "suite_digest", "label", "started_at", "finished_at", "heartbeat_at", "commit",
    "group", "shard", "planned", "suite_source", "plan", "rounds", "seed", "system",
    "peaks", "host", "pid",
)  # fmt: skip


def _enum(kind: Any, value: Any, what: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        known = ", ".join(str(k) for k in kind)
        raise StoreError(
            f"{what} has the status {value!r}, which bench does not know ({known}); was the "
            "database edited by hand?"
        ) from None


def run_record(row: Any, counts: dict[str, int]) -> RunRecord:
    return RunRecord(
        id=row.id,
        uid=row.uid,
        environment=row.environment,
        fingerprint=row.fingerprint,
        status=_enum(RunStatus, row.status, f"run {row.id}"),
        counts=counts,
        warnings=list(row.warnings or []),
        **{name: getattr(row, name) for name in RUN_FIELDS},
    )


def status_counts(conn: Connection, run_ids: list[int]) -> dict[int, dict[str, int]]:
    if not run_ids:
        return {}
    query = (
        select(Result.run_id, Result.status, func.count())
        .group_by(Result.run_id, Result.status)
        .where(Result.run_id.in_(run_ids))
    )
    out: dict[int, dict[str, int]] = {}
    for run_id, status, n in conn.execute(query):
        out.setdefault(run_id, {})[status] = n
    return out
