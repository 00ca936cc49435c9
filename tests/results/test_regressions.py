"""History analysis on synthetic runs: sustained changes flagged, noise and one-offs not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from results.records import CaseStatus, ResultRecord, RunRecord
from results.regressions import (
    RECENT,
    WINDOW,
    LogicalRun,
    analyze,
    find_regressions,
    logical_runs,
)
from results.store import Store
from results.verdicts import STRADDLES, TOO_WIDE

N_RUNS = WINDOW + RECENT  # 15 + 3
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
    base = [1.0] * WINDOW
    h = history(
        {
            0: flat,
            1: base + [1.2] * 3,  # regressed three nights ago and stayed
            2: flat[:-1] + [1.2],  # only last night: not yet a level
            3: base + [0.8] * 3,  # improved
            4: flat[:6] + [1.4] + flat[7:],  # one odd baseline night
            5: base + [1.2, 0.8, 1.0],  # up then down: no sustained change
            6: [1.2] * WINDOW + [1.0] * 3,  # a recovery is an improvement
            7: [1.0] * 12 + [1.2] * 6,  # regressed six nights ago: the step names the run
        }
    )
    trends = analyze("conv", h)
    assert by_case(trends) == {
        "conv[batch=0]": "same",
        "conv[batch=1]": "slower",
        "conv[batch=2]": "ambiguous",
        "conv[batch=3]": "faster",
        "conv[batch=4]": "same",
        "conv[batch=5]": "ambiguous",
        "conv[batch=6]": "faster",
        "conv[batch=7]": "slower",  # 3 of 15 baseline runs slow already: trimmed away
    }
    slow = trends[1]
    assert slow.change is not None and 1.15 < slow.change.ratio < 1.25
    assert slow.change.unit == "run" and (slow.change.n_base, slow.change.n_head) == (15, 3)
    assert slow.change.ci_low > 1.05
    assert [round(r, 1) for r in slow.recent_ratios] == [1.2, 1.2, 1.2]
    assert [lr.ids for lr in slow.baseline] == [(i,) for i in range(1, 16)]
    assert [lr.ids for lr in slow.recent] == [(16,), (17,), (18,)]
    assert slow.changed_at is not None and slow.changed_at.ids == (16,)
    assert slow.step_ratio == pytest.approx(1.2, rel=0.02)
    assert trends[2].reason_kind in (STRADDLES, TOO_WIDE) and trends[2].changed_at is None
    assert trends[0].reason is None and trends[0].changed_at is None


def test_the_step_names_the_first_run_at_the_new_level() -> None:
    h = history({0: [1.0] * 12 + [1.3] * 6})
    (t,) = analyze("conv", h)
    assert t.verdict == "slower" and t.changed_at is not None
    assert t.changed_at.ids == (13,)  # not the first recent run: the level moved earlier
    assert t.step_ratio == pytest.approx(1.3, rel=0.02)
    # Once the baseline is at the new level, the level is the norm again.
    (t,) = analyze("conv", h, window=4, recent=2)
    assert t.verdict == "same" and t.changed_at is None


def test_window_limits_the_baseline() -> None:
    # Slow long ago, fast for the 4 runs before the recent 3, and still fast now.
    h = history({0: [1.5] * 8 + [1.0] * 7}, n_runs=15)
    assert by_case(analyze("conv", h, window=4)) == {"conv[batch=0]": "same"}
    # A baseline of mostly slow runs: the recent level is faster than its trimmed mean.
    assert by_case(analyze("conv", h, window=12)) != {"conv[batch=0]": "same"}
    assert by_case(analyze("conv", h, window=3, recent=1, min_baseline=3)) == {
        "conv[batch=0]": "same"
    }


@pytest.mark.parametrize("jitter", [0.0, 0.02])
def test_pure_noise_history_rarely_flags(jitter: float) -> None:
    # Besides the noise within a run, each run's level moves a little (sd = jitter).
    rng = np.random.default_rng(7)
    h = history({i: list(1 + rng.normal(0, jitter, N_RUNS)) for i in range(200)})
    verdicts = [t.verdict for t in analyze("conv", h)]
    assert sum(v in ("slower", "faster") for v in verdicts) <= 4  # <= 2%
    assert verdicts.count("same") >= 180  # quiet enough to say so


def test_incomparable_and_ambiguous_cases_say_why() -> None:
    h = history({0: [1.0] * N_RUNS, 1: [1.0] * N_RUNS, 2: [1.0] * N_RUNS, 3: [1.0] * N_RUNS})
    key1, key2, key3 = (make_result(i).case_key for i in (1, 2, 3))
    failed = make_result(1, status=CaseStatus.FAILED, samples=[])
    h[-2].results[key1] = failed  # failed in a recent run
    for lr in h[:-3]:
        del lr.results[key2]  # new case: no baseline yet
    for lr in h[:-5]:
        del lr.results[key3]  # two baseline runs only
    trends = {t.case_id: t for t in analyze("conv", h)}
    t1, t2, t3 = (trends[f"conv[batch={i}]"] for i in (1, 2, 3))
    assert (t1.verdict, t1.reason) == ("incomparable", "failed in recent run 00000000")
    assert t1.reason_kind == "failed in a recent run"
    assert t2.verdict == "ambiguous" and t2.reason_kind == "too few baseline runs"
    assert t2.reason == (
        "0 ok baseline run(s) in the 15 before the recent ones; at least 3 needed (--min-baseline)"
    )
    assert t3.verdict == "ambiguous" and t3.reason.startswith("2 ok baseline run(s)")
    assert [lr.ids for lr in t3.baseline] == [(14,), (15,)]
    (judged,) = [t for t in analyze("conv", h, min_baseline=2) if t.case_id == t3.case_id]
    assert judged.reason_kind != "too few baseline runs"
    assert judged.change is not None and judged.change.n_base == 2
    assert trends["conv[batch=0]"].verdict == "same"


def test_noisy_and_contended_runs_are_named() -> None:
    h = history({0: [1.0] * N_RUNS})
    key = make_result(0).case_key
    h[-1].results[key].contended = True
    h[2].results[key].samples = samples([0, 99], 1.0, sigma=0.5)  # IQR/median > 10%
    (t,) = analyze("conv", h)
    assert t.contended_runs == (h[-1].name,)
    assert t.noisy_runs == (h[2].name,)
    assert t.verdict == "same"  # marked, not judged differently


def test_too_little_history_gives_nothing() -> None:
    h = history({0: [1.0, 2.0]}, n_runs=2)
    assert analyze("conv", h) == []
    with pytest.raises(ValueError):
        analyze("conv", h, window=0)
    with pytest.raises(ValueError):
        analyze("conv", h, min_baseline=1)


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
        found = find_regressions(store, label="nightly", window=5, recent=2)
        assert by_case(found.trends) == {"conv[batch=0]": "same", "conv[batch=1]": "slower"}
        slow = found.with_verdict("slower")[0]
        assert [lr.name for lr in slow.recent] == ["n5", "n6"]
        assert slow.changed_at is not None and slow.changed_at.name == "n5"
        assert [len(lr.ids) for lr in slow.baseline] == [2] * 5
        assert found.notes == []

        # The newest run sets the machine: the "other" one has no history of its own.
        add_run(store, 8, {0: 1.0}, "EPYC", label="nightly")
        again = find_regressions(store, label="nightly", suite="conv")
        assert again.trends == []
        assert again.notes == [
            "suite conv: 2 run(s) with fingerprint fp-EPYC; need at least 4 (--recent 3, "
            "plus a baseline), and 6 for a verdict (--min-baseline 3)"
        ]
        for day in (9, 10):
            add_run(store, day, {0: 1.0}, "EPYC", label="nightly")
        thin = find_regressions(store, label="nightly", suite="conv")
        assert [t.verdict for t in thin.trends] == ["ambiguous"]
        assert thin.trends[0].reason.startswith("1 ok baseline run(s) in the 1 before")
        assert thin.notes == [
            "suite conv: 4 run(s) with fingerprint fp-EPYC; a verdict needs 6 (--recent 3 "
            "plus --min-baseline 3): every case is ambiguous until then"
        ]
