"""Groups as first-class runs (show, export, report, speedup take group:NAME), bench speedup,
delete and prune. The database is written through the store, no timing involved."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from harness.cases import Case, described
from harness.cli import cli
from results.records import CaseStatus, ResultRecord, RunRecord, RunStatus
from results.store import Store

T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def record(case: Case, level: float, rounds: int = 3) -> ResultRecord:
    samples = [level * (1 + 0.002 * (i % 5)) * (1 + 0.01 * (i // 10)) for i in range(10 * rounds)]
    return ResultRecord(
        **described(case),
        status=CaseStatus.OK,
        samples=samples,
        round_sizes=[10] * rounds,
        target=0.05,
        contended=False,
    )


def add_run(
    store: Store,
    *,
    started: datetime,
    suite="s",
    label=None,
    group=None,
    shard=None,
    status=RunStatus.FINISHED,
    results=(),
) -> RunRecord:
    run = store.start_run(
        RunRecord(
            suite=suite,
            suite_digest="d",
            environment={"cpu_model": "x"},
            fingerprint="f",
            started_at=started,
            label=label,
            group=group,
            shard=shard,
            rounds=3,
            heartbeat_at=datetime.now(UTC),
        )
    )
    store.add_results(run.id, list(results))
    if status != RunStatus.RUNNING:
        store.finish_run(run.id, status, finished_at=started + timedelta(minutes=5))
    return store.get_run(run.id)


CONV = [Case.make("conv", channels=c, size=8) for c in (16, 32)]
SEP = [Case.make("separable", channels=c, size=8) for c in (16, 32)]


@pytest.fixture
def db(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    with Store.open(url, create=True) as store:
        # a sharded nightly: each pair's two sides in different shards
        add_run(
            store,
            started=T0,
            group="night-1",
            shard="1/2",
            label="nightly",
            results=[record(CONV[0], 4e-3), record(SEP[1], 2e-3)],
        )
        add_run(
            store,
            started=T0 + timedelta(minutes=1),
            group="night-1",
            shard="2/2",
            label="nightly",
            results=[record(SEP[0], 1e-3), record(CONV[1], 8e-3)],
        )
        # three plain runs of another suite, the newest still running
        for day in range(3):
            add_run(
                store,
                started=T0 + timedelta(days=day + 1),
                suite="t",
                label="dev",
                results=[record(CONV[0], 4e-3, rounds=1)],
                status=RunStatus.RUNNING if day == 2 else RunStatus.FINISHED,
            )
    return url


def bench(db: str, *args: str):
    return CliRunner().invoke(cli, [*args, "--db", db])


def test_speedup_pairs_across_the_shards_of_a_group(db) -> None:
    r = bench(db, "speedup", "group:night-1", "--json")
    assert r.exit_code == 0, r.output
    pairs = json.loads(r.output)
    assert [p["channels_out"] for p in pairs] == [16, 32]
    for p, ratio in zip(pairs, (0.25, 0.25), strict=True):
        assert p["standard"].startswith("conv[") and p["separable"].startswith("separable[")
        assert p["standard_workload"] == "conv" and p["separable_workload"] == "separable"
        assert p["measured_ratio"] == pytest.approx(ratio, rel=0.02)
        assert p["ci_low"] <= p["measured_ratio"] <= p["ci_high"]
        assert p["interval"] == "rounds"
        assert p["theory_ratio"] == pytest.approx(1 / p["channels_out"] + 1 / 9)
        assert p["efficiency"] == pytest.approx(p["theory_ratio"] / p["measured_ratio"])
        assert p["noisy"] is False and p["batch"] == 1 and p["device"] == "cpu"
    text = bench(db, "speedup", "group:night-1")
    assert text.exit_code == 0 and "2 pair(s), 2 clean" in text.output
    one_shard = bench(db, "speedup", "latest:nightly")
    assert one_shard.exit_code == 2 and "no standard/separable pair" in one_shard.output


def test_show_and_export_take_a_group(db, tmp_path) -> None:
    shown = json.loads(bench(db, "show", "group:night-1", "--json").output)
    assert shown["group"] == "night-1" and len(shown["runs"]) == 2
    assert len(shown["results"]) == 4
    assert all(len(x["round_medians"]) == 3 for x in shown["results"])
    text = bench(db, "show", "group:night-1").output
    assert "shard 1/2" in text and "shard 2/2" in text
    out = tmp_path / "e.json"
    r = bench(db, "export", "group:night-1", "latest:dev", "--format", "json", "-o", str(out))
    assert r.exit_code == 0, r.output
    rows = json.loads(out.read_text())
    assert len(rows) == 5 and {x["suite"] for x in rows} == {"s", "t"}
    missing = bench(db, "show", "group:nosuch")
    assert missing.exit_code == 2 and "no run in group 'nosuch'" in missing.output


def test_report_of_an_empty_selection_is_an_error(db, tmp_path) -> None:
    r = bench(db, "report", "--label", "nosuch", "--out", str(tmp_path / "site"))
    assert r.exit_code == 2 and "no run with label 'nosuch'" in r.output
    assert not (tmp_path / "site").exists()
    r = bench(db, "report", "group:night-1", "--out", str(tmp_path / "site"))
    assert r.exit_code == 0, r.output
    assert (tmp_path / "site" / "group-night-1.html").exists()


def test_delete_refuses_a_running_run_and_deletes_the_rest(db) -> None:
    with Store.open(db) as store:
        running = next(r for r in store.runs() if r.status == RunStatus.RUNNING)
        total = len(store.runs())
    r = bench(db, "delete", str(running.id))
    assert r.exit_code == 2 and "still running" in r.output
    r = bench(db, "delete", "group:night-1")
    assert r.exit_code == 0 and "deleted 2 run(s)" in r.output
    with Store.open(db) as store:
        assert len(store.runs()) == total - 2 and not store.runs(group="night-1")


def test_prune_keeps_the_newest_per_series_and_never_a_running_run(db) -> None:
    r = bench(db, "prune", "--keep", "1", "--dry-run")
    assert r.exit_code == 0 and "1 run(s) would be deleted" in r.output
    with Store.open(db) as store:
        before = store.runs()
    r = bench(db, "prune", "--keep", "1")
    assert r.exit_code == 0, r.output
    with Store.open(db) as store:
        after = store.runs()
    # suite t: the running run is neither deleted nor counted; of its two finished runs
    # the newer stays. Suite s: its one logical run, a group of two shards, stays whole.
    gone = {r.id for r in before} - {r.id for r in after}
    (oldest_t,) = [r for r in before if r.suite == "t" and r.started_at == T0 + timedelta(days=1)]
    assert gone == {oldest_t.id}
    assert any(r.status == RunStatus.RUNNING for r in after)
    assert len(store_group(after)) == 2
    assert bench(db, "prune", "--keep", "0").exit_code == 2  # at least 1


def store_group(runs: list[RunRecord]) -> list[RunRecord]:
    return [r for r in runs if r.group == "night-1"]
