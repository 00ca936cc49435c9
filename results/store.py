"""The result store: open (and migrate) a database, write runs and results, read them back.

SQLite files are the default; any SQLAlchemy URL works (PostgreSQL for a fleet).
Opening checks the database *before* writing anything, so a wrong ``--db`` (a text file,
another application's database, a schema from a newer bench) leaves it untouched.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
import uuid
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from sqlalchemy import Connection, Engine, delete, exc, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

from results.connect import (
    check_and_upgrade,
    check_sqlite_file,
    describe,
    open_engine,
    sqlite_path,
)
from results.dberrors import translate
from results.errors import RunNotFound, StoreError
from results.models import Environment, Result, Run
from results.records import CaseStatus, ResultRecord, RunRecord, RunStatus
from results.stats import Stats, summarize_many

MIN_PREFIX = 4  # shortest uid prefix accepted by resolve_run

_Method = TypeVar("_Method", bound=Callable[..., Any])


def _guarded(method: _Method) -> _Method:
    """Database errors leave a Store method as StoreErrors (results.dberrors): one line
    saying what happened to which database, and whether it is worth retrying."""

    @functools.wraps(method)
    def wrapper(self: Store, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except (exc.DBAPIError, sqlite3.Error) as e:
            raise translate(e, self._where) from e
        except json.JSONDecodeError as e:  # a JSON column edited by hand
            raise StoreError(
                f"{self._where}: a stored value is not valid JSON ({e}); was the database "
                "edited by hand? Fix or delete that row"
            ) from e

    return wrapper  # type: ignore[return-value]


def default_url() -> str:
    """``BENCH_DB`` if set, else ``./.bench/results.db`` (absolute) as an SQLite URL."""
    env = os.environ.get("BENCH_DB")
    if env:
        return env
    return "sqlite:///" + str(Path.cwd().resolve() / ".bench" / "results.db")


class Store:
    """A connection to one result database. Use :meth:`open`, not the constructor."""

    def __init__(self, engine: Engine, where: str):
        self._engine = engine
        # Writers take SQLite's write lock at BEGIN, so read-then-write never hits
        # SQLITE_BUSY_SNAPSHOT (which the busy timeout cannot retry).
        self._writer = engine.execution_options(bench_begin="BEGIN IMMEDIATE")
        self._where = where

    # -- opening --------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str | None = None, *, create: bool = False) -> Store:
        """Open the database at ``url`` (default: :func:`default_url`).

        ``create=True`` (writers) creates a missing SQLite file and its folder, and the
        schema of an empty database. In both modes a database at an older schema revision
        is upgraded to head: readers must be able to read what an older bench wrote.
        Nothing else is written by a reader; an empty database is refused.
        """
        raw = url or default_url()
        try:
            sa_url = make_url(raw)
        except exc.ArgumentError as e:
            hint = f"; for a file, write sqlite:///{raw}" if "://" not in raw else ""
            raise StoreError(f"not a database URL: {raw!r} ({e}){hint}") from e
        where = describe(sa_url)

        if sa_url.get_backend_name() == "sqlite":
            path = sqlite_path(sa_url)
            if path is not None:
                check_sqlite_file(path, where, create=create)
        engine = open_engine(sa_url, where)
        try:
            check_and_upgrade(engine, where, create=create)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, where)

    @property
    def shown_url(self) -> str:
        """The URL to print: the password hidden (CI logs show what bench prints)."""
        return self._engine.url.render_as_string(hide_password=True)

    @property
    def url(self) -> str:
        """The full URL (password included, so it can be reopened); ``str()`` hides it."""
        return self._engine.url.render_as_string(hide_password=False)

    @property
    def where(self) -> str:
        """The database as messages name it: a file's path, or the URL without password."""
        return self._where

    def __repr__(self) -> str:
        return f"Store({self._where})"

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- writing --------------------------------------------------------------------------

    @_guarded
    def start_run(self, run: RunRecord) -> RunRecord:
        """Insert ``run``; returns a copy with ``id`` and ``uid`` (kept if already set)."""
        with self._writer.begin() as conn:
            run_id, uid = _insert_run(conn, run)
        return replace(run, id=run_id, uid=uid, counts={})

    @_guarded
    def add_result(self, run_id: int, result: ResultRecord) -> ResultRecord:
        """Insert one result and commit at once (a crash loses at most the case in flight)."""
        with self._writer.begin() as conn:
            self._require_run(conn, run_id)
            return _insert_result(conn, run_id, result)

    @_guarded
    def add_round(self, run_id: int, result: ResultRecord) -> ResultRecord:
        """Add a later round of a case to its row (inserting one if it has none yet).

        The round's samples are appended and the statistics derived again, in one
        transaction: a crash loses at most the round in flight. A failed round makes the
        case failed (its error names the round) and keeps the samples of earlier rounds.
        """
        with self._writer.begin() as conn:
            self._require_run(conn, run_id)
            return _append_round(conn, run_id, result)

    @_guarded
    def replay(self, run_id: int, entries: Iterable[tuple[int, ResultRecord]]) -> int:
        """Write journaled case-rounds ``(round number of the case, record)`` in order, in
        one transaction; a round the database already has is skipped, so a journal can be
        replayed twice. Returns how many were written."""
        written = 0
        with self._writer.begin() as conn:
            self._require_run(conn, run_id)
            for number, record in entries:
                have = _rounds_of(conn, run_id, record.case_key)
                if number <= have or (
                    have
                    and record.status != CaseStatus.OK
                    and (_latest_row(conn, run_id, record.case_key).status != str(CaseStatus.OK))
                ):
                    continue  # written already (a failed round adds no round_sizes entry)
                if have == 0:
                    _insert_result(conn, run_id, record)
                else:
                    _append_round(conn, run_id, record)
                written += 1
        return written

    @_guarded
    def add_results(self, run_id: int, results: Iterable[ResultRecord]) -> int:
        """Insert many results in one transaction (executemany); returns how many."""
        rows = _result_rows(run_id, list(results))
        if not rows:
            return 0
        with self._writer.begin() as conn:
            self._require_run(conn, run_id)
            conn.execute(Result.__table__.insert(), rows)
        return len(rows)

    @_guarded
    def import_run(self, run: RunRecord, results: list[ResultRecord]) -> RunRecord:
        """Store a finished run and all its results in one transaction: all or nothing."""
        with self._writer.begin() as conn:
            run_id, _ = _insert_run(conn, run)
            if rows := _result_rows(run_id, results):
                conn.execute(Result.__table__.insert(), rows)
        return self.get_run(run_id)

    @_guarded
    def finish_run(
        self,
        run_id: int,
        status: RunStatus,
        finished_at: datetime | None = None,
        *,
        warnings: list[str] | None = None,
    ) -> None:
        """Mark the run ended; ``warnings`` (if given) replace the stored ones."""
        when = finished_at or datetime.now(UTC)  # also the run's last sign of life
        extra = {} if warnings is None else {"warnings": list(warnings)}
        self._update_run(run_id, status=str(status), finished_at=when, heartbeat_at=when, **extra)

    @_guarded
    def heartbeat(self, run_id: int) -> None:
        self._update_run(run_id, heartbeat_at=datetime.now(UTC))

    @_guarded
    def reopen_run(
        self,
        run_id: int,
        *,
        quiet_since: datetime | None = None,
        owner: tuple[str | None, int | None] | None = None,
        new_owner: tuple[str, int] | None = None,
    ) -> bool:
        """Mark a run running again for ``--resume``; its skipped rows go (they may run now).

        With ``quiet_since``, a run that is running and beat after that moment is left
        alone and False comes back: two resumers of one stale run cannot both take it.
        With ``owner`` (host, pid), a running run is taken only while it still names that
        runner, whatever its heartbeat: the resumer found that process gone, and of two
        resumers only the first takes it over. ``new_owner`` is recorded as the runner.
        """
        now = datetime.now(UTC)
        running = {"status": str(RunStatus.RUNNING), "finished_at": None, "heartbeat_at": now}
        if new_owner is not None:
            running.update(host=new_owner[0], pid=new_owner[1])
        query = update(Run).where(Run.id == run_id).values(**running)
        not_running = Run.status != str(RunStatus.RUNNING)
        if owner is not None:
            same = (Run.host == owner[0]) & (Run.pid == owner[1])
            query = query.where(not_running | same)
        elif quiet_since is not None:
            last = func.coalesce(Run.heartbeat_at, Run.started_at)
            query = query.where(not_running | (last < quiet_since))
        with self._writer.begin() as conn:
            self._require_run(conn, run_id)
            if conn.execute(query).rowcount == 0:
                return False
            skipped = Result.run_id == run_id, Result.status == str(CaseStatus.SKIPPED)
            conn.execute(delete(Result).where(*skipped))
        return True

    def _update_run(self, run_id: int, **values: Any) -> None:
        with self._writer.begin() as conn:
            n = conn.execute(update(Run).where(Run.id == run_id).values(**values)).rowcount
        if n == 0:
            raise RunNotFound(f"no run with id {run_id} in {self._where}")

    def _require_run(self, conn: Connection, run_id: int) -> None:
        if conn.execute(select(Run.id).where(Run.id == run_id)).first() is None:
            raise RunNotFound(f"no run with id {run_id} in {self._where}")

    # -- reading --------------------------------------------------------------------------

    @_guarded
    def runs(
        self, *, suite: str | None = None, label: str | None = None, group: str | None = None
    ) -> list[RunRecord]:
        """Runs, newest first, with ``counts`` (status -> number of results) filled."""
        query = _RUN_SELECT.order_by(Run.started_at.desc(), Run.id.desc())
        for column, value in ((Run.suite, suite), (Run.label, label), (Run.group, group)):
            if value is not None:
                query = query.where(column == value)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
            counts = _counts(conn, [r.id for r in rows])
        return [_run_record(r, counts.get(r.id, {})) for r in rows]

    @_guarded
    def get_run(self, run_id: int) -> RunRecord:
        with self._engine.connect() as conn:
            row = conn.execute(_RUN_SELECT.where(Run.id == run_id)).first()
            if row is None:
                raise RunNotFound(f"no run with id {run_id} in {self._where}")
            return _run_record(row, _counts(conn, [run_id]).get(run_id, {}))

    @_guarded
    def resolve_run(self, ref: str) -> RunRecord:
        """A run from a CLI reference: id, ``latest``, ``latest:LABEL`` or a uid prefix."""
        ref = ref.strip()
        if ref == "latest" or ref.startswith("latest:"):
            label = ref.partition(":")[2] or None
            found = self.runs(label=label)
            if not found:
                what = f"with label {label!r} " if label else ""
                raise RunNotFound(f"no run {what}in {self._where}")
            return found[0]
        if ref.isdecimal() and int(ref) < 2**63:  # beyond: no id, perhaps a uid prefix
            try:
                return self.get_run(int(ref))
            except RunNotFound:
                if len(ref) < MIN_PREFIX:
                    raise
        prefix = ref.lower()
        if len(prefix) < MIN_PREFIX or any(c not in "0123456789abcdef" for c in prefix):
            raise RunNotFound(
                f"bad RUN {ref!r}: expected a run id, `latest`, `latest:LABEL` "
                f"or at least {MIN_PREFIX} hex digits of a run's unique id"
            )
        with self._engine.connect() as conn:
            ids = conn.execute(
                select(Run.id, Run.uid).where(Run.uid.startswith(prefix)).order_by(Run.id).limit(6)
            ).all()
        if not ids:
            raise RunNotFound(f"no run id or unique id starting with {ref!r} in {self._where}")
        if len(ids) > 1:
            listed = ", ".join(f"{r.uid} (id {r.id})" for r in ids[:5])
            more = ", ..." if len(ids) > 5 else ""
            raise RunNotFound(f"ambiguous RUN {ref!r}: matches {listed}{more}; give more digits")
        return self.get_run(ids[0].id)

    @_guarded
    def resolve_runs(self, ref: str) -> list[RunRecord]:
        """A RUN reference (see resolve_run) or ``group:NAME``: every run of the group,
        oldest first (its shards, and any shard run again)."""
        ref = ref.strip()
        if not ref.startswith("group:"):
            return [self.resolve_run(ref)]
        name = ref.partition(":")[2]
        runs = sorted(self.runs(group=name), key=lambda r: (r.started_at, r.id or 0))
        if not name or not runs:
            raise RunNotFound(f"no run in group {name!r} in {self._where}")
        return runs

    @_guarded
    def delete_runs(self, run_ids: Iterable[int]) -> int:
        """Delete runs with their results (and environments no run uses any more).

        One transaction: all of them or none. Callers decide which runs may go; a run
        that is still running would go on writing into nothing.
        """
        ids = sorted(set(run_ids))
        if not ids:
            return 0
        with self._writer.begin() as conn:
            conn.execute(delete(Result).where(Result.run_id.in_(ids)))
            n = conn.execute(delete(Run).where(Run.id.in_(ids))).rowcount
            used = select(Run.environment_id).distinct()
            conn.execute(delete(Environment).where(Environment.id.not_in(used)))
        return n

    @_guarded
    def results(self, run_id: int) -> list[ResultRecord]:
        """All results of a run, in insertion order, with their samples."""
        cols = [c for c in Result.__table__.c if c.name in _RESULT_FIELDS]
        stat_cols = [Result.__table__.c[k] for k in (*_STAT_COLUMNS, "n_samples")]
        with self._engine.connect() as conn:
            self._require_run(conn, run_id)
            query = select(*cols, *stat_cols).where(Result.run_id == run_id).order_by(Result.id)
            return [_result_record(row._asdict()) for row in conn.execute(query)]

    def done_case_keys(self, run_id: int) -> set[str]:
        """Keys of the cases a resumed run need not repeat (ok or failed; skipped may retry)."""
        return set(self.case_rounds(run_id))

    @_guarded
    def case_rounds(self, run_id: int) -> dict[str, tuple[CaseStatus, int]]:
        """Per case key with an ok or failed row: its status and how many rounds it has.

        A failed case is not run again (its row says why); an ok case lacking rounds is.
        """
        done = (str(CaseStatus.OK), str(CaseStatus.FAILED))
        query = (
            select(Result.case_key, Result.status, Result.round_sizes)
            .where(Result.run_id == run_id, Result.status.in_(done))
            .order_by(Result.id)
        )
        with self._engine.connect() as conn:
            return {
                key: (CaseStatus(status), max(1, len(sizes or ())))
                for key, status, sizes in conn.execute(query)
            }

    @_guarded
    def contention(self, run_id: int) -> tuple[int, int, float]:
        """(cases contended, cases measured for it, most cores others used) of a run."""
        query = select(
            func.count().filter(Result.contended.is_(True)),
            func.count(Result.contended),
            func.max(Result.others_cpu).filter(Result.contended.is_(True)),
        ).where(Result.run_id == run_id)
        with self._engine.connect() as conn:
            contended, measured, worst = conn.execute(query).one()
        return contended, measured, worst or 0.0

    @property
    def engine(self) -> Engine:
        """For read-only queries by ``results.frames`` and users' own analysis."""
        return self._engine


