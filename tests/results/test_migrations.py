"""The schema: migrations produce exactly the models' tables, on both backends."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect
from sqlalchemy.pool import NullPool

from results.connect import MIGRATIONS_DIR, head_revision
from results.errors import StoreError
from results.models import Base
from results.store import Store


def _config(conn, location: Path = MIGRATIONS_DIR) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(location))
    cfg.attributes["connection"] = conn
    return cfg


def test_head_is_0005():
    assert head_revision() == "0005"


def test_upgrade_from_empty_matches_models(db_url):
    with Store.open(db_url, create=True) as store, store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert ctx.get_current_revision() == "0005"
        assert compare_metadata(ctx, Base.metadata) == []
        tables = set(inspect(conn).get_table_names())
    assert tables == {"alembic_version", "environments", "runs", "results"}


def test_comparison_detects_a_missing_column(db_url):
    """The comparison above can fail: after dropping a column it reports the difference."""
    with Store.open(db_url, create=True) as store, store.engine.begin() as conn:
        op = Operations(MigrationContext.configure(conn, opts={"render_as_batch": True}))
        with op.batch_alter_table("results") as batch:
            batch.drop_column("noisy")
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [(d[0], d[3].name) for d in diff] == [("add_column", "noisy")]


def test_base_schema_is_refused_by_readers_and_upgraded_by_writers(db_url):
    # Base is an empty schema; tests/results/test_migration_0002.py: readers upgrade 0001.
    with Store.open(db_url, create=True) as store, store.engine.begin() as conn:
        command.downgrade(_config(conn), "base")
        assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    with pytest.raises(StoreError, match="no bench schema"):
        Store.open(db_url)
    with Store.open(db_url, create=True) as store, store.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == "0005"
        assert store.runs() == []


def test_newer_revision_is_refused_and_file_unchanged(tmp_path):
    path = tmp_path / "bench.db"
    url = f"sqlite:///{path}"
    with Store.open(url, create=True) as store, store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0002_from_the_future'")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    for create in (False, True):
        with pytest.raises(StoreError) as err:
            Store.open(url, create=create)
        assert str(err.value) == (
            f"{path}: database schema is at revision 0002_from_the_future, newer than this "
            "bench knows (head 0005); upgrade bench"
        )
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_failed_migration_leaves_no_partial_schema(tmp_path, monkeypatch):
    """SQLite DDL runs inside the upgrade's transaction: a failure rolls all of it back."""
    location = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, location, ignore=shutil.ignore_patterns("__pycache__"))
    broken = location / "versions" / "0001_initial.py"
    broken.write_text(
        broken.read_text().replace(
            '    op.create_index("ix_results_case_key"', '    raise RuntimeError("boom")\n#'
        )
    )
    monkeypatch.setattr("results.connect.MIGRATIONS_DIR", location)
    monkeypatch.setattr("results.connect._script", lambda: _script_at(location))
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    with pytest.raises(RuntimeError, match="boom"):
        Store.open(url, create=True)
    engine = create_engine(url, poolclass=NullPool)
    assert inspect(engine).get_table_names() == []
    engine.dispose()


def _script_at(location: Path) -> ScriptDirectory:
    return ScriptDirectory.from_config(_config(None, location))


def test_revision_template_renders_valid_python(tmp_path):
    """script.py.mako (used by `alembic revision`) produces a module that compiles."""
    location = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, location, ignore=shutil.ignore_patterns("__pycache__"))
    command.revision(_config(None, location), message="add a thing", rev_id="0099")
    (new,) = (location / "versions").glob("0099_*.py")
    source = new.read_text()
    compile(source, str(new), "exec")
    assert "revision: str = '0099'" in source and "down_revision" in source
    assert "'0005'" in source


def test_0005_indexes_round_trip(db_url):
    """0005 swaps the run_id index for (run_id, case_key) and indexes a suite's runs;
    its downgrade restores 0004's indexes, and upgrading again matches the models."""

    def indexes(conn) -> dict[str, dict[str, list[str]]]:
        found = inspect(conn)
        return {
            t: {i["name"]: i["column_names"] for i in found.get_indexes(t)}
            for t in ("runs", "results")
        }

    with Store.open(db_url, create=True) as store, store.engine.begin() as conn:
        now = indexes(conn)
        assert now["runs"]["ix_runs_suite_label_started_at"] == ["suite", "label", "started_at"]
        assert now["results"]["ix_results_run_id_case_key"] == ["run_id", "case_key"]
        assert "ix_results_run_id" not in now["results"]
        command.downgrade(_config(conn), "0004")
        before = indexes(conn)
        assert before["results"]["ix_results_run_id"] == ["run_id"]
        assert "ix_results_run_id_case_key" not in before["results"]
        assert "ix_runs_suite_label_started_at" not in before["runs"]
        command.upgrade(_config(conn), "head")
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
