"""The store: round trips on both backends, run references, and refusals on bad databases."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, inspect, select
from sqlalchemy.pool import NullPool

from results import connect
from results.errors import RunNotFound, StoreError
from results.models import Environment, Result
from results.records import CaseStatus, RunStatus
from results.stats import summarize
from results.store import Store, default_url

CEST = timezone(timedelta(hours=2))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- round trips -------------------------------------------------------------------------


def test_run_round_trip_all_fields(db_url, make_run):
    started = datetime(2024, 5, 1, 14, 0, 0, 654321, tzinfo=CEST)  # stored as 12:00 UTC
    run = make_run(
        started_at=started,
        label="nightly",
        commit="abc123",
        group="g1",
        shard="2/4",
        planned=17,
        heartbeat_at=started + timedelta(seconds=5),
    )
    with Store.open(db_url, create=True) as store:
        saved = store.start_run(run)
        assert saved.id is not None and len(saved.uid) == 32 and int(saved.uid, 16) >= 0
        back = store.get_run(saved.id)

    assert back.started_at == started and back.started_at.tzinfo == UTC
    assert back.heartbeat_at == started + timedelta(seconds=5)
    for name in ("suite", "suite_digest", "environment", "fingerprint", "label", "commit"):
        assert getattr(back, name) == getattr(run, name), name
    assert (back.group, back.shard, back.planned) == ("g1", "2/4", 17)
    assert back.status is RunStatus.RUNNING and back.finished_at is None
    assert back.uid == saved.uid and back.counts == {}


def test_result_round_trip_exact(db_url, make_run, make_result):
    samples = [1 / 3 * 1e-5, 2.718281828459045e-4, 5e-324, 1.7976931348623157e308 / 1e300]
    original = make_result(
        7, samples=samples, error=None, started_at=datetime(2024, 1, 1, 1, tzinfo=CEST)
    )
    failed = make_result(8, status=CaseStatus.FAILED, samples=[], error="RuntimeError: boom\n")
    with Store.open(db_url, create=True) as store:
        run = store.start_run(make_run())
        saved = store.add_result(run.id, original)
        store.add_result(run.id, failed)
        back = store.results(run.id)

    assert saved.id == back[0].id and saved.run_id == run.id
    first, second = back
    assert first.samples == samples  # bit-exact floats through JSON
    for name in ("case_key", "case_id", "workload", "params", "status", "macs", "parameters"):
        assert getattr(first, name) == getattr(original, name), name
    assert (first.bytes, first.calls_per_sample, first.target_met) == (3 * 10**9, 4, True)
    assert first.started_at == original.started_at and first.started_at.tzinfo == UTC
    assert first.duration_s == original.duration_s
    assert second.status is CaseStatus.FAILED and second.error == "RuntimeError: boom\n"
    assert second.samples == [] and second.stats is None


def test_statistics_are_derived_from_samples(db_url, make_run, make_result):
    noisy = [1.0, 1.0, 1.0, 2.0, 2.0, 2.0]
    with Store.open(db_url, create=True) as store:
        run = store.start_run(make_run())
        store.add_results(
            run.id,
            [
                make_result(0),
                make_result(1, samples=noisy),
                make_result(2, samples=[], status=CaseStatus.SKIPPED),
            ],
        )
        with store.engine.connect() as conn:
            rows = conn.execute(select(Result).order_by(Result.id)).all()

    expected = summarize(make_result(0).samples)
    ok = rows[0]
    assert ok.n_samples == 20 and ok.median == expected.median
    assert (ok.q1, ok.q3, ok.mean, ok.stdev) == (
        expected.q1,
        expected.q3,
        expected.mean,
        expected.stdev,
    )
    assert (ok.min, ok.max, ok.noisy) == (expected.min, expected.max, False)
    assert rows[1].noisy is True and rows[1].median == 1.5
    assert rows[2].n_samples == 0 and rows[2].median is None and rows[2].noisy is None


def test_environment_is_stored_once(db_url, make_run):
    env = {"torch": "2.3.0", "cpu_model": "Xeon", "nested": {"b": 1, "a": [1, 2]}}
    reordered = {"nested": {"a": [1, 2], "b": 1}, "cpu_model": "Xeon", "torch": "2.3.0"}
    with Store.open(db_url, create=True) as store:
        for i in range(5):
            store.start_run(make_run(environment=env if i % 2 else reordered))
        other = store.start_run(make_run(environment={**env, "torch": "2.4.0"}))
        with store.engine.connect() as conn:
            n_env = conn.execute(select(func.count()).select_from(Environment)).scalar_one()
        assert n_env == 2
        assert store.get_run(other.id).environment["torch"] == "2.4.0"


def test_runs_newest_first_with_counts_and_filters(db_url, make_run, make_result):
    with Store.open(db_url, create=True) as store:
        old = store.start_run(make_run(label="a", group="g"))
        new = store.start_run(make_run(started_at=datetime.now(UTC), suite="mobilenet"))
        store.add_results(
            old.id,
            [
                make_result(0),
                make_result(1, status=CaseStatus.FAILED, samples=[]),
                make_result(2, status=CaseStatus.SKIPPED, samples=[]),
                make_result(3),
            ],
        )
        runs = store.runs()
        assert [r.id for r in runs] == [new.id, old.id]
        assert runs[1].counts == {"ok": 2, "failed": 1, "skipped": 1} and runs[0].counts == {}
        assert [r.id for r in store.runs(suite="mobilenet")] == [new.id]
        assert [r.id for r in store.runs(label="a")] == [old.id]
        assert [r.id for r in store.runs(group="g")] == [old.id]
        assert store.runs(label="none") == []


def test_finish_and_heartbeat(db_url, make_run):
    end = datetime(2024, 5, 1, 13, tzinfo=UTC)
    with Store.open(db_url, create=True) as store:
        run = store.start_run(make_run())
        before = datetime.now(UTC)
        store.heartbeat(run.id)
        beat = store.get_run(run.id).heartbeat_at
        assert beat is not None and before <= beat <= datetime.now(UTC)
        store.finish_run(run.id, RunStatus.INTERRUPTED, finished_at=end)
        back = store.get_run(run.id)
        assert back.status is RunStatus.INTERRUPTED and back.finished_at == end
        with pytest.raises(RunNotFound, match="no run with id 999"):
            store.finish_run(999, RunStatus.FINISHED)
        with pytest.raises(RunNotFound):
            store.heartbeat(999)


def test_results_for_a_missing_run_are_refused(db_url, make_result):
    with Store.open(db_url, create=True) as store:
        with pytest.raises(RunNotFound):
            store.add_result(42, make_result())
        with pytest.raises(RunNotFound):
            store.add_results(42, [make_result()])
        with pytest.raises(RunNotFound):
            store.results(42)
        with pytest.raises(RunNotFound):
            store.get_run(42)


def test_done_case_keys(db_url, make_run, make_result):
    with Store.open(db_url, create=True) as store:
        run = store.start_run(make_run())
        other = store.start_run(make_run())
        store.add_result(run.id, make_result(1))
        store.add_result(run.id, make_result(2, status=CaseStatus.FAILED, samples=[]))
        store.add_result(run.id, make_result(3, status=CaseStatus.SKIPPED, samples=[]))
        store.add_result(other.id, make_result(4))
        assert store.done_case_keys(run.id) == {f"{1:016x}", f"{2:016x}"}
        assert store.done_case_keys(12345) == set()


def test_bulk_insert_round_trip(db_url, make_run, make_result):
    results = [
        make_result(i, samples=[i * 1e-6 + j * 1e-9 for j in range(100)]) for i in range(1000)
    ]
    with Store.open(db_url, create=True) as store:
        run = store.start_run(make_run())
        assert store.add_results(run.id, results) == 1000
        assert store.add_results(run.id, []) == 0
        back = store.results(run.id)
    assert len(back) == 1000
    assert [r.case_key for r in back] == [r.case_key for r in results]
    assert all(b.samples == r.samples for b, r in zip(back, results, strict=True))
    assert back[999].params == results[999].params and back[999].macs == 10**12 + 999


# -- run references --------------------------------------------------------------------


def test_resolve_run(db_url, make_run):
    with Store.open(db_url, create=True) as store:
        a = store.start_run(make_run(uid="abcd1111" + "0" * 24, label="x"))
        b = store.start_run(make_run(uid="abcd2222" + "0" * 24, label="y"))
        c = store.start_run(make_run(uid="ef01" + "0" * 28, label="x", started_at=b.started_at))
        latest = store.start_run(make_run(started_at=datetime.now(UTC), label="y"))

        assert store.resolve_run(str(b.id)).uid == b.uid
        assert store.resolve_run("latest").id == latest.id
        assert store.resolve_run("latest:x").id == c.id  # same start as b: higher id wins
        assert store.resolve_run("abcd1").id == a.id
        assert store.resolve_run("ABCD2").id == b.id
        assert store.resolve_run(" ef01 ").id == c.id
        assert store.resolve_run(latest.uid).id == latest.id

        with pytest.raises(RunNotFound, match="ambiguous") as err:
            store.resolve_run("abcd")
        assert a.uid in str(err.value) and b.uid in str(err.value)
        with pytest.raises(RunNotFound, match="no run id or unique id starting with '9999'"):
            store.resolve_run("9999")
        with pytest.raises(RunNotFound, match="no run with id 77"):
            store.resolve_run("77")
        with pytest.raises(RunNotFound, match="label 'nope'"):
            store.resolve_run("latest:nope")
        with pytest.raises(RunNotFound, match="bad RUN 'abc'"):
            store.resolve_run("abc")
        with pytest.raises(RunNotFound, match="bad RUN"):
            store.resolve_run("zzzzzz")


def test_resolve_latest_on_empty_database(db_url):
    with Store.open(db_url, create=True) as store, pytest.raises(RunNotFound, match="no run"):
        store.resolve_run("latest")


# -- opening ---------------------------------------------------------------------------


def test_default_url(monkeypatch, tmp_path):
    monkeypatch.delenv("BENCH_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_url() == f"sqlite:///{tmp_path.resolve()}/.bench/results.db"
    monkeypatch.setenv("BENCH_DB", "postgresql+psycopg://u@h/db")
    assert default_url() == "postgresql+psycopg://u@h/db"


def test_open_default_creates_dot_bench(monkeypatch, tmp_path):
    monkeypatch.delenv("BENCH_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError, match="no database at .*results.db; run `bench run` first"):
        Store.open()
    assert not (tmp_path / ".bench").exists()  # a reader creates nothing
    with Store.open(create=True) as store:
        assert store.url.endswith("/.bench/results.db")
    assert (tmp_path / ".bench" / "results.db").is_file()


def test_sqlite_pragmas(sqlite_url):
    with Store.open(sqlite_url, create=True) as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_reader_writes_nothing_to_a_current_database(sqlite_url, tmp_path, make_run):
    with Store.open(sqlite_url, create=True) as store:
        store.start_run(make_run())
    path = tmp_path / "bench.db"
    before = _digest(path)
    with Store.open(sqlite_url) as store:
        assert len(store.runs()) == 1
    assert _digest(path) == before


def test_reader_refuses_an_empty_database_and_leaves_it_empty(tmp_path):
    for name, prepare in (("zero.db", lambda p: p.write_bytes(b"")), ("blank.db", _blank_sqlite)):
        path = tmp_path / name
        prepare(path)
        before = _digest(path)
        with pytest.raises(StoreError, match="holds no bench results yet"):
            Store.open(f"sqlite:///{path}")
        assert _digest(path) == before


def _blank_sqlite(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 1")  # a database another program made, no tables
    conn.commit()
    conn.close()


def test_in_memory_database(make_run):
    with Store.open("sqlite://", create=True) as store:
        run = store.start_run(make_run())
        assert store.get_run(run.id).uid == run.uid


def _write_foreign(path: Path) -> None:
    conn = sqlite3.connect(path)
    for name in ("customers", "orders", "invoices", "items", "stock", "users"):
        conn.execute(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()


def _write_newer(path: Path) -> None:
    with Store.open(f"sqlite:///{path}", create=True):
        pass
    conn = sqlite3.connect(path)
    conn.execute("UPDATE alembic_version SET version_num = '9999_future'")
    conn.commit()
    conn.close()


BAD_FILES = {
    "text": (lambda p: p.write_text("name,value\nx,1\n"), "is not an SQLite database"),
    "random": (lambda p: p.write_bytes(os.urandom(8192)), "is not an SQLite database"),
    "foreign": (_write_foreign, r"not a bench database: .*customers, invoices, items, orders"),
    "newer": (
        _write_newer,
        r"schema is at revision 9999_future, newer than this bench knows \(head 0005\); "
        "upgrade bench",
    ),
}


@pytest.mark.parametrize("create", [False, True], ids=["reader", "writer"])
@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_bad_file_is_refused_and_left_unchanged(tmp_path, kind, create):
    path = tmp_path / "x.db"
    write, message = BAD_FILES[kind]
    write(path)
    before, listing = _digest(path), sorted(os.listdir(tmp_path))
    with pytest.raises(StoreError, match=message) as err:
        Store.open(f"sqlite:///{path}", create=create)
    assert str(path) in str(err.value)
    assert _digest(path) == before
    assert sorted(os.listdir(tmp_path)) == listing  # no -wal / -shm / journal left behind


def test_unreadable_file_is_refused(tmp_path, monkeypatch, make_run):
    path = tmp_path / "x.db"
    with Store.open(f"sqlite:///{path}", create=True) as store:
        store.start_run(make_run())
    before = _digest(path)
    path.chmod(0)
    if os.geteuid() == 0:  # root reads anything: simulate what permissions would do
        monkeypatch.setattr(connect, "_readable", lambda p: False)
    try:
        with pytest.raises(StoreError, match=f"cannot read {path}: permission denied"):
            Store.open(f"sqlite:///{path}")
    finally:
        path.chmod(0o644)
    assert _digest(path) == before


def test_directory_is_refused(tmp_path):
    with pytest.raises(StoreError, match="is not a file"):
        Store.open(f"sqlite:///{tmp_path}", create=True)


def test_unreachable_server_is_refused():
    url = "postgresql+psycopg://postgres:secret@127.0.0.1:1/bench"
    with pytest.raises(StoreError, match=r"cannot connect to .*127\.0\.0\.1:1/bench") as err:
        Store.open(url)
    assert "secret" not in str(err.value)


def test_bad_urls_are_refused():
    with pytest.raises(StoreError, match="not a database URL"):
        Store.open("not a url")
    with pytest.raises(StoreError, match="cannot use"):
        Store.open("nosuchdialect://x/y")


def test_newer_then_foreign_database_on_each_backend(db_url):
    with Store.open(db_url, create=True) as store, store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0042'")
    with pytest.raises(StoreError, match=r"revision 0042, newer .* \(head 0005\); upgrade bench"):
        Store.open(db_url, create=True)

    engine = create_engine(db_url, poolclass=NullPool)
    with engine.begin() as conn:
        for table in ("results", "runs", "environments", "alembic_version"):
            conn.exec_driver_sql(f"DROP TABLE {table}")
        conn.exec_driver_sql("CREATE TABLE customers (id integer)")
    with pytest.raises(StoreError, match=r"not a bench database: .*\(customers\)"):
        Store.open(db_url, create=True)
    assert inspect(engine).get_table_names() == ["customers"]  # nothing was written
    engine.dispose()


_WRITER = """
import sys
from datetime import UTC, datetime
from results.records import CaseStatus, ResultRecord, RunRecord
from results.store import Store

