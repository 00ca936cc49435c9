"""Fixtures for the result store: a database URL per backend, and sample records.

``fresh_pg_database`` and ``db_url`` need nothing from this folder, so they can move to
tests/conftest.py when other test folders want a database.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from results.records import CaseStatus, ResultRecord, RunRecord

PG_URL_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
_pg_unreachable: str | None = None  # remembered so that later tests skip at once


def pg_base_url() -> str:
    """The test server (host, user, password); BENCH_TEST_PG_URL overrides the default."""
    return os.environ.get("BENCH_TEST_PG_URL", PG_URL_DEFAULT)


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason)  # CI has a server: a missing one is a broken setup, not a skip
    pytest.skip(reason)


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    """Create an empty database ``bench_test_<hex>`` and yield its URL; drop it afterwards.

    Skips (or fails under CI) when the server is unreachable.
    """
    global _pg_unreachable
    base = make_url(pg_base_url())
    if _pg_unreachable:
        _skip_or_fail(_pg_unreachable)
    # CREATE/DROP DATABASE cannot run inside a transaction: AUTOCOMMIT.
    admin = create_engine(
        base.set(database="postgres"),
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args={"connect_timeout": 5},
    )
    name = f"bench_test_{secrets.token_hex(6)}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except exc.OperationalError as e:
        admin.dispose()
        _pg_unreachable = (
            f"PostgreSQL at {base.render_as_string(hide_password=True)} is unreachable "
            f"({str(e.orig).strip().splitlines()[0]}); set BENCH_TEST_PG_URL"
        )
        _skip_or_fail(_pg_unreachable)
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: an SQLite file under tmp_path, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bench.db'}"
    else:
        with fresh_pg_database() as url:
            yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'bench.db'}"


# -- records ---------------------------------------------------------------------------

T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)


def make_run(**changes: object) -> RunRecord:
    fields: dict[str, object] = {
        "suite": "conv",
        "suite_digest": "d" * 64,
        "environment": {"torch": "2.3.0", "cpu_model": "Xeon", "gpu_name": "H100", "cores": 16},
        "fingerprint": "f" * 16,
        "started_at": T0,
    }
    fields.update(changes)
    return RunRecord(**fields)  # type: ignore[arg-type]


def make_result(i: int = 0, **changes: object) -> ResultRecord:
    fields: dict[str, object] = {
        "case_key": f"{i:016x}",
        "case_id": f"conv[batch={i}]",
        "workload": "conv",
        "params": {"batch": i, "channels": 32, "device": "cpu", "dtype": "float32"},
        "status": CaseStatus.OK,
        "macs": 10**12 + i,  # beyond 32 bits: BigInteger columns
        "parameters": 9216,
        "bytes": 3 * 10**9,
        "samples": [(1 + (j * 7919 + i) % 13 / 100) / 3 * 1e-4 for j in range(20)],
        "calls_per_sample": 4,
        "target_met": True,
        "started_at": T0 + timedelta(seconds=i),
        "duration_s": 0.5 + i,
    }
    fields.update(changes)
    return ResultRecord(**fields)  # type: ignore[arg-type]


@pytest.fixture(name="make_run")
def make_run_fixture() -> Callable[..., RunRecord]:
    """The factory ``make_run(**changes) -> RunRecord`` (a fixture: conftest is not importable)."""
    return make_run


@pytest.fixture(name="make_result")
def make_result_fixture() -> Callable[..., ResultRecord]:
    """The factory ``make_result(i, **changes) -> ResultRecord``."""
    return make_result
