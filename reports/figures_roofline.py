"""The roofline: achieved MAC/s against arithmetic intensity (MACs per minimum byte).

Intensity and work come from the cost model's ``macs`` and ``bytes`` columns (the hover
gives the bytes per call too); the roof from the device's peaks that the run measured and
stored in its environment (``environment["peaks"][device] = {"macs_per_s",
"bytes_per_s"}``). Each subplot's title says the peaks, or "peak not measured".
Depthwise convolution sits far left, under the bandwidth slope: memory-bound, which is
why separable convolution misses its 9×.

A point above its roof means the roof was under-measured (a peak benchmark that missed
the best kernel): those points get a black ring and say so on hover, the subplot's
title counts them, and ``points_above_roof`` gives the counts to the page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from reports._plot import (
    THEORY_COLOR,
    Spec,
    as_figure,
    axis_key,
    axis_style,
    color,
    esc,
    figure,
    grid,
    log_axis,
    note,
)
from reports.cols import Cols, floats
from reports.names import workload_rank

_DASHES = ("solid", "dash", "dot")
_SYMBOLS = ("circle", "diamond", "square", "triangle-up", "cross", "x")
ABOVE_ROOF = "above the measured roof: the roof was under-measured"
_ABOVE_OUTLINE = "#000000"


def peak_for(
    peaks: Mapping[str, Any] | None, device: str, mode: str | None = None
) -> tuple[float, float] | None:
    """(MAC/s, bytes/s) measured for ``device`` ("cuda:0" falls back to "cuda"), or None.

    ``mode`` is a result's math mode (``float32+tf32``, ``float16``, ...) or its dtype:
    the matmul peak of that mode (``macs_per_s_by_mode``), else of its dtype
    (``macs_per_s_by_dtype``, runs measured before roofs per math mode), else the float32
    one (``macs_per_s``).
    """
    if not isinstance(peaks, Mapping):
        return None
    for name in (device, device.partition(":")[0]):
        p = peaks.get(name)
        if not isinstance(p, Mapping):
            continue
        macs = None
        for table, key in (
            ("macs_per_s_by_mode", mode),
            ("macs_per_s_by_dtype", mode.partition("+")[0] if mode else None),
        ):
            found = p.get(table)
            if macs is None and key and isinstance(found, Mapping):
                macs = found.get(key)
        try:
            macs, bw = float(macs or p["macs_per_s"]), float(p["bytes_per_s"])
        except (KeyError, TypeError, ValueError):
            continue
        if macs > 0 and bw > 0:
            return macs, bw
    return None


def roofline_points(results: pd.DataFrame | Cols) -> pd.DataFrame | Cols:
    """ok results with positive MACs, bytes and median, plus ``intensity`` and ``achieved``
    (same type back)."""
    if results is None:
        return pd.DataFrame(columns=["intensity", "achieved"])
    cols = results.a if isinstance(results, Cols) else results.columns
    if "intensity" in cols and "achieved" in cols:
        return results  # already points
    if len(results) == 0:
        empty = Cols.of(results)
        empty.a.update(intensity=np.empty(0), achieved=np.empty(0))
        return empty if isinstance(results, Cols) else empty.frame()
    macs, nbytes, med = (floats(results[c]) for c in ("macs", "bytes", "median"))
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = (np.asarray(results["status"]) == "ok") & (macs > 0) & (nbytes > 0) & (med > 0)
        intensity, achieved = (macs / nbytes)[keep], (macs / med)[keep]
    if isinstance(results, Cols):
        pts = results.where(keep)
        pts.a.update(intensity=intensity, achieved=achieved)
        return pts
    return results.iloc[np.flatnonzero(keep)].assign(intensity=intensity, achieved=achieved)


def roofline_spec(results: pd.DataFrame, peaks: Mapping[str, Any] | None = None) -> Spec:
    """Achieved MAC/s vs MACs/byte, log-log, one subplot per device, color by workload.

    ``peaks`` maps a device (as in the ``device`` column) to its measured
    ``{"macs_per_s", "bytes_per_s"}``. Traces carry ``meta = {"role", "device", ...}``:
    role "case" (one trace per workload and device) or "roof".
    """
    pts = roofline_points(results)
    if len(pts) == 0:
        return figure([], {"annotations": [note("No timed case has MACs and bytes to plot.")]})
    cols = Cols.of(
        pts,
        (
            "intensity", "achieved", "case_id", "median", "dtype", "device", "workload", "bytes",
            "math_mode",
        ),
    )  # fmt: skip
    cols = Cols(dict(cols.a), len(cols))
    for c in ("device", "dtype"):
        cols.a[c] = np.array([str(v) for v in cols[c]], dtype=object)
    cols.a["roof"] = roof_keys(cols)
    moved = cols.floats("bytes")  # the cost model's minimum bytes per call, for the hover
    devices = sorted(cols.values("device"))
    workloads = sorted(cols.values("workload"), key=workload_rank)
    dtypes = sorted(cols.values("dtype"))
    by_device: dict[str, list[tuple[str, np.ndarray]]] = {d: [] for d in devices}
    for (device, workload), idx in cols.groups(["device", "workload"]):
        by_device[device].append((workload, idx))
    roofs_of = {d: _device_roofs(cols, by_device[d], peaks, d) for d in devices}
    fractions = _fractions(cols, roofs_of)
    above = fractions > 1 + 1e-9
    subtitles = [_peaks_text(roofs_of[d], int(above[_rows(by_device[d])].sum())) for d in devices]
    layout, axes = grid(
        len(devices), cols=2, titles=[esc(d) for d in devices], subtitles=subtitles, vgap=0.18
    )
    data: list[dict[str, Any]] = []
    seen: set[str] = set()
    for device, (xid, yid) in zip(devices, axes, strict=True):
        roofs = roofs_of[device]
        measured = any(r is not None for r in roofs.values())
        for w, idx in sorted(by_device[device], key=lambda t: workload_rank(t[0])):
            x, y = cols["intensity"][idx].astype(float), cols["achieved"][idx].astype(float)
            custom = np.empty((len(idx), 6), dtype=object)
            custom[:, 0] = [esc(c) for c in cols["case_id"][idx]]
            custom[:, 1] = (cols["median"][idx].astype(float) * 1e3).tolist()
            custom[:, 2] = [esc(t) for t in cols["roof"][idx]]  # dtype, or its math mode
            custom[:, 3] = [float(f) if np.isfinite(f) else None for f in fractions[idx]]
            custom[:, 4] = [f"<br><b>{ABOVE_ROOF}</b>" if a else "" for a in above[idx]]
            custom[:, 5] = moved[idx].tolist()
            data.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "x": x,
                    "y": y,
                    "name": esc(w),
                    "legendgroup": w,
                    "showlegend": w not in seen,
                    "marker": {
                        "color": color(workloads.index(w)),
                        "size": 9,
                        "opacity": 0.85,
                        "symbol": [_SYMBOLS[dtypes.index(t) % 6] for t in cols["dtype"][idx]],
                        "line": {"width": 0.5, "color": "white"},
                    },
                    "customdata": custom,
                    "hovertemplate": (
                        "<b>%{customdata[0]}</b><br>%{customdata[2]}<br>"
                        "intensity %{x:.3g} MAC/B<br>%{customdata[5]:.3s}B moved per call "
                        "(model's minimum)<br>achieved %{y:.3s}MAC/s"
                        + ("<br>%{customdata[3]:.0%} of the roof" if measured else "")
                        + "%{customdata[4]}<br>median %{customdata[1]:.4g} ms<extra></extra>"
                    ),
                    "xaxis": xid,
                    "yaxis": yid,
                    "meta": {"role": "case", "device": device, "workload": w},
                }
            )
            seen.add(w)
        if not measured:
            continue
        here = _rows(by_device[device])
        if above[here].any():
            data.append(_above_trace(cols, here[above[here]], device, (xid, yid), seen))
        x = cols["intensity"][_rows(by_device[device])].astype(float)
        distinct = sorted({r for r in roofs.values() if r is not None}, reverse=True)
        for j, roof in enumerate(distinct):
            names = [t for t in roofs if roofs[t] == roof]
            macs_peak, bw = roof
            ridge = macs_peak / bw
            xs = np.geomspace(min(x.min(), ridge) / 3, max(x.max(), ridge) * 3, 200)
            xs = np.unique(np.append(xs, ridge))
            which = "" if len(distinct) == 1 else f" {', '.join(names)}"
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": xs,
                    "y": np.minimum(macs_peak, bw * xs),
                    "name": f"roof{esc(which)} (measured peaks)",
                    "legendgroup": f"roof{which}",
                    "showlegend": f"roof{which}" not in seen,
                    "line": {"color": THEORY_COLOR, "width": 2, "dash": _DASHES[j % 3]},
                    "legendrank": 1001,  # after the workloads in the legend
                    "hovertemplate": "roof: %{y:.3s}MAC/s at %{x:.3g} MAC/B<extra></extra>",
                    "xaxis": xid,
                    "yaxis": yid,
                    "meta": {
                        "role": "roof",
                        "device": device,
                        "dtypes": names,
                        "peak": macs_peak,
                        "bandwidth": bw,
                    },
                }
            )
            seen.add(f"roof{which}")
    for i, (xid, yid) in enumerate(axes):
        mine = [t for t in data if t["xaxis"] == xid]
        layout[axis_key(xid)].update(
            axis_style(
                title={"text": "arithmetic intensity (MACs / byte)"},
                **log_axis(*(t["x"] for t in mine), pad=1.15),
            )
        )
        layout[axis_key(yid)].update(
            axis_style(
                title={"text": "achieved (MAC/s)"} if i % 2 == 0 else None,
                **log_axis(*(t["y"] for t in mine), pad=1.3),
            )
        )
    rows = (len(devices) + 1) // 2
    title = "marker shape: " + ", ".join(
        f"{_SYMBOLS[i % 6]} = {esc(t)}" for i, t in enumerate(dtypes)
    )
    layout.update(
        height=140 + 440 * rows,
        title={
            "text": title,
            "font": {"size": 12},
            "x": 0.01,
            "y": 1,
            "yanchor": "top",
            "pad": {"t": 12},
        },
        margin={"l": 80, "r": 30, "t": 100, "b": 60},
    )
    return figure(data, layout)


def _rows(groups: list[tuple[str, np.ndarray]]) -> np.ndarray:
    return np.concatenate([idx for _, idx in groups])


def _device_roofs(
    cols: Cols, groups: list[tuple[str, np.ndarray]], peaks: Mapping[str, Any] | None, device: str
) -> dict[str, tuple[float, float] | None]:
    """{roof: (MAC/s, bytes/s) or None} for the math modes the device's points ran in."""
    return {
        t: peak_for(peaks, device, t) for t in sorted({str(t) for t in cols["roof"][_rows(groups)]})
    }


