"""Read other tools' result files as runs: pytest-benchmark JSON (no torch, no SQLAlchemy).

``load_pytest_benchmark`` validates the whole file before returning anything, so a bad
file raises ``ImportFormatError`` (naming the file and the key) and nothing is written.
Validation covers what the database would refuse later (``results.limits``): integers
beyond the columns' 32 or 64 bits, names over their column's length, NUL characters,
non-finite numbers in stored JSON, datetimes outside 1970 to 2200. The file itself must
be a regular file of at most ``MAX_IMPORT_BYTES`` (never a FIFO or a device).

Two kinds of files import:

- Files written by bench's pytest plugin: ``extra_info`` holds the case's key, workload,
  params and cost, so the results line up with ``bench run``'s, and ``machine_info["bench"]``
  holds bench's own environment capture (torch, CUDA, GPU), so the fingerprint does too.
- Plain pytest-benchmark files from any project: the case key is a digest of the
  benchmark's ``fullname`` and ``params``, the workload is its ``group`` (or "pytest"),
  and the params are its ``params`` merged over its ``extra_info``.

Samples are the file's raw ``stats.data`` (seconds per iteration, one per round), which
``--benchmark-json`` always writes and ``--benchmark-save`` writes with
``--benchmark-save-data``. Without them nothing is made up: the samples stay empty and
the file's own statistics (median, quartiles, mean, ...) are kept as the record's summary.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from results.errors import ImportFormatError
from results.fingerprint import fingerprint
from results.import_fields import TIME_RANGE, Fields, is_bool, is_time, kind_of
from results.limits import (
    INT32_MAX,
    INT64_MAX,
    MAX_IMPORT_BYTES,
    MAX_KEY_LENGTH,
    MAX_NAME_LENGTH,
    FileRefused,
    check_option_name,
    read_capped,
    shown,
    text_problem,
)
from results.records import CaseStatus, ResultRecord, RunRecord, RunStatus
from results.stats import Stats

SOURCE = "pytest-benchmark"
NEWEST_MAJOR = 5  # pytest-benchmark writes its own version; 3.x to 5.x share this format

_NO_COMMIT = {"", "unversioned", "unknown"}

# Times bench keeps: pandas' datetime range ends in 2262, and no benchmark predates 1970.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def load_pytest_benchmark(
    path: Path, *, label: str | None = None
) -> tuple[RunRecord, list[ResultRecord]]:
    """The run and results stored in a pytest-benchmark JSON file."""
    path = Path(path)
    check_option_name("--label", label)
    doc, st = _read(path)
    f = Fields(str(path))
    if not isinstance(doc, dict):
        raise f.error("", f"expected a JSON object (a pytest-benchmark file), got {kind_of(doc)}")
    version = _version(doc, f)
    benchmarks = f.get(doc, "benchmarks", list)
    if not benchmarks:
        raise f.error("benchmarks", "empty: the file holds no benchmark to import")
    machine = f.get(doc, "machine_info", dict, required=False) or {}
    commit_info = f.get(doc, "commit_info", dict, required=False) or {}
    bench_env = f.get(machine, "bench", dict, required=False, where="machine_info.bench")
    when = _datetime(doc, f, st)

    results = [_result(b, f"benchmarks[{i}]", f) for i, b in enumerate(benchmarks)]
    env = _environment(machine, commit_info, bench_env, version, f)
    commit = _commit(commit_info, bench_env, f)
    run = RunRecord(
        suite=_suite_name(benchmarks, commit_info, path, f),
        suite_digest=hashlib.sha256("\n".join(r.case_key for r in results).encode()).hexdigest(),
        environment=env,
        fingerprint=fingerprint(env),
        started_at=when,
        finished_at=when,
        label=label,
        status=RunStatus.FINISHED,
        commit=commit,
        planned=len(results),
    )
    return run, results


def _read(path: Path) -> tuple[Any, os.stat_result]:
    try:
        text, st = read_capped(path, MAX_IMPORT_BYTES, "benchmark file")
    except FileRefused as e:
        raise ImportFormatError(f"{path}: {e}") from None
    try:
        return json.loads(text), st
    except UnicodeDecodeError:
        raise ImportFormatError(f"{path}: not a UTF-8 JSON file") from None
    except json.JSONDecodeError as e:
        raise ImportFormatError(
            f"{path}: not JSON ({e.msg} at line {e.lineno} column {e.colno})"
        ) from None
    except ValueError as e:  # an integer of more digits than Python converts
        raise ImportFormatError(f"{path}: not a benchmark file: {str(e).split(':')[0]}") from None
    except RecursionError:
        raise ImportFormatError(f"{path}: JSON nested too deeply to be a benchmark file") from None


def _version(doc: dict[str, Any], f: Fields) -> str | None:
    """pytest-benchmark's version that wrote the file; None in files older than 3.0."""
    version = f.get(doc, "version", str, required=False)
    if version is None:
        return None
    m = re.match(r"(\d+)\.\d+", version)
    if m is None:
        raise f.error("version", f"expected a version like '5.1.0', got {version!r}")
    if int(m.group(1)) > NEWEST_MAJOR:
        raise f.error(
            "version",
            f"written by pytest-benchmark {version}, newer than the formats this bench "
            f"reads (up to {NEWEST_MAJOR}.x); upgrade bench",
        )
    return version


