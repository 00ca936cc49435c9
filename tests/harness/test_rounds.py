"""Rounds: the plan runs N times in fresh processes, shuffled by a stored seed, partners
side by side; each result keeps its rounds; a resumed run completes the missing rounds."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

import harness.execute as execute
from harness.cases import Case, described
from harness.cli import cli
from harness.runner import PlanSpec, RunInterrupted, plan_resume, resume_run, run_suite
from harness.schedule import round_order
from harness.suites import load_suite, parse_suite
from harness.timing_config import TimingConfig
from harness.worker import ProcessExecutor
from results.errors import SuiteError
from results.pairs import partner_key
from results.records import CaseStatus, ResultRecord, RunStatus
from results.store import Store

SUITE = b"""
[timing]
rounds = 3
min_time_ms = 2
max_time_ms = 10
warmup_ms = 1

[[sweep]]
workload = ["conv", "separable"]
channels = [8, 16]
size = 8

[[sweep]]
workload = "depthwise"
channels = 8
size = 8
"""


@pytest.fixture
def suite():
    return parse_suite(SUITE, source="r.toml", default_name="r")


@pytest.fixture
def store(tmp_path):
    s = Store.open(f"sqlite:///{tmp_path / 'r.db'}", create=True)
    yield s
    s.close()


class FakeTimer:
    """Stands in for execute.run_case: records the order, returns made-up samples whose
    level depends on the case and the round (so round medians differ by design)."""

    def __init__(self, fail: dict[str, int] | None = None, interrupt_at: int | None = None):
        self.calls: list[Case] = []
        self.fail = fail or {}  # case key -> the call number (1-based, per case) that fails
        self.interrupt_at = interrupt_at

    def __call__(self, case: Case, config: TimingConfig) -> ResultRecord:
        self.calls.append(case)
        if self.interrupt_at is not None and len(self.calls) == self.interrupt_at:
            raise KeyboardInterrupt
        nth = sum(c.key == case.key for c in self.calls)
        record = ResultRecord(**described(case), status=CaseStatus.OK, target=config.target)
        record.started_at = datetime.now(UTC)
        if self.fail.get(case.key) == nth:
            record.status, record.error = CaseStatus.FAILED, "RuntimeError: flaky"
            return record
        level = 1e-3 * (1 + case.params["channels"] / 100) * (1 + 0.01 * nth)
        record.samples = [level * (1 + 0.001 * i) for i in range(10)]
        record.contended = False
        return record


def rounds_of(calls: list[Case], n_cases: int) -> list[list[Case]]:
    return [calls[i : i + n_cases] for i in range(0, len(calls), n_cases)]


def test_each_round_runs_every_case_in_its_own_seeded_order(suite, store, monkeypatch):
    fake = FakeTimer()
    monkeypatch.setattr(execute, "run_case", fake)
    outcome = run_suite(suite, suite.cases, store, peaks=False, isolation="inline", seed=1234)
    run = outcome.run
    assert (run.rounds, run.seed, run.status) == (3, 1234, RunStatus.FINISHED)
    per_round = rounds_of(fake.calls, len(suite.cases))
    assert len(per_round) == 3
    for r, order in enumerate(per_round, start=1):
        assert order == round_order(suite.cases, 1234, r)
    # a shuffled order: the three rounds are not all alike (5 cases, 3 units)
    assert len({tuple(c.key for c in order) for order in per_round}) > 1
    stored = {r.case_key: r for r in store.results(run.id)}
    assert len(stored) == len(suite.cases)  # one row per case, rounds appended to it
    for r in stored.values():
        assert r.round_sizes == [10, 10, 10] and len(r.samples) == 30
        medians = r.round_medians
        assert len(medians) == 3 and medians[0] < medians[1] < medians[2]
        assert r.stats.median == pytest.approx(medians[1])  # median of the round medians


def test_partners_run_side_by_side_in_every_round(suite, store, monkeypatch):
    fake = FakeTimer()
    monkeypatch.setattr(execute, "run_case", fake)
    run_suite(suite, suite.cases, store, peaks=False, isolation="inline", seed=7)
    for order in rounds_of(fake.calls, len(suite.cases)):
        keys = [partner_key(c.workload, c.params) for c in order]
        for i, found in enumerate(keys):
            if found is None:
                continue
            neighbours = [keys[j] for j in (i - 1, i + 1) if 0 <= j < len(keys)]
            assert any(n is not None and n[0] == found[0] for n in neighbours), order


def test_each_round_starts_fresh_workers(suite, store, monkeypatch):
    recycled: list[int] = []
    real = run_suite.__globals__["open_executor"]

    class Counting:
        def __init__(self, inner):
            self.inner = inner
            self.fresh_rounds = True

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def recycle(self):
            recycled.append(len(fake.calls))
            self.inner.recycle()

    def counting_executor(isolation):
        import contextlib

        @contextlib.contextmanager
        def cm():
            with real("inline") as inner:
                yield Counting(inner)

        return cm()

    fake = FakeTimer()
    monkeypatch.setattr(execute, "run_case", fake)
    monkeypatch.setattr("harness.runner.open_executor", counting_executor)
    run_suite(suite, suite.cases, store, peaks=False)
    n = len(suite.cases)
    assert recycled == [0, n, 2 * n]  # before each round's first case


def test_process_executor_starts_a_fresh_worker_after_recycle():
    case = Case.make("conv", channels=4, size=4)
    config = TimingConfig(min_time=0.001, max_time=0.005, warmup_time=0.001)
    executor = ProcessExecutor()
    try:
        assert executor.environment({"cpu"})["torch"]
        assert executor.pids() == {}  # the environment's own worker is gone
        assert executor.run_case(case, config).status == CaseStatus.OK
        first = executor.pids()
        executor.recycle()
        assert executor.pids() == {}
        assert executor.run_case(case, config).status == CaseStatus.OK
        assert executor.pids()["cpu"] != first["cpu"]
    finally:
        executor.close()


def test_a_failed_round_fails_the_case_and_ends_its_rounds(suite, store, monkeypatch):
    victim = suite.cases[0]
    fake = FakeTimer(fail={victim.key: 2})
    monkeypatch.setattr(execute, "run_case", fake)
    outcome = run_suite(suite, suite.cases, store, peaks=False, isolation="inline")
    runs = Counter(c.key for c in fake.calls)
    assert runs[victim.key] == 2 and all(runs[c.key] == 3 for c in suite.cases[1:])
    (row,) = [r for r in store.results(outcome.run.id) if r.case_key == victim.key]
    assert row.status == CaseStatus.FAILED and row.error == "round 2: RuntimeError: flaky"
    assert row.round_sizes == [10]  # the first round's samples are kept
    assert outcome.failed == 1


def test_resume_completes_the_missing_rounds(tmp_path, store, monkeypatch):
    path = tmp_path / "r.toml"
    path.write_bytes(SUITE)
    suite = load_suite(str(path))
    n = len(suite.cases)
    monkeypatch.setattr(execute, "run_case", FakeTimer(interrupt_at=n + 3))  # in round 2
    with pytest.raises(RunInterrupted):
        run_suite(
            suite,
            suite.cases,
            store,
            peaks=False,
            isolation="inline",
            seed=5,
            spec=PlanSpec(source=str(path)),
        )
    (run,) = store.runs()
    have = store.case_rounds(run.id)
    assert sorted(k for _, k in have.values()) == [1, 1, 1, 2, 2]
    todo = plan_resume(store, str(run.id))
    assert len(todo.cases) == n  # every case lacks at least one round
    fake = FakeTimer()
    monkeypatch.setattr(execute, "run_case", fake)
    outcome = resume_run(todo, store, isolation="inline")
    assert outcome.run.status == RunStatus.FINISHED
    assert len(fake.calls) == 3 * n - 7  # 7 case-rounds were done before the interrupt
    # the cases that lacked two rounds ran first, then all of them: partners stay level
    assert {c.key for c in fake.calls[:3]} == {k for k, (_, m) in have.items() if m == 1}
    rows = store.results(run.id)
    assert all(len(r.round_sizes) == 3 for r in rows), [r.round_sizes for r in rows]


def test_round_medians_and_contention_are_shown(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BENCH_DB", raising=False)
    (tmp_path / "r.toml").write_bytes(SUITE)
    runner = CliRunner()
    r = runner.invoke(
        cli, ["run", "r.toml", "--no-peaks", "--isolation", "inline", "--rounds", "2"]
    )
    assert r.exit_code == 0, r.output
    assert "case-round" in r.output  # no terminal: one line per finished case-round
    shown = json.loads(runner.invoke(cli, ["show", "latest", "--json"]).output)
    assert shown["rounds"] == 2 and isinstance(shown["seed"], int)
    assert isinstance(shown["warnings"], list)
    for result in shown["results"]:
        assert len(result["round_medians"]) == 2 and result["rounds"] == 2
        assert result["contended"] in (True, False)
        assert result["round_spread"] >= 0
        assert sum(result["round_sizes"]) == result["n_samples"]


def test_rounds_option_is_checked_and_refused_with_resume(tmp_path):
    runner = CliRunner()
    r = runner.invoke(cli, ["run", "smoke", "--rounds", "0", "--dry-run"])
    assert r.exit_code == 2 and "--rounds" in r.output
    r = runner.invoke(cli, ["run", "--resume", "1", "--rounds", "2"])
    assert r.exit_code == 2 and "--rounds" in r.output
    r = runner.invoke(cli, ["run", "smoke", "--min-time", "2", "--max-time", "1", "--dry-run"])
    assert r.exit_code == 2 and "exceeds max_time_ms" in r.output


def test_suite_rounds_key_is_validated():
    with pytest.raises(SuiteError, match=r"timing.rounds: bad rounds 0 \(expected a number"):
        parse_suite(
            b'[timing]\nrounds = 0\n[[sweep]]\nworkload = "conv"\nchannels = 8',
            source="x.toml",
            default_name="x",
        )


def test_a_throttled_gpu_is_a_run_warning(suite, store, monkeypatch):
    fake = FakeTimer()

    def throttled(case, config):
        record = fake(case, config)
        dropped = 2 if case.workload == "conv" else 0
        record.clocks = {"sm_mhz_min": 1100.0, "dropped_batches": dropped, "batches": 9}
        return record

    monkeypatch.setattr(execute, "run_case", throttled)
    outcome = run_suite(suite, suite.cases, store, peaks=False, isolation="inline", rounds=1)
    (warning,) = [w for w in outcome.run.warnings if w.startswith("the GPU was throttled")]
    assert "2 case(s)" in warning and "1100.0 MHz" in warning
