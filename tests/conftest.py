"""Shared test setup: GPU tests skip cleanly where there is no CUDA device, and every
test folder gets a database per backend (``db_url``: an SQLite file and a fresh
PostgreSQL database; PostgreSQL skips with a reason where the server is unreachable,
and fails under ``CI``, whose machine runs one)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not any(item.get_closest_marker("gpu") for item in items):
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (run `nox -s gpu` on a GPU machine)")
    for item in items:
        if item.get_closest_marker("gpu"):
            item.add_marker(skip)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """pytester restores ``sys.modules`` after an in-process run, and torch's extension
    cannot be imported a second time in one process ("bad call flags"): load torch before
    pytester takes its snapshot, so it stays loaded whatever order the tests run in."""
    if "pytester" in getattr(item, "fixturenames", ()):
        import torch  # noqa: F401
