"""Rounds in the store: statistics over rounds, rounds appended to a row, and revision
0003 (rounds, contention, run warnings; peaks moved out of the environment)."""

from __future__ import annotations

import math

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from results.connect import MIGRATIONS_DIR
from results.frames import results_frame, runs_frame
from results.records import CaseStatus, RunStatus
from results.stats import round_spread, split_rounds, summarize
from results.store import Store


def test_median_of_rounds_weighs_each_round_alike() -> None:
    # round 1: 3 samples at ~1.0; round 2: 30 samples at ~2.0; round 3: 3 at ~1.1
    samples = [1.0, 1.0, 1.0] + [2.0] * 30 + [1.1, 1.1, 1.1]
    s = summarize(samples, [3, 30, 3])
    assert s.round_medians == (1.0, 2.0, 1.1)
    assert s.median == 1.1  # the pooled median would be 2.0: the big round would decide
    assert s.n == 36 and s.min == 1.0 and s.max == 2.0
    assert s.round_spread == pytest.approx((2.0 - 1.0) / 2 / 1.1)
    assert s.noisy  # rounds ±45% apart


def test_noisy_when_rounds_disagree_beyond_the_target() -> None:
    tight = [1.0 + 0.001 * i for i in range(10)]
    shifted = [x * 1.04 for x in tight]  # a second round 4% slower
    s = summarize(tight + shifted, [10, 10], round_tolerance=0.01)
    assert s.rel_iqr < 0.10 and s.round_spread == pytest.approx(0.02, rel=0.05)
    assert s.noisy  # ±2% between rounds > the 1% the case was timed for
    assert not summarize(tight + shifted, [10, 10], round_tolerance=0.05).noisy
    one = summarize(tight)
    assert one.round_spread is None and one.rounds == 1 and not one.noisy


def test_round_sizes_must_add_up() -> None:
    with pytest.raises(ValueError, match="do not add up"):
        split_rounds([1.0, 2.0, 3.0], [1, 1])
    with pytest.raises(ValueError, match="do not add up"):
        split_rounds([1.0, 2.0], [2, 0])
    assert round_spread([2.0]) is None and math.isinf(round_spread([0.0, 0.0]))


def test_rounds_are_appended_to_one_row(db_url, make_run, make_result) -> None:
    with Store.open(db_url, create=True) as store:
        run = store.start_run(make_run(rounds=3, seed=99, warnings=["w"]))
        first = make_result(0, samples=[1.0] * 5, target=0.01, contended=False, others_cpu=0.1)
        store.add_result(run.id, first)
        store.add_round(run.id, make_result(0, samples=[1.2] * 7, contended=True, others_cpu=0.9))
        store.add_round(run.id, make_result(0, samples=[1.1] * 6, contended=False))
        (row,) = store.results(run.id)
        assert row.round_sizes == [5, 7, 6] and row.round_medians == [1.0, 1.2, 1.1]
        assert row.stats.median == pytest.approx(1.1) and row.stats.n == 18
        assert row.contended is True and row.others_cpu == pytest.approx(0.9)
        assert row.target == 0.01
        assert store.case_rounds(run.id) == {row.case_key: (CaseStatus.OK, 3)}
        assert store.contention(run.id) == (1, 1, pytest.approx(0.9))
        again = store.get_run(run.id)
        assert (again.rounds, again.seed, again.warnings) == (3, 99, ["w"])
        frame = results_frame(store)
        assert frame.loc[0, "rounds"] == 3 and frame.loc[0, "round_medians"] == [1.0, 1.2, 1.1]
        assert bool(frame.loc[0, "contended"]) is True
        assert runs_frame(store).loc[0, "warnings"] == ["w"]


def test_a_failed_round_keeps_the_earlier_samples(db_url, make_run, make_result) -> None:
    with Store.open(db_url, create=True) as store:
        run = store.start_run(make_run(rounds=2))
        store.add_result(run.id, make_result(0, samples=[1.0] * 5))
        failed = make_result(0, samples=[], status=CaseStatus.FAILED, error="OOM")
        stored = store.add_round(run.id, failed)
        assert stored.status == CaseStatus.FAILED and stored.error == "round 2: OOM"
        (row,) = store.results(run.id)
        assert row.status == CaseStatus.FAILED and row.samples == [1.0] * 5
        assert store.case_rounds(run.id) == {row.case_key: (CaseStatus.FAILED, 1)}


def test_finish_run_replaces_the_warnings(db_url, make_run) -> None:
    with Store.open(db_url, create=True) as store:
        run = store.start_run(make_run(warnings=["at start"]))
        store.finish_run(run.id, RunStatus.FINISHED, warnings=["at start", "busy"])
        assert store.get_run(run.id).warnings == ["at start", "busy"]
        store.finish_run(run.id, RunStatus.FINISHED)  # no warnings given: kept
        assert store.get_run(run.id).warnings == ["at start", "busy"]


def _config(conn) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = conn
    return cfg


def test_upgrade_from_0002_moves_peaks_and_reads_old_rows_as_one_round(
    db_url, make_run, make_result
) -> None:
    peaks = {"cpu": {"macs_per_s": 6.7e10, "bytes_per_s": 1e10}}
    with Store.open(db_url, create=True) as store, store.engine.begin() as conn:
        command.downgrade(_config(conn), "0002")
        env_id = conn.execute(
            text(
                "INSERT INTO environments (fingerprint, digest, data) "
                "VALUES ('f', 'd', :data) RETURNING id"
            ),
            {"data": '{"cpu_model": "x", "peaks": ' + str(peaks).replace("'", '"') + "}"},
        ).scalar_one()
        run_id = conn.execute(
            text(
                "INSERT INTO runs (uid, suite, suite_digest, status, started_at, "
                "environment_id) VALUES ('abcd1234', 'conv', 'x', 'finished', "
                "'2024-05-01 12:00:00', :env) RETURNING id"
            ),
            {"env": env_id},
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO results (run_id, case_key, case_id, workload, params, "
                "status, median, n_samples, calls_per_sample, samples) VALUES (:run, 'k', 'c', "
                "'conv', '{}', 'ok', 0.5, 3, 1, :samples)"
            ),
            {"run": run_id, "samples": b""},
        )
    with Store.open(db_url) as store:  # a reader upgrades to head
        run = store.get_run(run_id)
        assert run.peaks == peaks and run.rounds == 1 and run.warnings == []
        (row,) = store.results(run_id)
        assert row.round_sizes == [] and row.contended is None
        assert row.round_medians == [0.5] and row.rounds == 1
        assert results_frame(store).loc[0, "round_medians"] == [0.5]