def roof_keys(cols: Cols) -> np.ndarray:
    """Each point's roof: its math mode (float32 on TF32 tensor cores is float32+tf32)
    where the run recorded one, else its dtype."""
    return np.array(
        [
            str(m) if isinstance(m, str) and m else str(t)
            for m, t in zip(cols["math_mode"], cols["dtype"], strict=True)
        ],
        dtype=object,
    )


def _fractions(cols: Cols, roofs_of: Mapping[str, Mapping[str, Any]]) -> np.ndarray:
    """Each point's achieved MAC/s over its roof at its intensity (NaN without a roof)."""
    out = np.full(len(cols), np.nan)
    x, y = cols["intensity"].astype(float), cols["achieved"].astype(float)
    for i, (device, key) in enumerate(zip(cols["device"], cols["roof"], strict=True)):
        roof = roofs_of.get(device, {}).get(key)
        if roof is not None:
            out[i] = y[i] / _roof(roof, x[i])
    return out


def _peaks_text(roofs: Mapping[str, tuple[float, float] | None], n_above: int) -> str:
    """The subplot's second title line: its peaks (or "peak not measured"), and how many
    points lie above the roof."""
    distinct = sorted({r for r in roofs.values() if r is not None}, reverse=True)
    if not distinct:
        return "peak not measured"
    labels = []
    for roof in distinct:
        names = [t for t in roofs if roofs[t] == roof]
        which = "" if len(distinct) == 1 else f" ({esc(', '.join(names))})"
        labels.append(f"{_si(roof[0], 'MAC/s')}{which}")
    missing = [t for t in roofs if roofs[t] is None]
    text = f"peak {' / '.join(labels)} · bandwidth {_si(distinct[0][1], 'B/s')}"
    if missing:
        text += f" · {esc(', '.join(missing))} not measured"
    if n_above:
        text += f" · {n_above} above the roof"
    return text


