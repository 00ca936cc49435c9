"""One trends page per suite: each case's median over the runs, filterable by axis."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from reports import html as h
from reports.figures import ok_results
from reports.figures_trends import FILTER_AXES, case_params, trends_spec
from reports.text import as_text, fmt_time, sort_time


def trend_page(
    suite: str,
    runs: pd.DataFrame,
    res: pd.DataFrame,
    marks: pd.DataFrame | None,
    ctx: Mapping[str, str],
) -> str:
    ok = ok_results(res)
    started = runs["started_at"].dropna()
    span = f"{fmt_time(started.min())} to {fmt_time(started.max())}" if len(started) else ""
    head = (
        f"<h1>Trends · {h.esc(suite)}</h1><p class='intro'>{len(runs)} runs"
        + (f", {h.esc(span)}" if span else "")
        + ". Each line is one case's median per call over the runs (x = run start), the band "
        "its interquartile range. Pick cases by axis with the menus; click a legend entry "
        "to hide a case."
        + (
            " Crosses mark the verdicts of the regression check on the runs it judged: red "
            "slower, green faster; a triangle marks the first run at the new level (where "
            "the step fit over the run medians puts the change)."
            if marks is not None
            else ""
        )
        + "</p>"
    )
    if ok.empty:
        body = h.message(
            "No successful results for this suite yet, so there is no history to plot."
        )
    else:
        if marks is not None:
            marks = marks[marks["run_id"].isin(runs["run_id"])]
        fig = trends_spec(ok, marks if marks is not None and len(marks) else None)
        cases = ok.drop_duplicates("case_key")
        fields = [c for c in FILTER_AXES if c in cases.columns]
        params = [case_params(r) for r in cases[fields].to_dict("records")]
        axes = {}
        for axis in FILTER_AXES:
            values = sorted({p[axis] for p in params if axis in p}, key=_natural)
            if len(values) > 1:
                axes[axis] = values
        preset = {}
        if len(cases) > 20 and "workload" in axes:
            preset["workload"] = axes["workload"][0]
        body = (
            h.filter_controls(axes, preset=preset)
            + h.figure_block(fig, "fig-trends")
            + h.filter_script("fig-trends")
        )
    run_rows = [
        [
            h.cell(fmt_time(r["started_at"]), sort=sort_time(r["started_at"]), cls="nowrap"),
            h.cell(as_text(r["label"])),
            h.cell(as_text(r["status"]), cls=f"status-{as_text(r['status'])}"),
            h.cell(as_text(r.get("commit"))[:10]),
            h.cell(f"run {as_text(r['uid'])[:12] or r['run_id']}", href=r["_file"]),
        ]
        for r in runs.to_dict("records")
    ]
    body += h.section(
        "runs",
        "Runs of this suite",
        h.table(["started", "label", "status", "commit", "page"], run_rows, table_id="suite-runs"),
    )
    return h.page(
        title=f"trends {suite}",
        site_title=ctx["title"],
        body=head + body,
        nav=[("index.html", "all runs")],
        plotly=not ok.empty,
        generated=ctx["generated"],
    )


def _natural(v: str) -> tuple[int, float, str]:
    try:
        f = float(v)
    except ValueError:
        return (1, math.inf, v)
    return (0, f, v)
