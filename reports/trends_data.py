"""The data of a suite's trends page, sized for a year of nightlies.

A page that drew every case at every run grew with the whole history (48 MB of HTML and
22 s in Chromium at 365 runs x 684 cases). Here:

- **Views.** The *recent* view has one point per run for the newest ``RECENT_RUNS`` runs
  and one per ISO week (Monday 00:00 UTC onwards) before them: the median of the week's
  run medians, and the medians of their quartiles, at the mean start of the week's runs.
  The *full* view has one point per run. With no more runs than ``RECENT_RUNS`` the two
  are the same and only the recent one is written.
- **Overview** (on the page): per workload, device and dtype, the geometric mean over its
  cases of each case's median relative to the case's latest level (the median of its
  newest ``LATEST_POINTS`` points): one light line that shows a whole workload drift.
- **Detail** (files the page loads on demand): per workload and view, a payload with the
  shared x axis once and per case three arrays (median, q1, q3, in ms to 4 significant
  digits), the regression marks and the figure's layout; the page's script turns it into
  Plotly traces. Each file is a script that assigns the payload to
  ``window.benchTrendData[<its own path>]``: Chromium does not let a ``file://`` page
  ``fetch()`` a JSON file, but it runs a ``<script src>`` from the same folder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from reports import html as h
from reports._plot import axis_style, esc, figure, log_axis
from reports.figures_trends import FILTER_AXES, case_params, trend_layout
from reports.names import safe_name, trend_file

RECENT_RUNS = 90
OVERVIEW_LINEAR_SPAN = 3.0  # max/min of the overview's ratios drawn on a linear axis
LATEST_POINTS = 5
DATA_DIR = "data"


@dataclass(frozen=True)
class Columns:
    """The x axis of a view: each column one run, or one week of older runs (first)."""

    x: list[str]  # UTC wall-clock time (plotly.js date axes ignore time zones)
    hover: list[str]  # "run 0123456789ab nightly", "week of 2025-01-06: 7 runs"
    of_run: dict[int, int]  # run_id -> column
    weeks: int  # how many of the columns are weeks


@dataclass(frozen=True)
class View:
    """Per case (rows, in ``keys`` order) and column: median, q1, q3 in seconds (NaN: none)."""

    cols: Columns
    keys: list[str]
    median: np.ndarray
    q1: np.ndarray
    q3: np.ndarray


def columns(runs: pd.DataFrame, recent: int | None = RECENT_RUNS) -> Columns:
    """The columns of ``runs`` (run_id, uid, label, started_at): the newest ``recent`` runs
    one each, older ones by week; ``recent=None``: every run its own column. Runs without
    a start time have no place on a time axis and are left out."""
    r = runs.dropna(subset=["started_at"]).sort_values(["started_at", "run_id"], kind="stable")
    starts = pd.to_datetime(r["started_at"], utc=True)
    n_old = 0 if recent is None else max(0, len(r) - recent)
    x: list[str] = []
    hover: list[str] = []
    of_run: dict[int, int] = {}
    if n_old:
        old = starts.iloc[:n_old]
        week = old.dt.tz_localize(None).dt.to_period("W-SUN").dt.start_time
        for monday, idx in pd.Series(np.arange(n_old)).groupby(week.to_numpy(), sort=True):
            ids = r["run_id"].iloc[idx.to_numpy()]
            of_run.update({int(i): len(x) for i in ids})
            x.append(_time(old.iloc[idx.to_numpy()].mean()))
            hover.append(f"week of {monday:%Y-%m-%d}: {len(ids)} run{'s' * (len(ids) != 1)}")
    weeks = len(x)
    for run, start in zip(r.iloc[n_old:].to_dict("records"), starts.iloc[n_old:], strict=True):
        of_run[int(run["run_id"])] = len(x)
        x.append(_time(start))
        label = run.get("label")
        uid = str(run.get("uid") or run["run_id"])[:12]
        hover.append(f"run {uid}" + (f" {esc(label)}" if isinstance(label, str) else ""))
    return Columns(x, hover, of_run, weeks)


def view(points: pd.DataFrame, keys: Sequence[str], cols: Columns) -> View:
    """``points`` (run_id, case_key, median, q1, q3) on ``cols``: a column of several runs
    (a week) takes the medians of its runs' values."""
    shape = (len(keys), len(cols.x))
    out = {c: np.full(shape, np.nan) for c in ("median", "q1", "q3")}
    row = points["case_key"].map({k: i for i, k in enumerate(keys)})
    col = points["run_id"].map(cols.of_run)
    keep = row.notna().to_numpy() & col.notna().to_numpy()
    if keep.any():
        p = pd.DataFrame(
            {
                "row": row[keep].astype(int).to_numpy(),
                "col": col[keep].astype(int).to_numpy(),
                **{c: points[c].to_numpy(dtype=float)[keep] for c in out},
            }
        )
        cells = p.groupby(["row", "col"], sort=False).median()
        rows_, cols_ = (cells.index.get_level_values(n).to_numpy() for n in ("row", "col"))
        for c, a in out.items():
            a[rows_, cols_] = cells[c].to_numpy()
    return View(cols, list(keys), out["median"], out["q1"], out["q3"])


