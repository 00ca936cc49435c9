"""Opening a result database: refuse what is not ours, then create or migrate the schema.

Every check happens *before* anything is written, so a wrong ``--db`` (a text file,
another application's database, a schema from a newer bench) leaves it untouched.
"""

from __future__ import annotations

import os
import sqlite3
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, create_engine, event, exc, inspect
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from results.errors import StoreError

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
BENCH_TABLES = frozenset({"environments", "runs", "results"})
SQLITE_BUSY_TIMEOUT_MS = 30_000  # a writer waits this long for a lock, then bench retries
BUSY_ENV = "BENCH_SQLITE_BUSY_MS"  # overrides it (tests of a lock held past it use 200 ms)


def busy_timeout_ms() -> int:
    raw = os.environ.get(BUSY_ENV, "")
    if raw.isdecimal() and 0 < int(raw) <= 3_600_000:
        return int(raw)
    return SQLITE_BUSY_TIMEOUT_MS


def describe(url: URL) -> str:
    path = sqlite_path(url) if url.get_backend_name() == "sqlite" else None
    return str(path) if path else url.render_as_string(hide_password=True)


def sqlite_path(url: URL) -> Path | None:
    """The file of an SQLite URL, or None for an in-memory database."""
    db = url.database
    if not db or db == ":memory:" or url.query.get("mode") == "memory":
        return None
    if db.startswith("file:"):  # uri=true form
        db = db[len("file:") :].partition("?")[0]
    return Path(db).resolve()


def _readable(path: Path) -> bool:
    return os.access(path, os.R_OK)


def check_sqlite_file(path: Path, where: str, *, create: bool) -> None:
    """Refuse a missing (unless creating), unreadable or non-SQLite file; writes nothing."""
    if not path.exists():
        if not create:
            raise StoreError(
                f"no database at {where}; run `bench run` first, or point --db / BENCH_DB "
                "at an existing database"
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot create the folder of {where}: {e.strerror}") from e
        return
    if not path.is_file():
        raise StoreError(f"{where} is not a file; point --db / BENCH_DB at an SQLite file")
    if not _readable(path):
        raise StoreError(f"cannot read {where}: permission denied")
    if create and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
        # A writer also creates SQLite's -wal and -shm files beside the database.
        what = "the file" if not os.access(path, os.W_OK) else "its folder"
        raise StoreError(
            f"cannot write {where}: {what} is read-only; check the permissions, or point "
            "--db / BENCH_DB at a writable database"
        )
    # Probe with plain reads (no pragmas, unlike the store's engine). mode=rw never creates
    # the file; mode=ro would leave the -wal/-shm files of a WAL database behind, while
    # this (last) connection removes them on close.
    uri = path.as_uri() + "?mode=rw"
    probe = create_engine(
        "sqlite://",
        creator=lambda: sqlite3.connect(uri, uri=True, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000),
        poolclass=NullPool,
    )
    try:
        state = _schema_state(probe, where, sqlite_file=True)
    finally:
        probe.dispose()
    if state is None and not create:
        raise _no_schema(where)  # before the store's engine, whose pragmas would write


def _no_schema(where: str) -> StoreError:
    return StoreError(
        f"{where} holds no bench results yet (no bench schema); run `bench run` or "
        "`bench import` against it first"
    )


def open_engine(url: URL, where: str) -> Engine:
    kwargs: dict[str, Any] = {}
    backend = url.get_backend_name()
    if backend == "postgresql" and "connect_timeout" not in url.query:
        kwargs["connect_args"] = {"connect_timeout": 10}
    try:
        engine = create_engine(url, **kwargs)
    except (ImportError, exc.ArgumentError, exc.NoSuchModuleError) as e:
        raise StoreError(f"cannot use {where}: {e}") from e
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event emit BEGIN (below): pysqlite's implicit transactions
    # would leave DDL outside them, so a failed migration could half-apply.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
    cur.execute(f"PRAGMA busy_timeout={busy_timeout_ms()}")  # parallel shards wait
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _sqlite_on_begin(conn: Connection) -> None:
    conn.exec_driver_sql(conn.get_execution_options().get("bench_begin", "BEGIN"))


@cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(_alembic_config())


def _alembic_config(conn: Connection | None = None) -> Config:
    cfg = Config()
    # A path, not the resource "results:migrations": importlib.resources resolves the
    # *name* "results", which a tests/results folder can shadow as a namespace package.
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = conn
    return cfg


def head_revision() -> str:
    head = _script().get_current_head()
    assert head is not None
    return head


def _schema_state(engine: Engine, where: str, *, sqlite_file: bool) -> str | None:
    """The database's revision (None when empty); raise if it is not ours or too new."""
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            revision = MigrationContext.configure(conn).get_current_revision()
    except exc.DBAPIError as e:
        reason = str(e.orig).strip().splitlines()[0] if e.orig else str(e)
        if sqlite_file and getattr(e.orig, "sqlite_errorcode", None) == sqlite3.SQLITE_NOTADB:
            raise StoreError(
                f"{where} is not an SQLite database ({reason}); point --db / BENCH_DB at a "
                "bench database, or at a new file"
            ) from e
        if sqlite_file:
            from results.dberrors import translate

            translated = translate(e, where)
            if type(translated) is not StoreError or "disk is full" in str(translated):
                raise translated from e  # damaged, locked, full: its own message
            raise StoreError(f"cannot read {where} ({reason})") from e
        raise StoreError(
            f"cannot connect to {where} ({reason}); check that the server is running and "
            "that the URL, user and database name are right"
        ) from e
    others = sorted(tables - {"alembic_version"})
    known = revision is None or _is_known(revision)
    if others and (revision is None or (not known and not BENCH_TABLES & tables)):
        listed = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
        raise StoreError(
            f"{where} is not a bench database: it has other tables ({listed}) and no bench "
            "schema; refusing to touch it. Point --db / BENCH_DB at a bench database or a new "
            "file"
        )
    if not known:
        raise StoreError(
            f"{where}: database schema is at revision {revision}, newer than this bench "
            f"knows (head {head_revision()}); upgrade bench"
        )
    return revision


def _is_known(revision: str) -> bool:
    try:
        return _script().get_revision(revision) is not None
    except CommandError:
        return False


def check_and_upgrade(engine: Engine, where: str, *, create: bool = True) -> None:
    state = _schema_state(engine, where, sqlite_file=False)
    if state == head_revision():
        return  # the common case: readers at head take no write lock at all
    if state is None and not create:
        # An empty database: a reader must not turn it into a bench database.
        raise _no_schema(where)
    try:
        immediate = engine.execution_options(bench_begin="BEGIN IMMEDIATE")
        with immediate.connect() as conn, conn.begin():
            if conn.dialect.name == "postgresql":
                # Serialise fleet runners that all find an old schema at once.
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7342001)")
            # Look again under the lock: another writer may have upgraded meanwhile.
            if MigrationContext.configure(conn).get_current_revision() != head_revision():
                command.upgrade(_alembic_config(conn), "head")
    except exc.DBAPIError as e:
        raise StoreError(f"cannot create or upgrade the schema of {where}: {e.orig}") from e
