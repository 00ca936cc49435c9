"""One trends page per suite: a light overview, the flagged cases, and per-workload detail
that the page loads on demand (see ``reports.trends_data`` for the data and its sizes)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from reports import html as h
from reports._plot import COLORWAY
from reports.figures_trends import FILTER_AXES, VERDICT_COLORS, trends_spec
from reports.text import as_text, fmt_time, sort_time
from reports.trends_data import (
    RECENT_RUNS,
    View,
    axis_over_all,
    case_info,
    case_order,
    columns,
    data_file,
    data_script,
    mark_points,
    overview_spec,
    payload,
    view,
)

ALL_CASES = 100  # up to this many cases the detail offers "all" workloads at once
PRESET_ABOVE = 20  # more cases than this: the detail opens on one workload
FLAGGED_FIGURE = 24  # flagged cases drawn in the flagged figure (all are in its table)
BEFORE_RUNS = 15  # runs before a change that its "before" level is the median of


def trend_page(
    suite: str,
    runs: pd.DataFrame,
    points: pd.DataFrame,
    cases: pd.DataFrame,
    marks: pd.DataFrame | None,
    ctx: Mapping[str, str],
) -> tuple[str, dict[str, str]]:
    """The page of ``suite`` and its detail files ({path in the site: script text}).

    ``runs``: the suite's runs (prepared by reports.site); ``points``: its ok results'
    run_id, case_key, median, q1, q3; ``cases``: one row per case (case_key, case_id,
    workload, parameters); ``marks``: regression marks worth drawing, or None.
    """
    started = runs["started_at"].dropna()
    span = f"{fmt_time(started.min())} to {fmt_time(started.max())}" if len(started) else ""
    if marks is not None:
        marks = marks[marks["run_id"].isin(runs["run_id"])]
        marks = marks if len(marks) else None
    head = (
        f"<h1>Trends · {h.esc(suite)}</h1><p class='intro'>{len(runs)} runs"
        + (f", {h.esc(span)}" if span else "")
        + ". The overview follows each workload as a whole; below it, each case's median per "
        "call over the runs (x = run start), the band its interquartile range, one workload "
        f"at a time. The newest {RECENT_RUNS} runs are one point each and older runs one "
        "point per week (the median of the week's runs), unless you ask for every run. Pick "
        "cases by axis with the menus; click a legend entry to hide a case."
        + (
            " Crosses mark the verdicts of the regression check on the runs it judged: red "
            "slower, green faster; a triangle marks the first run at the new level (where "
            "the step fit over the run medians puts the change)."
            if marks is not None
            else ""
        )
        + "</p>"
    )
    files: dict[str, str] = {}
    points = points[points["run_id"].isin(runs["run_id"])]
    if points.empty:
        body = h.message(
            "No successful results for this suite yet, so there is no history to plot."
        )
    else:
        body, files = _history(suite, runs, points, cases, marks)
    body += h.section(
        "runs",
        "Runs of this suite",
        h.table(
            ["started", "label", "status", "commit", "page"],
            [_run_row(r) for r in runs.to_dict("records")],
            table_id="suite-runs",
        ),
    )
    page = h.page(
        title=f"trends {suite}",
        site_title=ctx["title"],
        body=head + body,
        nav=[("index.html", "all runs")],
        plotly=not points.empty,
        generated=ctx["generated"],
    )
    return page, files


def _history(
    suite: str,
    runs: pd.DataFrame,
    points: pd.DataFrame,
    cases: pd.DataFrame,
    marks: pd.DataFrame | None,
) -> tuple[str, dict[str, str]]:
    timed_keys = set(points["case_key"].unique())  # a categorical's few keys, not each row
    cases = case_order(cases[cases["case_key"].isin(timed_keys)])
    info = case_info(cases)
    keys = [c["key"] for c in info]
    timed = runs[runs["run_id"].isin(points["run_id"])]
    recent = view(points, keys, columns(timed, RECENT_RUNS))
    full = view(points, keys, columns(timed, None)) if recent.cols.weeks else None
    marked = mark_points(marks, points, runs)

    files: dict[str, str] = {}
    config_files: dict[str, dict[str, str | None]] = {}
    workloads = [c["params"].get("workload", "") for c in info]
    for workload in dict.fromkeys(workloads):
        rows = [i for i, w in enumerate(workloads) if w == workload]
        paths: dict[str, str | None] = {"recent": data_file(suite, workload, False), "full": None}
        files[paths["recent"]] = data_script(paths["recent"], payload(recent, rows, info, marked))
        if full is not None:
            paths["full"] = data_file(suite, workload, True)
            files[paths["full"]] = data_script(paths["full"], payload(full, rows, info, marked))
        config_files[workload] = paths

    overview = h.section(
        "overview",
        "Overview",
        h.figure_block(overview_spec(recent, info), "fig-overview"),
        intro="Per workload, device and dtype: the geometric mean over its cases of each "
        "case's median relative to its latest level (1.00 = today's level; 1.10 = 10% "
        "slower than today).",
    )
    flagged = _flagged(runs, points, cases, marks, marked, recent)
    detail = _detail(cases, info, config_files, axis_over_all(full or recent), full is not None)
    return overview + flagged + detail, files


def _detail(
    cases: pd.DataFrame,
    info: Sequence[Mapping[str, Any]],
    files: Mapping[str, Mapping[str, str | None]],
    yaxis: Mapping[str, Any],
    aggregated: bool,
) -> str:
    params = [c["params"] for c in info]
    axes = {}
    for axis in FILTER_AXES:
        values = sorted({p[axis] for p in params if axis in p}, key=_natural)
        if len(values) > 1:
            axes[axis] = values
    preset, required = {}, []
    if len(cases) > PRESET_ABOVE and "workload" in axes:
        preset["workload"] = axes["workload"][0]
    if len(cases) > ALL_CASES:
        required.append("workload")
    full = (
        '<label class="full-history"><input type="checkbox" id="trend-full"> every run '
        "(no weekly points)</label>"
        if aggregated
        else ""
    )
    config = {
        "figure": "fig-trends",
        "files": files,
        "yaxis": yaxis,  # for every workload at once (the full history covers the recent)
        "cases": len(cases),
        "colors": list(COLORWAY),
        "verdicts": VERDICT_COLORS,
        "plotly": {"responsive": True, "displaylogo": False},
    }
    return h.section(
        "cases",
        "Cases",
        h.filter_controls(axes, preset=preset, required=required)
        + full
        + '<div class="bench-figure" id="fig-trends"></div>'
        + h.trends_script(config),
        intro="Each case's history, one workload at a time (loaded when chosen).",
    )


def _flagged(
    runs: pd.DataFrame,
    points: pd.DataFrame,
    cases: pd.DataFrame,
    marks: pd.DataFrame | None,
    marked: pd.DataFrame | None,
    recent: View,
) -> str:
    """The cases the regression check flags: a table of all, a figure of the first few
    over the newest runs, with their marks."""
    if marks is None or marked is None:
        return ""
    order = {k: i for i, k in enumerate(recent.keys)}
    keys = sorted(set(marked["case_key"]) & set(order), key=order.__getitem__)
    if not keys:
        return ""
    by_key = cases.set_index("case_key")
    starts = runs.set_index("run_id")["started_at"]
    files = runs.set_index("run_id")["_file"]
    rows = []
    for key in keys:
        m = marked[marked["case_key"] == key]
        change = m[m["kind"] == "change"]
        at = change if len(change) else m
        run_id = at.sort_values("x")["run_id"].iloc[0]
        ratio = _level_change(points[points["case_key"] == key], starts, run_id)
        verdict = as_text(m["verdict"].iloc[0])
        rows.append(
            [
                h.cell(as_text(by_key.at[key, "case_id"])),
                h.cell(as_text(by_key.at[key, "workload"])),
                h.cell(verdict, cls=f"verdict-{verdict}"),
                h.cell(
                    fmt_time(starts.get(run_id)),
                    sort=sort_time(starts.get(run_id)),
                    href=files.get(run_id),
                    cls="nowrap",
                ),
                h.cell("" if ratio is None else f"{ratio:.2f}×", sort=ratio, cls="num"),
            ]
        )
    shown = keys[:FLAGGED_FIGURE]
    recent_ids = [r for r, c in recent.cols.of_run.items() if c >= recent.cols.weeks]
    p = points[points["case_key"].isin(shown) & points["run_id"].isin(recent_ids)]
    info = runs[["run_id", "uid", "label", "started_at"]].rename(
        columns={"started_at": "run_started_at"}
    )
    fields = ["case_key", "case_id", *(c for c in FILTER_AXES if c in cases.columns)]
    p = p.merge(info, on="run_id").merge(cases[fields], on="case_key").assign(status="ok")
    figure = h.figure_block(trends_spec(p, marks[marks["case_key"].isin(shown)]), "fig-flagged")
    more = len(keys) - len(shown)
    return h.section(
        "flagged",
        "Flagged by the regression check",
        h.table(
            ["case", "workload", "verdict", "level changed at", "now / before"],
            rows,
            table_id="flagged-table",
            numeric=("now / before",),
        )
        + figure,
        intro=f"{len(keys)} case(s) whose recent runs differ from their baseline, over the "
        f"newest {RECENT_RUNS} runs"
        + (f"; the figure shows the first {len(shown)}, the table all" if more else "")
        + f". now / before: the median from the change on over that of the {BEFORE_RUNS} "
        "runs before it.",
    )


def _level_change(case_points: pd.DataFrame, starts: pd.Series, run_id: Any) -> float | None:
    """The case's median from run ``run_id`` on over its median in the runs before it."""
    when = case_points["run_id"].map(starts)
    t = starts.get(run_id)
    if t is None or pd.isna(t):
        return None
    ordered = case_points.assign(_t=when).dropna(subset=["_t"]).sort_values("_t")
    before = ordered.loc[ordered["_t"] < t, "median"].to_numpy()[-BEFORE_RUNS:]
    after = ordered.loc[ordered["_t"] >= t, "median"].to_numpy()
    if not len(before) or not len(after):
        return None
    return float(np.median(after) / np.median(before))


def _run_row(r: Mapping[str, Any]) -> list[str]:
    return [
        h.cell(fmt_time(r["started_at"]), sort=sort_time(r["started_at"]), cls="nowrap"),
        h.cell(as_text(r["label"])),
        h.cell(as_text(r["status"]), cls=f"status-{as_text(r['status'])}"),
        h.cell(as_text(r.get("commit"))[:10]),
        h.cell(f"run {as_text(r['uid'])[:12] or r['run_id']}", href=r["_file"]),
    ]


def _natural(v: str) -> tuple[int, float, str]:
    try:
        f = float(v)
    except ValueError:
        return (1, math.inf, v)
    return (0, f, v)
