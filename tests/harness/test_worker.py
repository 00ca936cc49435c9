"""Crash isolation: cases run in spawned workers; a crash is a failed row, not the end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from fleet_helpers import children, gone, run_rows, suite_text

from harness.runner import Heartbeat, run_suite
from harness.suites import parse_suite
from harness.worker import CRASH_ENV, HANG_ENV, ProcessExecutor
from results.records import CaseStatus, RunRecord, RunStatus
from results.store import Store


@pytest.fixture
def suite():
    return parse_suite(suite_text([8, 16]).encode(), source="t.toml", default_name="t")


@pytest.fixture
def store(tmp_path):
    s = Store.open(f"sqlite:///{tmp_path / 'r.db'}", create=True)
    yield s
    s.close()


def test_a_crashing_case_is_a_failed_row_and_the_run_goes_on(suite, store, monkeypatch) -> None:
    crashing = suite.cases[1]
    monkeypatch.setenv(CRASH_ENV, crashing.key)  # the worker's test hook: SIGSEGV
    outcome = run_suite(suite, suite.cases, store, peaks=False)
    assert outcome.run.status == RunStatus.FINISHED
    rows = {r.case_key: r for r in store.results(outcome.run.id)}
    assert len(rows) == 4
    crashed = rows.pop(crashing.key)
    assert crashed.status == CaseStatus.FAILED
    assert crashed.error == "worker crashed: signal SIGSEGV while running this case"
    assert crashed.macs and crashed.samples == []
    # the cases after the crash ran in a new worker
    assert [r.status for r in rows.values()] == [CaseStatus.OK] * 3


def test_a_hanging_case_times_out_and_the_run_goes_on(store, monkeypatch) -> None:
    text = suite_text([8, 16]).replace("[timing]", "[timing]\ntimeout_s = 15", 1)
    suite = parse_suite(text.encode(), source="t.toml", default_name="t")
    assert suite.timing.for_device("cpu").case_timeout() == 15
    hanging = suite.cases[1]
    monkeypatch.setenv(HANG_ENV, hanging.key)  # the worker's test hook: blocks forever
    outcome = run_suite(suite, suite.cases, store, peaks=False)
    rows = {r.case_key: r for r in store.results(outcome.run.id)}
    assert rows[hanging.key].status == CaseStatus.FAILED
    assert rows[hanging.key].error == "case timed out after 15 s; its worker was killed"
    rows.pop(hanging.key)
    assert [r.status for r in rows.values()] == [CaseStatus.OK] * 3


def test_one_worker_per_device_reused_and_replaced_after_a_crash(suite, monkeypatch) -> None:
    monkeypatch.setenv(CRASH_ENV, suite.cases[1].key)
    executor = ProcessExecutor()
    try:
        config = suite.timing.for_device("cpu")
        executor.run_case(suite.cases[0], config)
        first = executor._workers["cpu"]._process.pid
        executor.run_case(suite.cases[0], config)
        assert executor._workers["cpu"]._process.pid == first  # reused while healthy
        assert executor.run_case(suite.cases[1], config).status == CaseStatus.FAILED
        assert "cpu" not in executor._workers  # the dead one is gone ...
        assert executor.run_case(suite.cases[2], config).status == CaseStatus.OK
        assert executor._workers["cpu"]._process.pid != first  # ... and a new one serves
    finally:
        executor.close()
    assert executor._workers == {}


def test_the_parent_never_imports_torch(tmp_path) -> None:
    """The parent must not initialise CUDA (spawned workers do); it does not even load torch."""
    (tmp_path / "t.toml").write_text(suite_text([8]))
    code = (
        "import sys\nfrom harness.cli import cli\n"
        "try:\n    cli(['run', 't.toml', '--db', sys.argv[1]])\n"
        "except SystemExit as e:\n    assert e.code == 0, e.code\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, f"sqlite:///{tmp_path / 'r.db'}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip().splitlines()[-1] == "False"
    (run,), results = run_rows(f"sqlite:///{tmp_path / 'r.db'}")
    assert len(results[run.id]) == 2 and run.environment["torch"]  # captured by a worker
    assert "cpu" in run.peaks and "peaks" not in run.environment


def test_ctrl_c_marks_the_run_interrupted_and_stops_the_worker(
    tmp_path, start_bench, wait_until
) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    (tmp_path / "t.toml").write_text(suite_text([8, 16, 24, 32], min_time_ms=300, max_time_ms=600))
    proc = start_bench("run", "t.toml", "--db", url, "--no-peaks")

    def first_row() -> bool:
        runs, results = run_rows(url)
        return bool(runs and results[runs[0].id])

    wait_until(lambda: first_row() or proc.poll() is not None, "a first committed case")
    assert proc.poll() is None, proc.communicate()
    workers = children(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends on Ctrl-C: the whole group
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "marked interrupted" in err and "Traceback" not in err
    (run,), results = run_rows(url)
    assert run.status == RunStatus.INTERRUPTED and 1 <= len(results[run.id]) < 8
    assert workers and all(map(gone, workers))


def test_heartbeat_beats_from_its_thread_and_stops(store, wait_until) -> None:
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    run = store.start_run(RunRecord("s", "d", {}, "f", started_at=t0, heartbeat_at=t0))
    with Heartbeat(store, run.id, every=0.05) as beat:
        wait_until(lambda: store.get_run(run.id).heartbeat_at > t0, "a heartbeat")
        assert beat.running
    assert not beat.running
