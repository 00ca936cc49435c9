"""The trends page's data: recent runs one point each, older runs one point per week, the
overview's workload summaries, the detail files, and the page's size at a year."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from reports import page_trends
from reports.page_trends import trend_page
from reports.site_inputs import prepare_marks, prepare_runs
from reports.sources import FrameSource
from reports.trends_data import columns, data_file, overview_spec, sig, summaries, view

# pyproject's pythonpath puts the repository root first on sys.path.
from tests.reports.synthetic import YEAR_START, make_frames, nightly_cases

CTX = {"title": "bench", "generated": "generated now"}
WED = datetime(2025, 1, 1, 2, 0, tzinfo=UTC)  # a Wednesday


def daily_runs(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "run_id": range(1, n + 1),
            "uid": [f"{i:032x}" for i in range(1, n + 1)],
            "label": ["nightly"] * n,
            "started_at": [WED + timedelta(days=i) for i in range(n)],
        }
    )


def test_columns_are_recent_runs_after_weeks_of_older_ones():
    runs = daily_runs(12)
    cols = columns(runs.sample(frac=1, random_state=1), recent=4)  # any order in
    assert cols.weeks == 2 and len(cols.x) == 6
    # Wed 1 .. Sun 5 January: the week of Monday 30 December; Mon 6 .. Wed 8: of 6 January
    assert cols.hover[:2] == ["week of 2024-12-30: 5 runs", "week of 2025-01-06: 3 runs"]
    assert cols.x[0] == "2025-01-03 02:00:00"  # the mean start of the week's runs
    assert [cols.of_run[i] for i in range(1, 13)] == [0] * 5 + [1] * 3 + [2, 3, 4, 5]
    assert cols.hover[2] == f"run {runs['uid'].iloc[8][:12]} nightly"
    every = columns(runs, recent=None)
    assert every.weeks == 0 and len(every.x) == 12
    assert columns(runs, recent=20).weeks == 0
    undated = runs.assign(started_at=[pd.NaT] + list(runs["started_at"].iloc[1:]))
    assert 1 not in columns(undated, recent=None).of_run  # no place on a time axis


def test_a_week_is_the_median_of_its_runs():
    runs = daily_runs(12)
    cols = columns(runs, recent=4)
    points = pd.DataFrame(
        {
            "run_id": [1, 2, 3, 4, 5, 9, 9, 12],
            "case_key": ["a", "a", "a", "a", "a", "a", "zzz", "b"],
            "median": [5.0, 1.0, 4.0, 2.0, 3.0, 7.0, 1.0, 8.0],
            "q1": [4.0, 0.5, 3.0, 1.0, 2.0, 6.0, 1.0, 7.0],
            "q3": [6.0, 2.0, 5.0, 3.0, 4.0, 8.0, 1.0, 9.0],
        }
    )
    v = view(points, ["a", "b"], cols)
    assert v.median.shape == (2, 6)
    assert v.median[0, 0] == 3.0 and v.q1[0, 0] == 2.0 and v.q3[0, 0] == 4.0
    assert np.isnan(v.median[0, 1])  # no run of the second week has case a
    assert v.median[0, 2] == 7.0 and v.median[1, 5] == 8.0
    assert np.isnan(v.median[1, :5]).all()  # "zzz" is no case of the view


def test_values_keep_four_significant_digits_and_short_json():
    values = np.array([1.23456e-3, 12345.678, 0.0, np.nan, -2.5e-7, 0.1 + 0.2, 987654321.0])
    assert sig(values) == [0.001235, 12350.0, 0.0, None, -2.5e-07, 0.3, 987700000.0]
    assert json.dumps(sig(values)) == ("[0.001235, 12350.0, 0.0, null, -2.5e-07, 0.3, 987700000.0]")


def test_the_overview_follows_each_workload_relative_to_its_latest_level():
    runs = daily_runs(10)
    cols = columns(runs, recent=None)
    rows = []
    for key, base in (("a", 1e-3), ("b", 4e-3)):
        for run in range(1, 11):
            m = base * (1.1 if run <= 4 else 1.0)  # 10% slower before run 5
            rows.append({"run_id": run, "case_key": key, "median": m, "q1": m, "q3": m})
    v = view(pd.DataFrame(rows), ["a", "b"], cols)
    info = [{"params": {"workload": "conv", "device": "cpu", "dtype": "float32"}}] * 2
    (trace,) = summaries(v, info)
    assert trace["name"] == "conv · cpu float32"
    assert trace["y"][:4] == [1.1] * 4 and trace["y"][4:] == [1.0] * 6
    assert [int(c[1]) for c in trace["customdata"]] == [2] * 10  # cases behind each point


def test_the_overview_axis_is_linear_for_drift_and_log_for_a_hundredfold_night():
    runs = daily_runs(6)
    cols = columns(runs, recent=None)
    info = [{"params": {"workload": "conv", "device": "cpu", "dtype": "float32"}}]

    def axis(scales):
        rows = [
            {"run_id": r, "case_key": "a", "median": 1e-3 * f, "q1": 1e-3, "q3": 1e-3}
            for r, f in zip(range(1, 7), scales, strict=True)
        ]
        return overview_spec(view(pd.DataFrame(rows), ["a"], cols), info)["layout"]["yaxis"]

    drift = axis([1.05, 0.97, 1.0, 1.02, 1.0, 1.0])
    assert drift.get("type", "linear") == "linear" and drift["tickformat"] == ".2f"
    busy = axis([1.0, 1.0, 1.0, 1.0, 1.0, 100.0])  # a contended night: 100x
    assert busy["type"] == "log" and {"1", "10", "100"} <= set(busy["ticktext"])


def _parse(text: str) -> tuple[str, dict]:
    m = re.fullmatch(
        r"\(window\.benchTrendData = window\.benchTrendData \|\| \{\}\)\[(.+?)\] = (.+);\n",
        text,
        re.S,
    )
    assert m, text[:200]
    return json.loads(m.group(1)), json.loads(m.group(2))


@pytest.fixture
def twelve_nights():
    runs, results = make_frames(12, suites=("nightly",))
    return prepare_runs(runs), results


def _page(runs, results, marks=None):
    src = FrameSource(results)
    ids = list(runs["run_id"])
    return trend_page("nightly", runs, src.trend_points(ids), src.cases(ids), marks, CTX)


def test_the_detail_files_hold_weeks_and_every_run(twelve_nights, monkeypatch):
    runs, results = twelve_nights
    monkeypatch.setattr(page_trends, "RECENT_RUNS", 4)
    ok = results[results["status"] == "ok"]
    key = ok.loc[ok["workload"] == "depthwise", "case_key"].iloc[0]
    run_ids = sorted(ok.loc[ok["case_key"] == key, "run_id"])
    marks = prepare_marks(
        pd.DataFrame(
            {
                "case_key": [key] * 3,
                "run_id": [run_ids[-1], run_ids[-2], run_ids[-2]],
                "verdict": ["slower", "slower", "slower"],
                "kind": ["recent", "recent", "change"],
            }
        )
    )
    page, files = _page(runs, results, marks)
    workloads = sorted(set(ok["workload"]))
    assert set(files) == {
        data_file("nightly", w, full) for w in workloads for full in (False, True)
    }
    path = data_file("nightly", "depthwise", False)
    assert path == "data/trend-nightly.depthwise.js"
    key_in_file, recent = _parse(files[path])
    assert key_in_file == path  # the page finds the payload under the file's own path
    _, every = _parse(files[data_file("nightly", "depthwise", True)])
    assert len(recent["x"]) == 4 + 2 and recent["hover"][0].startswith("week of")
    assert len(every["x"]) == 12  # the suite's runs: one x axis for all its workloads
    case = next(c for c in recent["cases"] if c["key"] == key)
    assert len(case["m"]) == len(case["q1"]) == len(case["q3"]) == len(recent["x"])
    assert case["params"]["workload"] == "depthwise" and case["name"].startswith("depthwise[")
    assert sorted((m["k"], m["v"]) for m in recent["marks"]) == [
        ("change", "slower"),
        ("recent", "slower"),
        ("recent", "slower"),
    ]
    assert recent["layout"]["yaxis"]["type"] == "log"
    # the page: overview, flagged cases (figure and table), detail, runs
    for anchor in ("overview", "flagged", "cases", "runs"):
        assert f'<section id="{anchor}">' in page
    assert page.count('"role":"change"') == 1 and page.count('"role":"mark"') == 1
    assert 'id="trend-full"' in page and 'id="flagged-table"' in page
    assert "data/trend-nightly.depthwise.full.js" in page  # in the page's config
    config = json.loads(re.search(r'id="trend-config"[^>]*>(.*?)</script>', page, re.S)[1])
    every_case = [x for f in files.values() for c in _parse(f)[1]["cases"] for x in c["m"] if x]
    low, high = (10**e for e in config["yaxis"]["range"])  # all workloads at once
    assert config["yaxis"]["type"] == "log" and config["yaxis"]["ticktext"]
    assert low <= min(every_case) and max(every_case) <= high


def test_a_short_history_has_no_weekly_points(twelve_nights):
    runs, results = twelve_nights
    page, files = _page(runs, results)
    assert files and not any(f.endswith(".full.js") for f in files)
    assert 'id="trend-full"' not in page and 'id="flagged"' not in page


def test_a_year_of_nightlies_makes_a_small_trends_page():
    """365 runs x 684 cases: the page stays far under 5 MB and each detail file under 2."""
    cases = nightly_cases()
    n_runs = 365
    rng = np.random.default_rng(0)
    runs = prepare_runs(
        pd.DataFrame(
            {
                "run_id": np.arange(1, n_runs + 1),
                "uid": [f"{i:032x}" for i in range(n_runs)],
                "suite": "nightly",
                "label": "nightly",
                "status": "finished",
                "started_at": [YEAR_START + timedelta(days=i) for i in range(n_runs)],
            }
        )
    )
    base = np.array([c.seconds for c in cases])
    medians = base[None, :] * rng.lognormal(0, 0.02, size=(n_runs, len(cases)))
    points = pd.DataFrame(
        {
            "run_id": np.repeat(np.arange(1, n_runs + 1), len(cases)),
            "case_key": pd.Categorical(np.tile([c.key for c in cases], n_runs)),
            "median": medians.ravel(),
            "q1": medians.ravel() * 0.99,
            "q3": medians.ravel() * 1.01,
        }
    )
    case_rows = pd.DataFrame(
        [{"case_key": c.key, "case_id": c.id, "workload": c.workload, **c.params} for c in cases]
    )
    page, files = trend_page("nightly", runs, points, case_rows, None, CTX)
    assert len(page.encode()) < 1_000_000
    assert len(files) == 2 * len({c.workload for c in cases})
    assert max(len(t.encode()) for t in files.values()) < 2_000_000
    _, recent = _parse(files[data_file("nightly", "conv", False)])
    # 90 runs, and the 40 weeks of the 275 before them (a Wednesday: 5 + 38 x 7 + 4 runs)
    assert len(recent["x"]) == 90 + 40
    assert len(recent["cases"]) == sum(c.workload == "conv" for c in cases)
