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
    Spec,
    as_figure,
    axis_key,
    axis_style,
    color,
    dash_pattern,
    describe,
    esc,
    figure,
    fmt_value,
    grid,
    note,
)
from reports.cols import Cols, floats, subset, varying
from reports.figures_batch import batch_scaling, batch_scaling_spec, scaling_workloads
from reports.figures_networks import NETWORK_NAMES, network_rows, networks, networks_spec
from reports.figures_roofline import peak_for, roofline, roofline_spec
from reports.figures_trends import trends, trends_spec
from reports.pairs import BLOCK_PAIR, GEOMETRY_PAIR
from reports.speedup_hover import HOVER, HOVER_COLUMNS, flag, hover_data, interval_bars
from reports.speedup_views import VIEWS, theory_traces, unclean_key, view_buttons, y_ticks

__all__ = [
    "NETWORK_NAMES",
    "batch_scaling",
    "batch_scaling_spec",
    "headline_pairs",
    "network_rows",
    "networks",
    "networks_spec",
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
            *HOVER_COLUMNS,
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
    unclean = flag(cols, "noisy") | flag(cols, "contended")
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
            custom = hover_data(cols, idx)
            x, bad = cols["c_out"][idx], unclean[idx]
            for view in VIEWS:
                y = cols["ratio" if view == "ratio" else "speedup"][idx].astype(float)
                data.append(
                    {
                        "type": "scatter",
                        "mode": "lines+markers",
                        "x": x,
                        "y": y,
                        "error_y": interval_bars(cols, idx, y, view, color(i)),
                        "name": name,
                        "legendgroup": name,
                        "showlegend": view == "ratio" and name not in shown,
                        "visible": view == "ratio",
                        "line": {"color": color(i), "dash": dash_pattern(i)},
                        "marker": {"size": 8, "color": color(i), "symbol": symbol},
                        "customdata": custom,
                        "hovertemplate": HOVER[view],
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
                            "hovertemplate": HOVER[view],
                            "xaxis": xid,
                            "yaxis": yid,
                            "meta": {"view": view, "role": "unclean", "facet": facet},
                        }
                    )
            shown.add(name)
        in_facet = np.concatenate([idx for _, idx in lines[(device, dtype)]])
        for k in sorted(set(cols["k"][in_facet])):
            c_out = cols["c_out"][in_facet][cols["k"][in_facet] == k]
            data.extend(theory_traces(c_out, k, xid, yid, facet, shown))
    if unclean.any():
        data.extend(unclean_key(axes[0]))
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
                title={"text": VIEWS["ratio"][0]} if i % 2 == 0 else None,
                **y_ticks(data, yid, "ratio"),
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
        updatemenus=[view_buttons(data, axes)],
        margin={"l": 80, "r": 20, "t": 90, "b": 60},
    )
    return figure(data, layout)


def _series_order(key: tuple) -> tuple:
    """Numbers in numeric order (batch 8 before 16), then text, then missing values."""

    def rank(v: Any) -> tuple:
        if v is None:
            return (2, 0.0, "")
        if isinstance(v, int | float):
            return (0, float(v), "")
        return (1, 0.0, str(v))

    return tuple(rank(v) for v in key)


def speedup_vs_theory(pairs: pd.DataFrame) -> go.Figure:
    """``speedup_vs_theory_spec`` as a ``go.Figure``."""
    return as_figure(speedup_vs_theory_spec(pairs))
