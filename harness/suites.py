"""Suite files: loading, validation and cartesian expansion into cases (no torch).

Validation collects every problem before raising, so a user fixes a suite in one pass.

Hostile or mistaken input is refused with a message, never a crash or a runaway:

- a suite file is read only when it is a regular file of at most ``MAX_SUITE_BYTES``
  (``results.limits``: a FIFO is never opened, /dev/zero never read);
- brackets nested more than ``MAX_TOML_DEPTH`` levels are refused before ``tomllib``
  (which recurses once per level) sees them;
- axis values are scalars (a string of at most ``MAX_VALUE_LENGTH`` characters, a number
  or a boolean), each checked against its parameter's bounds (``harness.params``);
- the number of combinations is computed from the axis sizes *before* anything is
  expanded: at most ``MAX_CASES`` per sweep and for the whole suite;
- a case whose cost-model MACs, bytes or parameters exceed a 64-bit integer (the store's
  BIGINT) is refused, the first one of each sweep named;
- the suite's name is a stored name: at most 255 characters, no control characters.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import math
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from harness.cases import Case
from harness.params import ALL_PARAMS, WORKLOADS, cross_check, fill_defaults
from harness.timing_config import TIMING_KEYS, TimingOverrides
from results.errors import SuiteError
from results.limits import (
    INT64_MAX,
    MAX_SUITE_BYTES,
    FileRefused,
    read_capped,
    shown,
    text_problem,
)

TOP_KEYS = {"name", "description", "timing", "sweep"}

MAX_CASES = 1_000_000  # combinations per sweep and per suite, counted before expanding
MAX_TOML_DEPTH = 16  # brackets nested deeper than this: a suite needs 3 at most
MAX_VALUE_LENGTH = 255  # characters of a string value (device, dtype, workload, ...)
MAX_DESCRIPTION_LENGTH = 10_000  # characters of the description


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
            data, _ = read_capped(path, MAX_SUITE_BYTES, "suite file")
        except FileRefused as e:
            raise SuiteError(f"{ref}: {e}") from None
        return parse_suite(data, source=ref, default_name=path.stem)
    if ref not in builtin_names():
        raise SuiteError(
            f"unknown suite '{ref}': built-in suites are {', '.join(builtin_names())}; "
            "or give a path ending in .toml"
        )
    data = resources.files("suites").joinpath(f"{ref}.toml").read_bytes()
    return parse_suite(data, source=f"suites/{ref}.toml", default_name=ref)


def parse_suite(data: bytes, *, source: str, default_name: str) -> Suite:
    if len(data) > MAX_SUITE_BYTES:
        raise SuiteError(f"{source}: larger than the limit of {MAX_SUITE_BYTES:,} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SuiteError(f"{source}: not a UTF-8 text file") from None
    line = _too_deep(text, MAX_TOML_DEPTH)
    if line is not None:
        raise SuiteError(
            f"{source}: line {line}: brackets nested more than {MAX_TOML_DEPTH} levels deep "
            "(a suite needs 3 at most)"
        )
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SuiteError(f"{source}: invalid TOML: {e}") from None
    except ValueError as e:  # an integer of more digits than Python converts
        raise SuiteError(f"{source}: invalid TOML: {str(e).split(':')[0]}") from None
    except RecursionError:  # the pre-scan should have caught it; never a traceback
        raise SuiteError(f"{source}: nested too deeply to be a suite") from None

    problems: list[str] = []

    def bad(path: str, what: str) -> None:
        problems.append(f"{source}: {path}: {what}")

    for key in doc:
        if key not in TOP_KEYS:
            bad(_key(key), f"unknown key (expected one of {', '.join(sorted(TOP_KEYS))})")
    name = doc.get("name", default_name)
    if not isinstance(name, str) or not name.strip():
        bad("name", f"expected a non-empty string, got {shown(name)}")
    elif problem := text_problem(name):
        origin = "" if "name" in doc else ' (here the file\'s name; set name = "...")'
        bad("name", f"{problem}: the suite's name is stored with every run{origin}")
    description = doc.get("description", "")
    if not isinstance(description, str):
        bad("description", f"expected a string, got {shown(description)}")
    elif len(description) > MAX_DESCRIPTION_LENGTH:
        bad(
            "description",
            f"{len(description):,} characters, over the limit of {MAX_DESCRIPTION_LENGTH:,}",
        )
    timing = _parse_timing(doc.get("timing", {}), bad)

    sweeps = doc.get("sweep")
    if sweeps is None:
        bad("sweep", "missing: a suite needs at least one [[sweep]] table")
        sweeps = []
    elif not isinstance(sweeps, list) or not all(isinstance(s, dict) for s in sweeps):
        bad("sweep", "expected [[sweep]] tables")
        sweeps = []

    # Every sweep is validated and its combinations counted before any is expanded: a
    # product of axes is refused from its size, never discovered by running out of memory.
    plans = [_check_sweep(sweep, f"sweep[{i}]", bad) for i, sweep in enumerate(sweeps)]
    total = sum(p.combinations for p in plans if p is not None)
    if total > MAX_CASES and all(p is None or p.combinations <= MAX_CASES for p in plans):
        bad(
            "sweep",
            f"the sweeps together make {total:,} combinations, over the limit of "
            f"{MAX_CASES:,} cases; split the suite",
        )
    if total > MAX_CASES:
        plans = []

    # A case listed by two sweeps runs once. Deduplicated on the identity itself: hashing
    # a tuple is far cheaper than the digest, which is computed only when asked for.
    cases: dict[tuple, Case] = {}
    for plan in plans:
        if plan is None:
            continue
        for case in _expand(plan, bad):
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
            bad(f"timing.{_key(key)}", f"unknown key (expected one of {', '.join(TIMING_KEYS)})")
            continue
        problem = _scalar_problem(value)
        if problem:
            bad(f"timing.{key}", problem)
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


def _key(key: str) -> str:
    """A key as it appears in a message: a long or odd one is shortened and quoted."""
    return key if re.fullmatch(r"[A-Za-z0-9_-]{1,64}", key) else shown(key)


def _scalar_problem(value: Any) -> str | None:
    """Axis and exclude values are single scalars: hashable, comparable, bounded."""
    if isinstance(value, list | dict):
        return f"expected a single value, got {shown(value)} (an axis is one flat list)"
    if isinstance(value, str) and len(value) > MAX_VALUE_LENGTH:
        return f"a string of {len(value):,} characters, over the limit of {MAX_VALUE_LENGTH}"
    if isinstance(value, int) and not -INT64_MAX - 1 <= value <= INT64_MAX:
        return f"the integer {shown(value)} does not fit in 64 bits (TOML's integers)"
    return None


@dataclass
class _Plan:
    """A validated sweep: what to multiply out, and how many combinations that makes."""

    where: str
    workloads: list[str]
    keys: list[str]
    axes: dict[str, list[Any]]
    excludes: list[dict[str, Any]]
    combinations: int


def _check_sweep(sweep: dict[str, Any], where: str, bad) -> _Plan | None:
    """Validate one sweep (every problem reported) and count its combinations; None when
    it has a problem."""
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
        return None
    if not workloads:
        fail(f"{where}.workload", "empty axis: a list needs at least one value")
    valid_workloads: list[str] = []
    for j, w in enumerate(workloads):
        path = f"{where}.workload[{j}]" if len(workloads) > 1 else f"{where}.workload"
        if not isinstance(w, str):
            fail(path, f"expected a workload name (a string), got {shown(w)}")
        elif w not in WORKLOADS:
            fail(path, f"unknown workload {shown(w)} (expected {', '.join(WORKLOADS)})")
        elif w not in valid_workloads:
            valid_workloads.append(w)

    # Validate each value of each axis once, coercing it to the parameter's type.
    for key, values in list(axes.items()):
        if key == "workload":
            continue
        path = f"{where}.{_key(key)}"
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
            vpath = f"{path}[{j}]" if isinstance(sweep[key], list) else path
            problem = _scalar_problem(v)
            if problem is None:
                v, problem = spec.validate(v)
            if problem:
                fail(vpath, problem)
            coerced.append(v)
        axes[key] = coerced

    for j, ex in enumerate(excludes):
        if not ex:
            fail(f"{where}.exclude[{j}]", "empty exclude table: it would exclude every case")
        for key, value in ex.items():
            path = f"{where}.exclude[{j}].{_key(key)}"
            values = _axis(value)
            problem = next(filter(None, map(_scalar_problem, values)), None)
            if problem:
                fail(path, problem)
                continue
            if key == "workload":
                for w in values:
                    if w not in valid_workloads:
                        fail(path, f"{shown(w)} is not a workload of this sweep")
                continue
            specs = [WORKLOADS[w][key] for w in valid_workloads if key in WORKLOADS[w]]
            if not specs:
                fail(path, "unknown key: not a parameter of this sweep's workloads")
                continue
            for v in values:
                _, problem = specs[0].validate(v)
                if problem:
                    fail(path, problem)

    required = {name for w in valid_workloads for name, p in WORKLOADS[w].items() if p.required}
    for name in sorted(required - axes.keys()):
        fail(f"{where}.{name}", "missing: required by " + ", ".join(valid_workloads))
    if not ok:
        return None

    keys = [k for k in axes if k != "workload"]
    sizes = [len(valid_workloads), *(len(axes[k]) for k in keys)]
    combinations = math.prod(sizes)
    if combinations > MAX_CASES:
        bad(
            where,
            f"{combinations:,} combinations ({' x '.join(map(str, sizes))}) exceed the limit "
            f"of {MAX_CASES:,} cases; split the sweep or shorten its axes",
        )
    return _Plan(where, valid_workloads, keys, axes, excludes, combinations)


def _expand(plan: _Plan, bad) -> list[Case]:
    """The cases of a validated sweep; [] (and a problem) at its first impossible case."""
    from harness.costmodel import cost

    keys, axes, excludes = plan.keys, plan.axes, plan.excludes
    cases: list[Case] = []
    for workload in plan.workloads:
        for combo in itertools.product(*(axes[k] for k in keys)):
            params = dict(zip(keys, combo, strict=True))
            full = fill_defaults(workload, params)
            if any(_matches(ex, workload, full) for ex in excludes):
                continue
            problem = cross_check(workload, full) or _cost_problem(cost(workload, full))
            if problem:
                bad(plan.where, f"{workload} with {params}: {problem}")
                return []
            cases.append(Case(workload, full))
    return cases


def _cost_problem(c: Any) -> str | None:
    """A case the store cannot hold: its cost model's counts exceed 64-bit integers."""
    counts = {f.name: getattr(c, f.name) for f in dataclasses.fields(c)}
    for what, value in counts.items():
        if isinstance(value, int) and value > INT64_MAX:
            what = "MACs" if what == "macs" else what.replace("_", " ")
            return (
                f"its {what} ({value:,}, from the cost model) exceed the limit of "
                f"{INT64_MAX:,} (a 64-bit integer); make the case smaller"
            )
    return None


_BRACKETS = re.compile(
    r'"""(?:\\.|[^\\])*?"""'  # multi-line basic string
    r"|'''.*?'''"  # multi-line literal string
    r'|"(?:\\.|[^"\\\n])*"'  # basic string
    r"|'[^'\n]*'"  # literal string
    r"|#[^\n]*"  # comment
    r"|[\[\]{}]",  # brackets of arrays, tables and inline tables
    re.DOTALL,
)


def _too_deep(text: str, limit: int) -> int | None:
    """The line where brackets (arrays, inline tables) nest deeper than ``limit``, or None.

    A scan that skips strings and comments, without recursion: ``tomllib`` recurses once
    per level and would hit Python's recursion limit on a hostile file.
    """
    if text.count("[") + text.count("{") <= limit:
        return None
    depth = 0
    for m in _BRACKETS.finditer(text):
        token = m.group()
        if token in ("[", "{"):
            depth += 1
            if depth > limit:
                return text.count("\n", 0, m.start()) + 1
        elif token in ("]", "}"):
            depth = max(0, depth - 1)
    return None


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