def _above_trace(
    cols: Cols, idx: np.ndarray, device: str, axis: tuple[str, str], seen: set[str]
) -> dict[str, Any]:
    """Rings around a device's points above their roof: a trace of their own (a legend
    entry that explains them) rather than outlines on the case traces, whose legend
    symbol is their first point's."""
    shown = "above" not in seen
    seen.add("above")
    return {
        "type": "scatter",
        "mode": "markers",
        "x": cols["intensity"][idx].astype(float),
        "y": cols["achieved"][idx].astype(float),
        "name": "ring: above the measured roof",
        "legendgroup": "above",
        "showlegend": shown,
        "legendrank": 1002,
        "marker": {
            "size": 17,
            "symbol": "circle-open",
            "color": _ABOVE_OUTLINE,
            "line": {"width": 2},
        },
        "hoverinfo": "skip",
        "xaxis": axis[0],
        "yaxis": axis[1],
        "meta": {"role": "above", "device": device},
    }


def points_above_roof(
    results: pd.DataFrame | Cols, peaks: Mapping[str, Any] | None
) -> dict[str, int]:
    """{device: how many of its points lie above their measured roof}, for every device
    with a measured roof (0 included); devices without one are left out."""
    pts = roofline_points(results)
    if len(pts) == 0:
        return {}
    cols = Cols.of(pts, ("intensity", "achieved", "device", "dtype", "math_mode"))
    cols = Cols({**cols.a}, len(cols))
    for c in ("device", "dtype"):
        cols.a[c] = np.array([str(v) for v in cols[c]], dtype=object)
    cols.a["roof"] = roof_keys(cols)
    groups = {d: [("", idx)] for (d,), idx in cols.groups(["device"])}
    roofs_of = {d: _device_roofs(cols, g, peaks, d) for d, g in groups.items()}
    above = _fractions(cols, roofs_of) > 1 + 1e-9
    return {
        d: int(above[groups[d][0][1]].sum())
        for d in groups
        if any(r is not None for r in roofs_of[d].values())
    }


def _roof(peak: tuple[float, float], x: Any) -> Any:
    return np.minimum(peak[0], peak[1] * x)


def _si(value: float, unit: str) -> str:
    """400 TMAC/s, 3 TB/s."""
    for prefix, size in (("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def roofline(results: pd.DataFrame, peaks: Mapping[str, Any] | None = None) -> go.Figure:
    """``roofline_spec`` as a ``go.Figure``."""
    return as_figure(roofline_spec(results, peaks))