def _datetime(doc: dict[str, Any], f: Fields, st: os.stat_result) -> datetime:
    """When the file was written, in UTC, from 1970 to 2200 (what pandas and every
    database backend can hold after any time-zone shift)."""
    text = f.get(doc, "datetime", str, required=False)
    when: datetime | None = None
    if text is None:  # very old files: the file's modification time is the best we know
        what = "missing, and the file's modification time"
        with contextlib.suppress(OverflowError, OSError, ValueError):
            when = datetime.fromtimestamp(st.st_mtime, UTC)
    else:
        what = shown(text)
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            raise f.error("datetime", f"expected an ISO 8601 time, got {what}") from None
        if when.tzinfo is None:  # pytest-benchmark < 4: UTC
            when = when.replace(tzinfo=UTC)
        try:
            when = when.astimezone(UTC)  # 9999-12-31T23:00-05:00 is beyond datetime's range
        except OverflowError:
            when = None
    if when is None or not EARLIEST <= when < LATEST:
        raise f.error(
            "datetime",
            f"{what} is out of range: expected a time from {EARLIEST:%Y-%m-%d} to "
            f"{LATEST:%Y-%m-%d} UTC",
        )
    return when


def _result(bench: Any, where: str, f: Fields) -> ResultRecord:
    if not isinstance(bench, dict):
        raise f.error(where, f"expected an object, got {kind_of(bench)}")
    fullname = f.get(bench, "fullname", str, where=f"{where}.fullname")
    f.text(fullname, f"{where}.fullname", MAX_CASE_ID, controls=True)
    stats = f.get(bench, "stats", dict, where=f"{where}.stats")
    extra = f.get(bench, "extra_info", dict, required=False, where=f"{where}.extra_info") or {}
    summary = _summary(stats, f"{where}.stats", f)
    iterations = f.integer(
        stats, "iterations", f"{where}.stats.iterations", 1, INT32_MAX, required=False
    )
    samples = _samples(stats, summary.n, f"{where}.stats.data", f)

    if "case_key" in extra:  # written by bench's pytest plugin
        x = f"{where}.extra_info"
        case_id = f.get(extra, "case_id", str, required=False, where=f"{x}.case_id")
        identity = {
            "case_key": f.text(
                f.get(extra, "case_key", str, where=f"{x}.case_key"),
                f"{x}.case_key",
                MAX_KEY_LENGTH,
            ),
            "case_id": f.text(case_id, f"{x}.case_id", MAX_CASE_ID, controls=True)
            if case_id
            else fullname.rpartition("::")[2],
            "workload": f.text(
                f.get(extra, "workload", str, where=f"{x}.workload"),
                f"{x}.workload",
                MAX_KEY_LENGTH,
            ),
            "params": f.json(f.get(extra, "params", dict, where=f"{x}.params"), f"{x}.params"),
            **{k: f.integer(extra, k, f"{x}.{k}", 0, INT64_MAX, required=False) for k in _COST},
        }
    else:
        params = f.get(bench, "params", dict, required=False, where=f"{where}.params") or {}
        group = f.get(bench, "group", str, required=False, where=f"{where}.group")
        f.json(extra, f"{where}.extra_info")
        f.json(params, f"{where}.params")
        identity = {
            "case_key": plain_case_key(fullname, params),
            "case_id": fullname,
            "workload": f.text(group, f"{where}.group", MAX_KEY_LENGTH) if group else "pytest",
            "params": {**extra, **params},
        }
    record = ResultRecord(
        **identity,
        status=CaseStatus.OK,
        samples=samples,
        calls_per_sample=iterations or 1,
    )
    if not samples:
        record.summary = summary
    return record


# The cost model's figures the plugin writes, stored like bench run stores them.
_COST = (
    "macs",
    "parameters",
    "bytes",
    "activation_bytes",
    "activation_bytes_efficient",
    "weight_bytes",
)
MAX_CASE_ID = 100_000  # characters of a test id (an unbounded TEXT column; sanity only)
_STAT_KEYS = {"median": "median", "q1": "q1", "q3": "q3", "mean": "mean", "stddev": "stdev"}


