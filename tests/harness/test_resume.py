"""Resume: a run planned again from what it stored, adding only the cases it lacks."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from fleet_helpers import children, gone, run_rows, suite_text

import harness.execute as execute
from harness.cli import cli
from harness.suites import load_suite
from results.errors import UsageError
from results.records import CaseStatus, RunRecord, RunStatus, stale_after
from results.store import Store

INLINE = ("--isolation", "inline")


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BENCH_DB", raising=False)
    monkeypatch.delenv("BENCH_STALE_AFTER", raising=False)
    (tmp_path / "tiny.toml").write_text(suite_text([8, 16]))
    return tmp_path


def bench(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def interrupt_after(monkeypatch, n: int) -> Callable[[], None]:
    """Ctrl-C while the (n+1)-th case runs, in this process; returns the undo."""
    real, calls = execute.run_case, []

    def run_case(case, config):
        calls.append(case)
        if len(calls) == n + 1:
            raise KeyboardInterrupt
        return real(case, config)

    monkeypatch.setattr(execute, "run_case", run_case)
    return lambda: monkeypatch.setattr(execute, "run_case", real)


def stored(url: str = "sqlite:///.bench/results.db"):
    with Store.open(url) as store:
        (run,) = store.runs()
        return run, store.results(run.id)


def test_resume_after_ctrl_c_runs_only_the_missing_cases(env, monkeypatch) -> None:
    restore = interrupt_after(monkeypatch, 2)
    assert bench("run", "tiny.toml", "--no-peaks", "--label", "L", *INLINE).exit_code == 130
    run, before = stored()
    assert run.status == RunStatus.INTERRUPTED and len(before) == 2
    assert run.suite_source == str(env / "tiny.toml")  # absolute: resumable from anywhere
    restore()

    r = bench("run", "--resume", "latest:L", *INLINE)
    assert r.exit_code == 0, r.output
    after_run, after = stored()
    assert after_run.id == run.id and after_run.status == RunStatus.FINISHED
    assert after_run.finished_at is not None and after_run.planned == 4
    assert [x.id for x in after[:2]] == [x.id for x in before]  # kept, not redone
    keys = [x.case_key for x in after]
    assert sorted(keys) == sorted(c.key for c in load_suite("tiny.toml").cases)
    assert "4 ok, 0 failed, 0 skipped" in r.output

    r = bench("run", "--resume", str(run.id), *INLINE)  # nothing left: nothing rewritten
    assert r.exit_code == 0 and "nothing to run" in r.output
    assert stored()[0].finished_at == after_run.finished_at


def test_resume_keeps_device_filters_and_shard(env, monkeypatch) -> None:
    (env / "tiny.toml").write_text(suite_text([8, 16, 32, 64]))
    args = ["--filter", "workload=conv", "--shard", "1/2", "--device", "cpu"]
    planned = bench("run", "tiny.toml", *args, "--dry-run").output.splitlines()[:-1]
    restore = interrupt_after(monkeypatch, 0)
    assert bench("run", "tiny.toml", "--no-peaks", *args, *INLINE).exit_code == 130
    restore()
    todo = bench("run", "--resume", "latest", "--dry-run").output.splitlines()[:-1]
    assert todo == planned  # nothing done yet; the same cases, chosen the same way
    assert bench("run", "--resume", "latest", *INLINE).exit_code == 0
    run, results = stored()
    assert run.shard == "1/2" and run.plan == {"device": "cpu", "filters": ["workload=conv"]}
    assert sorted(x.case_key for x in results) == sorted(line.split()[0] for line in planned)


def test_resume_refuses_a_changed_suite_unless_forced(env, monkeypatch) -> None:
    restore = interrupt_after(monkeypatch, 1)
    assert bench("run", "tiny.toml", "--no-peaks", *INLINE).exit_code == 130
    restore()
    (env / "tiny.toml").write_text(suite_text([8, 16, 24]))
    r = bench("run", "--resume", "latest", *INLINE)
    assert r.exit_code == 2 and "changed since the run started" in r.output
    assert len(stored()[1]) == 1
    r = bench("run", "--resume", "latest", "--force", *INLINE)
    assert r.exit_code == 0, r.output
    assert len(stored()[1]) == 6


def test_skipped_cases_run_again_without_duplicate_rows(env) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA, where cuda cases are skipped")
    assert bench("run", "tiny.toml", "--device", "cuda", "--no-peaks", *INLINE).exit_code == 0
    assert bench("run", "--resume", "latest", *INLINE).exit_code == 0
    run, results = stored()
    assert [x.status for x in results] == [CaseStatus.SKIPPED] * 4
    assert len({x.case_key for x in results}) == 4 and run.status == RunStatus.FINISHED


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run"], "give a SUITE to run, or --resume RUN"),
        (["run", "tiny.toml", "--resume", "latest"], "drop SUITE"),
        (["run", "--resume", "latest", "--filter", "channels=8"], "drop --filter"),
        (["run", "tiny.toml", "--force"], "--force goes with --resume"),
        (["run", "--resume", "nosuch"], "bad RUN 'nosuch'"),
    ],
)
def test_resume_usage_errors(env, args, message) -> None:
    assert bench("run", "tiny.toml", "--no-peaks", "--filter", "channels=8", *INLINE).exit_code == 0
    r = bench(*args)
    assert r.exit_code == 2 and message in r.output, r.output


def test_resume_refuses_a_live_run_and_one_without_a_plan(env, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    now = datetime.now(UTC)
    suite = load_suite("tiny.toml")
    base = dict(suite=suite.name, suite_digest=suite.digest, environment={}, fingerprint="f")
    with Store.open(url, create=True) as store:
        store.start_run(
            RunRecord(
                **base,
                started_at=now,
                heartbeat_at=now,
                planned=4,
                suite_source=str(tmp_path / "tiny.toml"),
                plan={},
            )
        )
        store.start_run(RunRecord(**base, started_at=now, status=RunStatus.INTERRUPTED))
    r = bench("run", "--resume", "1", "--db", url)
    assert r.exit_code == 2 and "is still running" in r.output
    r = bench("run", "--resume", "2", "--db", url)
    assert r.exit_code == 2 and "does not record how it was planned" in r.output


def test_stale_is_derived_from_the_heartbeat(monkeypatch) -> None:
    t = datetime(2025, 1, 1, tzinfo=UTC)
    run = RunRecord("s", "d", {}, "f", started_at=t, heartbeat_at=t + timedelta(minutes=5))
    after = timedelta(minutes=10)
    assert not run.is_stale(now=t + timedelta(minutes=14), after=after)
    assert run.is_stale(now=t + timedelta(minutes=16), after=after)
    assert run.shown_status(now=t + timedelta(minutes=16)) == "stale"
    run.status = RunStatus.FINISHED
    assert not run.is_stale(now=t + timedelta(days=9), after=after)
    monkeypatch.setenv("BENCH_STALE_AFTER", "2.5")
    assert stale_after() == timedelta(seconds=2.5)
    for bad in ("0", "-3", "soon", "inf"):
        monkeypatch.setenv("BENCH_STALE_AFTER", bad)
        with pytest.raises(UsageError, match="BENCH_STALE_AFTER"):
            stale_after()


def test_sigkill_keeps_rows_shows_stale_and_resume_completes(
    db_url, tmp_path, start_bench, wait_until
) -> None:
    """For real: a worker-isolated `bench run` killed with SIGKILL in the middle."""
    (tmp_path / "ten.toml").write_text(
        suite_text([8, 16, 24, 32, 40], min_time_ms=200, max_time_ms=400)
    )
    proc = start_bench("run", "ten.toml", "--db", db_url, "--no-peaks", "--label", "k")

    def some_rows():
        runs, results = run_rows(db_url)
        return runs and len(results[runs[0].id]) >= 1 and (runs, results)

    wait_until(lambda: some_rows() or proc.poll() is not None, "a first committed case")
    assert proc.poll() is None, f"bench ended before the kill:\n{proc.communicate()}"
    workers = children(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    (run,), results = some_rows()
    kept = len(results[run.id])
    assert 1 <= kept < 10 and run.status == RunStatus.RUNNING
    assert workers and wait_until(lambda: all(map(gone, workers)), "the worker to exit")

    # Stale once the heartbeat is older than the timeout (tiny here), never rewritten.
    stale_env = {"BENCH_STALE_AFTER": "0.5"}

    def shown(env: dict[str, str]) -> str:
        out = start_bench("runs", "--db", db_url, "--json", env=env).communicate()[0]
        return json.loads(out)[0]["status"]

    assert shown({"BENCH_STALE_AFTER": "600"}) == "running"
    wait_until(lambda: shown(stale_env) == "stale", "the run to show as stale")
    assert run_rows(db_url)[0][0].status == RunStatus.RUNNING

    # Not stale by the clock (10 min), but its process on this host is gone: resumable
    # at once, without --force (the run records host and pid).
    not_yet = {"BENCH_STALE_AFTER": "600"}
    resumed = start_bench("run", "--resume", run.uid[:8], "--db", db_url, env=not_yet)
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, out + err
    (run,), results = run_rows(db_url)
    assert run.status == RunStatus.FINISHED
    keys = [x.case_key for x in results[run.id]]
    assert len(keys) == len(set(keys)) == 10
