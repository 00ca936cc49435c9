"""Read other tools' result files as runs: pytest-benchmark JSON (no torch, no SQLAlchemy).

``load_pytest_benchmark`` validates the whole file before returning anything, so a bad
file raises ``ImportFormatError`` (naming the file and the key) and nothing is written.

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

import hashlib
import json
import math
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from results.errors import ImportFormatError
from results.fingerprint import fingerprint
from results.records import CaseStatus, ResultRecord, RunRecord, RunStatus
from results.stats import Stats

SOURCE = "pytest-benchmark"
NEWEST_MAJOR = 5  # pytest-benchmark writes its own version; 3.x to 5.x share this format

_NO_COMMIT = {"", "unversioned", "unknown"}


def load_pytest_benchmark(
    path: Path, *, label: str | None = None
) -> tuple[RunRecord, list[ResultRecord]]:
    """The run and results stored in a pytest-benchmark JSON file."""
    path = Path(path)
    doc = _read(path)
    f = _Fields(str(path))
    if not isinstance(doc, dict):
        raise f.error("", f"expected a JSON object (a pytest-benchmark file), got {_kind(doc)}")
    version = _version(doc, f)
    benchmarks = f.get(doc, "benchmarks", list)
    if not benchmarks:
        raise f.error("benchmarks", "empty: the file holds no benchmark to import")
    machine = f.get(doc, "machine_info", dict, required=False) or {}
    commit_info = f.get(doc, "commit_info", dict, required=False) or {}
    bench_env = f.get(machine, "bench", dict, required=False, where="machine_info.bench")
    when = _datetime(doc, f, path)

    results = [_result(b, f"benchmarks[{i}]", f) for i, b in enumerate(benchmarks)]
    env = _environment(machine, commit_info, bench_env, version)
    run = RunRecord(
        suite=_suite_name(benchmarks, commit_info, path),
        suite_digest=hashlib.sha256("\n".join(r.case_key for r in results).encode()).hexdigest(),
        environment=env,
        fingerprint=fingerprint(env),
        started_at=when,
        finished_at=when,
        label=label,
        status=RunStatus.FINISHED,
        commit=(bench_env or {}).get("bench_commit") or _commit(commit_info),
        planned=len(results),
    )
    return run, results


class _Fields:
    """Typed look-ups that raise ``file: key.path: problem``."""

    def __init__(self, name: str):
        self.name = name

    def error(self, where: str, what: str) -> ImportFormatError:
        return ImportFormatError(
            f"{self.name}: {where}: {what}" if where else f"{self.name}: {what}"
        )

    def get(
        self,
        obj: dict[str, Any],
        key: str,
        kind: type | tuple[type, ...],
        *,
        required: bool = True,
        where: str | None = None,
    ) -> Any:
        where = where or key
        if key not in obj or (obj[key] is None and not required):
            if required:
                raise self.error(where, "missing")
            return None
        value = obj[key]
        if not isinstance(value, kind) or (kind in (int, float, (int, float)) and _is_bool(value)):
            raise self.error(where, f"expected {_expected(kind)}, got {_kind(value)}")
        return value

    def number(self, obj: dict[str, Any], key: str, where: str, *, required: bool = True) -> Any:
        value = self.get(obj, key, (int, float), required=required, where=where)
        if value is not None and not _time(value):
            raise self.error(where, f"expected a finite time >= 0, got {value!r}")
        return value


def _read(path: Path) -> Any:
    try:
        text = path.read_bytes()
    except OSError as e:
        raise ImportFormatError(f"{path}: cannot read ({e.strerror})") from None
    try:
        return json.loads(text)
    except UnicodeDecodeError:
        raise ImportFormatError(f"{path}: not a UTF-8 JSON file") from None
    except json.JSONDecodeError as e:
        raise ImportFormatError(
            f"{path}: not JSON ({e.msg} at line {e.lineno} column {e.colno})"
        ) from None
    except RecursionError:
        raise ImportFormatError(f"{path}: JSON nested too deeply to be a benchmark file") from None


def _version(doc: dict[str, Any], f: _Fields) -> str | None:
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


def _datetime(doc: dict[str, Any], f: _Fields, path: Path) -> datetime:
    text = f.get(doc, "datetime", str, required=False)
    if text is None:  # very old files: the file's modification time is the best we know
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise f.error("datetime", f"expected an ISO 8601 time, got {text!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)  # pytest-benchmark < 4: UTC


def _result(bench: Any, where: str, f: _Fields) -> ResultRecord:
    if not isinstance(bench, dict):
        raise f.error(where, f"expected an object, got {_kind(bench)}")
    fullname = f.get(bench, "fullname", str, where=f"{where}.fullname")
    stats = f.get(bench, "stats", dict, where=f"{where}.stats")
    extra = f.get(bench, "extra_info", dict, required=False, where=f"{where}.extra_info") or {}
    summary = _summary(stats, f"{where}.stats", f)
    iterations = f.get(stats, "iterations", int, required=False, where=f"{where}.stats.iterations")
    if iterations is not None and iterations < 1:
        raise f.error(f"{where}.stats.iterations", f"expected at least 1, got {iterations}")
    samples = _samples(stats, summary.n, f"{where}.stats.data", f)

    if "case_key" in extra:  # written by bench's pytest plugin
        x = f"{where}.extra_info"
        identity = {
            "case_key": f.get(extra, "case_key", str, where=f"{x}.case_key"),
            "case_id": f.get(extra, "case_id", str, required=False, where=f"{x}.case_id")
            or fullname.rpartition("::")[2],
            "workload": f.get(extra, "workload", str, where=f"{x}.workload"),
            "params": f.get(extra, "params", dict, where=f"{x}.params"),
            **{k: f.get(extra, k, int, required=False, where=f"{x}.{k}") for k in _COST},
        }
    else:
        params = f.get(bench, "params", dict, required=False, where=f"{where}.params") or {}
        group = f.get(bench, "group", str, required=False, where=f"{where}.group")
        identity = {
            "case_key": plain_case_key(fullname, params),
            "case_id": fullname,
            "workload": group or "pytest",
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


_COST = ("macs", "parameters", "bytes")
_STAT_KEYS = {"median": "median", "q1": "q1", "q3": "q3", "mean": "mean", "stddev": "stdev"}


def _summary(stats: dict[str, Any], where: str, f: _Fields) -> Stats:
    values = {ours: f.number(stats, key, f"{where}.{key}") for key, ours in _STAT_KEYS.items()}
    rounds = f.get(stats, "rounds", int, where=f"{where}.rounds")
    if rounds < 1:
        raise f.error(f"{where}.rounds", f"expected at least 1, got {rounds}")
    return Stats(
        n=rounds,
        min=f.number(stats, "min", f"{where}.min"),
        max=f.number(stats, "max", f"{where}.max"),
        **values,
    )


def _time(value: int | float) -> bool:
    """A finite, non-negative number of seconds (an int beyond float range is not)."""
    try:
        return math.isfinite(value) and value >= 0
    except OverflowError:
        return False


def _samples(stats: dict[str, Any], rounds: int, where: str, f: _Fields) -> list[float]:
    data = f.get(stats, "data", list, required=False, where=where)
    if data is None:
        return []
    for j, value in enumerate(data):
        if _is_bool(value) or not isinstance(value, int | float) or not _time(value):
            raise f.error(f"{where}[{j}]", f"expected a time in seconds >= 0, got {value!r}")
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
) -> dict[str, Any]:
    """machine_info and commit_info under bench's environment names (DESIGN.md 4)."""
    cpu = machine.get("cpu") if isinstance(machine.get("cpu"), dict) else {}
    system, release = machine.get("system"), machine.get("release")
    env: dict[str, Any] = {
        "source": SOURCE,
        "pytest_benchmark": version,
        "hostname": machine.get("node"),
        "os": f"{system}-{release}" if system and release else system,
        "machine": machine.get("machine"),
        "python": machine.get("python_version"),
        "python_implementation": machine.get("python_implementation"),
        "cpu_model": cpu.get("brand_raw") or cpu.get("brand") or machine.get("processor") or None,
        "cpu_count": cpu.get("count"),
        "cpu_hz": cpu.get("hz_advertised_friendly"),
        "commit_project": commit.get("project"),
        "commit_branch": commit.get("branch"),
        "commit_dirty": commit.get("dirty"),
    }
    env = {k: v for k, v in env.items() if v is not None}
    if bench_env:  # bench's own capture wins: it is what `bench run` records
        env.update(bench_env)
    return env


def _commit(commit_info: dict[str, Any]) -> str | None:
    commit = commit_info.get("id")
    return commit if isinstance(commit, str) and commit not in _NO_COMMIT else None


def _suite_name(benchmarks: list[dict[str, Any]], commit: dict[str, Any], path: Path) -> str:
    """bench's suite names for plugin files; the project (stable across runs) otherwise."""
    extras = [b.get("extra_info") or {} for b in benchmarks]
    suites = sorted(
        {x["suite"] for x in extras if "case_key" in x and isinstance(x.get("suite"), str)}
    )
    if suites:
        return f"{SOURCE}:{'+'.join(suites)}"
    project = commit.get("project")
    return f"{SOURCE}:{project if isinstance(project, str) and project else path.stem}"


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else f"{type(value).__name__} {value!r}"
    )


def _expected(kind: type | tuple[type, ...]) -> str:
    names = {dict: "an object", list: "a list", str: "a string", int: "an integer"}
    if kind == (int, float):
        return "a number"
    return names.get(kind, str(kind)) if isinstance(kind, type) else "a number"
