"""Small helpers shared by the figure builders: fast figures, facet grids, text, colors.

Figures are built with plotly's validation switched off (``_validate=False``): a run page
holds several figures and a site has a hundred pages, and validation costs ten times the
rest. The tests re-validate every figure the builders make.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from reports.cols import floats, norm
from reports.html import esc as html_esc

COLORWAY = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#7f7f7f",
    "#bcbd22",
)
THEORY_COLOR = "#222222"
# Plotly's dash patterns, one per measured series (theory lines are black, not in this list).
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
GRID_COLOR = "#e5e5e5"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"


def esc(value: Any) -> str:
    """Text for a Plotly label: Plotly renders a subset of HTML, so escape user data.

    Quotes stay literal: plotly.js decodes numeric entities but of the named ones only
    &amp; &lt; &gt; &nbsp; &mu; &times; &plusmn; &deg; (``convertEntities``), so
    ``&quot;`` would show as typed.
    """
    return html_esc(value, quote=False)


def dash_pattern(i: int) -> str:
    return DASHES[i % len(DASHES)]


def fmt_value(v: Any) -> str:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def color(i: int) -> str:
    return COLORWAY[i % len(COLORWAY)]


Spec = dict[str, Any]  # {"data": [trace dicts], "layout": {...}}, what plotly.js takes


def figure(data: list[dict[str, Any]], layout: dict[str, Any]) -> Spec:
    """A figure as plain dicts: the site serializes these directly (fast); the public
    builders wrap them with ``as_figure``."""
    base = {
        "font": {"family": FONT, "size": 13},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "hovermode": "closest",
        "margin": {"l": 70, "r": 30, "t": 70, "b": 60},
        "legend": {"bgcolor": "rgba(255,255,255,0.8)"},
    }
    base.update(layout)
    return {"data": data, "layout": base}


def as_figure(spec: Spec) -> go.Figure:
    return go.Figure(data=spec["data"], layout=spec["layout"], _validate=False)


def axis_style(**kw: Any) -> dict[str, Any]:
    style = {
        "showgrid": True,
        "gridcolor": GRID_COLOR,
        "zeroline": False,
        "showline": True,
        "linecolor": "#888",
        "mirror": True,
        "ticks": "outside",
        "exponentformat": "SI",
    }
    style.update(kw)
    return style


def grid(
    n: int,
    *,
    cols: int,
    titles: Sequence[str] = (),
    subtitles: Sequence[str] = (),
    hgap: float = 0.08,
    vgap: float = 0.14,
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Layout entries for ``n`` subplots in a ``cols``-wide grid, and their (x, y) axis ids.

    Replaces make_subplots (which validates and is slow); titles become annotations above
    each plot area, a subtitle (plain, smaller) on a second line: text that describes a
    subplot goes there, never inside the plot area where it would cover data.
    """
    cols = max(1, min(cols, n))
    rows = max(1, math.ceil(n / cols))
    width = (1 - hgap * (cols - 1)) / cols
    height = (1 - vgap * (rows - 1)) / rows
    layout: dict[str, Any] = {}
    axes: list[tuple[str, str]] = []
    annotations = []
    for i in range(n):
        r, c = divmod(i, cols)
        x0 = c * (width + hgap)
        y1 = 1 - r * (height + vgap)
        suffix = "" if i == 0 else str(i + 1)
        xid, yid = f"x{suffix}", f"y{suffix}"
        layout[f"xaxis{suffix}"] = {"domain": _span(x0, x0 + width), "anchor": yid}
        layout[f"yaxis{suffix}"] = {"domain": _span(y1 - height, y1), "anchor": xid}
        axes.append((xid, yid))
        title = f"<b>{titles[i]}</b>" if i < len(titles) and titles[i] else ""
        if i < len(subtitles) and subtitles[i]:
            title += f'<br><span style="font-size:12px">{subtitles[i]}</span>'
        if title:
            annotations.append(
                {
                    "text": title,
                    "x": round(x0 + width / 2, 6),
                    "y": _span(y1, y1)[0],  # exactly the domain's top, as rounded there
                    "xref": "paper",
                    "yref": "paper",
                    "xanchor": "center",
                    "yanchor": "bottom",
                    "showarrow": False,
                    "font": {"size": 14},
                }
            )
    layout["annotations"] = annotations
    return layout, axes


def _span(a: float, b: float) -> list[float]:
    return [min(1.0, max(0.0, round(a, 6))), min(1.0, max(0.0, round(b, 6)))]


def axis_key(axis_id: str) -> str:
    """'x2' -> 'xaxis2', 'y' -> 'yaxis'."""
    return f"{axis_id[0]}axis{axis_id[1:]}"


def note(text: str, *, xref: str = "paper", yref: str = "paper", x: float = 0.5, y: float = 0.5):
    """An annotation that says something in words: for a figure without subplots (a plot
    area has data under it; say things about a subplot in its title instead)."""
    return {
        "text": text,
        "x": x,
        "y": y,
        "xref": xref,
        "yref": yref,
        "showarrow": False,
        "font": {"size": 13, "color": "#555"},
        "bgcolor": "rgba(255,255,255,0.85)",
    }


def margin_note(lines: Sequence[str], *, above: int = 26) -> dict[str, Any]:
    """Lines of text in the top margin, ``above`` pixels over the top row's subplot titles,
    left-aligned: outside every plot area. The caller leaves room (``note_margin``)."""
    return {
        "text": "<br>".join(lines),
        "x": 0,
        "y": 1,
        "xref": "paper",
        "yref": "paper",
        "xanchor": "left",
        "yanchor": "bottom",
        "align": "left",
        "yshift": above,
        "showarrow": False,
        "font": {"size": 12, "color": "#555"},
    }


