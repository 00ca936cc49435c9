"""The site's input frames: runs, results and regression marks in the shape the pages use."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from reports.names import run_file, safe_name
from reports.pairs import PARAM_COLUMNS, with_param_columns
from reports.text import missing
from results.schema import RUN_COLUMNS

_RUN_COLUMNS = tuple(RUN_COLUMNS)


def prepare_runs(runs: pd.DataFrame | None) -> pd.DataFrame:
    runs = pd.DataFrame(columns=list(_RUN_COLUMNS)) if runs is None else runs.copy()
    for c in _RUN_COLUMNS:
        if c not in runs.columns:
            runs[c] = None
    runs["suite"] = runs["suite"].map(lambda s: "(no suite)" if missing(s) else str(s))
    runs["started_at"] = pd.to_datetime(runs["started_at"], utc=True, errors="coerce")
    runs["finished_at"] = pd.to_datetime(runs["finished_at"], utc=True, errors="coerce")
    runs = runs.sort_values("started_at", ascending=False, na_position="last", kind="stable")
    files = [run_file(r) for r in runs[["uid", "run_id"]].to_dict("records")]
    seen = {f: files.count(f) for f in files}
    runs["_file"] = [  # two uids with one 12-digit prefix: spell them out
        f if seen[f] == 1 else f"run-{safe_name(f'{r[0]}-{r[1]}')}.html"
        for f, r in zip(files, zip(runs["uid"], runs["run_id"], strict=True), strict=True)
    ]
    return runs


RESULT_COLUMNS = (
    "result_id",
    "run_id",
    "uid",
    "label",
    "run_started_at",
    "case_key",
    "case_id",
    "workload",
    "status",
    "error",
    "macs",
    "parameters",
    "bytes",
    "median",
    "q1",
    "q3",
    "iqr",
    "noisy",
    "contended",
    "rounds",
    "round_spread",
    "n_samples",
    "calls_per_sample",
    "peak_memory",
    "compile_s",
    "math_mode",
    "activation_bytes",
    "activation_bytes_efficient",
    "weight_bytes",
    "round_medians",  # list per row: pair intervals from rounds (results.speedup)
)


_NUMBERS = (  # numeric columns, NaN where a frame lacks them
    "median",
    "q1",
    "q3",
    "iqr",
    "macs",
    "parameters",
    "bytes",
    "round_spread",
    "peak_memory",
    "compile_s",
    "activation_bytes",
    "activation_bytes_efficient",
    "weight_bytes",
)


def prepare_results(results: pd.DataFrame | None, runs: pd.DataFrame) -> pd.DataFrame:
    """The columns the pages use, in plain numpy dtypes (pandas' Arrow-backed strings and
    masked integers are slow to slice into the hundreds of small groups a site needs)."""
    results = pd.DataFrame() if results is None else results
    results = with_param_columns(results)
    columns: dict[str, Any] = {}
    n = len(results)
    for c in (*RESULT_COLUMNS, *PARAM_COLUMNS):
        if c not in results.columns:
            columns[c] = np.full(n, np.nan) if c in _NUMBERS else np.full(n, None, dtype=object)
            continue
        col = results[c]
        if c == "run_started_at":
            columns[c] = pd.to_datetime(col, utc=True, errors="coerce")
        elif isinstance(col.dtype, np.dtype) and col.dtype.kind in "iufb":
            columns[c] = col.to_numpy()
        elif c in ("median", "q1", "q3", "iqr", "macs", "parameters", "bytes"):
            columns[c] = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        elif pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
            columns[c] = col.to_numpy(dtype=float, na_value=np.nan)  # nullable Int64
        else:
            values = col.to_numpy(dtype=object, copy=True)
            values[col.isna().to_numpy()] = None
            columns[c] = values
    # one constructor call: columns of one dtype share a block, so slicing stays cheap
    frame = pd.DataFrame(
        {
            c: (
                v.reset_index(drop=True)
                if isinstance(v, pd.Series)
                else pd.Series(v, dtype=object)
                if v.dtype == object
                else v
            )
            for c, v in columns.items()
        }
    )
    frame = frame[frame["run_id"].isin(runs["run_id"])]
    if frame["run_started_at"].isna().any():
        starts = runs.set_index("run_id")["started_at"]
        frame["run_started_at"] = frame["run_id"].map(starts)
    return frame.reset_index(drop=True)


# verdicts that are not worth a mark (results.compare says "same" and "incomparable")
_NEUTRAL_VERDICTS = {"same", "incomparable", "unchanged", "no change", "ok", "none"}


def prepare_marks(marks: pd.DataFrame | None) -> pd.DataFrame | None:
    """(case_key, run_id, verdict[, kind]) rows worth a mark. ``kind`` is "recent" (a run
    the verdict judged) or "change" (the first run at the new level); default "recent"."""
    if marks is None or len(marks) == 0:
        return None
    m = marks[["case_key", "run_id", "verdict"]].dropna(subset=["verdict"])
    kind = marks["kind"] if "kind" in marks.columns else "recent"
    m = m.assign(kind=pd.Series(kind, index=marks.index).reindex(m.index).fillna("recent"))
    verdict = m["verdict"].astype(str).str.lower()
    keep = ~verdict.isin(_NEUTRAL_VERDICTS) & (verdict != "ambiguous")
    return m[keep] if keep.any() else None
