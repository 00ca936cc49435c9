"""`bench compare` and `bench regressions` end to end on a real SQLite store (no timing)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from click.testing import CliRunner

from harness.cli import cli
from results.records import CaseStatus, ResultRecord, RunRecord
from results.store import Store

T0 = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)


@pytest.fixture
def db(db_url, monkeypatch) -> str:
    """An empty database on each backend (tests/conftest.py)."""
    monkeypatch.delenv("BENCH_DB", raising=False)
    return db_url


def add_run(
    db: str,
    scales: dict[int, float],
    *,
    day: int = 0,
    machine: str = "Xeon",
    failed: tuple[int, ...] = (),
    **run: object,
) -> RunRecord:
    """A run whose case i takes ``scales[i]`` ms (lognormal noise, 3%)."""
    env = {"cpu_model": machine, "torch": "2.3.0", "hostname": f"host-{machine}-{day}"}
    record = RunRecord(
        suite="conv",
        suite_digest="d" * 64,
        environment=env,
        fingerprint=f"fp-{machine}",
        started_at=T0 + timedelta(days=day),
        **run,  # type: ignore[arg-type]
    )
    with Store.open(db, create=True) as store:
        r = store.start_run(record)
        rng = np.random.default_rng([day, r.id])
        store.add_results(
            r.id,
            [
                ResultRecord(
                    case_key=f"{i:016x}",
                    case_id=f"conv[channels={i}]",
                    workload="conv",
                    params={"channels": i},
                    status=CaseStatus.FAILED if i in failed else CaseStatus.OK,
                    error="RuntimeError: boom" if i in failed else None,
                    samples=[] if i in failed else list(rng.lognormal(0, 0.03, 30) * sc * 1e-3),
                )
                for i, sc in scales.items()
            ],
        )
    return r


def bench(db: str, *args: str):
    return CliRunner().invoke(cli, [*args, "--db", db], catch_exceptions=False)


def test_compare_flags_a_regression_and_exits_1(db) -> None:
    add_run(db, {0: 1.0, 1: 1.0, 2: 1.0}, label="main")
    add_run(db, {0: 1.3, 1: 1.0, 2: 0.7, 3: 1.0}, day=1, label="pr", failed=(1,))
    r = bench(db, "compare", "latest:main", "latest:pr")
    assert r.exit_code == 1, r.output
    lines = {line.split()[0]: line for line in r.stdout.splitlines() if line.startswith("conv[")}
    assert lines["conv[channels=0]"].endswith("slower")
    assert "+30." in lines["conv[channels=0]"]
    assert "incomparable: failed in head: RuntimeError: boom" in lines["conv[channels=1]"]
    assert lines["conv[channels=2]"].endswith("faster")
    assert "incomparable: missing in base" in lines["conv[channels=3]"]
    assert "4 cases: 1 slower, 1 faster, 0 same, 2 incomparable" in r.stdout
    assert r.stderr == ""


def test_compare_same_run_and_improvements_exit_0(db) -> None:
    base = add_run(db, {0: 1.0, 1: 1.0})
    head = add_run(db, {0: 1.0, 1: 0.5}, day=1)
    assert bench(db, "compare", str(base.id), str(base.id)).exit_code == 0
    r = bench(db, "compare", base.uid[:6], head.uid[:6])  # uid prefixes
    assert r.exit_code == 0, r.output
    assert "1 faster, 1 same" in r.stdout


def test_compare_json_shape(db) -> None:
    base = add_run(db, {0: 1.0, 1: 1.0})
    head = add_run(db, {0: 1.25, 1: 1.0}, day=1)
    r = bench(db, "compare", str(base.id), "latest", "--json")
    assert r.exit_code == 1
    out = json.loads(r.stdout)
    assert out["base"]["runs"] == [{"id": base.id, "uid": base.uid}]
    assert out["head"]["runs"][0]["uid"] == head.uid
    assert [c["verdict"] for c in out["cases"]] == ["slower", "same"]
    case = out["cases"][0]
    assert set(case) == {
        "case_key",
        "case_id",
        "verdict",
        "reason",
        "base_median",
        "head_median",
        "noisy",
        "ratio",
        "ci_low",
        "ci_high",
        "significant",
    }
    assert case["ci_low"] < case["ratio"] < case["ci_high"] and case["ci_low"] > 1.05
    assert case["ratio"] == pytest.approx(case["head_median"] / case["base_median"])
    assert out["summary"] == {
        "slower": 1,
        "faster": 0,
        "same": 1,
        "incomparable": 0,
        "cases": 2,
        "noisy": 0,
        "threshold": 0.05,
        "environment_mismatch": None,
    }


def test_threshold_option(db) -> None:
    add_run(db, {0: 1.0})
    add_run(db, {0: 1.15}, day=1)
    assert bench(db, "compare", "1", "2").exit_code == 1
    assert bench(db, "compare", "1", "2", "--threshold", "0.3").exit_code == 0
    assert bench(db, "compare", "1", "2", "--threshold", "-1").exit_code == 2


def test_group_refs_merge_shards(db) -> None:
    for day, slow in ((0, 1.0), (1, 1.4)):
        add_run(db, {0: 1.0, 1: 1.0}, day=day, group=f"night{day}", shard="1/2")
        add_run(db, {2: slow, 3: 1.0}, day=day, group=f"night{day}", shard="2/2")
    r = bench(db, "compare", "group:night0", "group:night1", "--json")
    assert r.exit_code == 1
    out = json.loads(r.stdout)
    assert len(out["base"]["runs"]) == 2 and len(out["head"]["runs"]) == 2
    assert [c["verdict"] for c in out["cases"]] == ["same", "same", "slower", "same"]
    text = bench(db, "compare", "group:night0", "group:night1").stdout
    assert "base: group night0 (2 runs)" in text


@pytest.mark.parametrize("ref", ["99", "latest:nope", "group:nope", "zz", "abcdef0123"])
def test_bad_refs_exit_2(db, ref) -> None:
    add_run(db, {0: 1.0}, label="main")
    r = bench(db, "compare", "latest", ref)
    assert r.exit_code == 2
    assert r.stderr.startswith("bench: error:") and "Traceback" not in r.output


def test_environment_mismatch(db) -> None:
    add_run(db, {0: 1.0, 1: 1.0})
    add_run(db, {0: 1.5, 1: 1.0}, day=1, machine="EPYC")
    r = bench(db, "compare", "1", "2")
    assert r.exit_code == 0, r.output  # nothing comparable, so nothing regressed
    assert "0 slower, 0 faster, 0 same, 2 incomparable" in r.stdout
    assert "incomparable: environment differs (fingerprint fp-Xeon vs fp-EPYC)" in r.stdout
    msg = r.stderr
    assert "different machines: fingerprint fp-Xeon vs fp-EPYC" in msg
    assert "cpu_model: 'Xeon' vs 'EPYC'" in msg
    assert "also differ: hostname" in msg and "torch" not in msg
    assert "--allow-env-mismatch" in msg

    allowed = bench(db, "compare", "1", "2", "--allow-env-mismatch", "--json")
    assert allowed.exit_code == 1
    out = json.loads(allowed.stdout)
    assert [c["verdict"] for c in out["cases"]] == ["slower", "same"]
    assert "Compared anyway" in out["summary"]["environment_mismatch"]


def test_regressions_lists_sustained_changes(db) -> None:
    for day in range(5):
        add_run(db, {0: 1.0, 1: 1.0, 2: 1.0}, day=day, label="nightly")
    for day in (5, 6):
        add_run(db, {0: 1.3, 1: 1.0, 2: 0.7}, day=day, label="nightly")
    add_run(db, {0: 1.0, 1: 1.0, 2: 1.0}, day=7, label="dev")  # not nightly: ignored
    r = bench(db, "regressions", "--label", "nightly")
    assert r.exit_code == 1, r.output
    rows = [line for line in r.stdout.splitlines() if line.startswith("conv ")]
    assert [row.split()[1:3] for row in rows] == [
        ["conv[channels=0]", "slower"],
        ["conv[channels=2]", "faster"],
    ]
    assert "1 regression(s), 1 improvement(s) in 3 case(s); 0 incomparable" in r.stdout

    out = json.loads(bench(db, "regressions", "--label", "nightly", "--json").stdout)
    (reg,) = out["regressions"]
    assert reg["case_id"] == "conv[channels=0]" and 1.2 < reg["ratio"] < 1.4
    assert len(reg["baseline_runs"]) == 5 and len(reg["recent_runs"]) == 2
    assert reg["recent_runs"][1]["ids"] == [7] and len(reg["recent_ratios"]) == 2
    assert out["summary"]["slower"] == 1 and out["summary"]["faster"] == 1

    # Wider threshold: nothing counts; --recent 3 takes in a baseline night: no sustained change.
    assert bench(db, "regressions", "--label", "nightly", "--threshold", "0.5").exit_code == 0
    assert bench(db, "regressions", "--label", "nightly", "--recent", "3").exit_code == 0


def test_regressions_without_enough_history(db) -> None:
    add_run(db, {0: 1.0}, label="nightly")
    r = bench(db, "regressions", "--suite", "conv")
    assert r.exit_code == 0
    assert "note: suite conv: 1 run(s) with fingerprint fp-Xeon; need at least 3" in r.stdout
    assert "0 regression(s)" in r.stdout
    r = bench(db, "regressions", "--suite", "conv", "--label", "nightl")
    assert "note: no runs with suite 'conv', label 'nightl'" in r.stdout


# -- once for real: a run made under CPU load must compare as a regression ------------------

LOADED_SUITE = """
[timing]
min_time_ms = 400
max_time_ms = 1500