def _summary(stats: dict[str, Any], where: str, f: Fields) -> Stats:
    values = {ours: f.number(stats, key, f"{where}.{key}") for key, ours in _STAT_KEYS.items()}
    rounds = f.integer(stats, "rounds", f"{where}.rounds", 1, INT32_MAX, required=True)
    return Stats(
        n=rounds,
        min=f.number(stats, "min", f"{where}.min"),
        max=f.number(stats, "max", f"{where}.max"),
        **values,
    )


def _samples(stats: dict[str, Any], rounds: int, where: str, f: Fields) -> list[float]:
    data = f.get(stats, "data", list, required=False, where=where)
    if data is None:
        return []
    for j, value in enumerate(data):
        if is_bool(value) or not isinstance(value, int | float) or not is_time(value):
            raise f.error(f"{where}[{j}]", f"expected {TIME_RANGE}, got {shown(value)}")
    if len(data) != rounds:
        raise f.error(where, f"{len(data)} values for {rounds} rounds")
    return [float(v) for v in data]


def plain_case_key(fullname: str, params: dict[str, Any]) -> str:
    """A stable key for a benchmark not made by bench: its test id and its params."""
    ident = json.dumps({"fullname": fullname, "params": params}, sort_keys=True, default=str)
    return hashlib.sha256(ident.encode()).hexdigest()[:16]


def _environment(
    machine: dict[str, Any],
    commit: dict[str, Any],
    bench_env: dict[str, Any] | None,
    version: str | None,
    f: Fields,
) -> dict[str, Any]:
    """machine_info and commit_info under bench's environment names (DESIGN.md 4).

    Each value is checked where it comes from, so a bad one is named by its own key.
    """
    cpu = machine.get("cpu") if isinstance(machine.get("cpu"), dict) else {}
    system, release = machine.get("system"), machine.get("release")
    cpu_model = next(
        (
            (value, where)
            for value, where in (
                (cpu.get("brand_raw"), "machine_info.cpu.brand_raw"),
                (cpu.get("brand"), "machine_info.cpu.brand"),
                (machine.get("processor"), "machine_info.processor"),
            )
            if value
        ),
        (None, ""),
    )
    sourced: dict[str, tuple[Any, str]] = {
        "source": (SOURCE, ""),
        "pytest_benchmark": (version, "version"),
        "hostname": (machine.get("node"), "machine_info.node"),
        "os": (
            f"{system}-{release}" if system and release else system,
            "machine_info.system" if not release else "machine_info.release",
        ),
        "machine": (machine.get("machine"), "machine_info.machine"),
        "python": (machine.get("python_version"), "machine_info.python_version"),
        "python_implementation": (
            machine.get("python_implementation"),
            "machine_info.python_implementation",
        ),
        "cpu_model": cpu_model,
        "cpu_count": (cpu.get("count"), "machine_info.cpu.count"),
        "cpu_hz": (cpu.get("hz_advertised_friendly"), "machine_info.cpu.hz_advertised_friendly"),
        "commit_project": (commit.get("project"), "commit_info.project"),
        "commit_branch": (commit.get("branch"), "commit_info.branch"),
        "commit_dirty": (commit.get("dirty"), "commit_info.dirty"),
    }
    env = {k: f.json(v, where) for k, (v, where) in sourced.items() if v is not None}
    if bench_env:  # bench's own capture wins: it is what `bench run` records
        env.update(f.json(bench_env, "machine_info.bench"))
    return env


def _commit(commit_info: dict[str, Any], bench_env: dict[str, Any] | None, f: Fields) -> str | None:
    """bench's own commit (plugin files), else the project's: at most 64 characters."""
    ours = (bench_env or {}).get("bench_commit")
    if ours:
        return f.text(ours, "machine_info.bench.bench_commit", MAX_KEY_LENGTH)
    commit = commit_info.get("id")
    if not isinstance(commit, str) or commit in _NO_COMMIT:
        return None
    return f.text(commit, "commit_info.id", MAX_KEY_LENGTH)


def _suite_name(
    benchmarks: list[dict[str, Any]], commit: dict[str, Any], path: Path, f: Fields
) -> str:
    """bench's suite names for plugin files; the project (stable across runs) otherwise.

    At most 255 characters with the ``pytest-benchmark:`` prefix, like any suite name.
    """
    extras = [b.get("extra_info") or {} for b in benchmarks]
    suites = sorted(
        {x["suite"] for x in extras if "case_key" in x and isinstance(x.get("suite"), str)}
    )
    if suites:
        name, where = "+".join(suites), "benchmarks[].extra_info.suite"
    elif isinstance(commit.get("project"), str) and commit["project"]:
        name, where = commit["project"], "commit_info.project"
    else:
        name, where = path.stem, "(the file's name, as the suite's name)"
    problem = text_problem(name, MAX_NAME_LENGTH - len(SOURCE) - 1)
    if problem:
        raise f.error(where, f"suite name {shown(name)}: {problem}")
    return f"{SOURCE}:{name}"
