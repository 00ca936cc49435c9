"""Plotly figure builders; the headline figure, speedup vs theory, lives here.

Each builder is a pure function of pandas frames (or the same columns as ``Cols``) that
returns a ``go.Figure``; its ``*_spec`` twin returns the same figure as plain dicts, which
the site serializes without plotly's slow validation. The page decides, before calling a
builder, whether there is anything to plot and says so in words otherwise. The batch,
roofline, networks and trends figures live in their own modules and are re-exported here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from reports._plot import (
    THEORY_COLOR,
    Cols,
    Spec,
    as_figure,
    axis_key,
    axis_style,
    color,
    dash_pattern,
    describe,
    esc,
    figure,
    floats,
    fmt_value,
    geomspace_with,
    grid,
    log_axis,
    ms,
    note,
    ok_results,
    subset,
    varying,
)
from reports.figures_batch import batch_scaling, batch_scaling_spec, scaling_workloads
from reports.figures_networks import NETWORK_NAMES, network_rows, networks, networks_spec
from reports.figures_roofline import peak_for, roofline, roofline_spec
from reports.figures_trends import trends, trends_spec
from reports.pairs import BLOCK_PAIR, GEOMETRY_PAIR, theory_ratio, theory_speedup

__all__ = [
    "NETWORK_NAMES",
    "batch_scaling",
    "batch_scaling_spec",
    "headline_pairs",
    "network_rows",
    "networks",
    "networks_spec",
    "ok_results",
    "peak_for",
    "roofline",
    "roofline_spec",
    "scaling_workloads",
    "speedup_vs_theory",
    "speedup_vs_theory_spec",
    "trends",
    "trends_spec",
]

HEADLINE_PAIRS = (GEOMETRY_PAIR, BLOCK_PAIR)
# Columns that may split one batch size's line in two (besides device and dtype).
_LINE_COLUMNS = (
    "size",
    "kernel",
    "stride",
    "memory_format",
    "threads",
    "cudnn_benchmark",
)
_VIEWS = {
    "ratio": ("time ratio separable / standard", "Time ratio"),
    "speedup": ("speedup standard / separable (×)", "Speedup"),
}


def headline_pairs(pairs: pd.DataFrame | Cols) -> pd.DataFrame | Cols:
    """The pairs the headline figure plots: geometry pairs with a known C_out."""
    if pairs is None:
        return pd.DataFrame()
    if len(pairs) == 0:
        return pairs
    keep = np.isin(np.asarray(pairs["pair"]), HEADLINE_PAIRS) & (floats(pairs["channels_out"]) > 0)
    return subset(pairs, keep)


def speedup_vs_theory_spec(pairs: pd.DataFrame | Cols) -> Spec:
    """Measured separable/standard time ratio against channels, next to the theory.

    One subplot per device × dtype, a line per batch size (split further by any other
    parameter that varies), the theory curve ``1/C_out + 1/k²`` and its asymptote
    ``1/k²`` (1/9 for k = 3). Two buttons switch to the speedup view: standard /
    separable against ``k²·C_out / (C_out + k²)`` and its limit k² (9×).

    Every measured series has its own colour and dash (the same in every facet, so one
    legend entry stands for it); block pairs have square markers. Error bars are the 95%
    interval of the ratio (``ci_low``, ``ci_high``; inverted in the speedup view); pairs
    that are not ``clean`` (a side noisy or contended) have hollow markers.
    Traces carry ``meta = {"view", "role", "facet"}``; role is measured, unclean (the hollow
    markers drawn over a measured line's unclean points), theory, limit, or key (the legend
    entry for the hollow markers, no data).
    """
    p = headline_pairs(pairs)
    if len(p) == 0:
        return figure([], {"annotations": [note("No conv ↔ separable pairs to plot.")]})
    cols = Cols.of(
        p,
        {
            *_HOVER_COLUMNS,
            *_LINE_COLUMNS,
            "channels",
            "batch",
            "pair",
            "channels_out",
            "kernel",
            "device",
            "dtype",
            "ci_low",
            "ci_high",
            "interval",
            "noisy",
            "contended",
        },
    )
    cols.a["c_out"] = cols.floats("channels_out")
    kernel = cols.floats("kernel")
    cols.a["k"] = np.where(np.isnan(kernel), 3.0, kernel)
    for c in ("device", "dtype"):
        cols.a[c] = np.array([str(v) for v in cols[c]], dtype=object)
    cols = cols.sorted_by("c_out")
    line_cols = varying(cols, _LINE_COLUMNS)
    if np.any(cols.floats("channels") != cols["c_out"]):
        line_cols.insert(0, "channels")  # C_in differs from C_out: a line per C_in
    facets = [k for k, _ in cols.groups(["device", "dtype"])]
    titles = [f"{esc(d)} · {esc(t)}" for d, t in facets]
    layout, axes = grid(len(facets), cols=2, titles=titles, vgap=0.16)
    lines: dict[tuple, list[tuple[tuple, np.ndarray]]] = {f: [] for f in facets}
    for key, idx in cols.groups(["device", "dtype", "pair", "batch", *line_cols]):
        lines[key[:2]].append((key[2:], idx))
    # One style per series (pair, batch, other parameters), whatever the facet.
    series = sorted({s for found in lines.values() for s, _ in found}, key=_series_order)
    unclean = _flag(cols, "noisy") | _flag(cols, "contended")
    data: list[dict[str, Any]] = []
    shown: set[str] = set()
    for (device, dtype), (xid, yid) in zip(facets, axes, strict=True):
        facet = f"{device} · {dtype}"
        for key, idx in lines[(device, dtype)]:
            first = cols.row(int(idx[0]))
            batch = int(first["batch"]) if pd.notna(first["batch"]) else 1
            name = f"batch {batch}" + (f", {esc(describe(first, line_cols))}" if line_cols else "")
            block = first["pair"] == BLOCK_PAIR
            if block:
                name += " · separable_block"
            i = series.index(key)
            symbol = "square" if block else "circle"
            custom = _hover_data(cols, idx)
            x, bad = cols["c_out"][idx], unclean[idx]
            for view in _VIEWS:
                y = cols["ratio" if view == "ratio" else "speedup"][idx].astype(float)
                data.append(
                    {
                        "type": "scatter",
                        "mode": "lines+markers",
                        "x": x,
                        "y": y,
                        "error_y": _interval_bars(cols, idx, y, view, color(i)),
                        "name": name,
                        "legendgroup": name,
                        "showlegend": view == "ratio" and name not in shown,
                        "visible": view == "ratio",
                        "line": {"color": color(i), "dash": dash_pattern(i)},
                        "marker": {"size": 8, "color": color(i), "symbol": symbol},
                        "customdata": custom,
                        "hovertemplate": _HOVER[view],
                        "xaxis": xid,
                        "yaxis": yid,
                        "meta": {"view": view, "role": "measured", "facet": facet},
                    }
                )
                if bad.any():
                    data.append(
                        {
                            "type": "scatter",
                            "mode": "markers",
                            "x": x[bad],
                            "y": y[bad],
                            "name": name,
                            "legendgroup": name,
                            "showlegend": False,
                            "visible": view == "ratio",
                            # Hollow: white over the measured marker. Not an "-open" symbol
                            # on the measured trace: a legend draws a trace's first point.
                            "marker": {
                                "size": 8,
                                "color": "white",
                                "symbol": symbol,
                                "line": {"color": color(i), "width": 2},
                            },
                            "customdata": custom[bad],
                            "hovertemplate": _HOVER[view],
                            "xaxis": xid,
                            "yaxis": yid,
                            "meta": {"view": view, "role": "unclean", "facet": facet},
                        }
                    )
            shown.add(name)
        in_facet = np.concatenate([idx for _, idx in lines[(device, dtype)]])
        for k in sorted(set(cols["k"][in_facet])):
            c_out = cols["c_out"][in_facet][cols["k"][in_facet] == k]
            data.extend(_theory_traces(c_out, k, xid, yid, facet, shown))
    if unclean.any():
        data.extend(_unclean_key(axes[0]))
    c_outs = sorted(set(cols["c_out"]))  # the channel counts that ran: the x ticks
    for i, (xid, yid) in enumerate(axes):
        layout[axis_key(xid)].update(
            axis_style(
                type="log",
                tickvals=c_outs,
                ticktext=[fmt_value(c) for c in c_outs],
                title={"text": "output channels C_out"} if i >= len(axes) - 2 else None,
            )
        )
        layout[axis_key(yid)].update(
            axis_style(
                title={"text": _VIEWS["ratio"][0]} if i % 2 == 0 else None,
                **_y_ticks(data, yid, "ratio"),
            )
        )
    shapes = [
        {
            "type": "line",
            "xref": f"{xid} domain",
            "x0": 0,
            "x1": 1,
            "yref": yid,
            "y0": 1,
            "y1": 1,
            "line": {"color": "#999", "width": 1, "dash": "dashdot"},
        }
        for xid, yid in axes
    ]
    rows = (len(facets) + 1) // 2
    layout.update(
        height=150 + 380 * rows,
        shapes=shapes,
        legend={"x": 1.02, "y": 1, "xanchor": "left", "yanchor": "top"},
        updatemenus=[_view_buttons(data, axes)],
        margin={"l": 80, "r": 20, "t": 90, "b": 60},
    )
    return figure(data, layout)


_HOVER = {
    "ratio": (
        "<b>%{customdata[0]}</b> · C_out = %{x}<br>"
        "time ratio %{y:.3f} (theory %{customdata[5]:.3f})<br>"
        "%{customdata[9]}<br>"
        "standard %{customdata[1]:.4g} ms (IQR %{customdata[2]:.2g} ms)<br>"
        "separable %{customdata[3]:.4g} ms (IQR %{customdata[4]:.2g} ms)<br>"
        "efficiency %{customdata[8]:.0%} (speedup %{customdata[6]:.2f}× of %{customdata[7]:.2f}×)"
        "%{customdata[11]}<extra></extra>"
    ),
    "speedup": (
        "<b>%{customdata[0]}</b> · C_out = %{x}<br>"
        "speedup %{y:.2f}× (theory %{customdata[7]:.2f}×)<br>"
        "%{customdata[10]}<br>"
        "standard %{customdata[1]:.4g} ms (IQR %{customdata[2]:.2g} ms)<br>"
        "separable %{customdata[3]:.4g} ms (IQR %{customdata[4]:.2g} ms)<br>"
        "efficiency %{customdata[8]:.0%}%{customdata[11]}<extra></extra>"
    ),
}


_HOVER_COLUMNS = (
    "sep_case_id",
    "std_case_id",
    "std_median",
    "std_iqr",
    "sep_median",
    "sep_iqr",
    "ratio",
    "speedup",
    "theory_ratio",
    "theory_speedup",
    "efficiency",
)


def _hover_data(cols: Cols, idx: np.ndarray) -> np.ndarray:
    labels = [
        esc(f"{s} vs {c}")
        for s, c in zip(cols["sep_case_id"][idx], cols["std_case_id"][idx], strict=True)
    ]
    values = [
        ms(cols["std_median"][idx]),
        ms(cols["std_iqr"][idx]),
        ms(cols["sep_median"][idx]),
        ms(cols["sep_iqr"][idx]),
        cols["theory_ratio"][idx].astype(float),
        cols["speedup"][idx].astype(float),
        cols["theory_speedup"][idx].astype(float),
        cols["efficiency"][idx].astype(float),
    ]
    out = np.empty((len(idx), 12), dtype=object)
    out[:, 0] = labels
    for j, c in enumerate(values, start=1):
        out[:, j] = [float(v) if np.isfinite(v) else None for v in c]
    bounds = zip(
        cols.floats("ci_low")[idx],
        cols.floats("ci_high")[idx],
        [str(u) if isinstance(u, str) else "" for u in cols["interval"][idx]],
        strict=True,
    )
    out[:, 9:11] = [
        [_interval_text(lo, hi, u, "ratio"), _interval_text(lo, hi, u, "speedup")]
        for lo, hi, u in bounds
    ]
    noisy, contended = _flag(cols, "noisy")[idx], _flag(cols, "contended")[idx]
    out[:, 11] = [
        "<br><b>unclean pair</b> (hollow marker): "
        + ", ".join(w for w, f in (("noisy", n), ("contended", c)) if f)
        if n or c
        else ""
        for n, c in zip(noisy, contended, strict=True)
    ]
    return out


def _interval_text(low: float, high: float, unit: str, view: str) -> str:
    if not (np.isfinite(low) and np.isfinite(high) and low > 0):
        return "95% interval unknown"
    source = f" from {unit}" if unit else ""
    if view == "ratio":
        return f"95% interval {low:.3f} – {high:.3f}{source}"
    return f"95% interval {1 / high:.2f}× – {1 / low:.2f}×{source}"


def _interval_bars(
    cols: Cols, idx: np.ndarray, y: np.ndarray, view: str, colour: str
) -> dict[str, Any]:
    """Error bars from the ratio's 95% interval; the speedup view's is [1/high, 1/low]."""
    low, high = cols.floats("ci_low")[idx], cols.floats("ci_high")[idx]
    if view == "speedup":
        with np.errstate(divide="ignore", invalid="ignore"):
            low, high = 1.0 / high, 1.0 / low
    known = np.isfinite(low) & np.isfinite(high) & (low > 0)
    plus = np.where(known, np.maximum(high - y, 0.0), np.nan)
    minus = np.where(known, np.maximum(y - low, 0.0), np.nan)
    return {
        "type": "data",
        "symmetric": False,
        # None, not NaN: no bar where the interval is unknown
        "array": [float(v) if np.isfinite(v) else None for v in plus],
        "arrayminus": [float(v) if np.isfinite(v) else None for v in minus],
        "color": colour,
        "thickness": 1.5,
        "width": 6,  # caps wider than the marker: a narrow interval still reads as one
    }


def _flag(cols: Cols, name: str) -> np.ndarray:
    """A boolean column of the pairs (absent, NA or None as False)."""
    return np.array([v is True or v == 1 for v in map(_plain, cols[name])], dtype=bool)


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else (None if v is pd.NA else v)


def _series_order(key: tuple) -> tuple:
    """Numbers in numeric order (batch 8 before 16), then text, then missing values."""

    def rank(v: Any) -> tuple:
        if v is None:
            return (2, 0.0, "")
        if isinstance(v, int | float):
            return (0, float(v), "")
        return (1, 0.0, str(v))

    return tuple(rank(v) for v in key)


def _unclean_key(axis: tuple[str, str]) -> list[dict[str, Any]]:
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
        for view in _VIEWS
    ]


def _theory_traces(
    c_out: np.ndarray, k: float, xid: str, yid: str, facet: str, shown: set[str]
) -> list[dict[str, Any]]:
    x = geomspace_with(c_out)
    lo, hi = float(x[0]), float(x[-1])
    if lo == hi:  # one channel count: a line through one point would not be drawn
        lo, hi = lo / 2, hi * 2
        x = geomspace_with([lo, *c_out, hi], n=20)
    kk = fmt_value(k)
    out = []
    for view in _VIEWS:
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


def _y_ticks(data: list[dict[str, Any]], yid: str, view: str) -> dict[str, Any]:
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


def _view_buttons(data: list[dict[str, Any]], axes: list[tuple[str, str]]) -> dict[str, Any]:
    buttons = []
    for view, (ytitle, label) in _VIEWS.items():
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
            for key, value in _y_ticks(data, yid, view).items():
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


def speedup_vs_theory(pairs: pd.DataFrame) -> go.Figure:
    """``speedup_vs_theory_spec`` as a ``go.Figure``."""
    return as_figure(speedup_vs_theory_spec(pairs))
