"""Suite files: loading, validation and cartesian expansion into cases (no torch).

Validation collects every problem before raising, so a user fixes a suite in one pass.
"""

from __future__ import annotations

import hashlib
import itertools
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from harness.cases import Case
from harness.params import ALL_PARAMS, WORKLOADS, cross_check, fill_defaults
from harness.timing_config import TIMING_KEYS, TimingOverrides
from results.errors import SuiteError

TOP_KEYS = {"name", "description", "timing", "sweep"}


@dataclass
class Suite:
    name: str
    description: str
    source: str  # path or "builtin:NAME"
    digest: str  # sha256 of the file's bytes: tells two versions of a suite apart
    timing: TimingOverrides
    cases: list[Case] = field(default_factory=list)


def builtin_names() -> list[str]:
    return sorted(
        p.name[:-5] for p in resources.files("suites").iterdir() if p.name.endswith(".toml")
    )


def load_suite(ref: str) -> Suite:
    """Load a built-in suite by name or any path ending in .toml."""
    if ref.endswith(".toml") or "/" in ref:
        path = Path(ref)
        try:
            data = path.read_bytes()
        except OSError as e:
            raise SuiteError(f"{ref}: cannot read suite file ({e.strerror})") from None
        return parse_suite(data, source=ref, default_name=path.stem)
    if ref not in builtin_names():
        raise SuiteError(
            f"unknown suite '{ref}': built-in suites are {', '.join(builtin_names())}; "
            "or give a path ending in .toml"
        )
    data = resources.files("suites").joinpath(f"{ref}.toml").read_bytes()
    return parse_suite(data, source=f"suites/{ref}.toml", default_name=ref)


def parse_suite(data: bytes, *, source: str, default_name: str) -> Suite:
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise SuiteError(f"{source}: not a UTF-8 text file") from None
    except tomllib.TOMLDecodeError as e:
        raise SuiteError(f"{source}: invalid TOML: {e}") from None

    problems: list[str] = []

    def bad(path: str, what: str) -> None:
        problems.append(f"{source}: {path}: {what}")

    for key in doc:
        if key not in TOP_KEYS:
            bad(key, f"unknown key (expected one of {', '.join(sorted(TOP_KEYS))})")
    name = doc.get("name", default_name)
    if not isinstance(name, str) or not name.strip():
        bad("name", f"expected a non-empty string, got {name!r}")
    description = doc.get("description", "")
    if not isinstance(description, str):
        bad("description", f"expected a string, got {description!r}")
    timing = _parse_timing(doc.get("timing", {}), bad)

    sweeps = doc.get("sweep")
    if sweeps is None:
        bad("sweep", "missing: a suite needs at least one [[sweep]] table")
        sweeps = []
    elif not isinstance(sweeps, list) or not all(isinstance(s, dict) for s in sweeps):
        bad("sweep", "expected [[sweep]] tables")
        sweeps = []

    # A case listed by two sweeps runs once. Deduplicated on the identity itself: hashing
    # a tuple is far cheaper than the digest, which is computed only when asked for.
    cases: dict[tuple, Case] = {}
    for i, sweep in enumerate(sweeps):
        for case in _expand_sweep(sweep, f"sweep[{i}]", bad):
            cases.setdefault((case.workload, *case.params.items()), case)

    if not problems and not cases:
        why = "every combination is excluded" if sweeps else "it has no [[sweep]] table"
        bad("sweep", f"the suite expands to zero cases ({why})")
    if problems:
        raise SuiteError(problems)
    return Suite(
        name=name,
        description=description,
        source=source,
        digest=hashlib.sha256(data).hexdigest(),
        timing=timing,
        cases=list(cases.values()),
    )


def _parse_timing(table: Any, bad) -> TimingOverrides:
    if not isinstance(table, dict):
        bad("timing", "expected a table")
        return TimingOverrides()
    values: dict[str, Any] = {}
    for key, value in table.items():
        spec = TIMING_KEYS.get(key)
        if spec is None:
            bad(f"timing.{key}", f"unknown key (expected one of {', '.join(TIMING_KEYS)})")
            continue
        value, problem = spec.validate(value)
        if problem:
            bad(f"timing.{key}", problem)
        else:
            values[key] = value
    overrides = TimingOverrides(**values)
    problem = overrides.check()
    if problem:
        bad("timing", problem)
    return overrides


