"""Hover text and 95% interval bars of the speedup-vs-theory figure's measured points."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from reports._plot import esc, ms
from reports.cols import Cols

HOVER = {
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


HOVER_COLUMNS = (
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


def hover_data(cols: Cols, idx: np.ndarray) -> np.ndarray:
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
    noisy, contended = flag(cols, "noisy")[idx], flag(cols, "contended")[idx]
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


def interval_bars(
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


def flag(cols: Cols, name: str) -> np.ndarray:
    """A boolean column of the pairs (absent, NA or None as False)."""
    return np.array([v is True or v == 1 for v in map(_plain, cols[name])], dtype=bool)


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else (None if v is pd.NA else v)
