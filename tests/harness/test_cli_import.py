"""`bench import pytest-benchmark`: round trip through the database; bad files change nothing."""

from __future__ import annotations

import hashlib
import json
import statistics
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from harness.cli import cli

DATA = [2.0e-3, 1.0e-3, 4.0e-3, 3.0e-3]


def benchmark(
    fullname: str, data: list[float] | None, rounds: int = len(DATA), **extra: Any
) -> dict[str, Any]:
    """One entry as pytest-benchmark 5 writes it (stats per round, in seconds)."""
    stats = {
        "min": min(DATA),
        "max": max(DATA),
        "mean": statistics.mean(DATA),
        "stddev": statistics.stdev(DATA),
        "rounds": rounds,
        "median": statistics.median(DATA),
        "iqr": 2e-3,
        "q1": 1.5e-3,
        "q3": 3.5e-3,
        "iqr_outliers": 0,
        "stddev_outliers": 1,
        "outliers": "1;0",
        "ld15iqr": min(DATA),
        "hd15iqr": max(DATA),
        "ops": 1 / statistics.mean(DATA),
        "total": sum(DATA),
        "iterations": 5,
    }
    if data is not None:
        stats["data"] = data
    name = fullname.rpartition("::")[2]
    return {
        "group": None,
        "name": name,
        "fullname": fullname,
        "params": {"n": 3} if "[" in name else None,
        "param": "3" if "[" in name else None,
        "extra_info": extra,
        "options": {"disable_gc": False, "timer": "perf_counter", "min_rounds": 5},
        "stats": stats,
    }


def pb_file(path: Path, *benchmarks: dict[str, Any], **top: Any) -> Path:
    doc = {
        "machine_info": {
            "node": "ci-7",
            "processor": "x86_64",
            "machine": "x86_64",
            "python_version": "3.12.1",
            "system": "Linux",
            "release": "6.1.0",
            "cpu": {"brand_raw": "Test CPU 9000", "count": 8},
        },
        "commit_info": {"id": "0123abcd", "branch": "main", "dirty": True, "project": "proj"},
        "benchmarks": list(benchmarks),
        "datetime": "2025-03-04T05:06:07.000001+00:00",
        "version": "5.1.0",
        **top,
    }
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BENCH_DB", raising=False)
    return tmp_path


def bench(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_import_then_runs_and_show(env: Path) -> None:
    f = pb_file(
        env / "out.json",
        benchmark("tests/test_a.py::test_sum[3]", DATA, kind="fast"),
        benchmark("tests/test_a.py::test_join", DATA[::-1]),
    )
    r = bench("import", "pytest-benchmark", str(f), "--label", "pb")
    assert r.exit_code == 0, r.output
    assert "imported 2 results from" in r.output and "suite pytest-benchmark:proj" in r.output

    (run,) = json.loads(bench("runs", "--json").output)
    assert run["uid"][:8] in r.output and f"id {run['id']}" in r.output
    assert run["suite"] == "pytest-benchmark:proj" and run["label"] == "pb"
    assert run["status"] == "finished" and run["counts"] == {"ok": 2}
    assert run["commit"] == "0123abcd" and run["started_at"].startswith("2025-03-04T05:06:07")
    assert run["environment"]["cpu_model"] == "Test CPU 9000"
    assert run["environment"]["hostname"] == "ci-7" and run["environment"]["commit_dirty"] is True

    shown = json.loads(bench("show", "latest", "--json").output)
    by_id = {x["case_id"]: x for x in shown["results"]}
    s = by_id["tests/test_a.py::test_sum[3]"]
    assert s["samples"] == DATA and s["median"] == statistics.median(DATA)
    assert s["calls_per_sample"] == 5 and s["workload"] == "pytest"
    assert s["params"] == {"kind": "fast", "n": 3} and s["status"] == "ok"
    assert by_id["tests/test_a.py::test_join"]["samples"] == DATA[::-1]
    assert (env / ".bench" / "results.db").exists()  # the default database


def test_import_without_raw_data(env: Path) -> None:
    f = pb_file(env / "saved.json", benchmark("t.py::test_x", None))
    r = bench("import", "pytest-benchmark", str(f), "--db", f"sqlite:///{env / 'x.db'}")
    assert r.exit_code == 0, r.output
    assert "1 of 1 benchmarks have no raw data" in r.output
    (x,) = json.loads(
        bench("show", "latest", "--json", "--db", f"sqlite:///{env / 'x.db'}").output
    )["results"]
    assert x["samples"] == []
    assert x["median"] == statistics.median(DATA)


def test_two_imports_compare(env: Path) -> None:
    for label, scale in (("base", 1.0), ("head", 2.0)):
        data = [scale * 1e-3 * (1 + i / 100) for i in range(20)]
        f = pb_file(env / f"{label}.json", benchmark("t.py::test_x", data, rounds=len(data)))
        assert bench("import", "pytest-benchmark", str(f), "--label", label).exit_code == 0
    r = bench("compare", "latest:base", "latest:head")
    assert r.exit_code == 1, r.output  # twice as slow: a regression
    assert "t.py::test_x" in r.output and "slower" in r.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "bad.json: not JSON"),
        ('{"benchmarks": [{"fullname": "t"}]}', "bad.json: benchmarks[0].stats: missing"),
        ('{"version": "9.0.0", "benchmarks": []}', "bad.json: version: written by"),
    ],
)
def test_bad_file_exits_2_and_changes_nothing(env: Path, content: str, message: str) -> None:
    good = pb_file(env / "good.json", benchmark("t.py::test_x", DATA))
    assert bench("import", "pytest-benchmark", str(good)).exit_code == 0
    db = env / ".bench" / "results.db"
    before = digest(db)
    (env / "bad.json").write_text(content)
    r = bench("import", "pytest-benchmark", "bad.json")
    assert r.exit_code == 2
    assert f"bench: error: {message}" in r.output and "Traceback" not in r.output
    assert digest(db) == before
    assert len(json.loads(bench("runs", "--json").output)) == 1