def _axis(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _expand_sweep(sweep: dict[str, Any], where: str, bad) -> list[Case]:
    ok = True

    def fail(path: str, what: str) -> None:
        nonlocal ok
        ok = False
        bad(path, what)

    excludes = sweep.get("exclude", [])
    if isinstance(excludes, dict):
        excludes = [excludes]
    if not isinstance(excludes, list) or not all(isinstance(e, dict) for e in excludes):
        fail(f"{where}.exclude", "expected [[sweep.exclude]] tables")
        excludes = []
    axes = {k: _axis(v) for k, v in sweep.items() if k != "exclude"}

    workloads = axes.get("workload")
    if workloads is None:
        fail(f"{where}.workload", "missing: every sweep names its workload(s)")
        return []
    valid_workloads = []
    for j, w in enumerate(workloads):
        if w in WORKLOADS:
            valid_workloads.append(w)
        else:
            fail(
                f"{where}.workload[{j}]" if len(workloads) > 1 else f"{where}.workload",
                f"unknown workload {w!r} (expected {', '.join(WORKLOADS)})",
            )

    # Validate each value of each axis once, coercing it to the parameter's type.
    for key, values in list(axes.items()):
        if key == "workload":
            continue
        path = f"{where}.{key}"
        if not values:
            fail(path, "empty axis: a list needs at least one value")
            continue
        if key not in ALL_PARAMS:
            fail(path, f"unknown key (parameters are {', '.join(sorted(ALL_PARAMS))})")
            continue
        lacking = [w for w in valid_workloads if key not in WORKLOADS[w]]
        if lacking:
            fail(path, f"not a parameter of workload {', '.join(map(repr, lacking))}")
            continue
        spec = next(WORKLOADS[w][key] for w in valid_workloads) if valid_workloads else None
        if spec is None:
            continue
        coerced = []
        for j, v in enumerate(values):
            v2, problem = spec.validate(v)
            if problem:
                vpath = f"{path}[{j}]" if isinstance(sweep[key], list) else path
                fail(vpath, problem)
            coerced.append(v2)
        axes[key] = coerced

    for j, ex in enumerate(excludes):
        if not ex:
            fail(f"{where}.exclude[{j}]", "empty exclude table: it would exclude every case")
        for key, value in ex.items():
            path = f"{where}.exclude[{j}].{key}"
            if key == "workload":
                for w in _axis(value):
                    if w not in valid_workloads:
                        fail(path, f"{w!r} is not a workload of this sweep")
                continue
            specs = [WORKLOADS[w][key] for w in valid_workloads if key in WORKLOADS[w]]
            if not specs:
                fail(path, "unknown key: not a parameter of this sweep's workloads")
                continue
            for v in _axis(value):
                _, problem = specs[0].validate(v)
                if problem:
                    fail(path, problem)

    required = {name for w in valid_workloads for name, p in WORKLOADS[w].items() if p.required}
    for name in sorted(required - axes.keys()):
        fail(f"{where}.{name}", "missing: required by " + ", ".join(valid_workloads))
    if not ok:
        return []

    keys = [k for k in axes if k != "workload"]
    cases: list[Case] = []
    for workload in valid_workloads:
        for combo in itertools.product(*(axes[k] for k in keys)):
            params = dict(zip(keys, combo, strict=True))
            full = fill_defaults(workload, params)
            if any(_matches(ex, workload, full) for ex in excludes):
                continue
            problem = cross_check(workload, full)
            if problem:
                fail(where, f"{workload} with {params}: {problem}")
                return []
            cases.append(Case(workload, full))
    return cases


def _matches(exclude: dict[str, Any], workload: str, params: dict[str, Any]) -> bool:
    """An exclude matches when every key it names equals (or lists) the case's value."""
    for key, value in exclude.items():
        actual = workload if key == "workload" else params.get(key)
        allowed = value if isinstance(value, list) else [value]
        if actual not in allowed:
            return False
    return True


def apply_filters(cases: list[Case], filters: list[str]) -> list[Case]:
    """Keep cases matching every AXIS=VALUE (several values of one axis: any of them)."""
    from results.errors import UsageError

    wanted: dict[str, list[str]] = {}
    for f in filters:
        axis, sep, value = f.partition("=")
        axis = axis.strip()
        if not sep or not axis:
            raise UsageError(f"--filter {f!r}: expected AXIS=VALUE, e.g. --filter batch=1")
        if axis != "workload" and axis not in ALL_PARAMS:
            raise UsageError(
                f"--filter {f!r}: unknown axis {axis!r} "
                f"(axes are workload, {', '.join(sorted(ALL_PARAMS))})"
            )
        problem = _filter_value_problem(axis, value.strip())
        if problem:
            raise UsageError(f"--filter {f!r}: {problem}")
        wanted.setdefault(axis, []).append(value.strip())

    def text(v: Any) -> str:
        return str(v).lower() if isinstance(v, bool) else str(v)

    def matches(case: Case) -> bool:
        for axis, values in wanted.items():
            actual = case.workload if axis == "workload" else case.params.get(axis)
            if actual is None and axis != "threads":
                return False
            if not any(text(actual) == v or _numeric_equal(actual, v) for v in values):
                return False
        return True

    return [c for c in cases if matches(c)]


def _filter_value_problem(axis: str, value: str) -> str | None:
    """What is wrong with a --filter value, checked as a suite's value would be."""
    if axis == "workload":
        return None if value in WORKLOADS else f"unknown workload {value!r}"
    spec = next(WORKLOADS[w][axis] for w in WORKLOADS if axis in WORKLOADS[w])
    parsed: Any = value
    try:
        if spec.type is bool:
            if value.lower() not in ("true", "false"):
                raise ValueError
            parsed = value.lower() == "true"
        elif spec.type in (int, float):
            parsed = spec.type(value)
    except ValueError:
        kind = {bool: "true or false", int: "an integer", float: "a number"}[spec.type]
        return f"expected {kind}, got {value!r}"
    return spec.validate(parsed)[1]


def _numeric_equal(actual: Any, value: str) -> bool:
    if isinstance(actual, bool) or not isinstance(actual, int | float):
        return False
    try:
        return float(value) == float(actual)
    except ValueError:
        return False
