"""The speedup figure's two views (time ratio, speedup): theory curves, y ticks, view buttons."""

from __future__ import annotations

from typing import Any

import numpy as np

from reports._plot import THEORY_COLOR, axis_key, fmt_value, geomspace_with, log_axis
from reports.cols import floats
from reports.pairs import theory_ratio, theory_speedup

VIEWS = {
    "ratio": ("time ratio separable / standard", "Time ratio"),
    "speedup": ("speedup standard / separable (×)", "Speedup"),
}


def unclean_key(axis: tuple[str, str]) -> list[dict[str, Any]]:
    """A legend entry (no data) saying what a hollow marker means, in either view."""
    return [
        {
            "type": "scatter",
            "mode": "markers",
            "x": [None],
            "y": [None],
            "name": "hollow marker: noisy or contended pair",
            "legendgroup": "unclean",
            "showlegend": view == "ratio",
            "visible": view == "ratio",
            "marker": {"size": 8, "color": "white", "line": {"color": "#555", "width": 2}},
            "hoverinfo": "skip",
            "xaxis": axis[0],
            "yaxis": axis[1],
            "meta": {"view": view, "role": "key", "facet": None},
        }
        for view in VIEWS
    ]


def theory_traces(
    c_out: np.ndarray, k: float, xid: str, yid: str, facet: str, shown: set[str]
) -> list[dict[str, Any]]:
    x = geomspace_with(c_out)
    lo, hi = float(x[0]), float(x[-1])
    if lo == hi:  # one channel count: a line through one point would not be drawn
        lo, hi = lo / 2, hi * 2
        x = geomspace_with([lo, *c_out, hi], n=20)
    kk = fmt_value(k)
    out = []
    for view in VIEWS:
        if view == "ratio":
            curve = (f"theory 1/C_out + 1/{kk}²", theory_ratio(x, k))
            limit = (f"limit 1/{kk}² = 1/{fmt_value(k * k)}", 1.0 / (k * k))
        else:
            curve = (f"theory {kk}²·C/(C+{kk}²)", theory_speedup(x, k))
            limit = (f"limit {fmt_value(k * k)}×", k * k)
        for role, name, xs, ys, dash in (
            ("theory", curve[0], x, curve[1], "solid"),
            ("limit", limit[0], np.array([lo, hi]), np.array([limit[1]] * 2), "dash"),
        ):
            out.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": xs,
                    "y": np.asarray(ys, dtype=float),
                    "name": name,
                    "legendgroup": f"{view}-{role}-{kk}",
                    "showlegend": f"{view}-{name}" not in shown,
                    "visible": view == "ratio",
                    "line": {
                        "color": THEORY_COLOR,
                        "dash": dash,
                        "width": 2 if role == "theory" else 1,
                    },
                    "hovertemplate": f"{name}<br>C_out = %{{x:.0f}}: %{{y:.4f}}<extra></extra>",
                    "xaxis": xid,
                    "yaxis": yid,
                    "meta": {"view": view, "role": role, "facet": facet, "kernel": k},
                }
            )
            shown.add(f"{view}-{name}")
    return out


def y_ticks(data: list[dict[str, Any]], yid: str, view: str) -> dict[str, Any]:
    """A log axis (log_axis) that shows the data with its intervals, the theory and 1."""
    ys: list[Any] = [1.0]
    for t in data:
        if t["yaxis"] == yid and t["meta"]["view"] == view:
            y = np.asarray(floats(t["y"]), dtype=float)
            ys.append(y)
            if "error_y" in t:
                ys.append(y + floats(t["error_y"]["array"]))
                ys.append(y - floats(t["error_y"]["arrayminus"]))
    return log_axis(*ys, pad=1.3)


def view_buttons(data: list[dict[str, Any]], axes: list[tuple[str, str]]) -> dict[str, Any]:
    buttons = []
    for view, (ytitle, label) in VIEWS.items():
        visible = [t["meta"]["view"] == view for t in data]
        showlegend = []
        seen: set[str] = set()
        for t in data:
            show = t["meta"]["view"] == view and t["name"] not in seen
            if show:
                seen.add(t["name"])
            showlegend.append(show)
        relayout: dict[str, Any] = {
            f"{axis_key(yid)}.title.text": ytitle for i, (_, yid) in enumerate(axes) if i % 2 == 0
        }
        for _, yid in axes:
            for key, value in y_ticks(data, yid, view).items():
                if key != "type":
                    relayout[f"{axis_key(yid)}.{key}"] = value
        buttons.append(
            {
                "label": label,
                "method": "update",
                "args": [{"visible": visible, "showlegend": showlegend}, relayout],
            }
        )
    return {
        "type": "buttons",
        "direction": "right",
        "buttons": buttons,
        "x": 0,
        "xanchor": "left",
        "y": 1.0,
        "yanchor": "bottom",
        "pad": {"b": 36},
        "showactive": True,
    }
