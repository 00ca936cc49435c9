"""Hostile input is refused with a message naming the file, the key and the limit: bounds
of every value, scalar axes, nesting depth, the case-count limit (checked before anything
is expanded), special files, stored-name limits and environment variables."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

import harness.suites as suites
from harness.cli import cli
from harness.costmodel import cost
from harness.params import WORKLOADS
from harness.suites import MAX_CASES, apply_filters, load_suite, parse_suite
from results.errors import SuiteError, UsageError
from results.limits import (
    INT64_MAX,
    MAX_NAME_LENGTH,
    MAX_SUITE_BYTES,
    check_option_name,
    json_problem,
    shown,
    text_problem,
)
from results.records import stale_after

CONV = '[[sweep]]\nworkload = "conv"\nchannels = 8\n'


def parse(text: str):
    return parse_suite(text.encode(), source="x.toml", default_name="x")


def problems(text: str) -> list[str]:
    with pytest.raises(SuiteError) as info:
        parse(text)
    return info.value.problems


def bench(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


# -- bounds of each value --------------------------------------------------------------


BOUNDS = [
    # (workload, key, largest accepted, smallest refused, words of the message)
    ("conv", "batch", 65_536, 65_537, "a positive integer up to 65,536"),
    ("conv", "channels", 65_536, 65_537, "a positive integer up to 65,536"),
    ("conv", "channels_out", 65_536, 65_537, "a positive integer up to 65,536"),
    ("conv", "size", 16_384, 16_385, "a positive integer up to 16,384"),
    ("conv", "kernel", 31, 33, "an odd kernel size from 1 to 31: 1, 3, 5, ..."),
    ("conv", "stride", 64, 65, "a positive integer up to 64"),
    ("conv", "threads", 4_096, 4_097, "a positive integer up to 4,096"),
    ("inverted_residual", "expand", 64, 65, "a positive integer up to 64"),
    ("mobilenet_v1", "alpha", 4.0, 4.0001, "from 0.01 to 4.0"),
    ("mobilenet_v1", "resolution", 8_192, 8_193, "from 32 to 8,192"),
    ("mobilenet_v2", "classes", 1_000_000, 1_000_001, "a positive integer up to 1,000,000"),
]


@pytest.mark.parametrize(("workload", "key", "ok", "bad", "words"), BOUNDS)
def test_every_value_is_bounded_and_the_message_names_the_bound(
    workload: str, key: str, ok: float, bad: float, words: str
) -> None:
    spec = WORKLOADS[workload][key]
    assert spec.validate(ok) == (ok, None)
    _, problem = spec.validate(bad)
    assert problem == f"bad {key} {bad!r} (expected {words})"
    channels = "channels = 8\n" if "channels" in WORKLOADS[workload] and key != "channels" else ""
    got = problems(f'[[sweep]]\nworkload = "{workload}"\n{channels}{key} = {bad!r}\n')
    assert got == [f"x.toml: sweep[0].{key}: bad {key} {bad!r} (expected {words})"]


def test_the_issue_values_are_refused_at_once() -> None:
    big = 2_147_483_647
    got = problems(
        f'[[sweep]]\nworkload = "conv"\nchannels = {big}\nsize = {big}\n'
        f"batch = {big}\nkernel = {big}\n"
    )
    assert [p.split(":")[1].strip() for p in got] == [
        "sweep[0].channels",
        "sweep[0].size",
        "sweep[0].batch",
        "sweep[0].kernel",
    ]
    (alpha,) = problems('[[sweep]]\nworkload = "mobilenet_v1"\nalpha = 1e300\n')
    assert alpha == "x.toml: sweep[0].alpha: bad alpha 1e+300 (expected from 0.01 to 4.0)"
    for value in ("nan", "inf", "0.001"):
        assert problems(f'[[sweep]]\nworkload = "mobilenet_v2"\nalpha = {value}\n')


def test_a_case_beyond_64_bits_is_refused_with_its_product() -> None:
    # Every value is within its own bound; together they are beyond int64 MACs.
    text = CONV.replace("channels = 8", "channels = [8, 65536]") + (
        "size = 16384\nbatch = 65536\nkernel = 31\n"
    )
    (problem,) = problems(text)
    params = dict(channels=65536, size=16384, batch=65536, kernel=31)
    macs = cost("conv", params).macs
    assert macs > INT64_MAX
    assert problem.startswith("x.toml: sweep[0]: conv with {'channels': 65536, ")
    assert f"its MACs ({macs:,}, from the cost model) exceed the limit of {INT64_MAX:,}" in problem
    # the same sweep without the big channel count is fine, and its costs fit
    ok = parse(text.replace("[8, 65536]", "8"))
    assert all(cost(c.workload, c.params).bytes <= INT64_MAX for c in ok.cases)


@pytest.mark.parametrize(
    "device",
    [
        "cpu:",
        "cuda:",
        "cuda:x",
        "cuda:01",
        "cuda: 1",
        "cuda:1024",
        "cpu:0",
        "cuda:٣",
        "cuda:" + "9" * 200,
    ],
)
def test_device_strings_are_exact(device: str) -> None:
    (problem,) = problems(CONV + f'device = "{device}"\n')
    assert problem.endswith("(expected cpu, cuda, cuda:N or mps, N from 0 to 1,023)")
    r = bench("list", "smoke", "--device", device)
    assert r.exit_code == 2 and f"--device {shown(device)}" in r.output
    assert "Traceback" not in r.output


def test_good_device_strings() -> None:
    suite = parse(CONV + 'device = ["cpu", "cuda", "cuda:0", "cuda:1023", "mps", "mps:1"]\n')
    assert len(suite.cases) == 6


def test_filters_use_the_same_bounds() -> None:
    cases = load_suite("smoke").cases
    for bad in ("alpha=1e300", "batch=65537", "device=cpu:", "channels=99999999999999999999"):
        with pytest.raises(UsageError, match="bad |expected"):
            apply_filters(cases, [bad])


def test_timing_values_are_bounded() -> None:
    got = problems(
        "[timing]\nmax_time_ms = 1e300\ntimeout_s = 86401\nmin_samples = 2000000\n" + CONV
    )
    assert got == [
        "x.toml: timing.max_time_ms: bad max_time_ms 1e+300 "
        "(expected a positive number up to 3,600,000)",
        "x.toml: timing.timeout_s: bad timeout_s 86401.0 (expected a positive number up to 86,400)",
        "x.toml: timing.min_samples: bad min_samples 2000000 (expected from 2 to 1,000,000)",
    ]
    assert parse("[timing]\nmax_time_ms = 3600000\ntimeout_s = 86400\n" + CONV).cases


# -- shapes: scalar axis values, nesting -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[[sweep]]\nworkload = ["conv", ["separable"]]\nchannels = 8',
            "x.toml: sweep[0].workload[1]: expected a workload name (a string), got a list",
        ),
        (
            "[[sweep]]\nworkload = {a = 1}\nchannels = 8",
            "x.toml: sweep[0].workload: expected a workload name (a string), got a table",
        ),
        (
            '[[sweep]]\nworkload = "conv"\nchannels = [8, [16]]',
            "x.toml: sweep[0].channels[1]: expected a single value, got a list",
        ),
        (
            '[[sweep]]\nworkload = "conv"\nchannels = {a = 1}',
            "x.toml: sweep[0].channels: expected a single value, got a table",
        ),
        (
            CONV + '[[sweep.exclude]]\ndevice = [["cpu"]]',
            "x.toml: sweep[0].exclude[0].device: expected a single value, got a list",
        ),
        (
            CONV + "[timing]\nmin_time_ms = [1]",
            "x.toml: timing.min_time_ms: expected a single value, got a list",
        ),
        (
            CONV + f'dtype = "{"f" * 300}"',
            "x.toml: sweep[0].dtype: a string of 300 characters, over the limit of 255",
        ),
        (
            CONV + f"batch = 1{'0' * 30}",
            "x.toml: sweep[0].batch: the integer 1000000000000000000000000000000 does not fit",
        ),
    ],
)
def test_axis_values_are_flat_scalars(text: str, expected: str) -> None:
    got = problems(text)
    assert len(got) == 1 and got[0].startswith(expected), got


@pytest.mark.parametrize(
    "text",
    [
        "a = " + "[" * 500 + "]" * 500,
        "a = " + "{b = " * 500 + "1" + "}" * 500,
        CONV + "batch = " + "[" * 100_000,  # not even well-formed
    ],
    ids=["arrays", "inline-tables", "unclosed"],
)
def test_deep_nesting_is_refused_before_the_parser(text: str) -> None:
    (problem,) = problems(text)
    assert problem.startswith("x.toml: line ")
    assert "brackets nested more than 16 levels deep" in problem


def test_brackets_in_strings_and_comments_do_not_count() -> None:
    brackets = "[" * 40 + "{" * 40
    suite = parse(f"description = \"{brackets}\"\n# {brackets}\nname = '{brackets}'\n" + CONV)
    assert suite.description == brackets and suite.name == brackets
    multi = parse(f'description = """\n{brackets}\n"""\n' + CONV)
    assert multi.description == brackets + "\n"


def test_a_huge_integer_literal_is_a_suite_error() -> None:
    (problem,) = problems(CONV + "batch = " + "9" * 5000)
    assert problem.startswith("x.toml: invalid TOML: Exceeds the limit (4300 digits)")


def test_deep_dotted_keys_do_not_crash() -> None:
    got = problems(CONV + "channels_out." + "a." * 2000 + "b = 1\n")
    assert got == [
        "x.toml: sweep[0].channels_out: expected a single value, got a table "
        "(an axis is one flat list)"
    ]


# -- the case-count limit --------------------------------------------------------------


def test_case_limit_is_checked_per_sweep_from_the_axis_sizes(monkeypatch) -> None:
    monkeypatch.setattr(suites, "MAX_CASES", 100)
    assert len(parse(CONV.replace("8", str(list(range(1, 101))))).cases) == 100
    (problem,) = problems(
        '[[sweep]]\nworkload = ["conv", "separable"]\n'
        f"channels = {list(range(1, 11))}\nsize = {list(range(1, 7))}\n"
    )
    assert problem == (
        "x.toml: sweep[0]: 120 combinations (2 x 10 x 6) exceed the limit of 100 cases; "
        "split the sweep or shorten its axes"
    )


def test_case_limit_is_checked_for_the_whole_suite(monkeypatch) -> None:
    monkeypatch.setattr(suites, "MAX_CASES", 100)
    sweep = f'[[sweep]]\nworkload = "conv"\nchannels = {list(range(1, 61))}\n'
    (problem,) = problems(sweep + sweep.replace("channels", "size = 8\nchannels"))
    assert problem == (
        "x.toml: sweep: the sweeps together make 120 combinations, over the limit of "
        "100 cases; split the suite"
    )


def test_the_limit_is_a_million() -> None:
    assert MAX_CASES == 1_000_000


def ten_million(tmp_path: Path) -> Path:
    axis = list(range(1, 101))
    p = tmp_path / "huge.toml"
    p.write_text(
        f'[[sweep]]\nworkload = "conv"\nchannels = {axis}\nsize = {axis}\n'
        f"batch = {list(range(1, 1001))}\n"
    )
    return p


@pytest.mark.parametrize("command", [["list"], ["run", "--dry-run"]])
def test_ten_million_cases_fail_fast(tmp_path: Path, command: list[str]) -> None:
    """Before the fix: over 8 GB and 74 s. In a subprocess, so a regression cannot take
    this test process's memory with it."""
    path = ten_million(tmp_path)
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", *command, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    elapsed = time.monotonic() - start
    assert proc.returncode == 2, proc.stderr
    assert (
        f"bench: error: {path}: sweep[0]: 10,000,000 combinations (1 x 100 x 100 x 1000) "
        "exceed the limit of 1,000,000 cases"
    ) in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert elapsed < 30  # expansion would take minutes; refusing takes an interpreter start


