"""Pairs of cases that set a depthwise-separable operation against its standard conv.

A pair is two ``ok`` results of one run that are identical in every parameter column
except the one that says which kind of convolution was timed:

- ``conv`` ↔ ``separable`` (depthwise then pointwise), all geometry equal;
- ``conv`` ↔ ``separable_block`` (the v1 block, with BN and ReLU), same geometry;
- ``mobilenet_v1`` with ``conv = "standard"`` (the paper's Conv MobileNet) ↔
  ``conv = "separable"``.

The pairing compares the parameter columns of the results frame, never case-id strings.
The theoretical ratio of a pair comes from the frames: ``macs(separable) / macs(standard)``
as counted by the analytic cost model. The continuous curve drawn next to it is DESIGN.md
section 1's formula, ``1/C_out + 1/k²`` (speedup ``k²·C_out / (C_out + k²)``, 9× in the
limit for k = 3); for a conv ↔ separable pair both agree exactly.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from results.schema import PARAM_ORDER

# Every parameter column the results frame may carry (NA where a workload lacks it).
PARAM_COLUMNS: tuple[str, ...] = PARAM_ORDER

GEOMETRY_PAIR = "conv ↔ separable"
BLOCK_PAIR = "conv ↔ separable_block"
NETWORK_PAIR = "Conv MobileNet ↔ MobileNet v1"

# (pair name, standard workload, separable workload) for the pairs that differ in workload.
_WORKLOAD_PAIRS: tuple[tuple[str, str, str], ...] = (
    (GEOMETRY_PAIR, "conv", "separable"),
    (BLOCK_PAIR, "conv", "separable_block"),
)

_SIDE_COLUMNS = (
    "result_id",
    "case_key",
    "case_id",
    "workload",
    "median",
    "q1",
    "q3",
    "iqr",
    "macs",
    "parameters",
    "noisy",
)

PAIR_COLUMNS: tuple[str, ...] = (
    "run_id",
    "pair",
    *PARAM_COLUMNS,
    *(f"std_{c}" for c in _SIDE_COLUMNS),
    *(f"sep_{c}" for c in _SIDE_COLUMNS),
    "ratio",
    "speedup",
    "theory_ratio",
    "theory_speedup",
    "efficiency",
)


def theory_ratio(c_out: Any, kernel: Any = 3) -> Any:
    """cost(separable) / cost(standard) = 1/C_out + 1/k² (DESIGN.md section 1)."""
    c = np.asarray(c_out, dtype=float)
    k = np.asarray(kernel, dtype=float)
    out = 1.0 / c + 1.0 / (k * k)
    return float(out) if out.ndim == 0 else out


def theory_speedup(c_out: Any, kernel: Any = 3) -> Any:
    """The theoretical speedup k²·C_out / (C_out + k²); k² (9×) in the limit."""
    c = np.asarray(c_out, dtype=float)
    k2 = np.asarray(kernel, dtype=float) ** 2
    out = k2 * c / (c + k2)
    return float(out) if out.ndim == 0 else out


def with_param_columns(results: pd.DataFrame) -> pd.DataFrame:
    """``results`` with every column of PARAM_COLUMNS present (missing ones as NA)."""
    missing = [c for c in PARAM_COLUMNS if c not in results.columns]
    if not missing:
        return results
    return results.assign(**{c: pd.NA for c in missing})


def find_pairs(results: pd.DataFrame) -> pd.DataFrame:
    """All separable/standard pairs among the ``ok`` results, one row per pair.

    Columns: ``run_id``, ``pair`` (which kind of pair), the shared parameter columns,
    ``std_*`` and ``sep_*`` for each side (median, q1, q3, iqr, macs, case_key, ...),
    ``ratio`` = sep median / std median, ``speedup`` = its inverse, ``theory_ratio`` =
    sep MACs / std MACs, ``theory_speedup`` and ``efficiency`` = speedup / theory_speedup.
    """
    if results is None or results.empty or "workload" not in results.columns:
        return _empty_pairs()
    df = with_param_columns(results).reset_index(drop=True)
    if "status" in df.columns:
        df = df[df["status"] == "ok"]
    df = df[pd.to_numeric(df["median"], errors="coerce") > 0]
    if df.empty:
        return _empty_pairs()

    frames = []
    for name, std_w, sep_w in _WORKLOAD_PAIRS:
        std = df[df["workload"] == std_w]
        sep = df[df["workload"] == sep_w]
        if not std.empty and not sep.empty:
            frames.append(_join(name, std, sep, PARAM_COLUMNS))
    v1 = df[df["workload"] == "mobilenet_v1"]
    if not v1.empty:
        others = tuple(c for c in PARAM_COLUMNS if c != "conv")
        std = v1[v1["conv"] == "standard"]
        sep = v1[v1["conv"] == "separable"]
        if not std.empty and not sep.empty:
            frames.append(_join(NETWORK_PAIR, std, sep, others))
    frames = [f for f in frames if not f.empty]
    if not frames:
        return _empty_pairs()
    pairs = pd.concat(frames, ignore_index=True)
    return _derive(pairs)


def _join(name: str, std: pd.DataFrame, sep: pd.DataFrame, on: tuple[str, ...]) -> pd.DataFrame:
    left = _side(std, "std", on)
    right = _side(sep, "sep", on)
    merged = left.merge(right, on=["run_id", "_key"], how="inner")
    if merged.empty:
        return merged
    params = std.loc[merged["std_index"].to_numpy(), list(PARAM_COLUMNS)].reset_index(drop=True)
    if "conv" not in on:  # mobilenet_v1: the two sides differ in `conv`; keep neither
        params["conv"] = pd.NA
    out = pd.concat([merged.drop(columns=["_key"]).reset_index(drop=True), params], axis=1)
    out.insert(1, "pair", name)
    return out.drop(columns=["std_index", "sep_index"])


def _side(frame: pd.DataFrame, prefix: str, on: tuple[str, ...]) -> pd.DataFrame:
    cols = [c for c in _SIDE_COLUMNS if c in frame.columns]
    side = frame[cols].copy()
    side.columns = [f"{prefix}_{c}" for c in cols]
    for c in _SIDE_COLUMNS:
        if f"{prefix}_{c}" not in side.columns:
            side[f"{prefix}_{c}"] = pd.NA
    side.insert(0, "run_id", frame["run_id"].to_numpy())
    side.insert(1, "_key", param_key(frame, on).to_numpy())
    side[f"{prefix}_index"] = frame.index.to_numpy()
    return side.reset_index(drop=True)


def param_key(frame: pd.DataFrame, columns: tuple[str, ...] | list[str]) -> pd.Series:
    """One string per row that is equal exactly when every listed column is equal.

    NA, None and NaN are one value; 64 and 64.0 are one value; True and 1 are not.
    """
    parts = [[_canon(v) for v in frame[c].tolist()] for c in columns]
    keys = ["\x1f".join(p) for p in zip(*parts, strict=True)] if parts else [""] * len(frame)
    return pd.Series(keys, index=frame.index, dtype=object)


def _canon(v: Any) -> str:
    if isinstance(v, np.generic):
        v = v.item()
    if v is None or v is pd.NA or v is pd.NaT:
        return "∅"
    if isinstance(v, bool):
        return f"b:{v}"
    if isinstance(v, int | float):
        f = float(v)
        return "∅" if math.isnan(f) else f"n:{f!r}"
    return f"s:{v}"


def _derive(pairs: pd.DataFrame) -> pd.DataFrame:
    for side in ("std", "sep"):
        for c in ("median", "q1", "q3", "iqr", "macs", "parameters"):
            pairs[f"{side}_{c}"] = pd.to_numeric(pairs[f"{side}_{c}"], errors="coerce").astype(
                float
            )
    pairs["ratio"] = pairs["sep_median"] / pairs["std_median"]
    pairs["speedup"] = 1.0 / pairs["ratio"]
    from_macs = pairs["sep_macs"] / pairs["std_macs"]
    # Fallback when a side carries no MAC count: DESIGN.md section 1's formula.
    c_out = pd.to_numeric(pairs["channels_out"], errors="coerce").astype(float)
    kernel = pd.to_numeric(pairs["kernel"], errors="coerce").astype(float)
    formula = pd.Series(theory_ratio(c_out.to_numpy(), kernel.to_numpy()), index=pairs.index)
    geometric = pairs["pair"] != NETWORK_PAIR
    pairs["theory_ratio"] = from_macs.where(from_macs > 0, formula.where(geometric))
    pairs["theory_speedup"] = 1.0 / pairs["theory_ratio"]
    pairs["efficiency"] = pairs["speedup"] / pairs["theory_speedup"]
    return pairs[list(PAIR_COLUMNS)].reset_index(drop=True)


def _empty_pairs() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in PAIR_COLUMNS})
