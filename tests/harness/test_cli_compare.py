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
    rounds: int = 1,
    contended: tuple[int, ...] = (),
    **run: object,
) -> RunRecord:
    """A run whose case i takes ``scales[i]`` ms (lognormal noise, 3%), in ``rounds``
    rounds of 30 samples; ``contended`` cases are marked so."""
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
                    samples=[]
                    if i in failed
                    else list(rng.lognormal(0, 0.03, 30 * rounds) * sc * 1e-3),
                    round_sizes=[] if i in failed or rounds == 1 else [30] * rounds,
                    contended=i in contended,
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
    assert "4 cases: 1 slower, 1 faster, 0 same, 0 ambiguous, 2 incomparable" in r.stdout
    assert "1 round" in lines["conv[channels=0]"]
    assert "note: 2 case(s) by 1 round: drift between runs not measured" in r.stdout
    assert "note: incomparable: 1 failed in head, 1 missing in base" in r.stdout
    assert r.stderr == ""


def test_compare_same_run_and_improvements_exit_0(db) -> None:
    base = add_run(db, {0: 1.0, 1: 1.0})
    head = add_run(db, {0: 1.0, 1: 0.5}, day=1)
    assert bench(db, "compare", str(base.id), str(base.id)).exit_code == 0
    r = bench(db, "compare", base.uid[:6], head.uid[:6])  # uid prefixes
    assert r.exit_code == 0, r.output
    assert "1 faster, 1 same" in r.stdout


def test_compare_with_no_case_in_common_exits_2(db) -> None:
    add_run(db, {0: 1.0, 1: 1.0})
    add_run(db, {2: 1.0}, day=1)
    r = bench(db, "compare", "1", "2")
    assert r.exit_code == 2
    assert "base and head have no case in common (base: 2 case(s), head: 1)" in r.stderr
    assert "3 cases: 0 slower, 0 faster, 0 same, 0 ambiguous, 3 incomparable" in r.stdout
    out = json.loads(bench(db, "compare", "1", "2", "--json").stdout)
    assert "no case in common" in out["summary"]["no_common_case"]
    shared = add_run(db, {0: 1.0}, day=2)
    assert bench(db, "compare", "1", str(shared.id)).exit_code == 0


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
        "contended",
        "reason_kind",
        "ratio",
        "ci_low",
        "ci_high",
        "significant",
        "unit",
        "n_base",
        "n_head",
        "confidence",
        "spread",
    }
    assert case["ci_low"] < case["ratio"] < case["ci_high"] and case["ci_low"] > 1.05
    assert case["ratio"] == pytest.approx(case["head_median"] / case["base_median"])
    assert (case["unit"], case["n_base"], case["n_head"]) == ("sample", 1, 1)
    assert out["summary"] == {
        "slower": 1,
        "faster": 0,
        "same": 1,
        "ambiguous": 0,
        "incomparable": 0,
        "cases": 2,
        "noisy": 0,
        "contended": 0,
        "threshold": 0.05,
        "confidence": 0.99,
        "units": {"1 round": 2},
        "reasons": {},
        "environment_mismatch": None,
        "no_common_case": None,
    }
    again = bench(db, "compare", str(base.id), "latest", "--format", "json")
    assert again.stdout == r.stdout
    bad = bench(db, "compare", "1", "2", "--json", "--format", "markdown")
    assert bad.exit_code == 2 and "--json and --format markdown disagree" in bad.stderr