def note_margin(n_lines: int, *, base: int = 70, above: int = 26) -> int:
    """The top margin that fits ``n_lines`` of ``margin_note`` over the subplot titles."""
    return base + (above + 17 * n_lines if n_lines else 0)


_SI = ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
# Mantissas of log ticks, from coarse to fine; the first that puts two ticks in range wins.
_MANTISSAS = ((1, 2, 5), (1, 1.5, 2, 3, 4, 5, 6, 7, 8), (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9))


def tick_label(v: float, *, si: bool = True) -> str:
    """'0.05', '20', '500'; from a thousand up '2 k', '100 G' (or '2,000' without ``si``)."""
    if si:
        for size, prefix in _SI:
            if v >= size * (1 - 1e-9):
                return f"{v / size:.3g} {prefix}"
    if v >= 1000:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def log_ticks(lo: float, hi: float, *, si: bool = True) -> dict[str, list[Any]]:
    """``tickvals`` and ``ticktext`` for a log axis over [lo, hi]: 1, 2, 5, 10, 20, 50, ...

    Every log axis of the reports uses it: plotly's own log ticks label the 2s and 5s of a
    decade with a bare digit ("2, 100, 5, 2, 10, 5"). Units go in the axis title; values
    from a thousand up take an SI prefix (``tick_label``). Over more than four decades only
    powers of ten are kept (every other one past eight), over less than a 1-2-5 step finer
    mantissas (at least three ticks within a decade, where they fit).
    """
    if not (lo > 0 and hi > 0 and math.isfinite(lo) and math.isfinite(hi)):
        return {"tickvals": [], "ticktext": []}
    lo, hi = min(lo, hi), max(lo, hi)
    first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    decades = math.log10(hi / lo)

    def within(vals: Iterable[float]) -> list[float]:
        return sorted(v for v in vals if lo * (1 - 1e-9) <= v <= hi * (1 + 1e-9))

    if decades > 4:
        step = math.ceil(decades / 8)
        vals = within(float(f"1e{k}") for k in range(first, last + 1) if k % step == 0)
    else:
        vals = []
        for mantissas in _MANTISSAS:
            vals = within(float(f"{m}e{k}") for k in range(first, last + 1) for m in mantissas)
            if len(vals) >= (2 if decades >= 1 else 3):
                break
        if not vals:
            vals = [float(f"{math.sqrt(lo * hi):.2g}")]
    return {"tickvals": vals, "ticktext": [tick_label(v, si=si) for v in vals]}


def _float_array(v: Any) -> np.ndarray:
    """``v`` as a flat float array: numpy's fast path, or ``floats`` for mixed objects
    (None, pd.NA, strings), which costs ~10x more on the thousands of run pages."""
    try:
        return np.ravel(np.asarray(v, dtype=float))
    except (TypeError, ValueError):
        return np.asarray(floats(np.ravel(np.asarray(v, dtype=object))))


def log_axis(*values: Any, pad: float = 1.25, si: bool = True) -> dict[str, Any]:
    """A log axis (type, range, ticks) that shows every finite positive value given, with
    ``pad`` (a factor) of room at either end; just ``{"type": "log"}`` without values."""
    finite = [a[np.isfinite(a) & (a > 0)] for a in (_float_array(v) for v in values)]
    allv = np.concatenate(finite) if finite else np.empty(0)
    if allv.size == 0:
        return {"type": "log"}
    lo, hi = float(allv.min()) / pad, float(allv.max()) * pad
    return {
        "type": "log",
        "range": [math.log10(lo), math.log10(hi)],
        **log_ticks(lo, hi, si=si),
    }


BAR_LINEAR_SPAN = 10.0  # bars whose values span at most this factor start at zero


def bar_axis(*values: Any, si: bool = True) -> dict[str, Any]:
    """The value axis of a bar chart: linear from zero when the values are within
    ``BAR_LINEAR_SPAN`` of each other (a bar's length is then its value: on a log axis it
    starts wherever the range does, so 548 vs 484 images/s looks like 2x); a log axis with
    readable ticks when they span more (a 30x gap would flatten the small bars)."""
    finite = [a[np.isfinite(a) & (a > 0)] for a in (_float_array(v) for v in values)]
    allv = np.concatenate(finite) if finite else np.empty(0)
    if allv.size and allv.max() / allv.min() > BAR_LINEAR_SPAN:
        return log_axis(allv, pad=1.3, si=si)
    return {"type": "linear", "rangemode": "tozero"}


def describe(row: pd.Series | dict[str, Any], columns: Sequence[str]) -> str:
    """'channels=64, device=cuda' for the given columns of a row (NA ones left out)."""
    parts = []
    for c in columns:
        v = row[c]
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            continue
        if c == "channels_out" and "channels" in columns and norm(v) == norm(row["channels"]):
            continue  # the usual C_out = C_in: say it once
        parts.append(f"{c}={fmt_value(v)}")
    return ", ".join(parts)


def ms(seconds: Any) -> Any:
    return np.asarray(seconds, dtype=float) * 1e3


def geomspace_with(values: Iterable[float], n: int = 60) -> np.ndarray:
    """A log-spaced grid over [min, max] of ``values`` that also contains every value."""
    v = np.asarray(sorted({float(x) for x in values if x and x > 0}), dtype=float)
    if v.size == 0:
        return v
    lo, hi = v[0], v[-1]
    grid_ = np.geomspace(lo, hi, n) if hi > lo else np.array([lo])
    return np.unique(np.concatenate([grid_, v]))
