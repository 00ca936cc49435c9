"""Formatting of values for the pages: missing values, times, durations, counts."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd


def missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, float):
        return v != v
    if isinstance(v, str | int):
        return False
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def fmt_time(t: Any) -> str:
    if missing(t):
        return ""
    return pd.Timestamp(t).tz_convert("UTC").strftime("%Y-%m-%d %H:%M UTC")


def fmt_duration(seconds: Any) -> str:
    """'12.3 s', '4 min 05 s'; empty when unknown (an imported run has no duration)."""
    if missing(seconds) or float(seconds) <= 0:
        return ""
    s = float(seconds)
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"


def fmt_ms(seconds: Any) -> str:
    if missing(seconds):
        return ""
    v = float(seconds) * 1e3
    return f"{v:.4g}" if v >= 0.001 else f"{v:.2e}"


def fmt_count(v: Any) -> str:
    if missing(v):
        return ""
    v = float(v)
    for unit, size in (("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(v) >= size:
            return f"{v / size:.3g} {unit}"
    return f"{v:.0f}"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def as_int(v: Any) -> int:
    return 0 if missing(v) else int(v)


def as_text(v: Any) -> str:
    return "" if missing(v) else str(v)


def sort_time(t: Any) -> str:
    return "" if missing(t) else pd.Timestamp(t).isoformat()


def as_float(v: Any) -> float | None:
    if missing(v):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def num_text(v: Any) -> str:
    f = as_float(v)
    if f is None:
        return as_text(v)
    return str(int(f)) if f.is_integer() else f"{f:g}"


def shown_status(run: Mapping[str, Any]) -> str:
    """A run's status as `bench runs` shows it ("stale" for a silent running run); frames
    made by hand may carry only the stored status."""
    shown = run.get("shown_status")
    return as_text(run.get("status") if missing(shown) else shown)