def test_compare_rounds_contention_and_markdown(db) -> None:
    scales = {0: 1.0, 1: 1.0, 2: 1.0, 3: 1.0}
    add_run(db, scales, rounds=3)
    add_run(db, {0: 1.3, 1: 1.0, 2: 1.0, 4: 1.0}, day=1, rounds=3, contended=(1,), failed=(2,))
    r = bench(db, "compare", "1", "2", "--format", "markdown")
    assert r.exit_code == 1, r.output
    md = r.stdout
    assert md.startswith("### bench compare: **1 slower, 0 faster, 1 same, 0 ambiguous, ")
    assert "| case | base | head | change [99% CI] | units | verdict |" in md
    assert "| --- | ---: | ---: | --- | --- | --- |" in md
    rows = [line for line in md.splitlines() if line.startswith("| `conv[")]
    assert rows[0].startswith("| `conv[channels=0]` |") and "| 3+3 rounds | **slower** |" in rows[0]
    assert any("failed in head: RuntimeError: boom" in row for row in rows)
    assert "- incomparable: 1 failed in head, 1 missing in base, 1 missing in head" in md
    assert "- 2 case(s) by 3+3 rounds: spread between processes measured, drift between " in md
    assert "<details><summary>1 same</summary>" in md
    (same,) = [row for row in rows if "| same" in row]
    assert same.startswith("| `conv[channels=1]` |") and same.endswith("same (contended) |")
    assert "- 1 case(s) contended: other processes competed for the CPU" in md

    out = json.loads(bench(db, "compare", "1", "2", "--json").stdout)
    cases = {c["case_id"]: c for c in out["cases"]}
    assert cases["conv[channels=1]"]["contended"] is True
    assert cases["conv[channels=0]"]["unit"] == "round"
    assert cases["conv[channels=0]"]["n_base"] == 3
    assert out["summary"]["contended"] == 1 and out["summary"]["units"] == {"3+3 rounds": 2}
    assert out["summary"]["reasons"] == {
        "incomparable": {"failed in head": 1, "missing in base": 1, "missing in head": 1}
    }
    assert cases["conv[channels=3]"]["reason_kind"] == "missing in head"

    text = bench(db, "compare", "1", "2").stdout
    assert "conv[channels=1]" in text and "same (contended)" in text
    assert "3+3 rounds" in text


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
    assert "0 slower, 0 faster, 0 same, 0 ambiguous, 2 incomparable" in r.stdout
    assert "note: incomparable: 2 environment differs" in r.stdout
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


def test_regressions_lists_sustained_changes(db, tmp_path) -> None:
    for day in range(5):
        add_run(db, {0: 1.0, 1: 1.0, 2: 1.0}, day=day, label="nightly")
    for day in (5, 6, 7):
        add_run(db, {0: 1.3, 1: 1.0, 2: 0.7}, day=day, label="nightly", contended=(2,))
    add_run(db, {0: 1.0, 1: 1.0, 2: 1.0}, day=8, label="dev")  # not nightly: ignored
    r = bench(db, "regressions", "--label", "nightly")
    assert r.exit_code == 1, r.output
    rows = [line for line in r.stdout.splitlines() if line.startswith("conv ")]
    assert [row.split()[1:3] for row in rows] == [
        ["conv[channels=0]", "slower"],
        ["conv[channels=2]", "faster"],
    ]
    assert "5+3" in rows[0] and "2024-05-06 (+" in rows[0]  # changed at day 5's run
    assert "contended in " in rows[1] and "contended" not in rows[0]
    assert (
        "1 regression(s), 1 improvement(s), 0 ambiguous, 0 incomparable, 1 same in 3 case(s) "
        "(window 15, recent 3, min baseline 3, threshold 5%, 90% interval over run medians)"
    ) in r.stdout

    out = json.loads(bench(db, "regressions", "--label", "nightly", "--json").stdout)
    (reg,) = out["regressions"]
    assert reg["case_id"] == "conv[channels=0]" and 1.2 < reg["ratio"] < 1.4
    assert reg["unit"] == "run" and (reg["n_base"], reg["n_head"]) == (5, 3)
    assert len(reg["baseline_runs"]) == 5 and len(reg["recent_runs"]) == 3
    assert reg["recent_runs"][2]["ids"] == [8] and len(reg["recent_ratios"]) == 3
    assert reg["changed_at"]["ids"] == [6] and reg["step_ratio"] == pytest.approx(1.3, rel=0.05)
    assert out["summary"]["slower"] == 1 and out["summary"]["faster"] == 1
    assert [c["verdict"] for c in out["cases"]] == ["slower", "same", "faster"]
    assert out["cases"][2]["contended"] and len(out["cases"][2]["contended_runs"]) == 3
    assert out["summary"]["contended"] == 1

    md = bench(db, "regressions", "--label", "nightly", "--format", "markdown")
    assert md.exit_code == 1
    assert md.stdout.startswith("### bench regressions: **1 regression(s), 1 improvement(s)**")
    header = (
        "| suite | case | verdict | change [90% CI] | each recent | runs | changed at | flags |"
    )
    assert header in md.stdout
    assert "| conv | `conv[channels=0]` | **slower** |" in md.stdout

    # The trends page marks the judged runs and the first run at the new level.
    site = tmp_path / "site"
    assert bench(db, "report", "--label", "nightly", "--out", str(site)).exit_code == 0
    page = (site / "trend-conv.html").read_text()
    assert page.count('"role":"change"') == 2 and page.count('"role":"mark"') == 2

    # Wider threshold: nothing counts; a longer baseline is needed than there is: ambiguous.
    assert bench(db, "regressions", "--label", "nightly", "--threshold", "0.5").exit_code == 0
    r = bench(db, "regressions", "--label", "nightly", "--min-baseline", "6")
    assert r.exit_code == 0 and "ambiguous (too little evidence" in r.stdout
    assert "note: ambiguous: 3 too few baseline runs" in r.stdout


