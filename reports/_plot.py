"""Small helpers shared by the figure builders: fast figures, facet grids, text, colors.

Figures are built with plotly's validation switched off (``_validate=False``): a run page
holds several figures and a site has a hundred pages, and validation costs ten times the
rest. The tests re-validate every figure the builders make.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

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


def _norm(v: Any) -> Any:
    """A hashable, comparable group key: numpy scalars to Python, NaN/NA to None."""
    if isinstance(v, np.generic):
        v = v.item()
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and v != v:
        return None
    return v


def _sort_key(key: tuple) -> tuple:
    return tuple(
        (2, 0, "") if v is None else (0, v, "") if isinstance(v, int | float) else (1, 0, str(v))
        for v in key
    )


class Cols:
    """A frame's columns as numpy arrays, for the many small groups a page needs.

    pandas costs ~0.1 ms per operation; a run page slices a hundred rows into dozens of
    groups, so the builders convert once and work on arrays.
    """

    __slots__ = ("a", "n")

    def __init__(self, arrays_: Mapping[str, np.ndarray], n: int | None = None):
        self.a = dict(arrays_)
        self.n = n if n is not None else (len(next(iter(self.a.values()))) if self.a else 0)

    @classmethod
    def of(cls, frame: pd.DataFrame | Cols | None, columns: Iterable[str] | None = None) -> Cols:
        """Columns of a frame (all, or those listed; a listed one it lacks is all None)."""
        if frame is None:
            return cls({}, 0)
        if isinstance(frame, Cols):
            return frame
        n = len(frame)
        names = list(frame.columns) if columns is None else list(dict.fromkeys(columns))
        return cls(
            {
                c: frame[c].to_numpy() if c in frame.columns else np.full(n, None, dtype=object)
                for c in names
            },
            n,
        )

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({c: pd.Series(v, dtype=v.dtype) for c, v in self.a.items()})

    def __len__(self) -> int:
        return self.n

    def __contains__(self, c: str) -> bool:
        return c in self.a

    def __getitem__(self, c: str) -> np.ndarray:
        return self.a[c]

    def take(self, idx: np.ndarray) -> Cols:
        return Cols({c: v[idx] for c, v in self.a.items()}, len(idx))

    def where(self, mask: np.ndarray) -> Cols:
        return self.take(np.flatnonzero(mask))

    def sorted_by(self, col: str) -> Cols:
        return self.take(np.argsort(self.a[col].astype(float), kind="stable"))

    def floats(self, col: str) -> np.ndarray:
        a = self.a[col]
        if a.dtype.kind in "iufb":
            return a.astype(float)
        return pd.to_numeric(pd.Series(self.a[col]), errors="coerce").to_numpy(
            dtype=float, na_value=np.nan
        )

    def row(self, i: int) -> dict[str, Any]:
        return {c: v[i] for c, v in self.a.items()}

    def values(self, col: str) -> set[Any]:
        """The distinct values of a column (NaN and NA as None)."""
        a = self.a[col]
        if a.dtype.kind in "iub":
            return set(np.unique(a).tolist())
        if a.dtype.kind == "f":
            finite = a[~np.isnan(a)]
            out: set[Any] = set(np.unique(finite).tolist())
            return out | {None} if len(finite) < len(a) else out
        return {_norm(v) for v in a}

    def groups(self, keys: Sequence[str], *, sort: bool = True) -> list[tuple[tuple, np.ndarray]]:
        """(key, ascending row positions) per distinct combination of ``keys``."""
        if self.n == 0:
            return []
        if not keys:
            return [((), np.arange(self.n))]
        found: dict[tuple, list[int]] = {}
        for i, key in enumerate(zip(*(self.a[k] for k in keys), strict=True)):
            found.setdefault(tuple(_norm(v) for v in key), []).append(i)
        items = sorted(found.items(), key=lambda kv: _sort_key(kv[0])) if sort else found.items()
        return [(k, np.asarray(v, dtype=np.intp)) for k, v in items]


def records(frame: pd.DataFrame | Cols, columns: Sequence[str]) -> list[dict[str, Any]]:
    """Rows as dicts (only ``columns``; absent ones are None), faster than to_dict."""
    c = Cols.of(frame, columns)
    arrays_ = [c[name] for name in columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*arrays_, strict=True)]


def varying(frame: pd.DataFrame | Cols, columns: Iterable[str]) -> list[str]:
    """The columns among ``columns`` that take more than one value in ``frame``."""
    if isinstance(frame, Cols):
        return [c for c in columns if c in frame and len(frame.values(c)) > 1]
    out = []
    for c in columns:
        if c in frame.columns and frame[c].nunique(dropna=False) > 1:
            out.append(c)
    return out


def group_positions(
    frame: pd.DataFrame | Cols, keys: Sequence[str], *, sort: bool = True
) -> list[tuple[tuple, np.ndarray]]:
    """(key tuple, row positions) per group, in sorted key order (or first appearance with
    ``sort=False``); positions ascend, so a frame sorted beforehand yields groups in that
    order."""
    return Cols.of(frame, keys).groups(keys, sort=sort)


def arrays(frame: pd.DataFrame, columns: Iterable[str]) -> dict[str, np.ndarray]:
    """The listed columns (those present) as numpy arrays."""
    return {c: frame[c].to_numpy() for c in columns if c in frame.columns}


def row_at(cols: Mapping[str, np.ndarray] | Cols, i: int) -> dict[str, Any]:
    if isinstance(cols, Cols):
        return cols.row(i)
    return {c: a[i] for c, a in cols.items()}


def describe(row: pd.Series | dict[str, Any], columns: Sequence[str]) -> str:
    """'channels=64, device=cuda' for the given columns of a row (NA ones left out)."""
    parts = []
    for c in columns:
        v = row[c]
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            continue
        if c == "channels_out" and "channels" in columns and _norm(v) == _norm(row["channels"]):
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


def ok_results(results: pd.DataFrame | Cols) -> pd.DataFrame | Cols:
    """The results that carry a timing: status ok and a positive median (same type back)."""
    if results is None:
        return pd.DataFrame()
    if len(results) == 0:
        return results
    status = np.asarray(results["status"])
    median = floats(results["median"])
    keep = (status == "ok") & (median > 0)
    return subset(results, keep)


def floats(values: Any) -> np.ndarray:
    a = np.asarray(values)
    if a.dtype.kind in "iufb":
        return a.astype(float)
    return pd.to_numeric(pd.Series(a), errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def subset(frame: pd.DataFrame | Cols, keep: np.ndarray) -> pd.DataFrame | Cols:
    if keep.all():
        return frame
    if isinstance(frame, Cols):
        return frame.where(keep)
    return frame.iloc[np.flatnonzero(keep)]
