"""Export of one run as CSV, JSON and Parquet, samples included."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from results.errors import RunNotFound, UsageError
from results.export import export_run
from results.records import CaseStatus
from results.store import Store


@pytest.fixture
def store(db_url, make_run, make_result):
    with Store.open(db_url, create=True) as store:
        run = store.start_run(make_run(label="x"))
        store.add_results(
            run.id,
            [
                make_result(0),
                make_result(1, status=CaseStatus.FAILED, samples=[], error='bad "quote", comma'),
            ],
        )
        other = store.start_run(make_run())
        store.add_result(other.id, make_result(9))
        yield store


def test_csv(store, make_result, tmp_path):
    text = export_run(store, 1, "csv")
    assert isinstance(text, str)
    df = pd.read_csv(io.StringIO(text), dtype={"case_key": str})
    assert list(df["case_key"]) == [make_result(0).case_key, make_result(1).case_key]
    assert json.loads(df["samples"][0]) == make_result(0).samples  # exact after the trip
    assert json.loads(df["samples"][1]) == []
    assert df["error"][1] == 'bad "quote", comma'
    assert df["batch"].tolist() == [0, 1] and df["macs"][0] == 10**12
    assert pd.Timestamp(df["started_at"][0]) == make_result(0).started_at

    out = tmp_path / "run.csv"
    assert export_run(store, "latest:x", "csv", out) is None
    assert out.read_text() == text


def test_json(store, make_result, tmp_path):
    records = json.loads(export_run(store, "1", "json"))
    assert len(records) == 2 and records[0]["samples"] == make_result(0).samples
    assert records[0]["started_at"] == "2024-05-01T12:00:00.123456+00:00"  # ISO, UTC
    assert records[0]["case_id"] == "conv[batch=0]" and records[0]["channels"] == 32
    assert records[1]["median"] is None and records[1]["error"] == 'bad "quote", comma'

    out = tmp_path / "run.json"
    export_run(store, 1, "json", out)
    assert json.loads(out.read_text()) == records


def test_parquet(store, make_result, tmp_path):
    out = tmp_path / "run.parquet"
    assert export_run(store, 1, "parquet", str(out)) is None
    df = pd.read_parquet(out)
    assert len(df) == 2 and list(df["samples"][0]) == make_result(0).samples
    assert df["run_started_at"][0] == make_result(0).started_at.replace(microsecond=123456)
    assert str(df["started_at"].dtype) == "datetime64[us, UTC]"
    assert df["device"].tolist() == ["cpu", "cpu"]


def test_parquet_with_mixed_parameter_types(db_url, make_run, make_result, tmp_path):
    with Store.open(db_url, create=True) as store:
        run = store.start_run(make_run())
        store.add_results(
            run.id,
            [
                make_result(0, params={"threads": 4}),
                make_result(1, params={"threads": "all"}),
                make_result(2, params={}),
            ],
        )
        export_run(store, run.id, "parquet", tmp_path / "p.parquet")
    threads = pd.read_parquet(tmp_path / "p.parquet")["threads"].tolist()
    assert threads[:2] == ["4", "all"] and pd.isna(threads[2])


def test_usage_errors(store):
    with pytest.raises(UsageError, match="parquet export needs an output file"):
        export_run(store, 1, "parquet")
    with pytest.raises(UsageError, match="unknown export format 'xml'"):
        export_run(store, 1, "xml")  # type: ignore[arg-type]
    with pytest.raises(RunNotFound):
        export_run(store, 99, "csv")


def test_export_never_overwrites_a_database(tmp_path, make_run, make_result):
    db = tmp_path / "bench.db"
    with Store.open(f"sqlite:///{db}", create=True) as store:
        run = store.start_run(make_run())
        store.add_result(run.id, make_result(0))
        for fmt in ("csv", "json", "parquet"):
            with pytest.raises(UsageError, match="is an SQLite database"):
                export_run(store, "latest", fmt, db)
        with pytest.raises(UsageError, match="cannot write"):
            export_run(store, "latest", "csv", tmp_path / "no" / "such" / "dir.csv")
        with pytest.raises(UsageError, match="is a folder"):
            export_run(store, "latest", "json", tmp_path)
    with Store.open(f"sqlite:///{db}") as store:  # still the database it was
        assert len(store.results(store.resolve_run("latest").id)) == 1
