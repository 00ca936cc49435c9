"""DataFrames: columns, dtypes, values, empty databases, and load speed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from results.frames import (
    CASE_COLUMNS,
    RESULT_COLUMNS,
    RUN_COLUMNS,
    TREND_COLUMNS,
    case_frame,
    results_frame,
    run_signatures,
    runs_frame,
    trend_frame,
)
from results.records import CaseStatus, RunStatus
from results.stats import summarize
from results.store import Store

RUN_NAMES = list(RUN_COLUMNS)
RESULT_NAMES = list(RESULT_COLUMNS)


@pytest.fixture
def filled(db_url, make_run, make_result):
    """Two runs: one finished with ok/failed/skipped conv results, one mobilenet."""
    with Store.open(db_url, create=True) as store:
        conv = store.start_run(make_run(label="base", commit="c0ffee"))
        store.add_results(
            conv.id,
            [
                make_result(0),
                make_result(1, status=CaseStatus.FAILED, samples=[], error="boom"),
                make_result(2, status=CaseStatus.SKIPPED, samples=[], macs=None),
            ],
        )
        store.finish_run(conv.id, RunStatus.FINISHED, conv.started_at + timedelta(seconds=90))
        mobile = store.start_run(
            make_run(suite="mobilenet", started_at=datetime.now(UTC), environment={"os": "x"})
        )
        store.add_result(
            mobile.id,
            make_result(
                3,
                workload="mobilenet_v1",
                params={"alpha": 0.5, "conv": "standard", "batch": 1, "resolution": 160},
            ),
        )
        yield store, conv, mobile


def test_runs_frame(filled):
    store, conv, mobile = filled
    df = runs_frame(store)
    assert list(df.columns) == RUN_NAMES
    assert {n: str(t) for n, t in df.dtypes.items()} == {
        n: str(pd.Series(dtype=t).dtype) for n, t in RUN_COLUMNS.items()
    }
    assert list(df["run_id"]) == [mobile.id, conv.id]  # newest first
    row = df.iloc[1]
    assert (row["n_ok"], row["n_failed"], row["n_skipped"]) == (1, 1, 1)
    assert row["duration_s"] == 90.0 and row["started_at"] == conv.started_at
    assert (row["torch_version"], row["cpu_model"], row["gpu_name"]) == ("2.3.0", "Xeon", "H100")
    assert row["environment"] == conv.environment and row["fingerprint"] == conv.fingerprint
    assert (row["label"], row["commit"], row["status"]) == ("base", "c0ffee", "finished")
    new = df.iloc[0]
    assert pd.isna(new["torch_version"]) and pd.isna(new["duration_s"]) and pd.isna(new["label"])
    assert (new["n_ok"], new["n_failed"], new["n_skipped"]) == (1, 0, 0)
    assert list(runs_frame(store, suite="mobilenet")["run_id"]) == [mobile.id]
    assert list(runs_frame(store, label="base")["run_id"]) == [conv.id]


def test_runs_frame_shows_a_silent_running_run_as_stale(db_url, make_run, monkeypatch):
    """As `bench runs` does: the stored status stays, the shown one says the runner is gone."""
    monkeypatch.setenv("BENCH_STALE_AFTER", "600")
    now = datetime.now(UTC)
    with Store.open(db_url, create=True) as store:
        silent = store.start_run(make_run(started_at=now - timedelta(hours=2)))
        store.heartbeat(silent.id)  # a beat now: alive after all
        beating = store.start_run(make_run(started_at=now - timedelta(hours=3)))
        gone = store.start_run(
            make_run(started_at=now - timedelta(hours=1), heartbeat_at=now - timedelta(minutes=11))
        )
        done = store.start_run(make_run(started_at=now - timedelta(hours=4)))
        store.finish_run(done.id, RunStatus.FINISHED, now - timedelta(hours=3, minutes=59))
        df = runs_frame(store).set_index("run_id")
    assert df.loc[gone.id, "status"] == "running" and df.loc[gone.id, "shown_status"] == "stale"
    assert df.loc[silent.id, "shown_status"] == "running"
    assert df.loc[beating.id, "shown_status"] == "stale"  # never beat, started 3 h ago
    assert df.loc[done.id, "shown_status"] == "finished"


def test_results_frame(filled, make_result):
    store, conv, mobile = filled
    df = results_frame(store)
    params = ["batch", "channels", "alpha", "resolution", "conv", "device", "dtype"]
    assert list(df.columns) == RESULT_NAMES + params  # DESIGN order, not first-seen order
    for name, dtype in RESULT_COLUMNS.items():
        assert str(df[name].dtype) == str(pd.Series(dtype=dtype).dtype), name
    assert len(df) == 4 and list(df["run_id"]) == [conv.id] * 3 + [mobile.id]

    ok = df.iloc[0]
    expected = summarize(make_result(0).samples)
    assert ok["median"] == expected.median and ok["iqr"] == pytest.approx(expected.iqr)
    assert (ok["n_samples"], ok["calls_per_sample"], ok["macs"]) == (20, 4, 10**12)
    assert ok["run_started_at"] == conv.started_at and ok["started_at"] == make_result(0).started_at
    assert (ok["uid"], ok["suite"], ok["label"], ok["workload"]) == (
        conv.uid,
        "conv",
        "base",
        "conv",
    )
    assert not ok["noisy"] and ok["target_met"]
    failed, skipped, mobile_row = df.iloc[1], df.iloc[2], df.iloc[3]
    assert failed["status"] == "failed" and failed["error"] == "boom" and pd.isna(failed["median"])
    assert pd.isna(skipped["macs"]) and pd.isna(skipped["noisy"])
    assert pd.isna(mobile_row["channels"]) and mobile_row["alpha"] == 0.5
    assert mobile_row["conv"] == "standard" and pd.isna(ok["conv"])
    assert "samples" not in df.columns


def test_results_frame_selects_runs_and_samples(filled, make_result):
    store, conv, mobile = filled
    df = results_frame(store, [mobile.id], include_samples=True)
    assert list(df["run_id"]) == [mobile.id]
    assert df.columns[-1] == "samples" and df["samples"].iloc[0] == make_result(3).samples
    params = list(df.columns[len(RESULT_NAMES) : -1])
    assert params == ["batch", "alpha", "resolution", "conv"]  # only those these runs have
    assert results_frame(store, []).empty


def test_empty_database_gives_empty_frames_with_the_same_columns(db_url):
    with Store.open(db_url, create=True) as store:
        runs, results = runs_frame(store), results_frame(store, include_samples=True)
    assert runs.empty and list(runs.columns) == RUN_NAMES
    assert results.empty and list(results.columns) == RESULT_NAMES + ["samples"]
    for name, dtype in RESULT_COLUMNS.items():
        assert str(results[name].dtype) == str(pd.Series(dtype=dtype).dtype), name
    for name, dtype in RUN_COLUMNS.items():
        assert str(runs[name].dtype) == str(pd.Series(dtype=dtype).dtype), name


# -- what a report reads: only some columns, the trend points, the cases, signatures ------


def test_results_frame_reads_only_the_columns_asked_for(filled):
    store, conv, mobile = filled
    full = results_frame(store)
    df = results_frame(store, columns=["label", "case_key", "iqr", "rounds", "median"])
    params = ["batch", "channels", "alpha", "resolution", "conv", "device", "dtype"]
    expected = ["result_id", "run_id", "label", "case_key", "median", "iqr", "rounds"]
    assert list(df.columns) == expected + params  # the ids always, in RESULT_COLUMNS order
    for name in expected + params:
        pd.testing.assert_series_equal(df[name], full[name], check_names=True)
    with pytest.raises(ValueError, match="not columns of results_frame: nosuch"):
        results_frame(store, columns=["nosuch"])


def test_trend_frame_has_the_ok_points_only(filled):
    store, conv, mobile = filled
    df = trend_frame(store, [conv.id, mobile.id])
    assert list(df.columns) == list(TREND_COLUMNS)
    assert {n: str(t) for n, t in df.dtypes.items()} == {
        "run_id": "int64",
        "case_key": "category",
        "median": "float64",
        "q1": "float64",
        "q3": "float64",
    }
    full = results_frame(store)
    ok = full[full["status"] == "ok"]
    got = df.sort_values("run_id").reset_index(drop=True)
    assert list(got["case_key"].astype(str)) == list(ok["case_key"])  # failed/skipped left out
    assert list(got["median"]) == list(ok["median"]) and list(got["q3"]) == list(ok["q3"])
    assert trend_frame(store, [mobile.id])["run_id"].tolist() == [mobile.id]
    assert trend_frame(store, []).empty and list(trend_frame(store, []).columns) == list(
        TREND_COLUMNS
    )


def test_case_frame_has_one_row_per_case_as_its_newest_result_has_it(filled, make_result):
    store, conv, mobile = filled
    again = store.start_run(replace(conv, id=None, uid=None))
    renamed = make_result(0, case_id="conv[renamed]")
    store.add_results(again.id, [renamed])
    df = case_frame(store, [conv.id, mobile.id, again.id])
    assert list(df.columns[:3]) == list(CASE_COLUMNS)
    by_key = df.set_index("case_key")
    assert len(df) == 4 and by_key.at[renamed.case_key, "case_id"] == "conv[renamed]"
    assert by_key.at[make_result(3).case_key, "alpha"] == 0.5
    assert case_frame(store, [conv.id]).set_index("case_key").at[renamed.case_key, "case_id"] == (
        make_result(0).case_id
    )


def test_run_signatures_change_when_results_do(filled, make_result):
    store, conv, mobile = filled
    first = run_signatures(store, [conv.id, mobile.id, 999])
    assert set(first) == {conv.id, mobile.id, 999} and first[999] == "0"
    assert first[conv.id] != first[mobile.id]
    assert run_signatures(store, [conv.id]) == {conv.id: first[conv.id]}  # stable
    store.add_round(mobile.id, make_result(3, workload="mobilenet_v1"))  # merged into its row
    second = run_signatures(store, [conv.id, mobile.id])
    assert second[conv.id] == first[conv.id] and second[mobile.id] != first[mobile.id]
    store.delete_runs([mobile.id])
    assert run_signatures(store, [mobile.id]) == {mobile.id: "0"}
