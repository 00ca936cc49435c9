"""The CLI end to end: exit codes, messages without tracebacks, nothing written on error."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import cli

TINY = """
[timing]
min_time_ms = 5
max_time_ms = 40
warmup_ms = 2

[[sweep]]
workload = ["conv", "separable"]
channels = [8, 16]
size = 8
"""


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BENCH_DB", raising=False)
    (tmp_path / "tiny.toml").write_text(TINY)
    return tmp_path


@pytest.fixture(scope="module")
def one_run(tmp_path_factory) -> bytes:
    """The database of one real `bench run` (worker process, 3 rounds), made once and
    copied by the tests that only need some run to be there."""
    where = tmp_path_factory.mktemp("one-run")
    (where / "tiny.toml").write_text(TINY)
    url = f"sqlite:///{where / 'r.db'}"
    r = CliRunner().invoke(
        cli, ["run", str(where / "tiny.toml"), "--no-peaks", "--filter", "channels=8", "--db", url]
    )
    assert r.exit_code == 0, r.output
    return (where / "r.db").read_bytes()


def bench(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_run_then_show_runs_and_export(env) -> None:
    r = bench("run", "tiny.toml", "--no-peaks", "--label", "first")
    assert r.exit_code == 0, r.output
    assert "separable[channels=16,size=8]" in r.output
    assert "4 ok, 0 failed, 0 skipped" in r.output
    assert (env / ".bench" / "results.db").exists()  # the documented default location

    shown = json.loads(bench("show", "latest", "--json").output)
    assert shown["label"] == "first" and len(shown["results"]) == 4
    assert all(x["median"] > 0 and len(x["samples"]) >= 10 for x in shown["results"])

    runs = json.loads(bench("runs", "--json").output)
    assert [x["uid"] for x in runs] == [shown["uid"]]
    table = bench("show", shown["uid"][:6]).output
    assert "conv[channels=8,size=8]" in table

    out = env / "r.csv"
    assert bench("export", "latest", "--format", "csv", "-o", str(out)).exit_code == 0
    assert out.read_text().count("\n") >= 5


def test_db_option_and_env_var(env, monkeypatch) -> None:
    url = f"sqlite:///{env / 'other.db'}"
    assert (
        bench("run", "tiny.toml", "--no-peaks", "--db", url, "--filter", "channels=8").exit_code
        == 0
    )
    monkeypatch.setenv("BENCH_DB", url)
    assert len(json.loads(bench("runs", "--json").output)) == 1
    assert not (env / ".bench").exists()


def test_failed_case_exits_1(env, monkeypatch) -> None:
    import harness.execute as execute

    def prepare(case):
        raise RuntimeError("kaput")

    monkeypatch.setattr(execute, "prepare", prepare)
    r = bench("run", "tiny.toml", "--no-peaks", "--filter", "channels=8", "--isolation", "inline")
    assert r.exit_code == 1
    assert "failed: RuntimeError: kaput" in r.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "nosuch"], "unknown suite 'nosuch': built-in suites are"),
        (["run", "bad.toml"], "bad.toml: sweep[0].dtype: bad dtype 'fp8'"),
        (["run", "tiny.toml", "--filter", "colour=red"], "unknown axis 'colour'"),
        (["run", "tiny.toml", "--filter", "channels=99"], "no case of suite"),
        (["run", "tiny.toml", "--device", "gpu"], "--device 'gpu'"),
        (["list", "bad.toml"], "bad.toml: sweep[0].dtype"),
        (["show", "nosuchrun"], ""),
        (["show", "9" * 21], "no run"),
        (["run", "tiny.toml", "--shard", "\u00b2/3"], "--shard"),
        (["compare", "latest", "latest", "--threshold", "nan"], "not a number between 0 and 1"),
        (["export", "latest", "-o", ".bench/results.db"], "is an SQLite database"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(env, one_run, args, message) -> None:
    (env / "bad.toml").write_text('[[sweep]]\nworkload = "conv"\nchannels = 8\ndtype = "fp8"')
    db = env / ".bench" / "results.db"
    db.parent.mkdir()
    db.write_bytes(one_run)
    before = digest(db)
    r = bench(*args)
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert "Traceback" not in r.output
    assert digest(db) == before


def test_foreign_database_is_refused_untouched(env) -> None:
    junk = env / "junk.db"
    junk.write_bytes(b"this is not a database, it is a text file\n" * 50)
    before = digest(junk)
    r = bench("run", "tiny.toml", "--db", f"sqlite:///{junk}", "--no-peaks")
    assert r.exit_code == 2
    assert "junk.db" in r.output and "Traceback" not in r.output
    assert digest(junk) == before


def test_reading_commands_do_not_create_a_database(env) -> None:
    r = bench("runs")
    assert r.exit_code == 2 and "no database" in r.output
    assert not (env / ".bench").exists()


def test_list_json_has_keys_params_and_costs(env) -> None:
    r = bench("list", "tiny.toml", "--json")
    cases = [json.loads(line) for line in r.output.splitlines()]  # JSON Lines
    assert len(cases) == 4
    first = cases[0]
    assert set(first) >= {"key", "workload", "params", "macs", "parameters", "bytes"}
    assert set(first) >= {"activation_bytes", "activation_bytes_efficient", "weight_bytes"}
    assert first["activation_bytes"] == 4 * 2 * 8 * 8 * 8  # float32 input + output
    assert first["weight_bytes"] == 4 * 9 * 8 * 8
    assert first["params"]["size"] == 8 and first["params"]["dtype"] == "float32"
    assert first["macs"] == 9 * 8 * 8 * 8 * 8  # k^2 * Cin * Cout * H' * W'


def test_dry_run_writes_nothing(env) -> None:
    r = bench("run", "tiny.toml", "--dry-run")
    assert r.exit_code == 0 and "4 cases would run" in r.output
    assert not (env / ".bench").exists()


def test_suites_lists_the_builtins_with_counts(env) -> None:
    out = bench("suites").output
    for name in ("smoke", "conv", "mobilenet", "nightly"):
        assert name in out
    # conv: 4 workloads x 3 batches x 5 channels x 2 formats x 5 (dtype, device) pairs
    assert " 600 " in out


def test_debug_shows_the_traceback(env) -> None:
    with pytest.raises(Exception, match="unknown suite"):
        CliRunner().invoke(cli, ["--debug", "run", "nosuch"], catch_exceptions=False)


def test_ctrl_c_anywhere_exits_130(env, monkeypatch) -> None:
    import harness.suites

    def interrupted(ref):
        raise KeyboardInterrupt

    monkeypatch.setattr(harness.suites, "load_suite", interrupted)
    r = bench("list", "tiny.toml")
    assert r.exit_code == 130
    assert "interrupted" in r.output
