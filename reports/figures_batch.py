"""Latency per call and throughput against batch size, one workload at a time."""

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
    grid,
    log_axis,
    ms,
    note,
)
from reports.cols import Cols, ok_results, varying
from reports.names import workload_rank
from reports.pairs import PARAM_COLUMNS


def batch_scaling_spec(results: pd.DataFrame | Cols) -> Spec:
    """Latency per call and throughput (items/s) against batch size, IQR error bars.

    One workload at a time (a dropdown switches, and sets the log axes' range and ticks
    for that workload), a line per combination of the other parameters that vary, each
    with its own colour and dash. Traces carry ``meta = {"workload", "metric"}``.
    """
    ok = ok_results(results)
    workloads = scaling_workloads(ok)
    if not workloads:
        return figure([], {"annotations": [note("No workload ran at more than one batch size.")]})
    layout, axes = grid(2, cols=2, titles=["latency per call", "throughput"], hgap=0.1)
    data: list[dict[str, Any]] = []
    every = Cols.of(ok, ("workload", "median", "q1", "q3", "case_id", *PARAM_COLUMNS))
    every.a["batch"] = every.floats("batch")
    for wi, w in enumerate(workloads):
        sub = every.where(every["workload"] == w).sorted_by("batch")
        line_cols = varying(sub, [c for c in PARAM_COLUMNS if c != "batch"])
        for j, (_, idx) in enumerate(sub.groups(line_cols)):
            name = esc(describe(sub.row(int(idx[0])), line_cols)) if line_cols else esc(w)
            batch = sub["batch"][idx]
            med, q1, q3 = (sub[c][idx].astype(float) for c in ("median", "q1", "q3"))
            thr = batch / med
            ids = np.array([esc(c) for c in sub["case_id"][idx]], dtype=object)
            for metric, (xid, yid), y, plus, minus, unit in (
                ("latency", axes[0], ms(med), ms(q3 - med), ms(med - q1), "ms"),
                ("throughput", axes[1], thr, batch / q1 - thr, thr - batch / q3, "items/s"),
            ):
                data.append(
                    {
                        "type": "scatter",
                        "mode": "lines+markers",
                        "x": batch,
                        "y": y,
                        "error_y": {
                            "type": "data",
                            "symmetric": False,
                            "array": plus,
                            "arrayminus": minus,
                            "thickness": 1,
                        },
                        "name": name,
                        "legendgroup": f"{w}-{name}",
                        "showlegend": metric == "latency",
                        "visible": wi == 0,
                        "line": {"color": color(j), "dash": dash_pattern(j)},
                        "customdata": ids,
                        "hovertemplate": (
                            f"%{{customdata}}<br>batch %{{x}}: %{{y:.4g}} {unit}<extra></extra>"
                        ),
                        "xaxis": xid,
                        "yaxis": yid,
                        "meta": {"workload": w, "metric": metric},
                    }
                )
    batches = sorted({int(b) for b in every.values("batch") if b is not None})
    scales = {w: _y_axes(data, w, axes) for w in workloads}
    for (xid, yid), ytitle in zip(axes, ("median per call (ms)", "items per second"), strict=True):
        layout[axis_key(xid)].update(
            axis_style(
                type="log",
                tickvals=batches,
                ticktext=[str(b) for b in batches],
                title={"text": "batch size"},
            )
        )
        layout[axis_key(yid)].update(
            axis_style(title={"text": ytitle}, **scales[workloads[0]][yid])
        )
    buttons = [
        {
            "label": w,
            "method": "update",
            "args": [
                {"visible": [t["meta"]["workload"] == w for t in data]},
                {
                    f"{axis_key(yid)}.{k}": v
                    for yid, axis in scales[w].items()
                    for k, v in axis.items()
                    if k != "type"
                },
            ],
        }
        for w in workloads
    ]
    layout.update(
        height=480,
        updatemenus=[
            {
                "type": "dropdown",
                "buttons": buttons,
                "x": 0,
                "xanchor": "left",
                "y": 1.0,
                "yanchor": "bottom",
                "pad": {"b": 36},
                "active": 0,
            }
        ],
        margin={"l": 80, "r": 30, "t": 100, "b": 60},
    )
    return figure(data, layout)


def _y_axes(
    data: list[dict[str, Any]], workload: str, axes: list[tuple[str, str]]
) -> dict[str, dict[str, Any]]:
    """{y axis id: log_axis over the workload's lines and error bars on that axis}."""
    out = {}
    for _, yid in axes:
        ys: list[Any] = []
        for t in data:
            if t["meta"]["workload"] == workload and t["yaxis"] == yid:
                ys += [t["y"], t["y"] + t["error_y"]["array"], t["y"] - t["error_y"]["arrayminus"]]
        out[yid] = log_axis(*ys, pad=1.3, si=yid != axes[0][1])  # ms: 1,000 rather than 1 k
    return out


def scaling_workloads(ok: pd.DataFrame | Cols) -> list[str]:
    """Workloads (in a fixed order) that ran at two or more batch sizes."""
    if ok is None or len(ok) == 0:
        return []
    seen: dict[str, set] = {}
    for w, b in zip(np.asarray(ok["workload"]), np.asarray(ok["batch"]), strict=True):
        if b is not None and b == b:
            seen.setdefault(w, set()).add(float(b))
    present = [w for w, bs in seen.items() if len(bs) >= 2]
    return sorted(present, key=workload_rank)


def batch_scaling(results: pd.DataFrame) -> go.Figure:
    """``batch_scaling_spec`` as a ``go.Figure``."""
    return as_figure(batch_scaling_spec(results))