def test_bad_file_creates_no_database(env: Path) -> None:
    (env / "bad.json").write_text("[]")
    r = bench("import", "pytest-benchmark", "bad.json", "--db", f"sqlite:///{env / 'new.db'}")
    assert r.exit_code == 2 and "expected a JSON object" in r.output
    assert not (env / "new.db").exists() and not (env / ".bench").exists()


# -- values the database would refuse: refused before anything is written, on both backends


def _hostile(path: Path, case: str) -> Path:
    """A pytest-benchmark file that is well-formed JSON but holds one value no column fits."""
    b = benchmark("t.py::test_x", DATA)
    top: dict[str, Any] = {}
    if case == "macs-beyond-int64":
        b["extra_info"] = {"case_key": "k", "workload": "conv", "params": {}, "macs": 2**63}
    elif case == "iterations-beyond-int32":
        b["stats"]["iterations"] = 2**31
    elif case == "datetime-out-of-range":
        top["datetime"] = "9999-12-31T23:00:00-05:00"
    elif case == "datetime-before-1970":
        top["datetime"] = "0001-01-01T00:00:00+00:00"
    elif case == "nul-in-name":
        b["fullname"] = "t.py::test_\x00x"
    elif case == "nan-in-params":
        b["params"] = {"n": float("nan")}
    elif case == "long-project":
        top["commit_info"] = {"id": "abc", "project": "p" * 300}
    return pb_file(path, b, **top)


HOSTILE = {
    "macs-beyond-int64": "benchmarks[0].extra_info.macs: expected an integer from 0 to",
    "iterations-beyond-int32": "benchmarks[0].stats.iterations: expected an integer from 1 to",
    "datetime-out-of-range": "datetime: '9999-12-31T23:00:00-05:00' is out of range",
    "datetime-before-1970": "datetime: '0001-01-01T00:00:00+00:00' is out of range",
    "nul-in-name": "benchmarks[0].fullname: contains a NUL character",
    "nan-in-params": "benchmarks[0].params.n: nan is not a finite number",
    "long-project": "commit_info.project: suite name",
}


def test_values_beyond_the_columns_change_nothing(env: Path, db_url: str) -> None:
    good = pb_file(env / "good.json", benchmark("t.py::test_x", DATA))
    assert bench("import", "pytest-benchmark", str(good), "--db", db_url).exit_code == 0
    before = bench("runs", "--json", "--db", db_url).output
    for case, message in HOSTILE.items():
        bad = _hostile(env / f"{case}.json", case)
        r = bench("import", "pytest-benchmark", str(bad), "--db", db_url)
        assert r.exit_code == 2, (case, r.output)
        assert f"bench: error: {bad}: {message}" in r.output, (case, r.output)
        assert "Traceback" not in r.output
    for label in ("l" * 256, "a\x00b"):
        r = bench("import", "pytest-benchmark", str(good), "--db", db_url, "--label", label)
        assert r.exit_code == 2 and "bench: error: --label " in r.output, r.output
    after = bench("runs", "--json", "--db", db_url).output
    assert after == before  # no run, no "interrupted" leftover, no result
    (run,) = json.loads(after)
    assert run["status"] == "finished" and run["counts"] == {"ok": 1}


def test_the_largest_values_round_trip(env: Path, db_url: str) -> None:
    b = benchmark("t.py::test_edge", DATA)
    b["stats"]["iterations"] = 2**31 - 1
    b["extra_info"] = {
        "case_key": "k" * 64,
        "workload": "w" * 64,
        "params": {"n": 2**63 - 1, "s": "é" * 300},
        "macs": 2**63 - 1,
        "parameters": 2**63 - 1,
        "bytes": 2**63 - 1,
    }
    f = pb_file(
        env / "edge.json",
        b,
        datetime="2199-12-31T23:59:59+00:00",
        commit_info={"id": "c" * 64, "project": "p" * 238},
    )
    label = "é" * 255
    r = bench("import", "pytest-benchmark", str(f), "--db", db_url, "--label", label)
    assert r.exit_code == 0, r.output
    shown = json.loads(bench("show", "latest", "--json", "--db", db_url).output)
    assert shown["label"] == label and shown["suite"] == "pytest-benchmark:" + "p" * 238
    assert shown["commit"] == "c" * 64
    (x,) = shown["results"]
    assert x["macs"] == x["parameters"] == x["bytes"] == 2**63 - 1
    assert x["calls_per_sample"] == 2**31 - 1 and x["params"]["n"] == 2**63 - 1