def case_order(cases: pd.DataFrame) -> pd.DataFrame:
    """Cases as the trends list them: by workload, device, dtype, numeric axes, name."""
    numeric = [
        c for c in ("channels", "channels_out", "alpha", "resolution", "batch") if c in cases
    ]
    keys = {f"_k{i}": pd.to_numeric(cases[c], errors="coerce") for i, c in enumerate(numeric)}
    order = ["workload", "device", "dtype", *keys, "case_id"]
    c = cases.assign(**keys)
    c = c.sort_values([k for k in order if k in c.columns], na_position="last", kind="stable")
    return c.drop(columns=list(keys)).reset_index(drop=True)


def case_info(cases: pd.DataFrame) -> list[dict[str, Any]]:
    """Per case (in order): key, shown name (escaped for Plotly) and filterable params."""
    fields = [c for c in FILTER_AXES if c in cases.columns]
    return [
        {"key": str(k), "name": esc(n), "params": case_params(r)}
        for k, n, r in zip(
            cases["case_key"], cases["case_id"], cases[fields].to_dict("records"), strict=True
        )
    ]


def sig(values: np.ndarray, digits: int = 4) -> list[float | None]:
    """Values to ``digits`` significant digits (None for NaN), for compact JSON: dividing
    the rounded integer by a power of ten gives the double nearest the short decimal."""
    a = np.asarray(values, dtype=float)
    out: list[float | None] = [None] * a.size
    ok = np.isfinite(a) & (a != 0)
    if ok.any():
        v = a[ok]
        e = (digits - 1 - np.floor(np.log10(np.abs(v)))).astype(int)
        up = np.where(e >= 0, e, 0)
        down = np.where(e < 0, -e, 0)
        r = np.round(v * 10.0**up / 10.0**down) / 10.0**up * 10.0**down
        for i, x in zip(np.flatnonzero(ok).tolist(), r.tolist(), strict=True):
            out[i] = x
    for i in np.flatnonzero(a == 0).tolist():
        out[i] = 0.0
    return out


def payload(
    v: View,
    rows: Sequence[int],
    info: Sequence[Mapping[str, Any]],
    marks: pd.DataFrame | None,
) -> dict[str, Any]:
    """The detail of the cases ``rows`` of ``v`` (indices into ``v.keys`` and ``info``)."""
    ms = {c: getattr(v, c)[list(rows)] * 1e3 for c in ("median", "q1", "q3")}
    cases = [
        {**info[r], "m": sig(ms["median"][i]), "q1": sig(ms["q1"][i]), "q3": sig(ms["q3"][i])}
        for i, r in enumerate(rows)
    ]
    out_marks = []
    if marks is not None and len(marks):
        index = {v.keys[r]: i for i, r in enumerate(rows)}
        m = marks[marks["case_key"].isin(index)]
        for key, x, y, verdict, kind in zip(
            m["case_key"], m["x"], m["median"], m["verdict"], m["kind"], strict=True
        ):
            out_marks.append(
                {"c": index[key], "x": x, "y": sig(np.array([y * 1e3]))[0], "v": verdict, "k": kind}
            )
    layout = figure([], trend_layout(*(a.ravel() for a in ms.values())))["layout"]
    return {
        "x": v.cols.x,
        "hover": v.cols.hover,
        "cases": cases,
        "marks": out_marks,
        "layout": layout,
    }


def axis_over_all(v: View) -> dict[str, Any]:
    """The y axis of the detail figure when every workload is shown at once: one log axis
    with readable ticks over all cases (each payload's own axis covers its workload only)."""
    ms = (getattr(v, c).ravel() * 1e3 for c in ("median", "q1", "q3"))
    return figure([], trend_layout(*ms))["layout"]["yaxis"]


