"""pandas DataFrames of runs and results, for reports and users' own analysis.

Each frame is one Core ``select`` turned into a DataFrame in one go (no ORM objects), with
fixed dtypes so that an empty database gives the same columns and dtypes as a full one.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import Select, exc, func, select, type_coerce
from sqlalchemy.types import NullType

from results.dberrors import translate
from results.models import Environment, Result, Run
from results.schema import _TS, PARAM_ORDER, RESULT_COLUMNS, RUN_COLUMNS  # noqa: F401

if TYPE_CHECKING:
    from results.store import Store


_ENV_COLUMNS = {"torch_version": "torch", "cpu_model": "cpu_model", "gpu_name": "gpu_name"}


def runs_frame(store: Store, *, suite: str | None = None, label: str | None = None) -> pd.DataFrame:
    """One row per run, newest first, with result counts and the main environment facts."""
    counts = (
        select(
            Result.run_id,
            *(
                func.count().filter(Result.status == s).label(f"n_{s}")
                for s in ("ok", "failed", "skipped")
            ),
        )
        .group_by(Result.run_id)
        .subquery()
    )
    query = (
        select(
            Run.id.label("run_id"),
            Run.uid,
            Run.suite,
            Run.label,
            Run.status,
            _raw(Run.started_at),
            _raw(Run.finished_at),
            Run.commit,
            Environment.fingerprint,
            Run.group,
            Run.shard,
            Run.planned,
            *(func.coalesce(counts.c[n], 0).label(n) for n in ("n_ok", "n_failed", "n_skipped")),
            Run.rounds,
            Run.warnings,
            Run.peaks,
            Environment.data.label("environment"),
        )
        .join(Environment, Run.environment_id == Environment.id)
        .outerjoin(counts, counts.c.run_id == Run.id)
        .order_by(Run.started_at.desc(), Run.id.desc())
    )
    if suite is not None:
        query = query.where(Run.suite == suite)
    if label is not None:
        query = query.where(Run.label == label)
    df = _fetch(store, query)
    envs = df["environment"].tolist()
    for column, key in _ENV_COLUMNS.items():
        df[column] = [_text(e.get(key)) if isinstance(e, dict) else None for e in envs]
    df["duration_s"] = _seconds_between(df["started_at"], df["finished_at"])
    return _typed(df, RUN_COLUMNS)


def results_frame(
    store: Store, run_ids: list[int] | None = None, *, include_samples: bool = False
) -> pd.DataFrame:
    """One row per result (all runs, or ``run_ids``), one column per parameter name."""
    columns = [
        Result.id.label("result_id"),
        Result.run_id,
        Run.uid,
        Run.suite,
        Run.label,
        _raw(Run.started_at).label("run_started_at"),
        Environment.fingerprint,
        *(
            Result.__table__.c[name]
            for name in RESULT_COLUMNS
            if name in Result.__table__.c and name not in ("run_id", "started_at")
        ),
        _raw(Result.started_at),
        Result.params,
    ]
    if include_samples:
        columns.append(Result.samples)
    query = (
        select(*columns)
        .join(Run, Result.run_id == Run.id)
        .join(Environment, Run.environment_id == Environment.id)
        .order_by(Result.run_id, Result.id)
    )
    if run_ids is not None:
        query = query.where(Result.run_id.in_(run_ids))
    df = _fetch(store, query)
    params = pd.DataFrame.from_records(df.pop("params").tolist(), index=df.index)
    samples = df.pop("samples") if include_samples else None
    df["round_medians"] = [
        _round_medians(m, med) for m, med in zip(df["round_medians"], df["median"], strict=True)
    ]
    df["rounds"] = [len(m) if m else 1 for m in df["round_medians"]]
    df = _typed(df, RESULT_COLUMNS)
    df["iqr"] = df["q3"] - df["q1"]
    if len(params.columns):
        order = sorted(params.columns, key=lambda c: (_param_rank(c), c))
        params = params[order].convert_dtypes()
        df = pd.concat([df, params.drop(columns=[c for c in order if c in df.columns])], axis=1)
    if samples is not None:
        df["samples"] = samples
    return df


def _round_medians(stored: Any, median: Any) -> list[float] | None:
    """A row's round medians; rows from before rounds existed had one round."""
    if stored:
        return [float(x) for x in stored]
    return None if median is None else [float(median)]


def _raw(column: Any) -> Any:
    """The driver's value, unprocessed: pandas parses SQLite's UTC text much faster in bulk
    than one datetime at a time (PostgreSQL gives aware datetimes either way)."""
    return type_coerce(column, NullType()).label(column.key)


def _fetch(store: Store, query: Select[Any]) -> pd.DataFrame:
    try:
        with store.engine.connect() as conn:
            result = conn.execute(query)
            keys, rows = list(result.keys()), result.all()
    except (exc.DBAPIError, sqlite3.Error) as e:
        raise translate(e, store.where) from e
    # Column-wise construction: pandas probing SQLAlchemy Row objects one by one is slow.
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in keys]
    return pd.DataFrame({k: pd.Series(c, dtype=object) for k, c in zip(keys, columns, strict=True)})


def _param_rank(name: str) -> int:
    return PARAM_ORDER.index(name) if name in PARAM_ORDER else len(PARAM_ORDER)


def _typed(df: pd.DataFrame, dtypes: dict[str, Any]) -> pd.DataFrame:
    """Columns in the documented order with fixed dtypes (also for zero rows)."""
    out = pd.DataFrame(index=df.index)
    for name, dtype in dtypes.items():
        column = df[name] if name in df.columns else pd.Series(index=df.index, dtype=object)
        if dtype == _TS:
            # naive values (SQLite) are UTC by the store's convention
            out[name] = pd.to_datetime(column, utc=True, format="ISO8601").astype(_TS)
        elif dtype == "object":
            out[name] = column.astype(object)
        else:
            out[name] = column.astype(dtype)
    return out


def _seconds_between(start: pd.Series, end: pd.Series) -> pd.Series:
    delta = pd.to_datetime(end, utc=True) - pd.to_datetime(start, utc=True)
    return delta.dt.total_seconds()


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
