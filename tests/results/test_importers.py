"""Importing pytest-benchmark JSON: files of bench's plugin, plain files, bad files.

The plain files are made for real by pytest-benchmark in an inner pytest session, so a
change in its format shows up here rather than in a user's import.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from results.errors import ImportFormatError, UsageError
from results.importers import (
    MAX_IMPORT_BYTES,
    fingerprint,
    load_pytest_benchmark,
    plain_case_key,
)
from results.records import CaseStatus, RunStatus

pytest_plugins = ["pytester"]

PLAIN_TESTS = """
import pytest

@pytest.mark.parametrize("n", [10, 100])
def test_sum(benchmark, n):
    benchmark.extra_info["kind"] = "builtin"
    benchmark(sum, range(n))

@pytest.mark.benchmark(group="sorting")
def test_sorted(benchmark):
    benchmark.pedantic(sorted, args=([3, 1, 2],), rounds=7, iterations=3)
"""
FAST = ("-p", "no:cacheprovider", "--benchmark-max-time=0.002", "--benchmark-min-rounds=3")


@pytest.fixture
def plain(pytester: pytest.Pytester) -> dict[str, Path]:
    """One plain project benchmarked three ways: --benchmark-json, --benchmark-save with
    and without --benchmark-save-data."""
    pytester.makepyfile(test_plain=PLAIN_TESTS)
    storage = pytester.path / "storage"
    r = pytester.runpytest(
        *FAST,
        "--benchmark-json=plain.json",
        "--benchmark-save=nodata",
        f"--benchmark-storage={storage}",
    )
    r.assert_outcomes(passed=3)
    r = pytester.runpytest(
        *FAST, "--benchmark-save=data", "--benchmark-save-data", f"--benchmark-storage={storage}"
    )
    r.assert_outcomes(passed=3)
    (nodata,) = storage.glob("*/*_nodata.json")
    (data,) = storage.glob("*/*_data.json")
    return {"json": pytester.path / "plain.json", "nodata": nodata, "data": data}


def test_plain_file_with_raw_data(plain) -> None:
    doc = json.loads(plain["json"].read_text())
    run, results = load_pytest_benchmark(plain["json"], label="ci")
    assert [r.case_id for r in results] == [b["fullname"] for b in doc["benchmarks"]]
    by_id = {r.case_id: r for r in results}
    raw = {b["fullname"]: b for b in doc["benchmarks"]}

    s = by_id["test_plain.py::test_sum[10]"]
    assert s.status == CaseStatus.OK and s.workload == "pytest"
    assert s.params == {"n": 10, "kind": "builtin"}  # params merged over extra_info
    assert s.case_key == plain_case_key("test_plain.py::test_sum[10]", {"n": 10})
    assert s.samples == raw["test_plain.py::test_sum[10]"]["stats"]["data"]
    assert s.calls_per_sample == raw["test_plain.py::test_sum[10]"]["stats"]["iterations"]
    assert s.case_key != by_id["test_plain.py::test_sum[100]"].case_key

    sorted_ = by_id["test_plain.py::test_sorted"]
    assert sorted_.workload == "sorting" and sorted_.params == {}
    assert len(sorted_.samples) == 7 and sorted_.calls_per_sample == 3
    assert sorted_.stats.median == pytest.approx(
        raw["test_plain.py::test_sorted"]["stats"]["median"]
    )

    machine = doc["machine_info"]
    assert run.suite == f"pytest-benchmark:{doc['commit_info']['project']}"
    assert run.label == "ci" and run.status == RunStatus.FINISHED and run.planned == 3
    assert run.started_at == datetime.fromisoformat(doc["datetime"]) == run.finished_at
    env = run.environment
    assert env["source"] == "pytest-benchmark" and env["pytest_benchmark"] == doc["version"]
    assert env["hostname"] == machine["node"] and env["machine"] == machine["machine"]
    assert env["python"] == machine["python_version"]
    assert env["cpu_model"] == (machine["cpu"].get("brand_raw") or machine["processor"])
    assert env["cpu_count"] == machine["cpu"]["count"]
    assert run.fingerprint == fingerprint(env)
    assert run.commit is None  # the inner project is not under git: "unversioned"


def test_case_keys_are_stable_across_files(plain) -> None:
    keys = {
        kind: sorted(r.case_key for r in load_pytest_benchmark(p)[1]) for kind, p in plain.items()
    }
    assert keys["json"] == keys["data"] == keys["nodata"]


def test_saved_with_data_has_samples(plain) -> None:
    _, results = load_pytest_benchmark(plain["data"])
    assert all(len(r.samples) >= 3 for r in results)


def test_saved_without_data_keeps_no_fake_samples(plain) -> None:
    doc = json.loads(plain["nodata"].read_text())
    assert "data" not in doc["benchmarks"][0]["stats"]  # the premise: pytest-benchmark's choice
    run, results = load_pytest_benchmark(plain["nodata"])
    assert len(results) == 3 and all(r.samples == [] for r in results)
    for r, b in zip(results, doc["benchmarks"], strict=True):  # the file's own statistics
        assert r.stats.median == b["stats"]["median"] and r.stats.n == b["stats"]["rounds"]
        assert r.stats.q1 == b["stats"]["q1"] and r.stats.stdev == b["stats"]["stddev"]


def test_file_of_bench_plugin(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".toml",
        tiny="""
        [timing]
        min_time_ms = 2
        max_time_ms = 10
        warmup_ms = 1
        [[sweep]]
        workload = ["conv", "separable"]
        channels = 8
        size = 8
        """,
    )
    r = pytester.runpytest(
        "-p", "no:cacheprovider", "--bench-suite=tiny.toml", "--benchmark-json=out.json"
    )
    r.assert_outcomes(passed=2)
    from harness.cases import Case
    from harness.costmodel import cost
    from results.fingerprint import fingerprint as harness_fingerprint

    run, results = load_pytest_benchmark(pytester.path / "out.json")
    case = Case.make("separable", channels=8, size=8)
    (sep,) = [r for r in results if r.workload == "separable"]
    assert sep.case_key == case.key and sep.case_id == case.id  # the keys of `bench run`
    assert sep.params == case.params
    c = cost("separable", case.params)
    assert (sep.macs, sep.parameters, sep.bytes) == (c.macs, c.parameters, c.bytes)
    assert len(sep.samples) >= 10 and sep.calls_per_sample >= 1
    assert run.suite == "pytest-benchmark:tiny"
    # bench's capture is the environment, so the fingerprint matches `bench run`'s here:
    # the same as an environment captured in a worker (allocator held steady there too)
    from harness.worker import ProcessExecutor

    executor = ProcessExecutor()
    try:
        worker_env = executor.environment({"cpu"})
    finally:
        executor.close()
    assert run.environment["torch"] and "NOT steady" not in run.environment["allocator"]
    assert run.fingerprint == harness_fingerprint(worker_env)
    assert run.commit == run.environment["bench_commit"]


def test_importing_loads_no_torch() -> None:
    code = "import sys, results.importers; assert 'torch' not in sys.modules, 'torch'"
    subprocess.run([sys.executable, "-c", code], check=True)


# -- bad files ---------------------------------------------------------------------------


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def bench(**changes: Any) -> dict[str, Any]:
    stats = {
        "min": 1e-6,
        "max": 3e-6,
        "mean": 2e-6,
        "stddev": 1e-6,
        "rounds": 3,
        "median": 2e-6,
        "q1": 1.5e-6,
        "q3": 2.5e-6,
        "iterations": 1,
        "data": [1e-6, 2e-6, 3e-6],
    }
    b = {"name": "test_x", "fullname": "t.py::test_x", "params": None, "stats": stats}
    for key, value in changes.items():
        target = stats if key in stats or key == "data" else b
        if value is ...:
            del target[key]
        else:
            target[key] = value
    return b


def doc(*benchmarks: dict[str, Any], **top: Any) -> dict[str, Any]:
    d = {
        "machine_info": {"node": "h"},
        "commit_info": {"id": "abc"},
        "benchmarks": list(benchmarks) or [bench()],
        "datetime": "2025-01-02T03:04:05+00:00",
        "version": "5.1.0",
    }
    d.update(top)
    return {k: v for k, v in d.items() if v is not ...}


BAD = [
    (b"{not json", "out.json: not JSON (Expecting property name enclosed in double quotes"),
    (b'{"a": "\x80"}', "out.json: not a UTF-8 JSON file"),
    ([1, 2], "out.json: expected a JSON object (a pytest-benchmark file), got a list"),
    (doc(benchmarks=...), "out.json: benchmarks: missing"),
    (doc(benchmarks={}), "out.json: benchmarks: expected a list, got an object"),
    (doc(benchmarks=[]), "out.json: benchmarks: empty"),
    (doc(bench(), bench(), bench(), bench(stats=...)), "out.json: benchmarks[3].stats: missing"),
    (doc(bench(), "x"), "out.json: benchmarks[1]: expected an object, got a string"),
    (doc(bench(fullname=...)), "out.json: benchmarks[0].fullname: missing"),
    (doc(bench(median="fast")), "benchmarks[0].stats.median: expected a number, got a string"),
    (doc(bench(median=True)), "benchmarks[0].stats.median: expected a number, got a boolean"),
    (
        doc(bench(min=-1.0)),
        "benchmarks[0].stats.min: expected a finite time in seconds from 0 to 1,000,000,000, "
        "got -1.0",
    ),
    (doc(bench(max=1e10)), "benchmarks[0].stats.max: expected a finite time in seconds"),
    (doc(bench(rounds=...)), "benchmarks[0].stats.rounds: missing"),
    (
        doc(bench(iterations=0)),
        "benchmarks[0].stats.iterations: expected an integer from 1 to 2,147,483,647, got 0",
    ),
    (doc(bench(data=[1e-6, 2e-6])), "benchmarks[0].stats.data: 2 values for 3 rounds"),
    (doc(bench(data=[1e-6, "x", 1e-6])), "benchmarks[0].stats.data[1]: expected a finite time"),
    (doc(bench(data=[1e-6, -1.0, 1e-6])), "benchmarks[0].stats.data[1]: expected a finite time"),
    (doc(bench(data=[1e-6, 10**400, 1e-6])), "benchmarks[0].stats.data[1]: expected a finite time"),
    (b"[" * 100_000 + b"]" * 100_000, "out.json: JSON nested too deeply"),
    (doc(bench(extra_info=[])), "benchmarks[0].extra_info: expected an object, got a list"),
    (
        doc(bench(extra_info={"case_key": "k", "workload": "conv", "params": 3})),
        "benchmarks[0].extra_info.params: expected an object",
    ),
    (doc(version="6.0.0"), "out.json: version: written by pytest-benchmark 6.0.0, newer than"),
    (doc(version="latest"), "out.json: version: expected a version like '5.1.0', got 'latest'"),
    (doc(datetime="yesterday"), "out.json: datetime: expected an ISO 8601 time, got 'yesterday'"),
    (doc(machine_info="h"), "out.json: machine_info: expected an object, got a string"),
    # what the database would refuse later, refused here with its key and its limit
    (
        doc(bench(iterations=2**31)),
        "benchmarks[0].stats.iterations: expected an integer from 1 to 2,147,483,647, "
        "got 2147483648",
    ),
    (
        doc(bench(rounds=2**40, data=...)),
        "benchmarks[0].stats.rounds: expected an integer from 1 to 2,147,483,647",
    ),
    (
        doc(bench(extra_info={"case_key": "k", "workload": "conv", "params": {}, "macs": 2**63})),
        "benchmarks[0].extra_info.macs: expected an integer from 0 to "
        "9,223,372,036,854,775,807, got 9223372036854775808",
    ),
    (
        doc(bench(extra_info={"case_key": "k", "workload": "conv", "params": {}, "bytes": -1})),
        "benchmarks[0].extra_info.bytes: expected an integer from 0 to",
    ),
    (
        doc(bench(extra_info={"case_key": "k" * 65, "workload": "conv", "params": {}})),
        "benchmarks[0].extra_info.case_key: 65 characters, over the limit of 64",
    ),
    (
        doc(bench(extra_info={"case_key": "k", "workload": "c\x00", "params": {}})),
        "benchmarks[0].extra_info.workload: contains the control character U+0000",
    ),
    (
        doc(bench(extra_info={"case_key": "k", "workload": "conv", "params": {"n": 2**64}})),
        "benchmarks[0].extra_info.params.n: integer 18446744073709551616 does not fit in 64 bits",
    ),
    (
        doc(bench(params={"n": 1e400})),  # json.dumps writes Infinity, Python reads inf
        "benchmarks[0].params.n: inf is not a finite number",
    ),
    (
        doc(bench(extra_info={"x": ["a\x00"]})),
        "benchmarks[0].extra_info.x[0]: contains a NUL character",
    ),
    (doc(bench(fullname="t.py::x\x00")), "benchmarks[0].fullname: contains a NUL character"),
    (
        doc(bench(fullname="t.py::x\ud800")),  # a JSON escape no encoder can write back
        "benchmarks[0].fullname: contains a lone surrogate U+D800",
    ),
    (
        doc(bench(params={"k\udfff": 1})),
        "benchmarks[0].params: key 'k\\udfff': not a string without NUL or lone surrogates",
    ),
    (doc(bench(group="g" * 65)), "benchmarks[0].group: 65 characters, over the limit of 64"),
    (
        doc(commit_info={"id": "c" * 65}),
        "out.json: commit_info.id: 65 characters, over the limit of 64",
    ),
    (
        doc(commit_info={"project": "p" * 239}),
        "out.json: commit_info.project: suite name 'ppp",
    ),
    (doc(machine_info={"node": "h\x00"}), "out.json: machine_info.node: contains a NUL"),
    (
        doc(machine_info={"bench": {"gpu": math.nan}}),
        "out.json: machine_info.bench.gpu: nan is not a finite number",
    ),
    (
        doc(machine_info={"bench": nested(100)}),
        "out.json: machine_info.bench.a.a.a",
    ),
    (
        doc(datetime="9999-12-31T23:00:00-05:00"),
        "out.json: datetime: '9999-12-31T23:00:00-05:00' is out of range: expected a time "
        "from 1970-01-01 to 2200-01-01 UTC",
    ),
    (doc(datetime="1969-12-31T23:59:59+00:00"), "out.json: datetime: '1969-12-31T23:59:59+00:00'"),
    (doc(datetime="0001-01-01T00:00:00+01:00"), "out.json: datetime: '0001-01-01T00:00:00+01:00'"),
    (doc(datetime="2200-01-01T00:00:00"), "out.json: datetime: '2200-01-01T00:00:00' is out of"),
    (
        b'{"benchmarks": [], "x": ' + b"1" * 5000 + b"}",
        "out.json: not a benchmark file: Exceeds the limit (4300 digits)",
    ),
]


@pytest.mark.parametrize(("content", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_files_name_the_file_and_the_key(tmp_path: Path, content: Any, message: str) -> None:
    path = tmp_path / "out.json"
    path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
    with pytest.raises(ImportFormatError) as e:
        load_pytest_benchmark(path)
    assert f"{path}: " in str(e.value) and message.removeprefix("out.json: ") in str(e.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImportFormatError, match="nope.json: cannot read"):
        load_pytest_benchmark(tmp_path / "nope.json")


def test_the_limits_themselves_are_accepted(tmp_path: Path) -> None:
    """The largest values each check allows import: the checks are the columns' limits."""
    extra = {"case_key": "k" * 64, "workload": "w" * 64, "params": {"n": 2**63 - 1}}
    extra.update(macs=2**63 - 1, parameters=0, bytes=2**63 - 1)
    path = tmp_path / "edge.json"
    content = doc(
        bench(iterations=2**31 - 1, extra_info=extra, max=1e9),
        datetime="2199-12-31T23:59:59+00:00",
        commit_info={"id": "c" * 64, "project": "p" * 238},
    )
    path.write_text(json.dumps(content))
    run, (r,) = load_pytest_benchmark(path, label="l" * 255)
    assert r.macs == 2**63 - 1 and r.calls_per_sample == 2**31 - 1 and r.case_key == "k" * 64
    assert len(run.suite) == 255 and run.commit == "c" * 64 and run.label == "l" * 255
    assert run.started_at == datetime(2199, 12, 31, 23, 59, 59, tzinfo=UTC)


