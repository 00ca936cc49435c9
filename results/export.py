"""Export runs' results (with raw samples) as CSV, JSON or Parquet."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from results.errors import UsageError
from results.frames import results_frame

if TYPE_CHECKING:
    import pandas as pd

    from results.store import Store

Format = Literal["csv", "json", "parquet"]
FORMATS: tuple[Format, ...] = ("csv", "json", "parquet")


def export_run(
    store: Store,
    run: str | int,
    fmt: Format,
    out: str | os.PathLike[str] | None = None,
) -> str | None:
    """``export_runs`` of one run (a RUN reference or an id)."""
    record = store.get_run(run) if isinstance(run, int) else store.resolve_run(run)
    assert record.id is not None
    return export_runs(store, [record.id], fmt, out)


def export_runs(
    store: Store,
    run_ids: list[int],
    fmt: Format,
    out: str | os.PathLike[str] | None = None,
) -> str | None:
    """Write the results of the runs ``run_ids`` to ``out``, in run and insertion order.

    Without ``out``, CSV and JSON are returned as text (the CLI prints them); Parquet is
    binary and needs a file. Returns None when written to ``out``.
    """
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r} (expected {', '.join(FORMATS)})")
    if fmt == "parquet" and out is None:
        raise UsageError("parquet export needs an output file (-o FILE)")
    if out is not None:
        _check_target(Path(out))
    df = results_frame(store, list(run_ids), include_samples=True)
    if fmt == "csv":
        # A cell holds one value: samples become a JSON array in a string.
        df["samples"] = [json.dumps(s) for s in df["samples"]]
        if out is None:
            return df.to_csv(index=False)
    try:
        if fmt == "csv":
            df.to_csv(out, index=False)
        elif fmt == "json":
            text = _json_records(df)
            if out is None:
                return text
            Path(out).write_text(text)
        else:
            _parquet_safe(df).to_parquet(out, index=False)
    except OSError as e:
        raise UsageError(f"cannot write {out}: {e.strerror or e}") from None
    return None


def _check_target(out: Path) -> None:
    """Never overwrite a database (the store's own file included) with an export."""
    if out.is_dir():
        raise UsageError(f"-o {out}: is a folder; give a file name")
    try:
        with out.open("rb") as f:
            head = f.read(16)
    except OSError:
        return  # absent (or unreadable: writing will say so)
    if head == b"SQLite format 3\x00":
        raise UsageError(
            f"-o {out}: is an SQLite database; refusing to overwrite it with an export"
        )


def _json_records(df: pd.DataFrame) -> str:
    """Records with ISO dates and null for missing values. Not DataFrame.to_json: it rounds
    floats to 15 significant digits, and the raw samples must survive exactly."""
    records = df.astype(object).where(df.notna(), None).to_dict(orient="records")
    return json.dumps(records, default=_json_value)


def _json_value(value: object) -> object:
    if isinstance(value, datetime):  # pandas Timestamps included
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot export {type(value).__name__} as JSON")


def _parquet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Arrow needs one type per column: a parameter with mixed types becomes text."""
    for name in df.columns:
        if name != "samples" and df[name].dtype == object:
            df[name] = df[name].astype("string")
    return df
