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
