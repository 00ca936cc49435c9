"""Memory: each case's measured peak against the cost model's eager activation memory.

The measured peak (``peak_memory``) is what one call allocated above what was allocated
before it (harness.memory): the input is not in it, the output and every transient are
(oneDNN's reordered copies, im2col columns, cuDNN workspaces). The model
(``activation_bytes``) is the largest set of activations alive at one layer, input
included. So a layer that only writes its output sits below y = x, and one with
workspaces or reordered weights above it; the networks sit where eager PyTorch keeps
more alive than one layer's input and output (a container holds its input until it
returns). Both columns are optional in a frame: a run stored before they were has
neither, and the page says so instead of drawing.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from reports._plot import (
    THEORY_COLOR,
    Spec,
    as_figure,
    axis_style,
    color,
    esc,
    figure,
    log_axis,
    note,
)
from reports.cols import Cols
from reports.figures_networks import NETWORK_NAMES
from reports.names import workload_rank

MEMORY_COLUMNS = ("peak_memory", "activation_bytes", "activation_bytes_efficient", "weight_bytes")
_COLUMNS = ("case_id", "workload", "conv", "device", "dtype", "batch", "status", *MEMORY_COLUMNS)
_SYMBOLS = ("circle", "diamond", "square", "triangle-up", "cross", "x")


def memory_rows(results: pd.DataFrame | Cols) -> Cols:
    """The ok results with their memory columns as floats (NaN where absent or unknown),
    and ``ratio`` = measured peak / modelled eager activations."""
    c = Cols.of(results)
    n = len(c)
    out = {k: c[k] if k in c else np.full(n, None, dtype=object) for k in _COLUMNS[:7]}
    for k in MEMORY_COLUMNS:
        out[k] = c.floats(k) if k in c else np.full(n, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = out["peak_memory"] / out["activation_bytes"]
    out["ratio"] = np.where(np.isfinite(ratio) & (ratio > 0), ratio, np.nan)
    rows = Cols(out, n)
    return rows.where(np.asarray(rows["status"]) == "ok")


def counts(rows: Cols) -> tuple[int, int, int]:
    """(ok results, with a measured peak, with a measured peak and a model)."""
    measured = rows["peak_memory"] > 0
    return len(rows), int(measured.sum()), int(np.isfinite(rows["ratio"]).sum())


def memory_spec(results: pd.DataFrame | Cols) -> Spec:
    """Measured peak (y) against modelled eager activations (x), log-log, with y = x.

    One trace per workload (colour; the networks by name, so that Conv MobileNet is not
    MobileNet v1), marker shape per device. Traces carry ``meta = {"role": "case",
    "workload", "label", "device"}`` or ``{"role": "model"}``."""
    rows = memory_rows(results)
    pts = rows.where(np.isfinite(rows["ratio"]))
    if len(pts) == 0:
        return figure([], {"annotations": [note("No case has a measured peak and a model.")]})
    for k in ("device", "dtype", "workload"):
        pts.a[k] = np.array([str(v) for v in pts[k]], dtype=object)
    pts.a["label"] = np.array(
        [label(w, c) for w, c in zip(pts["workload"], pts["conv"], strict=True)], dtype=object
    )
    rank = {lab: workload_rank(w) for w, lab in zip(pts["workload"], pts["label"], strict=True)}
    labels = sorted(rank, key=lambda lab: (rank[lab], lab))
    devices = sorted(pts.values("device"))
    data: list[dict[str, Any]] = []
    for (lab, device), idx in sorted(
        pts.groups(["label", "device"]), key=lambda g: (labels.index(g[0][0]), g[0][1])
    ):
        w = str(pts["workload"][idx[0]])
        custom = np.empty((len(idx), 5), dtype=object)
        custom[:, 0] = [esc(v) for v in pts["case_id"][idx]]
        where = zip(pts["device"][idx], pts["dtype"][idx], strict=True)
        custom[:, 1] = [esc(f"{d} · {t}") for d, t in where]
        custom[:, 2] = pts["ratio"][idx].tolist()
        custom[:, 3] = [None if np.isnan(v) else v for v in pts["activation_bytes_efficient"][idx]]
        custom[:, 4] = [None if np.isnan(v) else v for v in pts["weight_bytes"][idx]]
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": pts["activation_bytes"][idx],
                "y": pts["peak_memory"][idx],
                "name": esc(lab),
                "legendgroup": lab,
                "showlegend": not any(t["legendgroup"] == lab for t in data),
                "marker": {
                    "color": color(labels.index(lab)),
                    "symbol": _SYMBOLS[devices.index(device) % len(_SYMBOLS)],
                    "size": 9,
                    "opacity": 0.85,
                    "line": {"width": 0.5, "color": "white"},
                },
                "customdata": custom,
                "hovertemplate": (
                    "<b>%{customdata[0]}</b><br>%{customdata[1]}<br>"
                    "measured peak %{y:.3s}B<br>modelled eager %{x:.3s}B "
                    "(efficient %{customdata[3]:.3s}B)<br>measured / modelled "
                    "%{customdata[2]:.2f}<br>weights %{customdata[4]:.3s}B<extra></extra>"
                ),
                "meta": {"role": "case", "workload": w, "label": lab, "device": device},
            }
        )
    x, y = pts["activation_bytes"], pts["peak_memory"]
    span = np.geomspace(min(x.min(), y.min()) / 1.5, max(x.max(), y.max()) * 1.5, 2)
    data.append(
        {
            "type": "scatter",
            "mode": "lines",
            "x": span,
            "y": span,
            "name": "measured = modelled",
            "line": {"color": THEORY_COLOR, "width": 1.5, "dash": "dash"},
            "legendrank": 1001,
            "hoverinfo": "skip",
            "meta": {"role": "model"},
        }
    )
    both = log_axis(x, y, span, pad=1.1)  # one range for both axes: y = x is the diagonal
    shapes = ", ".join(f"{_SYMBOLS[i % len(_SYMBOLS)]} = {esc(d)}" for i, d in enumerate(devices))
    layout = {
        "xaxis": axis_style(title={"text": "modelled activation memory, eager (bytes)"}, **both),
        "yaxis": axis_style(title={"text": "measured peak above the baseline (bytes)"}, **both),
        "height": 560,
        "title": {"text": f"marker shape: {shapes}", "font": {"size": 12}, "x": 0.01},
        "margin": {"l": 80, "r": 30, "t": 60, "b": 60},
    }
    return figure(data, layout)


def label(workload: str, conv: Any) -> str:
    """The workload, or the network's name: "Conv MobileNet" is mobilenet_v1, conv=standard."""
    if workload == "mobilenet_v2":
        return NETWORK_NAMES[(workload, None)]
    if workload == "mobilenet_v1":
        return NETWORK_NAMES[(workload, conv if conv in ("standard", "separable") else "separable")]
    return workload


def memory(results: pd.DataFrame | Cols) -> go.Figure:
    """``memory_spec`` as a ``go.Figure``."""
    return as_figure(memory_spec(results))


def fmt_bytes(v: Any) -> str:
    """'12.8 MB', '840 kB', '512 B'; empty when unknown."""
    try:
        f = float(v)
    except (TypeError, ValueError):  # None, pd.NA
        return ""
    if not math.isfinite(f):
        return ""
    for unit, size in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(f) >= size:
            return f"{f / size:.3g} {unit}B"
    return f"{f:.0f} B"
