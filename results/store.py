"""The result store: open (and migrate) a database, write runs and results, read them back.

SQLite files are the default; any SQLAlchemy URL works (PostgreSQL for a fleet).
Opening checks the database *before* writing anything, so a wrong ``--db`` (a text file,
another application's database, a schema from a newer bench) leaves it untouched.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from sqlalchemy import Connection, Engine, delete, exc, func, select, update
from sqlalchemy.engine import make_url

from results import refs
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
from results.rows import (
    RESULT_FIELDS,
    RUN_SELECT,
    STAT_COLUMNS,
    result_record,
    result_rows,
    run_record,
    status_counts,
)
from results.writes import append_round, insert_result, insert_run, latest_row, rounds_of

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
            run_id, uid = insert_run(conn, run)
        return replace(run, id=run_id, uid=uid, counts={})

    @_guarded
    def add_result(self, run_id: int, result: ResultRecord) -> ResultRecord:
        """Insert one result and commit at once (a crash loses at most the case in flight)."""
        with self._writer.begin() as conn:
            self._require_run(conn, run_id)
            return insert_result(conn, run_id, result)

    @_guarded
    def add_round(self, run_id: int, result: ResultRecord) -> ResultRecord:
        """Add a later round of a case to its row (inserting one if it has none yet).

        The round's samples are appended and the statistics derived again, in one
        transaction: a crash loses at most the round in flight. A failed round makes the
        case failed (its error names the round) and keeps the samples of earlier rounds.
        """
        with self._writer.begin() as conn:
            self._require_run(conn, run_id)
            return append_round(conn, run_id, result)

    @_guarded
    def replay(self, run_id: int, entries: Iterable[tuple[int, ResultRecord]]) -> int:
        """Write journaled case-rounds ``(round number of the case, record)`` in order, in
        one transaction; a round the database already has is skipped, so a journal can be
        replayed twice. Returns how many were written."""
        written = 0
        with self._writer.begin() as conn:
            self._require_run(conn, run_id)
            for number, record in entries:
                have = rounds_of(conn, run_id, record.case_key)
                if number <= have or (
                    have
                    and record.status != CaseStatus.OK
                    and (latest_row(conn, run_id, record.case_key).status != str(CaseStatus.OK))
                ):
                    continue  # written already (a failed round adds no round_sizes entry)
                if have == 0:
                    insert_result(conn, run_id, record)
                else:
                    append_round(conn, run_id, record)
                written += 1
        return written

    @_guarded
    def add_results(self, run_id: int, results: Iterable[ResultRecord]) -> int:
        """Insert many results in one transaction (executemany); returns how many."""
        rows = result_rows(run_id, list(results))
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
            run_id, _ = insert_run(conn, run)
            if rows := result_rows(run_id, results):
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
        query = RUN_SELECT.order_by(Run.started_at.desc(), Run.id.desc())
        for column, value in ((Run.suite, suite), (Run.label, label), (Run.group, group)):
            if value is not None:
                query = query.where(column == value)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
            counts = status_counts(conn, [r.id for r in rows])
        return [run_record(r, counts.get(r.id, {})) for r in rows]

    @_guarded
    def get_run(self, run_id: int) -> RunRecord:
        with self._engine.connect() as conn:
            row = conn.execute(RUN_SELECT.where(Run.id == run_id)).first()
            if row is None:
                raise RunNotFound(f"no run with id {run_id} in {self._where}")
            return run_record(row, status_counts(conn, [run_id]).get(run_id, {}))

    @_guarded
    def resolve_run(self, ref: str) -> RunRecord:
        """A run from a CLI reference: id, ``latest``, ``latest:LABEL`` or a uid prefix."""
        return refs.resolve_run(self, ref)

    @_guarded
    def resolve_runs(self, ref: str) -> list[RunRecord]:
        """A RUN reference (see resolve_run) or ``group:NAME``: every run of the group,
        oldest first (its shards, and any shard run again)."""
        return refs.resolve_runs(self, ref)

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
        cols = [c for c in Result.__table__.c if c.name in RESULT_FIELDS]
        stat_cols = [Result.__table__.c[k] for k in (*STAT_COLUMNS, "n_samples")]
        with self._engine.connect() as conn:
            self._require_run(conn, run_id)
            query = select(*cols, *stat_cols).where(Result.run_id == run_id).order_by(Result.id)
            return [result_record(row._asdict()) for row in conn.execute(query)]

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
