"""Pairs of results that set a depthwise-separable operation against its standard conv.

Which cases pair is defined once, in ``results.pairs`` (fair pairs: the same norms and
activations on both sides): ``conv`` ↔ ``separable``, ``conv_block`` ↔ ``separable_block``,
Conv MobileNet ↔ MobileNet v1. Two ``ok`` results pair when they are partners and belong
to the same *unit*: one run, or one group of runs (the shards of a nightly split pairs
across runs; their group page pairs them again).

Each pair row carries both sides (``std_*``, ``sep_*``), the measured time ratio
separable / standard with its interval (``results.speedup``: from rounds when both sides
have them, else from samples), the theory (MACs of separable / standard from the cost
model, ``1/C_out + 1/k²`` for a layer), the efficiency (measured speedup / theoretical
speedup), and ``clean``: neither side noisy nor contended.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from results import pairs as kinds
from results.pairs import partner_key, theory_ratio, theory_speedup
from results.schema import PARAM_ORDER
from results.speedup import Side, pair_interval

# Every parameter column the results frame may carry (NA where a workload lacks it).
PARAM_COLUMNS: tuple[str, ...] = PARAM_ORDER

GEOMETRY_PAIR = kinds.CONV_PAIR.name
BLOCK_PAIR = kinds.BLOCK_PAIR.name
NETWORK_PAIR = kinds.NETWORK_PAIR.name

__all__ = [
    "BLOCK_PAIR",
    "GEOMETRY_PAIR",
    "NETWORK_PAIR",
    "PAIR_COLUMNS",
    "find_pairs",
    "theory_ratio",
    "theory_speedup",
]

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
    "bytes",
    "noisy",
    "contended",
    "rounds",
)

PAIR_COLUMNS: tuple[str, ...] = (
    "run_id",
    "pair",
    *PARAM_COLUMNS,
    *(f"std_{c}" for c in _SIDE_COLUMNS),
    *(f"sep_{c}" for c in _SIDE_COLUMNS),
    "ratio",
    "ci_low",
    "ci_high",
    "interval",  # "rounds" or "samples": what the interval is made of
    "speedup",
    "theory_ratio",
    "theory_speedup",
    "efficiency",
    "noisy",  # either side
    "contended",  # either side
    "clean",  # neither
)


def with_param_columns(results: pd.DataFrame) -> pd.DataFrame:
    """``results`` with every column of PARAM_COLUMNS present (missing ones as NA)."""
    missing = [c for c in PARAM_COLUMNS if c not in results.columns]
    if not missing:
        return results
    return results.assign(**{c: pd.NA for c in missing})


def find_pairs(results: pd.DataFrame | None, by: str = "run_id") -> pd.DataFrame:
    """All separable/standard pairs among the ``ok`` results, one row per pair.

    ``by`` names the column whose value is the unit pairs are made in (``run_id``, or a
    group column for a group page); it comes back as the ``run_id`` column. Where a unit
    holds one case twice (a shard run again), the later result (higher ``result_id``) is
    taken.
    """
    if results is None or results.empty or "workload" not in results.columns:
        return _empty_pairs()
    df = with_param_columns(results).reset_index(drop=True)
    ok = np.ones(len(df), dtype=bool)
    if "status" in df.columns:
        ok &= (df["status"] == "ok").to_numpy(dtype=bool, na_value=False)
    ok &= pd.to_numeric(df["median"], errors="coerce").to_numpy(dtype=float, na_value=np.nan) > 0
    idx = np.flatnonzero(ok)
    if len(idx) == 0:
        return _empty_pairs()
    units = df[by].to_numpy()
    workloads = df["workload"].to_numpy()
    params = [df[c].to_numpy() for c in PARAM_COLUMNS]
    order = df["result_id"].to_numpy() if "result_id" in df.columns else np.arange(len(df))
    sides: dict[tuple, dict[str, int]] = {}
    names: dict[tuple, str] = {}
    for i in idx:
        row = {
            c: v
            for c, col in zip(PARAM_COLUMNS, params, strict=True)
            if (v := plain_value(col[i])) is not None
        }
        found = partner_key(str(workloads[i]), row)
        if found is None:
            continue
        key, side = found
        slot = sides.setdefault((plain_value(units[i]), key), {})
        if side not in slot or order[i] > order[slot[side]]:
            slot[side] = int(i)
        names[(plain_value(units[i]), key)] = key[0]
    matched = [(k, s) for k, s in sides.items() if len(s) == 2]
    if not matched:
        return _empty_pairs()
    std_idx = np.array([s["standard"] for _, s in matched], dtype=np.intp)
    sep_idx = np.array([s["separable"] for _, s in matched], dtype=np.intp)
    out = pd.DataFrame(
        {"run_id": df[by].to_numpy()[std_idx], "pair": [names[k] for k, _ in matched]}
    )
    for c in PARAM_COLUMNS:
        out[c] = df[c].to_numpy()[std_idx]
    out.loc[out["pair"] == NETWORK_PAIR, "conv"] = pd.NA  # the sides differ in `conv`
    for prefix, rows in (("std", std_idx), ("sep", sep_idx)):
        for c in _SIDE_COLUMNS:
            out[f"{prefix}_{c}"] = df[c].to_numpy()[rows] if c in df.columns else pd.NA
    return _derive(out, df, std_idx, sep_idx)


def plain_value(v: Any) -> Any:
    """A frame value as plain Python (numpy scalars unwrapped), None for NA/NaN."""
    if isinstance(v, np.generic):
        v = v.item()
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def _derive(
    pairs: pd.DataFrame, df: pd.DataFrame, std_idx: np.ndarray, sep_idx: np.ndarray
) -> pd.DataFrame:
    for side in ("std", "sep"):
        for c in ("median", "q1", "q3", "iqr", "macs", "parameters", "bytes"):
            pairs[f"{side}_{c}"] = pd.to_numeric(pairs[f"{side}_{c}"], errors="coerce").astype(
                float
            )
    pairs["ratio"] = pairs["sep_median"] / pairs["std_median"]
    pairs["speedup"] = 1.0 / pairs["ratio"]
    intervals = [
        pair_interval(_side(df, int(a)), _side(df, int(b)))
        for a, b in zip(std_idx, sep_idx, strict=True)
    ]
    pairs["ci_low"] = [np.nan if v.low is None else v.low for v in intervals]
    pairs["ci_high"] = [np.nan if v.high is None else v.high for v in intervals]
    pairs["interval"] = [v.unit for v in intervals]
    from_macs = pairs["sep_macs"] / pairs["std_macs"]
    # Fallback when a side carries no MAC count: DESIGN.md section 1's formula.
    c_out = pd.to_numeric(pairs["channels_out"], errors="coerce").astype(float)
    kernel = pd.to_numeric(pairs["kernel"], errors="coerce").astype(float)
    formula = pd.Series(theory_ratio(c_out.to_numpy(), kernel.to_numpy()), index=pairs.index)
    geometric = pairs["pair"] != NETWORK_PAIR
    pairs["theory_ratio"] = from_macs.where(from_macs > 0, formula.where(geometric))
    pairs["theory_speedup"] = 1.0 / pairs["theory_ratio"]
    pairs["efficiency"] = pairs["speedup"] / pairs["theory_speedup"]
    for flag in ("noisy", "contended"):
        either = _truthy(pairs[f"std_{flag}"]) | _truthy(pairs[f"sep_{flag}"])
        pairs[flag] = either
    pairs["clean"] = ~(pairs["noisy"] | pairs["contended"])
    return pairs[list(PAIR_COLUMNS)].reset_index(drop=True)


def _truthy(col: pd.Series) -> np.ndarray:
    return np.array([plain_value(v) in (True, 1) for v in col.tolist()], dtype=bool)


def _side(df: pd.DataFrame, i: int) -> Side:
    def num(c: str) -> float | None:
        v = plain_value(df[c].iat[i]) if c in df.columns else None
        return None if v is None else float(v)

    medians = plain_value(df["round_medians"].iat[i]) if "round_medians" in df.columns else None
    return Side(
        median=float(df["median"].iat[i]),
        q1=num("q1"),
        q3=num("q3"),
        n=int(num("n_samples") or 0),
        round_medians=tuple(float(x) for x in medians) if isinstance(medians, list | tuple) else (),
    )


def _empty_pairs() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in PAIR_COLUMNS})
