"""History analysis on synthetic runs: sustained changes flagged, noise and one-offs not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from results.records import CaseStatus, ResultRecord, RunRecord
from results.regressions import LogicalRun, analyze, find_regressions, logical_runs
from results.store import Store

N_RUNS = 7  # window 5 + recent 2
T0 = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)


def make_run(**changes: object) -> RunRecord:
    fields: dict = {"suite": "conv", "suite_digest": "d" * 64, "started_at": T0}
    fields |= {"environment": {"cpu_model": "Xeon"}, "fingerprint": "f" * 16} | changes
    return RunRecord(**fields)


def make_result(i: int, **changes: object) -> ResultRecord:
    fields: dict = {"case_key": f"{i:016x}", "case_id": f"conv[batch={i}]", "workload": "conv"}
    fields |= {"params": {"batch": i}, "status": CaseStatus.OK} | changes
    return ResultRecord(**fields)


def samples(seed: object, scale: float = 1.0, n: int = 30, sigma: float = 0.03) -> list[float]:
    return list(np.random.default_rng(seed).lognormal(0, sigma, n) * scale * 1e-3)


def history(scales: dict[int, list[float]], n_runs: int = N_RUNS) -> list[LogicalRun]:
    """``n_runs`` runs, oldest first; case i runs at ``scales[i][run]`` x 1 ms."""
    out = []
    for k in range(n_runs):
        run = make_run(id=k + 1, uid=f"{k + 1:032x}", started_at=T0 + timedelta(days=k))
        results = {}
        for i, sc in scales.items():
            r = make_result(i, samples=samples([i, k], sc[k]))
            results[r.case_key] = r
        out.append(LogicalRun((run,), results))
    return out


def by_case(trends) -> dict[str, str]:
    return {t.case_id: t.verdict for t in trends}


def test_sustained_changes_are_flagged_one_offs_are_not() -> None:
    flat = [1.0] * N_RUNS
    h = history(
        {
            0: flat,
            1: [1.0] * 5 + [1.2, 1.2],  # regressed two nights ago and stayed
            2: [1.0] * 6 + [1.2],  # only last night: wait for a second night
            3: [1.0] * 5 + [0.8, 0.8],  # improved
            4: [1.0, 1.0, 1.4, 1.0, 1.0, 1.0, 1.0],  # one odd baseline night
            5: [1.0] * 5 + [1.2, 0.8],  # up then down: no sustained change
            6: [1.2] * 5 + [1.0, 1.0],  # a recovery is an improvement
        }
    )
    trends = analyze("conv", h)
    assert by_case(trends) == {
        "conv[batch=0]": "same",
        "conv[batch=1]": "slower",
        "conv[batch=2]": "same",
        "conv[batch=3]": "faster",
        "conv[batch=4]": "same",
        "conv[batch=5]": "same",
        "conv[batch=6]": "faster",
    }
    slow = trends[1]
    assert slow.change is not None and 1.15 < slow.change.ratio < 1.25
    assert [round(c.ratio, 1) for c in slow.recent_changes] == [1.2, 1.2]
    assert [lr.ids for lr in slow.baseline] == [(1,), (2,), (3,), (4,), (5,)]
    assert [lr.ids for lr in slow.recent] == [(6,), (7,)]


def test_window_limits_the_baseline() -> None:
    # Slow long ago, fast for the 3 runs before the recent 2, and still fast now.
    h = history({0: [1.5] * 5 + [1.0] * 5}, n_runs=10)
    assert by_case(analyze("conv", h, window=3)) == {"conv[batch=0]": "same"}
    # The pooled median follows the majority of the baseline runs (5 slow of 8).
    assert by_case(analyze("conv", h, window=8)) == {"conv[batch=0]": "faster"}
    assert by_case(analyze("conv", h, window=1, recent=1)) == {"conv[batch=0]": "same"}


@pytest.mark.parametrize("jitter", [0.0, 0.02])
def test_pure_noise_history_rarely_flags(jitter: float) -> None:
    # Besides the noise within a run, each run's level moves a little (sd = jitter).
    rng = np.random.default_rng(7)
    h = history({i: list(1 + rng.normal(0, jitter, N_RUNS)) for i in range(200)})
    flagged = [t for t in analyze("conv", h) if t.verdict != "same"]
    assert len(flagged) <= 4  # <= 2%


def test_incomparable_cases_say_why() -> None:
    h = history({0: [1.0] * N_RUNS, 1: [1.0] * N_RUNS, 2: [1.0] * N_RUNS})
    key1, key2 = make_result(1).case_key, make_result(2).case_key
    failed = make_result(1, status=CaseStatus.FAILED, samples=[])
    h[-2].results[key1] = failed  # failed in a recent run
    for lr in h[:-2]:
        del lr.results[key2]  # new case: no baseline yet
    trends = {t.case_id: t for t in analyze("conv", h)}
    assert trends["conv[batch=1]"].verdict == "incomparable"
    assert trends["conv[batch=1]"].reason == "failed in recent run 00000000"
    assert trends["conv[batch=2]"].reason == "no ok result in the 5 runs before the recent ones"
    assert trends["conv[batch=0]"].verdict == "same"


def test_too_little_history_gives_nothing() -> None:
    h = history({0: [1.0, 2.0]}, n_runs=2)
    assert analyze("conv", h) == []
    with pytest.raises(ValueError):
        analyze("conv", h, window=0)


def test_logical_runs_merge_groups() -> None:
    runs = [
        make_run(id=1, uid="a" * 32, started_at=T0),
        make_run(id=3, uid="c" * 32, group="n2", started_at=T0 + timedelta(days=1, seconds=5)),
        make_run(id=2, uid="b" * 32, group="n2", started_at=T0 + timedelta(days=1)),
    ]
    merged = logical_runs(runs)
    assert [lr.ids for lr in merged] == [(1,), (2, 3)]
    assert [lr.name for lr in merged] == ["aaaaaaaa", "n2"]
    assert merged[1].started_at == T0 + timedelta(days=1)


# -- from a store --------------------------------------------------------------------------


def add_run(
    store: Store, day: int, cases: dict[int, float], machine: str = "Xeon", **run: object
) -> RunRecord:
    # The store keys environments by content: the fingerprint follows the machine.
    env = {"environment": {"cpu_model": machine}, "fingerprint": f"fp-{machine}"}
    r = store.start_run(make_run(started_at=T0 + timedelta(days=day), **env, **run))
    results: list[ResultRecord] = [
        make_result(i, samples=samples([i, day, r.id], sc)) for i, sc in cases.items()
    ]
    store.add_results(r.id, results)
    return r


def test_find_regressions_merges_shards_and_keeps_to_one_machine(db_url) -> None:
    with Store.open(db_url, create=True) as store:
        for day in range(5):  # baseline nights, each in two shards
            add_run(store, day, {0: 1.0}, group=f"n{day}", label="nightly")
            add_run(store, day, {1: 1.0}, group=f"n{day}", label="nightly")
        for day in (5, 6):  # case 1 regressed; case 0 did not
            add_run(store, day, {0: 1.0}, group=f"n{day}", label="nightly")
            add_run(store, day, {1: 1.25}, group=f"n{day}", label="nightly")
        # Another machine: much slower, and not part of this history.
        add_run(store, 3, {0: 2.0, 1: 2.0}, "EPYC", label="nightly")
        add_run(store, 7, {0: 1.0, 1: 1.3}, label="dev")  # other label
        found = find_regressions(store, label="nightly")
        assert by_case(found.trends) == {"conv[batch=0]": "same", "conv[batch=1]": "slower"}
        slow = found.with_verdict("slower")[0]
        assert [lr.name for lr in slow.recent] == ["n5", "n6"]
        assert [len(lr.ids) for lr in slow.baseline] == [2] * 5
        assert found.notes == []

        # The newest run sets the machine: the "other" one has no history of its own.
        add_run(store, 8, {0: 1.0}, "EPYC", label="nightly")
        again = find_regressions(store, label="nightly", suite="conv")
        assert again.trends == []
        assert again.notes == [
            "suite conv: 2 run(s) with fingerprint fp-EPYC; need at least 3 "
            "(--recent 2, plus a baseline)"
        ]
