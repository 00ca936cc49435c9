"""Inserting runs, results and environments, and appending rounds, on a connection."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from results.models import Environment, Result, Run
from results.records import CaseStatus, ResultRecord, RunRecord
from results.rounds import merge_round
from results.rows import ROUND_SELECT, RUN_FIELDS, result_row, round_record


def insert_run(conn: Connection, run: RunRecord) -> tuple[int, str]:
    """Insert a run (and its environment, once per machine); its id and uid."""
    uid = run.uid or uuid.uuid4().hex
    env_id = _environment_id(conn, run.environment, run.fingerprint)
    run_id = conn.execute(
        Run.__table__.insert().values(
            uid=uid,
            status=str(run.status),
            environment_id=env_id,
            warnings=list(run.warnings),
            **{name: getattr(run, name) for name in RUN_FIELDS},
        )
    ).inserted_primary_key[0]
    return run_id, uid


def insert_result(conn: Connection, run_id: int, result: ResultRecord) -> ResultRecord:
    row = conn.execute(Result.__table__.insert().values(result_row(run_id, result, result.stats)))
    return replace(result, id=row.inserted_primary_key[0], run_id=run_id)


def latest_row(conn: Connection, run_id: int, case_key: str) -> Any:
    return conn.execute(
        select(*ROUND_SELECT)
        .where(Result.run_id == run_id, Result.case_key == case_key)
        .where(Result.status != str(CaseStatus.SKIPPED))
        .order_by(Result.id.desc())
        .limit(1)
    ).first()


def rounds_of(conn: Connection, run_id: int, case_key: str) -> int:
    """Rounds a case has in the run: 0 without a row, else len(round_sizes) (at least 1)."""
    row = latest_row(conn, run_id, case_key)
    if row is None:
        return 0
    return max(1, len(row.round_sizes or ()))


def append_round(conn: Connection, run_id: int, result: ResultRecord) -> ResultRecord:
    old = latest_row(conn, run_id, result.case_key)
    if old is None:
        return insert_result(conn, run_id, result)
    merged = merge_round(round_record(old._asdict(), result), result)
    values = result_row(run_id, merged, merged.stats)
    conn.execute(update(Result).where(Result.id == old.id).values(**values))
    return replace(merged, id=old.id, run_id=run_id)


def environment_digest(environment: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of the full environment: the deduplication key."""
    canonical = json.dumps(environment, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _environment_id(conn: Connection, environment: dict[str, Any], fingerprint: str) -> int:
    digest = environment_digest(environment)
    values = {"fingerprint": fingerprint, "digest": digest, "data": environment}
    dialect = conn.dialect.name
    # ON CONFLICT DO NOTHING: concurrent runners on one machine may insert the same row.
    if dialect in ("sqlite", "postgresql"):
        ins = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(Environment)
        conn.execute(ins.values(values).on_conflict_do_nothing(index_elements=["digest"]))
    elif conn.execute(select(Environment.id).where(Environment.digest == digest)).first() is None:
        conn.execute(Environment.__table__.insert().values(values))
    return conn.execute(select(Environment.id).where(Environment.digest == digest)).scalar_one()