def mark_points(
    marks: pd.DataFrame | None, points: pd.DataFrame, runs: pd.DataFrame
) -> pd.DataFrame | None:
    """Marks (case_key, run_id, verdict, kind) with the run's time and the case's median
    there: a mark sits on its own run even where the view shows that run's week."""
    if marks is None or len(marks) == 0:
        return None
    m = marks[["case_key", "run_id", "verdict"]].astype({"verdict": str})
    kind = marks["kind"] if "kind" in marks.columns else pd.Series("recent", index=marks.index)
    m = m.assign(kind=kind.fillna("recent").astype(str))
    starts = runs.set_index("run_id")["started_at"]
    joined = m.merge(points[["case_key", "run_id", "median"]], on=["case_key", "run_id"])
    joined = joined.assign(x=[_time(starts.get(r)) for r in joined["run_id"]])
    return joined if len(joined) else None


def summaries(v: View, info: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Overview traces: per workload, device and dtype, the geometric mean of its cases'
    medians relative to each case's latest level, with how many cases each point has."""
    ratio = np.full(v.median.shape, np.nan)
    for i, row in enumerate(v.median):
        present = row[np.isfinite(row)]
        if present.size:
            ratio[i] = row / np.median(present[-LATEST_POINTS:])
    groups: dict[tuple[str, str, str], list[int]] = {}
    for i, c in enumerate(info):
        p = c["params"]
        groups.setdefault(
            (p.get("workload", ""), p.get("device", ""), p.get("dtype", "")), []
        ).append(i)
    traces = []
    for (workload, device, dtype), rows in groups.items():
        logs = np.log(ratio[rows])
        count = np.isfinite(logs).sum(axis=0)
        with np.errstate(invalid="ignore"):
            mean = np.where(
                count > 0, np.exp(np.nansum(logs, axis=0) / np.maximum(count, 1)), np.nan
            )
        shown = count > 0
        name = esc(" · ".join(x for x in (workload, f"{device} {dtype}".strip()) if x))
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": [x for x, s in zip(v.cols.x, shown, strict=True) if s],
                "y": sig(mean[shown]),
                "customdata": np.stack(
                    [np.asarray(v.cols.hover, dtype=object)[shown], count[shown].astype(object)],
                    axis=1,
                ),
                "name": name,
                "line": {"width": 1.5},
                "marker": {"size": 4},
                "hovertemplate": (
                    f"<b>{name}</b><br>%{{x}} · %{{customdata[0]}}<br>%{{y:.3f}}× the latest "
                    "level (geometric mean of %{customdata[1]} cases)<extra></extra>"
                ),
                "meta": {"role": "summary", "params": {"workload": workload}},
            }
        )
    return traces


def overview_spec(v: View, info: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    traces = summaries(v, info)
    ys = np.array([y for t in traces for y in t["y"] if y is not None and y > 0], dtype=float)
    # Drift of a few % reads best on a linear axis around 1.00; a busy night 100x slower
    # would flatten that to a line at 0, so wide spans get a log axis with 1-2-5 ticks.
    wide = ys.size > 0 and ys.max() / ys.min() > OVERVIEW_LINEAR_SPAN
    y = log_axis(ys, si=False) if wide else {"tickformat": ".2f"}
    return figure(
        traces,
        {
            "height": 420,
            "xaxis": axis_style(type="date", title={"text": "run start (UTC)"}),
            "yaxis": axis_style(title={"text": "time per call / latest level"}, **y),
            "legend": {"font": {"size": 11}},
            "margin": {"l": 80, "r": 30, "t": 30, "b": 60},
        },
    )


def data_file(suite: str, workload: str, full: bool) -> str:
    """Path (relative to the site) of a workload's detail in a view."""
    stem = trend_file(suite).removesuffix(".html")
    return f"{DATA_DIR}/{stem}.{safe_name(str(workload))}{'.full' if full else ''}.js"


def data_script(path: str, data: Mapping[str, Any]) -> str:
    """The detail file: a script that files ``data`` under its own path."""
    key = h.figure_json(path)
    return (
        f"(window.benchTrendData = window.benchTrendData || {{}})[{key}] = {h.figure_json(data)};\n"
    )


def _time(t: Any) -> str | None:
    if t is None or t is pd.NaT or (isinstance(t, float) and t != t):
        return None
    return pd.Timestamp(t).tz_convert("UTC").strftime("%Y-%m-%d %H:%M:%S")