def test_regressions_say_why_cases_are_incomparable_or_ambiguous(db) -> None:
    for day in range(7):  # case 4 is new in the last 3 runs; 0 and 1 fail in the last
        cases = {i: 1.0 for i in range(5 if day >= 4 else 4)}
        add_run(db, cases, day=day, label="nightly", failed=(0, 1) if day == 6 else ())
    r = bench(db, "regressions", "--label", "nightly")
    assert r.exit_code == 0, r.output
    assert "note: incomparable: 2 failed in a recent run" in r.stdout
    assert "note: ambiguous: 1 too few baseline runs" in r.stdout
    assert "0 ok baseline run(s) in the 4 before the recent ones; at least 3 needed" in r.stdout
    out = json.loads(bench(db, "regressions", "--label", "nightly", "--json").stdout)
    assert out["summary"]["reasons"] == {
        "incomparable": {"failed in a recent run": 2},
        "ambiguous": {"too few baseline runs": 1},
    }
    by_id = {c["case_id"]: c for c in out["cases"]}
    assert by_id["conv[channels=0]"]["reason"].startswith("failed in recent run ")
    assert by_id["conv[channels=4]"]["verdict"] == "ambiguous"
    md = bench(db, "regressions", "--label", "nightly", "--format", "markdown").stdout
    assert "- incomparable: 2 failed in a recent run" in md
    assert "<details><summary>1 ambiguous</summary>" in md


def test_regressions_without_enough_history(db) -> None:
    add_run(db, {0: 1.0}, label="nightly")
    r = bench(db, "regressions", "--suite", "conv")
    assert r.exit_code == 0
    assert "note: suite conv: 1 run(s) with fingerprint fp-Xeon; need at least 4" in r.stdout
    assert "0 regression(s)" in r.stdout
    r = bench(db, "regressions", "--suite", "conv", "--label", "nightl")
    assert "note: no runs with suite 'conv', label 'nightl'" in r.stdout
    md = bench(db, "regressions", "--suite", "conv", "--format", "markdown").stdout
    assert "- note: suite conv: 1 run(s) with fingerprint fp-Xeon; need at least 4" in md


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

    # One round a run: judged by a bootstrap of its samples. (With rounds, each fresh
    # process meets the busy loops differently: round medians scatter by up to 10x, and
    # 3+3 of them honestly give "ambiguous", which this test is not about.)
    def run(label: str) -> None:
        r = bench(db, "run", str(suite), "--no-peaks", "--label", label, "--rounds", "1")
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
    assert {c["unit"] for c in out["cases"]} == {"sample"}
    # The busy loops are seen, and said, whatever the verdict.
    assert out["summary"]["contended"] == 4 and all(c["contended"] for c in out["cases"])
    text = bench(db, "compare", f"latest:idle{attempt}", f"latest:loaded{attempt}").stdout
    assert text.count("(contended)") == 4
    assert "note: 4 case(s) by 1 round: drift between runs not measured" in text
