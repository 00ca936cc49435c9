"""pandas DataFrames of runs and results, for reports and users' own analysis.

Each frame is one Core ``select`` turned into a DataFrame in one go (no ORM objects), with
fixed dtypes so that an empty database gives the same columns and dtypes as a full one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import Select, exc, false, func, select, type_coerce
from sqlalchemy.types import NullType

from results.dberrors import translate
from results.models import Environment, Result, Run
from results.records import stale_after
from results.schema import (  # noqa: F401
    _TS,
    CASE_COLUMNS,
    PARAM_ORDER,
    RESULT_COLUMNS,
    RUN_COLUMNS,
    TREND_COLUMNS,
)

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
            _raw(Run.heartbeat_at),
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
    df = _typed(df, RUN_COLUMNS)
    # "stale" as `bench runs` shows it: running, but silent past the stale timeout (derived on
    # read, never stored; see RunRecord.is_stale)
    last = df["heartbeat_at"].fillna(df["started_at"])
    silent = (pd.Timestamp.now(tz="UTC") - last) > pd.Timedelta(stale_after())
    df["shown_status"] = df["status"].where(~((df["status"] == "running") & silent), "stale")
    return df


def results_frame(
    store: Store,
    run_ids: Sequence[int] | None = None,
    *,
    include_samples: bool = False,
    columns: Iterable[str] | None = None,
) -> pd.DataFrame:
    """One row per result (all runs, or ``run_ids``), one column per parameter name.

    ``columns``: only these of ``RESULT_COLUMNS`` (with ``result_id`` and ``run_id``,
    always), in that order, then the parameters: a report reads what it renders.
    """
    names = list(RESULT_COLUMNS) if columns is None else _chosen(columns)
    derived = {"iqr": ("q1", "q3"), "rounds": ("round_medians", "median")}
    read = list(dict.fromkeys(n for name in names for n in derived.get(name, (name,))))
    if "round_medians" in read and "median" not in read:
        read.append("median")  # a row from before rounds: its one round's median
    selected = [
        c for name in read if name not in derived and (c := _result_column(name)) is not None
    ]
    selected.append(Result.params)
    if include_samples:
        selected.append(Result.samples)
    query = select(*selected).join(Run, Result.run_id == Run.id)
    if "fingerprint" in read:
        query = query.join(Environment, Run.environment_id == Environment.id)
    query = query.order_by(Result.run_id, Result.id)
    df = _fetch_runs(store, query, run_ids)
    params = pd.DataFrame.from_records(df.pop("params").tolist(), index=df.index)
    samples = df.pop("samples") if include_samples else None
    if "round_medians" in df.columns:
        df["round_medians"] = [
            _round_medians(m, med) for m, med in zip(df["round_medians"], df["median"], strict=True)
        ]
        df["rounds"] = [len(m) if m else 1 for m in df["round_medians"]]
    if "iqr" in names:
        df["iqr"] = _numbers(df["q3"]) - _numbers(df["q1"])
    df = _typed(df, {n: RESULT_COLUMNS[n] for n in names})
    if len(params.columns):
        order = sorted(params.columns, key=lambda c: (_param_rank(c), c))
        params = params[order].convert_dtypes()
        df = pd.concat([df, params.drop(columns=[c for c in order if c in df.columns])], axis=1)
    if samples is not None:
        df["samples"] = samples
    return df


def trend_frame(store: Store, run_ids: Sequence[int]) -> pd.DataFrame:
    """The points of a trend line: per ok result with a positive median, its run, case and
    median with its quartiles (``TREND_COLUMNS``), and nothing else: no samples, no
    parameters, no text. A year of nightlies is 250,000 small rows."""
    query = select(Result.run_id, Result.case_key, Result.median, Result.q1, Result.q3).where(
        Result.status == "ok", Result.median > 0
    )  # in no particular order: sorting 250,000 rows is the reader's business, if any
    return _typed(_fetch_runs(store, query, run_ids, plain=True), TREND_COLUMNS)


def case_frame(store: Store, run_ids: Sequence[int]) -> pd.DataFrame:
    """One row per case key among ``run_ids``: its name, workload and parameters as its
    newest result there has them (``CASE_COLUMNS``, then one column per parameter)."""
    newest = select(func.max(Result.id)).group_by(Result.case_key)
    ids = sorted({int(i) for i in _fetch_runs(store, newest, run_ids).iloc[:, 0]})
    query = select(Result.id, Result.case_key, Result.case_id, Result.workload, Result.params)
    parts = [_fetch(store, query.where(Result.id.in_(chunk))) for chunk in _chunks(ids)]
    df = pd.concat(parts, ignore_index=True) if parts else _fetch(store, query.where(false()))
    # with more than one chunk of runs, a case has a newest row per chunk: keep the newest
    df = df.sort_values("id", kind="stable").drop_duplicates("case_key", keep="last")
    df = df.drop(columns="id").reset_index(drop=True)
    params = pd.DataFrame.from_records(df.pop("params").tolist(), index=df.index)
    df = _typed(df, CASE_COLUMNS)
    if len(params.columns):
        order = sorted(params.columns, key=lambda c: (_param_rank(c), c))
        df = pd.concat([df, params[order].convert_dtypes()], axis=1)
    return df


def run_signatures(store: Store, run_ids: Sequence[int]) -> dict[int, str]:
    """What each run's results are, in a few numbers (how many, the newest row, the samples
    and time they hold): it changes when a result is added, merged with a later round or
    deleted, so a report can tell a page it wrote from these results without reading them."""
    query = select(
        Result.run_id,
        func.count(),
        func.max(Result.id),
        func.sum(Result.n_samples),
        func.sum(Result.duration_s),
    ).group_by(Result.run_id)
    df = _fetch_runs(store, query, run_ids)
    out = {int(i): "0" for i in run_ids}
    for run_id, *numbers in df.itertuples(index=False, name=None):
        out[int(run_id)] = ":".join(_text(x) or "" for x in numbers)
    return out


_CHUNK = 5_000  # ids per IN (...): far below the drivers' bound on parameters


def _chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK)]


def _fetch_runs(
    store: Store, query: Select[Any], run_ids: Sequence[int] | None, *, plain: bool = False
) -> pd.DataFrame:
    """``query`` for the results of ``run_ids`` (all runs if None), a chunk of ids a time."""
    if run_ids is None:
        return _fetch(store, query, plain=plain)
    ids = [int(i) for i in run_ids]
    parts = [_fetch(store, query.where(Result.run_id.in_(c)), plain=plain) for c in _chunks(ids)]
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return _fetch(store, query.where(false()))
    return pd.concat(parts, ignore_index=True)


def _chosen(columns: Iterable[str]) -> list[str]:
    """``columns`` in ``RESULT_COLUMNS`` order, with the ids every row needs."""
    wanted = {"result_id", "run_id", *columns}
    if unknown := sorted(wanted - set(RESULT_COLUMNS)):
        raise ValueError(f"not columns of results_frame: {', '.join(unknown)}")
    return [name for name in RESULT_COLUMNS if name in wanted]


def _result_column(name: str) -> Any:
    """The selectable for a column of ``results_frame`` (apart from the derived ones)."""
    if name == "result_id":
        return Result.id.label("result_id")
    if name == "run_started_at":
        return _raw(Run.started_at).label("run_started_at")
    if name == "started_at":
        return _raw(Result.started_at)
    if name == "fingerprint":
        return Environment.fingerprint
    if name in ("uid", "suite", "label"):
        return Run.__table__.c[name]
    return Result.__table__.c.get(name)  # None: not stored (the frame gives NA)


def _numbers(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce").astype("float64")


def _round_medians(stored: Any, median: Any) -> list[float] | None:
    """A row's round medians; rows from before rounds existed had one round."""
    if stored:
        return [float(x) for x in stored]
    return None if median is None else [float(median)]


def _raw(column: Any) -> Any:
    """The driver's value, unprocessed: pandas parses SQLite's UTC text much faster in bulk
    than one datetime at a time (PostgreSQL gives aware datetimes either way)."""
    return type_coerce(column, NullType()).label(column.key)


def _fetch(store: Store, query: Select[Any], *, plain: bool = False) -> pd.DataFrame:
    """The rows of ``query`` as a frame of object columns. ``plain``: every column is a
    number or text that the driver gives as is (no JSON, no time zones to add), so the
    driver's rows are taken without SQLAlchemy's row objects, twice as fast in bulk."""
    try:
        with store.engine.connect() as conn:
            result = conn.execute(query)
            keys = list(result.keys())
            if plain:
                frame = pd.DataFrame.from_records(result.cursor.fetchall(), columns=keys)
                result.close()
                return frame.astype(object) if frame.empty else frame
            rows = result.all()
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