store = Store.open(sys.argv[1], create=True)
run = store.start_run(RunRecord(suite="s", suite_digest="d", environment={"host": "one"},
                                fingerprint="f", started_at=datetime.now(UTC)))
for i in range(100):
    store.add_result(run.id, ResultRecord(case_key=str(i), case_id=str(i), workload="conv",
                                          params={}, status=CaseStatus.OK, samples=[1e-3, 2e-3]))
    store.heartbeat(run.id)
store.close()
"""


def test_concurrent_writers_on_one_sqlite_file(tmp_path):
    """Shards started together on a new file: one creates the schema, none hits a lock."""
    url = f"sqlite:///{tmp_path / 'new' / 'bench.db'}"
    root = Path(__file__).resolve().parents[2]
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, url], cwd=root, stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=120)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errors
    with Store.open(url) as store:
        runs = store.runs()
        assert len(runs) == 4 and all(r.counts == {"ok": 100} for r in runs)
        assert len({r.environment["host"] for r in runs}) == 1
        with store.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(Environment)).scalar() == 1


def test_statistics_without_samples_round_trip(db_url, make_run, make_result):
    # An imported pytest-benchmark file saved without raw data keeps only its statistics.
    from results.stats import Stats

    summary = Stats(
        n=7, median=2e-3, q1=1.5e-3, q3=2.5e-3, mean=2.1e-3, stdev=4e-4, min=1e-3, max=4e-3
    )
    with Store.open(db_url, create=True) as store:
        run = store.start_run(make_run())
        store.add_result(run.id, make_result(0, samples=[], summary=summary))
        store.add_results(run.id, [make_result(1, samples=[], summary=summary)])
        back = store.results(run.id)
    assert [r.samples for r in back] == [[], []]
    assert [r.stats for r in back] == [summary, summary]


def test_samples_are_stored_bit_exact(db_url, make_run, make_result):
    samples = [1e-9 / 3, 0.1 + 0.2, 5e-324, 2.0**-40]
    with Store.open(db_url, create=True) as store:
        run = store.start_run(make_run())
        store.add_result(run.id, make_result(0, samples=samples))
        assert store.results(run.id)[0].samples == samples
