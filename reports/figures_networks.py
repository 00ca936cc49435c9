"""Networks: MobileNet v1 vs Conv MobileNet vs MobileNet v2.

Images per second at the reference width and resolution (α = 1, 224 when present), the
measured time ratio v1 / Conv MobileNet against the ratio of their MACs (the theory, from
the cost model), and the α and resolution sweeps. Only the panels with data are laid out;
``networks_notes`` says in words what is left out, and the figure prints it in its top
margin, outside every plot area.
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
    bar_axis,
    esc,
    figure,
    fmt_value,
    grid,
    log_axis,
    margin_note,
    note,
    note_margin,
)
from reports.cols import Cols
from reports.pairs import NETWORK_PAIR

NETWORK_NAMES = {
    ("mobilenet_v1", "separable"): "MobileNet v1",
    ("mobilenet_v1", "standard"): "Conv MobileNet",
    ("mobilenet_v2", None): "MobileNet v2",
}
NETWORK_COLORS = {"MobileNet v1": "#1f77b4", "Conv MobileNet": "#d62728", "MobileNet v2": "#2ca02c"}
_NETWORK_ORDER = ("MobileNet v1", "Conv MobileNet", "MobileNet v2")


_INPUT_COLUMNS = (
    "run_id",
    "case_id",
    "workload",
    "conv",
    "alpha",
    "resolution",
    "batch",
    "device",
    "dtype",
    "median",
    "q1",
    "q3",
    "macs",
    "parameters",
    "noisy",
    # memory, per call (the batch included), when the frame has it: model and measurement
    "weight_bytes",
    "activation_bytes",
    "activation_bytes_efficient",
    "peak_memory",
)


def network_rows(results: pd.DataFrame | Cols) -> pd.DataFrame:
    """ok MobileNet results with ``network``, ``setting``, ``images_per_s``, ``macs_per_image``.

    MACs in the frames are those of one call (the whole batch), so per image = macs / batch.
    """
    cols = ["network", "setting", "alpha", "resolution", "images_per_s", "macs_per_image"]
    if isinstance(results, Cols):
        results = results.frame()
    if results is None or results.empty:
        return pd.DataFrame(columns=cols)
    keep = results["workload"].isin(("mobilenet_v1", "mobilenet_v2")) & (results["status"] == "ok")
    wanted = [c for c in _INPUT_COLUMNS if c in results.columns]
    r = results.loc[keep, wanted]
    r = r[pd.to_numeric(r["median"], errors="coerce") > 0]
    if r.empty:
        return pd.DataFrame(columns=cols)
    conv = r["conv"] if "conv" in r.columns else pd.Series(None, index=r.index)
    names = [
        NETWORK_NAMES.get(
            (w, None if w == "mobilenet_v2" else (c if isinstance(c, str) else "separable"))
        )
        for w, c in zip(r["workload"], conv, strict=True)
    ]
    batch = pd.to_numeric(r["batch"], errors="coerce").fillna(1).astype(float)
    median = r["median"].astype(float)
    return r.assign(
        network=names,
        setting=[_setting(d, t, b) for d, t, b in zip(r["device"], r["dtype"], batch, strict=True)],
        alpha=pd.to_numeric(r["alpha"], errors="coerce").astype(float),
        resolution=pd.to_numeric(r["resolution"], errors="coerce").astype(float),
        images_per_s=batch / median,
        images_lo=batch / r["q3"].astype(float),
        images_hi=batch / r["q1"].astype(float),
        macs_per_image=pd.to_numeric(r["macs"], errors="coerce").astype(float) / batch,
    )


_ROW_COLUMNS = (
    "network",
    "setting",
    "alpha",
    "resolution",
    "images_per_s",
    "images_lo",
    "images_hi",
    "macs_per_image",
    "parameters",
)


def reference_point(rows: pd.DataFrame | Cols) -> tuple[float, float]:
    """(α, resolution) to compare networks at: (1.0, 224) when it ran, else the most common."""
    pairs = list(zip(rows["alpha"], rows["resolution"], strict=True))
    if (1.0, 224.0) in pairs:
        return 1.0, 224.0
    return max(set(pairs), key=pairs.count)


def networks_spec(
    results: pd.DataFrame, pairs: pd.DataFrame | None = None, *, rows: pd.DataFrame | None = None
) -> Spec:
    """Up to four panels: images/s at the reference point, v1 / Conv MobileNet ratio vs
    theory, α sweep, resolution sweep; a panel without data is not laid out, and the top
    margin says why (``networks_notes``). Traces carry ``meta = {"panel", ...}``.
    ``rows`` is ``network_rows(results)`` when the caller already has it."""
    rows = network_rows(results) if rows is None else rows
    if len(rows) == 0:
        return figure([], {"annotations": [note("No MobileNet result in this run.")]})
    panels = _panels(rows, pairs)
    drawn = [panel for panel in panels if panel[2]]
    if not drawn:
        return figure([], {"annotations": [note("No MobileNet result in this run.")]})
    layout, axes = grid(len(drawn), cols=2, titles=[p[1] for p in drawn], vgap=0.2, hgap=0.1)
    data: list[dict[str, Any]] = []
    for (_, _, traces, xtitle, ytitle), (xid, yid) in zip(drawn, axes, strict=True):
        for t in traces:
            t.update(xaxis=xid, yaxis=yid)
        data.extend(traces)
        layout[axis_key(xid)].update(axis_style(title={"text": xtitle} if xtitle else None))
        if traces[0]["meta"]["panel"] == "ratio":
            yaxis = axis_style(rangemode="tozero")
        else:  # images/s, with the error bars in range
            ys = [t["y"] for t in traces]
            ys += [t["y"] + t["error_y"]["array"] for t in traces if "error_y" in t]
            ys += [t["y"] - t["error_y"]["arrayminus"] for t in traces if "error_y" in t]
            bars = traces[0]["meta"]["panel"] == "images"  # the sweeps are lines: log
            yaxis = axis_style(**(bar_axis(*ys) if bars else log_axis(*ys, pad=1.3)))
        layout[axis_key(yid)].update(yaxis, title={"text": ytitle})
    said = _notes(panels, *reference_point(rows))
    if said:  # in the top margin, over the subplot titles: outside every plot area
        layout["annotations"].append(margin_note([esc(n) for n in said]))
    n_rows = (len(drawn) + 1) // 2
    layout.update(
        height=note_margin(len(said)) + 60 + 340 * n_rows + 100 * (n_rows - 1),
        barmode="group",
        margin={"l": 70, "r": 30, "t": note_margin(len(said)), "b": 60},
    )
    if any(t["meta"]["panel"] == "ratio" for t in data):
        layout["margin"]["b"] = 110  # the ratio panel's two-line, slanted labels
        layout["height"] += 50
    return figure(data, layout)


def networks_notes(
    results: pd.DataFrame | None,
    pairs: pd.DataFrame | Cols | None = None,
    *,
    rows: pd.DataFrame | Cols | None = None,
) -> list[str]:
    """Plain-text sentences for the panels ``networks_spec`` leaves out (no data), in panel
    order; empty when every panel is drawn or there is no MobileNet at all. The figure
    prints them in its top margin; a page may print them as HTML instead (escaped)."""
    rows = network_rows(results) if rows is None else rows
    if len(rows) == 0:
        return []
    return _notes(_panels(rows, pairs), *reference_point(rows))


Panel = tuple[str, str, list[dict[str, Any]], str, str]  # key, title, traces, x and y titles


def _panels(rows: pd.DataFrame | Cols, pairs: pd.DataFrame | Cols | None) -> list[Panel]:
    """The four panels in order, each with its traces (none: nothing to show)."""
    alpha, res = reference_point(rows)
    cols = Cols.of(rows, _ROW_COLUMNS)
    ref = cols.where((cols["alpha"] == alpha) & (cols["resolution"] == res))
    images = _images_traces(ref)
    shown = {t["name"] for t in images}  # the sweeps' lines share the bars' legend entries
    a, r = fmt_value(alpha), fmt_value(res)
    return [
        ("images", f"images/s at α = {a}, resolution {r}", images, "", "images / s"),
        (
            "ratio",
            "time ratio MobileNet v1 / Conv MobileNet",
            _ratio_traces(pairs),
            "",
            "separable / standard",
        ),
        (
            "alpha",
            f"α sweep at resolution {r}",
            _sweep_traces(cols.where(cols["resolution"] == res), "alpha", "alpha", shown),
            "width multiplier α",
            "images / s",
        ),
        (
            "resolution",
            f"resolution sweep at α = {a}",
            _sweep_traces(cols.where(cols["alpha"] == alpha), "resolution", "resolution", shown),
            "input resolution (pixels)",
            "images / s",
        ),
    ]


def _notes(panels: list[Panel], alpha: float, res: float) -> list[str]:
    a, r = fmt_value(alpha), fmt_value(res)
    why = {
        "ratio": "No MobileNet v1 / Conv MobileNet pair (same α, resolution, device, dtype, "
        "batch): no measured ratio to set against the MACs ratio.",
        "alpha": f"No α sweep: no network ran at two or more α at resolution {r}.",
        "resolution": f"No resolution sweep: no network ran at two or more resolutions at α = {a}.",
    }
    return [why[key] for key, _, traces, _, _ in panels if not traces and key in why]


def _images_traces(ref: Cols) -> list[dict[str, Any]]:
    out = []
    for name in _present(ref):
        g = ref.where(ref["network"] == name)
        g = g.take(np.argsort(g["setting"].astype(str), kind="stable"))
        y = g["images_per_s"].astype(float)
        out.append(
            {
                "type": "bar",
                "x": g["setting"].tolist(),
                "y": y,
                "error_y": {
                    "type": "data",
                    "symmetric": False,
                    "array": g["images_hi"].astype(float) - y,
                    "arrayminus": y - g["images_lo"].astype(float),
                },
                "name": name,
                "legendgroup": name,
                "showlegend": True,
                "marker": {"color": NETWORK_COLORS[name]},
                "customdata": np.column_stack(
                    [g["macs_per_image"].astype(float) / 1e6, g.floats("parameters") / 1e6]
                ),
                "hovertemplate": (
                    f"<b>{name}</b> · %{{x}}<br>%{{y:.4g}} images/s<br>"
                    "%{customdata[0]:.1f} M MACs/image · %{customdata[1]:.2f} M parameters"
                    "<extra></extra>"
                ),
                "meta": {"panel": "images", "network": name},
            }
        )
    return out


def _ratio_traces(pairs: pd.DataFrame | Cols | None) -> list[dict[str, Any]]:
    if pairs is None or len(pairs) == 0:
        return []
    c = Cols.of(
        pairs,
        (
            "pair",
            "alpha",
            "resolution",
            "device",
            "dtype",
            "batch",
            "ratio",
            "theory_ratio",
            "speedup",
            "efficiency",
        ),
    )
    c = c.where(c["pair"] == NETWORK_PAIR)
    if len(c) == 0:
        return []
    order = np.lexsort((-c.floats("resolution"), -c.floats("alpha")))
    p = c.take(order)
    labels = [
        f"α={fmt_value(a)} · {fmt_value(r)}px<br>{_setting(d, t, b)}"
        for a, r, d, t, b in zip(
            p["alpha"], p["resolution"], p["device"], p["dtype"], p["batch"], strict=True
        )
    ]
    custom = np.column_stack([p["efficiency"].astype(float), p["speedup"].astype(float)])
    out = []
    for role, col, colr in (("measured", "ratio", "#6a3d9a"), ("theory", "theory_ratio", "#aaa")):
        out.append(
            {
                "type": "bar",
                "x": labels,
                "y": p[col].astype(float),
                "name": "measured ratio" if role == "measured" else "theory (MACs ratio)",
                "marker": {"color": colr},
                "customdata": custom,
                "hovertemplate": (
                    f"{role}: %{{y:.3f}}<br>speedup %{{customdata[1]:.2f}}×, "
                    "efficiency %{customdata[0]:.0%}<extra></extra>"
                ),
                "meta": {"panel": "ratio", "role": role},
            }
        )
    return out


def _sweep_traces(rows: Cols, col: str, panel: str, shown: set[str]) -> list[dict[str, Any]]:
    out = []
    cols = rows.sorted_by(col)
    for (name, setting), idx in cols.groups(["network", "setting"]):
        x = cols[col][idx].astype(float)
        if len(set(x)) < 2:
            continue
        out.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": x,
                "y": cols["images_per_s"][idx].astype(float),
                "name": name,
                "legendgroup": name,
                "showlegend": name not in shown,
                "line": {"color": NETWORK_COLORS.get(name, "#555")},
                "customdata": [setting] * len(idx),
                "hovertemplate": f"<b>{name}</b> · %{{customdata}}<br>{col} %{{x}}: "
                "%{y:.4g} images/s<extra></extra>",
                "meta": {"panel": panel, "network": name, "setting": setting},
            }
        )
        shown.add(name)
    return out


def _present(rows: Cols) -> list[str]:
    found = rows.values("network")
    return [n for n in _NETWORK_ORDER if n in found]


def _setting(device: Any, dtype: Any, batch: Any) -> str:
    return f"{esc(device)} · {esc(dtype)} · batch {fmt_value(batch)}"


def networks(results: pd.DataFrame, pairs: pd.DataFrame | None = None) -> go.Figure:
    """``networks_spec`` as a ``go.Figure``."""
    return as_figure(networks_spec(results, pairs))
