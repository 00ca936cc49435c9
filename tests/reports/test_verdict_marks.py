"""Regression marks on the trends pages: the judged runs and the first run at a new level."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import pytest

from reports.figures_trends import trends
from reports.site import build_site
from tests.reports.synthetic import make_frames


@pytest.fixture(scope="module")
def frames():
    return make_frames(4, suites=("nightly",))


def _marks(results: pd.DataFrame) -> pd.DataFrame:
    ok = results[results["status"] == "ok"]
    key = ok["case_key"].iloc[0]
    runs = sorted(ok.loc[ok["case_key"] == key, "run_id"])
    return pd.DataFrame(
        {
            "case_key": [key] * 4,
            "run_id": [runs[-1], runs[-2], runs[-2], runs[0]],
            "verdict": ["slower", "slower", "slower", "ambiguous"],
            "kind": ["recent", "recent", "change", "recent"],
        }
    )


def test_trends_figure_draws_the_change_point_apart(frames) -> None:
    _, results = frames
    marks = _marks(results).iloc[:3]
    fig = trends(results, marks)
    go.Figure(fig.to_dict())  # every property valid
    by_role = {t.meta["role"]: t for t in fig.data if t.meta["role"] in ("mark", "change")}
    assert len(by_role["mark"].x) == 2 and len(by_role["change"].x) == 1
    assert list(by_role["change"].marker.symbol) == ["triangle-up-open"]
    assert "first run at the new level" in by_role["change"].hovertemplate
    # Without a kind column every mark is a judged run, as before.
    plain = trends(results, marks.drop(columns="kind"))
    assert [t.meta["role"] for t in plain.data].count("mark") == 1
    assert "change" not in [t.meta["role"] for t in plain.data]


def test_site_keeps_change_marks_and_drops_ambiguous(frames, tmp_path) -> None:
    runs, results = frames
    build_site(runs, results, tmp_path, regression_marks=_marks(results))
    page = (tmp_path / "trend-nightly.html").read_text()
    assert page.count('"role":"change"') == 1
    assert page.count('"role":"mark"') == 1  # the ambiguous row is not drawn
    assert "a triangle marks the first run at the new level" in page
