"""Revision 0002 (runs remember their plan) keeps every row, up and down, on both backends;
and the store's resume support (reopen_run) on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from results.connect import MIGRATIONS_DIR, head_revision
from results.records import CaseStatus, RunStatus
from results.store import Store


def _config(conn) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = conn
    return cfg


def _revision(store: Store) -> str | None:
    with store.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _run_columns(store: Store) -> set[str]:
    with store.engine.connect() as conn:
        return {c["name"] for c in inspect(conn).get_columns("runs")}


def test_upgrade_from_0001_keeps_rows_and_downgrade_keeps_them_too(db_url, make_run, make_result):
    with Store.open(db_url, create=True) as store:
        with store.engine.begin() as conn:
            command.downgrade(_config(conn), "0001")
        assert _revision(store) == "0001" and "plan" not in _run_columns(store)
        # rows written by a 0001-era bench (no suite_source / plan columns yet)
        with store.engine.begin() as conn:
            env_id = conn.exec_driver_sql(
                "INSERT INTO environments (fingerprint, digest, data) "
                "VALUES ('f', 'd', '{}') RETURNING id"
            ).scalar_one()
            run_id = conn.exec_driver_sql(
                "INSERT INTO runs (uid, suite, suite_digest, status, started_at, environment_id) "
                f"VALUES ('abcd1234', 'conv', 'x', 'finished', '2024-05-01 12:00:00', {env_id}) "
                "RETURNING id"
            ).scalar_one()

    with Store.open(db_url) as store:  # a reader upgrades to head
        assert _revision(store) == head_revision()
        store_run = store.get_run(run_id)
        assert store_run.uid == "abcd1234" and store_run.suite_source is None
        assert store_run.plan is None
    with Store.open(db_url, create=True) as store:
        store.add_results(run_id, [make_result(i) for i in range(3)])
        new = store.start_run(make_run(suite_source="/x/conv.toml", plan={"device": "cuda"}))
        assert store.get_run(new.id).plan == {"device": "cuda"}
        with store.engine.begin() as conn:
            command.downgrade(_config(conn), "0001")
        assert "suite_source" not in _run_columns(store)
        with store.engine.connect() as conn:  # no cascade: dropping columns kept results
            n = conn.exec_driver_sql("SELECT count(*) FROM results").scalar_one()
        assert n == 3
        with store.engine.begin() as conn:
            command.upgrade(_config(conn), "head")
        assert len(store.results(run_id)) == 3 and len(store.runs()) == 2


def test_reopen_run_takes_only_a_quiet_run_and_drops_its_skipped_rows(
    db_url, make_run, make_result
):
    now = datetime.now(UTC)
    with Store.open(db_url, create=True) as store:
        run = store.start_run(make_run(started_at=now, heartbeat_at=now))
        store.add_result(run.id, make_result(0))
        store.add_result(run.id, make_result(1, status=CaseStatus.SKIPPED, samples=[]))
        # it beat just now: a resumer that needs 10 quiet minutes must leave it alone
        assert not store.reopen_run(run.id, quiet_since=now - timedelta(minutes=10))
        assert len(store.results(run.id)) == 2
        assert store.reopen_run(run.id, quiet_since=now + timedelta(seconds=1))
        again = store.get_run(run.id)
        assert again.status == RunStatus.RUNNING and again.finished_at is None
        assert again.heartbeat_at >= now
        assert [r.status for r in store.results(run.id)] == [CaseStatus.OK]
        store.finish_run(run.id, RunStatus.INTERRUPTED)
        # not running: taken whatever its heartbeat
        assert store.reopen_run(run.id, quiet_since=now - timedelta(days=1))