# -- files -----------------------------------------------------------------------------


def run_list(path: Path | str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`bench list PATH` in a subprocess with a timeout: opening a FIFO would hang."""
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "list", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_never_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    proc = run_list(fifo, tmp_path)
    assert proc.returncode == 2
    assert f"bench: error: {fifo}: is a FIFO (named pipe), not a regular file" in proc.stderr


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_a_device_is_never_read() -> None:
    with pytest.raises(SuiteError) as info:
        load_suite("/dev/zero")
    assert str(info.value) == "/dev/zero: is a device, not a regular file: not read as a suite file"


def test_a_directory_and_an_oversized_file_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "dir.toml"
    folder.mkdir()
    with pytest.raises(SuiteError, match=r"dir\.toml: is a directory, not a regular file"):
        load_suite(str(folder))
    big = tmp_path / "big.toml"
    big.write_text(CONV + "#" * MAX_SUITE_BYTES)
    with pytest.raises(SuiteError) as info:
        load_suite(str(big))
    assert str(info.value).endswith(", larger than the limit of 1 MiB")
    assert str(info.value).startswith(f"{big}: suite file of 1.0 MiB")
    exactly = tmp_path / "exactly.toml"
    exactly.write_text(CONV + "#" * (MAX_SUITE_BYTES - len(CONV)))
    assert exactly.stat().st_size == MAX_SUITE_BYTES
    assert len(load_suite(str(exactly)).cases) == 1


# -- stored names ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("n" * 256, "256 characters, over the limit of 255"),
        ("a\\u0000b", "contains the control character U+0000"),
        ("a\\nb", "contains the control character U+000A"),
        ("a\\u0085b", "contains the control character U+0085"),
    ],
)
def test_suite_names_fit_the_database(name: str, problem: str) -> None:
    (got,) = problems(f'name = "{name}"\n' + CONV)
    assert got.startswith(f"x.toml: name: {problem}")
    assert parse(f'name = "{"n" * 255}"\n' + CONV).name == "n" * 255


def test_a_name_taken_from_the_file_name_is_checked_too() -> None:
    with pytest.raises(SuiteError) as info:
        parse_suite(CONV.encode(), source="x.toml", default_name="n" * 256)
    assert info.value.problems == [
        "x.toml: name: 256 characters, over the limit of 255: the suite's name is stored "
        'with every run (here the file\'s name; set name = "...")'
    ]


def test_option_names_are_checked_with_the_option_named() -> None:
    check_option_name("--label", None)
    check_option_name("--label", "l" * MAX_NAME_LENGTH)
    for bad, words in [
        ("l" * 256, "256 characters, over the limit of 255"),
        ("a\x00b", "contains the control character U+0000"),
        ("   ", "empty"),
    ]:
        with pytest.raises(UsageError) as info:
            check_option_name("--group", bad)
        assert str(info.value).startswith("--group ") and words in str(info.value)
    assert text_problem(5) == "expected a string, got 5"


def test_json_problems_are_found_without_recursion() -> None:
    deep: dict = {}
    node = deep
    for _ in range(10_000):
        node["a"] = {}
        node = node["a"]
    path, what = json_problem(deep, "params")
    assert what == "nested more than 64 levels deep" and path.startswith("params.a.a")
    assert json_problem({"x": [1, 2.5, "s", None, True]}, "p") is None
    assert json_problem({"x": [1, math.nan]}, "p") == ("p.x[1]", "nan is not a finite number")
    assert json_problem({"x": 2**63}, "p") == ("p.x", f"integer {2**63} does not fit in 64 bits")
    assert json_problem({"x": "a\x00"}, "p") == ("p.x", "contains a NUL character")


def test_the_limits_match_the_database(db_url: str) -> None:
    """255-character names and int64 counts are stored on both backends: the limits are
    the columns' and not stricter."""
    from results.records import CaseStatus, ResultRecord, RunRecord
    from results.store import Store

    name = "é" * MAX_NAME_LENGTH  # characters, not bytes: PostgreSQL's VARCHAR(255)
    with Store.open(db_url, create=True) as store:
        run = store.start_run(
            RunRecord(
                suite=name,
                suite_digest="d" * 64,
                environment={"x": 1},
                fingerprint="f" * 16,
                started_at=datetime(2199, 12, 31, tzinfo=UTC),
                label=name,
                group=name,
            )
        )
        record = ResultRecord(
            case_key="k" * 64,
            case_id="c",
            workload="w" * 64,
            params={"big": INT64_MAX},
            status=CaseStatus.OK,
            macs=INT64_MAX,
            parameters=INT64_MAX,
            bytes=INT64_MAX,
            samples=[1e-3, 2e-3],
            calls_per_sample=2**31 - 1,
        )
        store.add_results(run.id, [record])
        (back,) = store.results(run.id)
        assert back.macs == INT64_MAX and back.params == {"big": INT64_MAX}
        assert store.get_run(run.id).label == name


# -- environment variables -------------------------------------------------------------


@pytest.mark.parametrize("bad", ["1e300", "inf", "nan", "0", "-3", "0.0001", "315360001", "x"])
def test_stale_after_is_range_checked(monkeypatch, bad: str) -> None:
    monkeypatch.setenv("BENCH_STALE_AFTER", bad)
    with pytest.raises(UsageError) as info:
        stale_after()
    assert str(info.value) == (
        f"BENCH_STALE_AFTER={bad!r}: expected a number of seconds from 0.001 to "
        "315,360,000 (10 years), e.g. 600"
    )


def test_stale_after_accepts_its_range(monkeypatch) -> None:
    for good, seconds in (("0.001", 0.001), ("600", 600), ("315360000", 315_360_000)):
        monkeypatch.setenv("BENCH_STALE_AFTER", good)
        assert stale_after().total_seconds() == pytest.approx(seconds)


def test_stale_after_in_the_cli_is_a_usage_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    db = f"sqlite:///{tmp_path / 'x.db'}"
    from results.records import RunRecord
    from results.store import Store

    with Store.open(db, create=True) as store:
        store.start_run(RunRecord("s", "d", {}, "f", started_at=datetime.now(UTC)))
    r = bench("runs", "--db", db, env={"BENCH_STALE_AFTER": "1e300"})
    assert r.exit_code == 2 and "bench: error: BENCH_STALE_AFTER='1e300'" in r.output
