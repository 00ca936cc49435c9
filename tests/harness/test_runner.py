"""The runner: ok, failed, skipped and interrupted paths, each case committed."""

from __future__ import annotations

import pytest

import harness.execute as execute
from harness.runner import RunInterrupted, plan, run_suite
from harness.suites import parse_suite
from harness.timing_config import TimingOverrides
from results.errors import UsageError
from results.records import CaseStatus, RunStatus
from results.store import Store

SUITE = b"""
[timing]
min_time_ms = 5
max_time_ms = 50
warmup_ms = 2

[[sweep]]
workload = ["conv", "separable"]
channels = [8, 16]
size = 8
"""


@pytest.fixture
def suite():
    return parse_suite(SUITE, source="t.toml", default_name="t")


@pytest.fixture
def store(tmp_path):
    s = Store.open(f"sqlite:///{tmp_path / 'r.db'}", create=True)
    yield s
    s.close()


def test_all_cases_ok_and_stored(suite, store) -> None:
    seen = []
    outcome = run_suite(
        suite,
        suite.cases,
        store,
        peaks=False,
        label="t",
        progress=lambda i, n, c, r, k: seen.append((i, n, r is None)),
    )
    assert [r.status for r in outcome.results] == [CaseStatus.OK] * 4
    assert outcome.run.status == RunStatus.FINISHED
    stored = store.results(outcome.run.id)
    assert sorted(r.case_key for r in stored) == sorted(c.key for c in suite.cases)
    for r in stored:
        assert len(r.samples) >= 10 and r.stats.median > 0
        assert r.macs > 0 and r.bytes > 0
    # progress: a "starting" and a "finished" call per case and round (3 by default)
    assert seen[0] == (0, 12, True) and seen[-1] == (12, 12, False)
    assert len(seen) == 24
    assert outcome.run.environment["cpu_count"] >= 1
    assert outcome.run.label == "t"


def test_a_failing_case_is_a_row_and_the_run_goes_on(suite, store, monkeypatch) -> None:
    real = execute.prepare

    def prepare(case):
        if case.workload == "separable" and case.params["channels"] == 8:
            raise RuntimeError("boom\nsecond line")
        return real(case)

    monkeypatch.setattr(execute, "prepare", prepare)
    outcome = run_suite(suite, suite.cases, store, peaks=False, isolation="inline")
    statuses = {r.case_id: r.status for r in store.results(outcome.run.id)}
    assert list(statuses.values()).count(CaseStatus.FAILED) == 1
    assert outcome.failed == 1
    failed = next(r for r in outcome.results if r.status == CaseStatus.FAILED)
    assert failed.error.startswith("RuntimeError: boom")
    assert failed.samples == []
    assert outcome.run.status == RunStatus.FINISHED


def test_out_of_memory_is_a_failed_row(suite, store, monkeypatch) -> None:
    import torch

    def prepare(case):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(execute, "prepare", prepare)
    outcome = run_suite(suite, suite.cases[:1], store, peaks=False, isolation="inline")
    assert outcome.results[0].status == CaseStatus.FAILED
    assert "OutOfMemoryError" in outcome.results[0].error


def test_unavailable_device_is_skipped_with_reason(suite, store, monkeypatch) -> None:
    monkeypatch.setattr(execute, "unavailable", lambda d, t: "no CUDA device on this machine")
    outcome = run_suite(suite, suite.cases[:2], store, peaks=False, isolation="inline")
    assert [r.status for r in outcome.results] == [CaseStatus.SKIPPED] * 2
    assert outcome.results[0].error == "no CUDA device on this machine"
    assert outcome.failed == 0


def test_cuda_cases_skip_on_a_cpu_machine(store) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    s = parse_suite(
        b'[[sweep]]\nworkload = "conv"\nchannels = 8\ndevice = "cuda"',
        source="t.toml",
        default_name="t",
    )
    outcome = run_suite(s, s.cases, store, peaks=False)
    assert outcome.results[0].status == CaseStatus.SKIPPED
    assert "CUDA" in outcome.results[0].error


def test_interrupt_keeps_finished_cases_and_marks_the_run(suite, store, monkeypatch) -> None:
    real = execute.run_case
    calls = []

    def run_case(case, config):
        calls.append(case)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(case, config)

    monkeypatch.setattr(execute, "run_case", run_case)
    with pytest.raises(RunInterrupted) as info:
        run_suite(suite, suite.cases, store, peaks=False, isolation="inline")
    assert info.value.exit_code == 130
    run = store.runs()[0]
    assert run.status == RunStatus.INTERRUPTED
    assert len(store.results(run.id)) == 2


def test_threads_are_set_for_the_case_and_restored(store, monkeypatch) -> None:
    import torch

    before = torch.get_num_threads()
    seen = []
    s = parse_suite(
        b"[timing]\nmin_time_ms = 1\nmax_time_ms = 5\n"
        b'[[sweep]]\nworkload = "conv"\nchannels = 4\nsize = 4\nthreads = 1',
        source="t.toml",
        default_name="t",
    )
    real = execute.prepare

    def prepare(case):
        seen.append(torch.get_num_threads())
        return real(case)

    monkeypatch.setattr(execute, "prepare", prepare)
    run_suite(s, s.cases, store, peaks=False, isolation="inline")
    assert seen == [1, 1, 1]  # once per round
    assert torch.get_num_threads() == before


def test_plan_device_override_and_filters(suite) -> None:
    cases = plan(suite, device="cuda:1")
    assert {c.device for c in cases} == {"cuda:1"}
    assert len(cases) == len(suite.cases)
    assert len(plan(suite, filters=["channels=8"])) == 2
    with pytest.raises(UsageError, match="no case"):
        plan(suite, filters=["channels=99"])
    with pytest.raises(UsageError, match="--device"):
        plan(suite, device="gpu")


def test_timing_comes_from_the_suite(suite) -> None:
    assert suite.timing == TimingOverrides(min_time_ms=5, max_time_ms=50, warmup_ms=2)


def test_an_unexpected_error_marks_the_run_interrupted(suite, store, monkeypatch) -> None:
    def broken_add_result(run_id, record):
        raise RuntimeError("database went away")

    monkeypatch.setattr(store, "add_result", broken_add_result)
    with pytest.raises(RuntimeError, match="database went away"):
        run_suite(suite, suite.cases, store, peaks=False, isolation="inline")
    assert store.runs()[0].status == RunStatus.INTERRUPTED


def test_the_environment_is_stored_once_for_runs_on_one_machine(suite, store) -> None:
    """Peaks (measured afresh each run) live with the run, so the environment row of a
    machine is shared by its runs."""
    from sqlalchemy import func, select

    from results.models import Environment

    first = run_suite(suite, suite.cases[:1], store, isolation="inline", rounds=1)
    second = run_suite(suite, suite.cases[:1], store, isolation="inline", rounds=1)
    assert first.run.peaks and second.run.peaks  # measured both times...
    assert "peaks" not in first.run.environment
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Environment)).scalar_one() == 1
    assert first.run.fingerprint == second.run.fingerprint