# -- rows <-> records -------------------------------------------------------------------

_RUN_SELECT = select(
    *Run.__table__.c, Environment.data.label("environment"), Environment.fingerprint
).join(Environment, Run.environment_id == Environment.id)

_STAT_COLUMNS = ("median", "q1", "q3", "mean", "stdev", "min", "max")

# ResultRecord fields stored as columns (its other fields are derived or run-level)
_RESULT_FIELDS = frozenset(
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
_ROUND_SELECT = tuple(
    Result.__table__.c[name]
    for name in (
        "id", "status", "error", "samples", "round_sizes", "calls_per_sample", "target_met",
        "started_at", "duration_s", "contended", "others_cpu", "target", "peak_memory",
        "compile_s", "clocks", "device_facts",
    )
)  # fmt: skip


def _insert_run(conn: Connection, run: RunRecord) -> tuple[int, str]:
    """Insert a run (and its environment, once per machine); its id and uid."""
    uid = run.uid or uuid.uuid4().hex
    env_id = _environment_id(conn, run.environment, run.fingerprint)
    run_id = conn.execute(
        Run.__table__.insert().values(
            uid=uid,
            status=str(run.status),
            environment_id=env_id,
            warnings=list(run.warnings),
            **{name: getattr(run, name) for name in _RUN_FIELDS},
        )
    ).inserted_primary_key[0]
    return run_id, uid


def _insert_result(conn: Connection, run_id: int, result: ResultRecord) -> ResultRecord:
    row = conn.execute(Result.__table__.insert().values(_result_row(run_id, result, result.stats)))
    return replace(result, id=row.inserted_primary_key[0], run_id=run_id)


def _latest_row(conn: Connection, run_id: int, case_key: str) -> Any:
    return conn.execute(
        select(*_ROUND_SELECT)
        .where(Result.run_id == run_id, Result.case_key == case_key)
        .where(Result.status != str(CaseStatus.SKIPPED))
        .order_by(Result.id.desc())
        .limit(1)
    ).first()


def _rounds_of(conn: Connection, run_id: int, case_key: str) -> int:
    """Rounds a case has in the run: 0 without a row, else len(round_sizes) (at least 1)."""
    row = _latest_row(conn, run_id, case_key)
    if row is None:
        return 0
    return max(1, len(row.round_sizes or ()))


def _append_round(conn: Connection, run_id: int, result: ResultRecord) -> ResultRecord:
    old = _latest_row(conn, run_id, result.case_key)
    if old is None:
        return _insert_result(conn, run_id, result)
    merged = merge_round(_round_record(old._asdict(), result), result)
    values = _result_row(run_id, merged, merged.stats)
    conn.execute(update(Result).where(Result.id == old.id).values(**values))
    return replace(merged, id=old.id, run_id=run_id)


def _result_rows(run_id: int, records: list[ResultRecord]) -> list[dict[str, Any]]:
    """Rows for many results; single-round statistics computed in bulk (numpy, row-wise)."""
    bulk = summarize_many([r.samples for r in records])
    return [
        _result_row(run_id, r, r.stats if len(r.round_sizes) > 1 else s or r.summary)
        for r, s in zip(records, bulk, strict=True)
    ]


def _result_record(row: dict[str, Any]) -> ResultRecord:
    stats = {k: row.pop(k) for k in (*_STAT_COLUMNS, "n_samples")}
    summary = None
    if not row["samples"] and stats["median"] is not None:  # statistics without samples
        summary = Stats(n=stats["n_samples"], **{k: stats[k] for k in _STAT_COLUMNS})
    status = _enum(CaseStatus, row.pop("status"), f"result {row.get('id')}")
    row["round_sizes"] = list(row["round_sizes"] or [])
    return ResultRecord(**row, status=status, summary=summary)


def _round_record(row: dict[str, Any], like: ResultRecord) -> ResultRecord:
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


def _result_row(run_id: int, r: ResultRecord, s: Stats | None) -> dict[str, Any]:
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
        **{k: getattr(s, k) if s else None for k in _STAT_COLUMNS},
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
_RUN_FIELDS = (
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


def _any_true(*flags: bool | None) -> bool | None:
    """True if any flag is, None if none was measured, else False."""
    known = [f for f in flags if f is not None]
    return any(known) if known else None


def _run_record(row: Any, counts: dict[str, int]) -> RunRecord:
    return RunRecord(
        id=row.id,
        uid=row.uid,
        environment=row.environment,
        fingerprint=row.fingerprint,
        status=_enum(RunStatus, row.status, f"run {row.id}"),
        counts=counts,
        warnings=list(row.warnings or []),
        **{name: getattr(row, name) for name in _RUN_FIELDS},
    )


def _counts(conn: Connection, run_ids: list[int]) -> dict[int, dict[str, int]]:
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