def test_a_bad_label_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    path.write_text(json.dumps(doc()))
    for label in ("l" * 256, "a\x00b", "line\nbreak"):
        with pytest.raises(UsageError, match="^--label "):
            load_pytest_benchmark(path, label=label)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_never_opened(tmp_path: Path) -> None:
    """Run in a subprocess with a timeout: opening a FIFO for reading would block."""
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    code = (
        "import sys\n"
        "from results.importers import load_pytest_benchmark\n"
        "from results.errors import ImportFormatError\n"
        "try:\n"
        "    load_pytest_benchmark(sys.argv[1])\n"
        "except ImportFormatError as e:\n"
        "    print(e)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(fifo)], capture_output=True, text=True, timeout=60
    )
    assert proc.stdout.strip() == (
        f"{fifo}: is a FIFO (named pipe), not a regular file: not read as a benchmark file"
    )


def test_devices_directories_and_oversized_files_are_refused(tmp_path: Path, monkeypatch) -> None:
    if os.path.exists("/dev/zero"):
        with pytest.raises(ImportFormatError, match="^/dev/zero: is a device, not a regular"):
            load_pytest_benchmark(Path("/dev/zero"))
    with pytest.raises(ImportFormatError, match="is a directory, not a regular file"):
        load_pytest_benchmark(tmp_path)
    path = tmp_path / "out.json"
    path.write_text(json.dumps(doc()))
    size = path.stat().st_size
    monkeypatch.setattr("results.importers.MAX_IMPORT_BYTES", size)
    load_pytest_benchmark(path)  # exactly at the limit
    monkeypatch.setattr("results.importers.MAX_IMPORT_BYTES", size - 1)
    with pytest.raises(ImportFormatError) as e:
        load_pytest_benchmark(path)
    assert str(e.value) == (
        f"{path}: benchmark file of {size:,} bytes, larger than the limit of {size - 1:,} bytes"
    )
    assert MAX_IMPORT_BYTES == 256 * 1024 * 1024


def test_a_file_without_datetime_and_an_odd_mtime(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text(json.dumps(doc(datetime=...)))
    os.utime(path, (0, -86_400 * 365))  # 1969
    with pytest.raises(ImportFormatError) as e:
        load_pytest_benchmark(path)
    assert str(e.value) == (
        f"{path}: datetime: missing, and the file's modification time is out of range: "
        "expected a time from 1970-01-01 to 2200-01-01 UTC"
    )


def test_minimal_and_old_files_import(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    # pytest-benchmark 3.x: no "version" key in the oldest files, naive UTC datetime
    path.write_text(json.dumps(doc(version=..., datetime="2017-05-06T07:08:09", commit_info=...)))
    run, (r,) = load_pytest_benchmark(path)
    assert run.started_at == datetime(2017, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert run.suite == "pytest-benchmark:old" and run.commit is None
    assert r.stats.median == statistics.median([1e-6, 2e-6, 3e-6])
    assert run.environment["hostname"] == "h" and "pytest_benchmark" not in run.environment