# Two threads synchronise per call, so busy loops on the same cores stall them; calls of
# 1-40 ms span several scheduler slices, so each sample feels the load.
[[sweep]]
workload = "conv"
channels = [64, 128]
size = [28, 56]
threads = 2
"""


@contextlib.contextmanager
def cpu_load(processes: int) -> Iterator[None]:
    procs = []
    try:
        for _ in range(processes):
            procs.append(subprocess.Popen([sys.executable, "-c", "while True: pass"]))
        time.sleep(0.5)  # let the scheduler spread them
        yield
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@pytest.mark.slow
def test_a_run_under_cpu_load_is_a_regression(tmp_path, sqlite_url) -> None:
    db = sqlite_url
    suite = tmp_path / "loaded.toml"
    suite.write_text(LOADED_SUITE)

    def run(label: str) -> None:
        r = bench(db, "run", str(suite), "--no-peaks", "--label", label)
        assert r.exit_code == 0, r.output

    # The machine may be shared (other tests, other users), so the "idle" run may be
    # disturbed too: four busy loops on a two-core box make the loaded run far slower
    # still, and one retry absorbs an unlucky baseline.
    for attempt in range(2):
        run(f"idle{attempt}")
        with cpu_load(4):
            run(f"loaded{attempt}")
        r = bench(db, "compare", f"latest:idle{attempt}", f"latest:loaded{attempt}", "--json")
        out = json.loads(r.stdout)
        verdicts = [c["verdict"] for c in out["cases"]]
        if verdicts.count("slower") * 2 > len(verdicts) and "faster" not in verdicts:
            break
    assert r.exit_code == 1, r.output
    assert out["summary"]["cases"] == 4 and out["summary"]["incomparable"] == 0
    assert verdicts.count("slower") >= 3, verdicts
    assert "faster" not in verdicts
