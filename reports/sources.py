"""Where the site reads results: the ResultSource protocol and FrameSource over a frame."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd

from reports.pairs import PARAM_COLUMNS, with_param_columns


class ResultSource(Protocol):
    """Where ``build_site`` reads results, as it needs them (``harness.cli.report`` reads
    the store with ``results.frames``; ``FrameSource`` serves a frame held in memory)."""

    def results(self, run_ids: Sequence[int], columns: Sequence[str]) -> pd.DataFrame:
        """Rows of results_frame for ``run_ids``: at least ``columns`` and the parameters."""
        ...

    def trend_points(self, run_ids: Sequence[int]) -> pd.DataFrame:
        """Per ok result with a positive median: run_id, case_key, median, q1, q3."""
        ...

    def cases(self, run_ids: Sequence[int]) -> pd.DataFrame:
        """One row per case key: case_key, case_id, workload and the parameters."""
        ...

    def signatures(self, run_ids: Sequence[int]) -> Mapping[int, str]:
        """Per run, a text that changes whenever the run's results do."""
        ...


class FrameSource:
    """A ``ResultSource`` over a results frame in memory (tests, users' own frames)."""

    def __init__(self, results: pd.DataFrame | None):
        frame = pd.DataFrame() if results is None else results
        if "run_id" not in frame.columns:
            frame = frame.assign(run_id=pd.Series(dtype="int64"))
        self.frame = with_param_columns(frame).reset_index(drop=True)
        self._rows = rows_by_run(self.frame)

    def _of(self, run_ids: Sequence[int]) -> pd.DataFrame:
        idx = [self._rows[r] for r in run_ids if r in self._rows]
        return self.frame.iloc[np.sort(np.concatenate(idx))] if idx else self.frame.iloc[0:0]

    def results(self, run_ids: Sequence[int], columns: Sequence[str]) -> pd.DataFrame:
        return self._of(run_ids)

    def trend_points(self, run_ids: Sequence[int]) -> pd.DataFrame:
        r = self._of(run_ids)
        blank = pd.Series(None, index=r.index, dtype=object)
        nums = {
            c: pd.to_numeric(r[c] if c in r.columns else blank, errors="coerce").astype(float)
            for c in ("median", "q1", "q3")
        }
        status = r["status"] if "status" in r.columns else blank
        keep = (status == "ok").to_numpy(dtype=bool) & (nums["median"] > 0).to_numpy()
        key = r["case_key"] if "case_key" in r.columns else blank
        out = pd.DataFrame({"run_id": r["run_id"], "case_key": key, **nums})[keep]
        return out.reset_index(drop=True).astype({"case_key": "category"})  # as trend_frame

    def cases(self, run_ids: Sequence[int]) -> pd.DataFrame:
        r = self._of(run_ids)
        fields = ["case_key", "case_id", "workload", *PARAM_COLUMNS]
        r = r.assign(**{c: None for c in fields if c not in r.columns})
        return r.drop_duplicates("case_key", keep="last")[fields].reset_index(drop=True)

    def signatures(self, run_ids: Sequence[int]) -> Mapping[int, str]:
        r = self._of(run_ids)
        hashes = pd.Series(_row_hashes(r), index=r.index).groupby(r["run_id"].to_numpy())
        sums = hashes.sum()  # uint64 arithmetic wraps: an order-free digest of the rows
        counts = hashes.size()
        return {int(k): f"{counts[k]}:{int(sums[k])}" for k in sums.index}


def _row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """A 64-bit hash of each row's values (list and dict values by their repr)."""
    out = np.zeros(len(frame), dtype=np.uint64)
    for name in sorted(frame.columns, key=str):
        col = frame[name]
        try:
            v = pd.util.hash_pandas_object(col, index=False).to_numpy()
        except TypeError:
            v = pd.util.hash_pandas_object(col.map(repr), index=False).to_numpy()
        with np.errstate(over="ignore"):
            out = out * np.uint64(1_000_003) ^ v
    return out


def rows_by_run(frame: pd.DataFrame) -> dict[Any, np.ndarray]:
    """The row positions of each run in ``frame``, by run_id."""
    if frame is None or len(frame) == 0 or "run_id" not in frame.columns:
        return {}
    return frame.groupby("run_id", sort=False).indices
