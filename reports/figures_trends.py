"""Trends: each case's median over the runs of one suite, with its IQR as a band.

Every trace carries ``meta = {"case": case_key, "role": "band"|"median"|"mark"|"change",
"params": {axis: value}}`` so that the page's axis filters can show and hide cases.
Regression verdicts (a frame of case_key, run_id, verdict and optionally kind), when
given, are drawn on the median line: crosses on the runs the verdict judged (kind
"recent", the default), a triangle on the first run at the new level (kind "change").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from reports._plot import Spec, as_figure, axis_style, color, esc, figure, fmt_value, log_axis, note
from reports.cols import arrays, group_positions, row_at
from reports.pairs import PARAM_COLUMNS

# results.compare's verdicts ("slower", "faster"), and the plain words for them
VERDICT_COLORS = {
    "slower": "#d62728",
    "regression": "#d62728",
    "faster": "#2ca02c",
    "improvement": "#2ca02c",
}
FILTER_AXES = ("workload", *PARAM_COLUMNS)
_SORT_AXES = ("channels", "channels_out", "alpha", "resolution", "batch")  # numerically


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def case_params(row: Mapping[str, Any]) -> dict[str, str]:
    """The filterable axes of a case: workload and its non-NA parameters, as strings."""
    out = {}
    for c in FILTER_AXES:
        v = row.get(c)
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            continue
        out[c] = fmt_value(v)
    return out


def trend_points(results: pd.DataFrame) -> pd.DataFrame:
    """ok results with a positive median, sorted by case and run start."""
    if results is None or results.empty:
        return pd.DataFrame(columns=["case_key", "run_started_at"])
    r = results[(results["status"] == "ok")]
    r = r[pd.to_numeric(r["median"], errors="coerce") > 0]
    numeric = [c for c in _SORT_AXES if c in r.columns]
    keys = {f"_k{i}": pd.to_numeric(r[c], errors="coerce") for i, c in enumerate(numeric)}
    r = r.assign(**keys)
    order = ["workload", "device", "dtype", *keys, "case_id", "run_started_at"]
    return r.sort_values([c for c in order if c in r.columns], na_position="last").drop(
        columns=list(keys)
    )


def trends_spec(results: pd.DataFrame, marks: pd.DataFrame | None = None) -> Spec:
    """Median per call (ms) against run start time, one line and IQR band per case."""
    pts = trend_points(results).reset_index(drop=True)
    if pts.empty:
        return figure([], {"annotations": [note("No timed case in these runs.")]})
    marked = _marks(pts, marks)
    times = np.asarray(_times(pts["run_started_at"]), dtype=object)
    cols = arrays(pts, ("median", "q1", "q3", "uid", "label", "case_id", *FILTER_AXES))
    data: list[dict[str, Any]] = []
    for i, ((key,), idx) in enumerate(group_positions(pts, ["case_key"], sort=False)):
        first = row_at(cols, int(idx[0]))
        params = case_params(first)
        name = esc(first["case_id"])
        col = color(i)
        x = times[idx].tolist()
        med, q1, q3 = (cols[c][idx].astype(float) * 1e3 for c in ("median", "q1", "q3"))
        meta = {"case": str(key), "params": params}
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": x + x[::-1],
                "y": np.concatenate([q3, q1[::-1]]),
                "fill": "toself",
                "fillcolor": _rgba(col, 0.15),
                "line": {"width": 0, "color": col},
                "hoverinfo": "skip",
                "showlegend": False,
                "legendgroup": str(key),
                "name": f"{name} IQR",
                "meta": {**meta, "role": "band"},
            }
        )
        custom = np.empty((len(idx), 4), dtype=object)
        custom[:, 0] = [str(u)[:12] for u in cols["uid"][idx]]
        custom[:, 1] = [
            esc(lbl) if isinstance(lbl, str) and lbl else "" for lbl in cols["label"][idx]
        ]
        custom[:, 2] = q1.tolist()
        custom[:, 3] = q3.tolist()
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": x,
                "y": med,
                "name": name,
                "legendgroup": str(key),
                "line": {"color": col, "width": 1.5},
                "marker": {"size": 5},
                "customdata": custom,
                "hovertemplate": (
                    f"<b>{name}</b><br>%{{x}} · run %{{customdata[0]}} %{{customdata[1]}}<br>"
                    "median %{y:.4g} ms (IQR %{customdata[2]:.4g} – %{customdata[3]:.4g})"
                    "<extra></extra>"
                ),
                "meta": {**meta, "role": "median"},
            }
        )
        for kind, m in marked.get(str(key), {}).items():
            data.append(_mark_trace(kind, m, name, meta))
    layout = trend_layout(*(pts[c].astype(float) * 1e3 for c in ("median", "q1", "q3")))
    return figure(data, layout)


def trend_layout(*ms_values: Any) -> dict[str, Any]:
    """The layout of a trends figure whose y values (ms) are ``ms_values``."""
    return {
        "height": 560,
        "xaxis": axis_style(type="date", title={"text": "run start (UTC)"}),
        "yaxis": axis_style(
            title={"text": "median per call (ms), IQR band"}, **log_axis(*ms_values, si=False)
        ),
        "legend": {"font": {"size": 11}},
        "margin": {"l": 80, "r": 30, "t": 30, "b": 60},
    }


def _times(values: pd.Series) -> list[str]:
    """UTC wall-clock strings: plotly.js date axes ignore time zones."""
    ts = pd.to_datetime(pd.Series(values), utc=True)
    return ts.dt.strftime("%Y-%m-%d %H:%M:%S").astype(object).tolist()


def _mark_trace(kind: str, m: pd.DataFrame, name: str, meta: dict[str, Any]) -> dict[str, Any]:
    """Crosses on the judged runs; for kind "change", triangles (up: slower) on the first
    run at the new level."""
    change = kind == "change"
    colors = [VERDICT_COLORS.get(v, "#555") for v in m["verdict"]]
    if change:
        marker = {
            "symbol": [
                "triangle-down-open" if v in ("faster", "improvement") else "triangle-up-open"
                for v in m["verdict"]
            ],
            "size": 15,
            "line": {"width": 2.5, "color": colors},
            "color": colors,
        }
        hover = f"<b>{name}</b><br>level changed here (%{{customdata}}): first run at the new level"
    else:
        marker = {"symbol": "x-thin-open", "size": 16, "line": {"width": 3}, "color": colors}
        hover = f"<b>{name}</b><br>%{{customdata}} at %{{x}}"
    return {
        "type": "scatter",
        "mode": "markers",
        "x": _times(m["run_started_at"]),
        "y": m["median"].astype(float).to_numpy() * 1e3,
        "name": f"{name} {'level change' if change else 'verdict'}",
        "legendgroup": meta["case"],
        "showlegend": False,
        "marker": marker,
        "customdata": [esc(v) for v in m["verdict"]],
        "hovertemplate": hover + "<extra></extra>",
        "meta": {**meta, "role": "change" if change else "mark"},
    }


def _marks(pts: pd.DataFrame, marks: pd.DataFrame | None) -> dict[str, dict[str, pd.DataFrame]]:
    """Marks per case, then per kind ("recent" or "change"), joined to their points."""
    if marks is None or len(marks) == 0:
        return {}
    m = marks[["case_key", "run_id", "verdict"]].astype({"verdict": str})
    kind = marks["kind"] if "kind" in marks.columns else pd.Series("recent", index=marks.index)
    m = m.assign(kind=kind.fillna("recent").astype(str))
    joined = pts[["case_key", "run_id", "run_started_at", "median"]].merge(
        m, on=["case_key", "run_id"], how="inner"
    )
    return {
        str(k): {str(kk): gg for kk, gg in g.groupby("kind", sort=True)}
        for k, g in joined.groupby("case_key", sort=False)
    }


def trends(results: pd.DataFrame, marks: pd.DataFrame | None = None) -> go.Figure:
    """``trends_spec`` as a ``go.Figure``."""
    return as_figure(trends_spec(results, marks))
