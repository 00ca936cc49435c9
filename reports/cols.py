"""Columns as numpy arrays (``Cols``) and the row, group and filter helpers built on them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd


def norm(v: Any) -> Any:
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
        return {norm(v) for v in a}

    def groups(self, keys: Sequence[str], *, sort: bool = True) -> list[tuple[tuple, np.ndarray]]:
        """(key, ascending row positions) per distinct combination of ``keys``."""
        if self.n == 0:
            return []
        if not keys:
            return [((), np.arange(self.n))]
        found: dict[tuple, list[int]] = {}
        for i, key in enumerate(zip(*(self.a[k] for k in keys), strict=True)):
            found.setdefault(tuple(norm(v) for v in key), []).append(i)
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
