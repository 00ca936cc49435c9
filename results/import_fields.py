"""Typed, range-checked look-ups in a parsed JSON file, raising ImportFormatError."""

from __future__ import annotations

import math
from typing import Any

from results.errors import ImportFormatError
from results.limits import char_problem, int_problem, json_problem, shown, text_problem

MAX_SECONDS = 1e9  # one call or round timed at ~31 years: beyond it, statistics overflow
TIME_RANGE = f"a finite time in seconds from 0 to {MAX_SECONDS:,.0f}"


class Fields:
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
        if not isinstance(value, kind) or (kind in (int, float, (int, float)) and is_bool(value)):
            raise self.error(where, f"expected {_expected(kind)}, got {kind_of(value)}")
        return value

    def number(self, obj: dict[str, Any], key: str, where: str, *, required: bool = True) -> Any:
        value = self.get(obj, key, (int, float), required=required, where=where)
        if value is None:
            return None
        if not is_time(value):
            raise self.error(where, f"expected {TIME_RANGE}, got {shown(value)}")
        return float(value)  # an int beyond 64 bits would not bind to a REAL/DOUBLE column

    def integer(
        self, obj: dict[str, Any], key: str, where: str, low: int, high: int, *, required: bool
    ) -> int | None:
        """An integer field within a database column's range (named in the message)."""
        value = self.get(obj, key, int, required=required, where=where)
        if value is not None and (problem := int_problem(value, low, high)):
            raise self.error(where, problem)
        return value

    def text(self, value: Any, where: str, max_length: int, *, controls: bool = False) -> str:
        """A string stored in a column of ``max_length`` characters: no NUL, and no
        control characters unless ``controls``."""
        if isinstance(value, str) and controls:
            problem = char_problem(value, controls=True)
            if problem is None and len(value) > max_length:
                problem = f"{len(value):,} characters, over the limit of {max_length:,}"
        else:
            problem = text_problem(value, max_length)
        if problem:
            raise self.error(where, problem)
        return value

    def json(self, value: Any, where: str) -> Any:
        """A value stored as JSON: finite numbers, 64-bit integers, no NUL, not too deep."""
        found = json_problem(value, where)
        if found:
            raise self.error(*found)
        return value


def is_time(value: int | float) -> bool:
    """A finite number of seconds from 0 to MAX_SECONDS (an int beyond float range is not)."""
    try:
        return math.isfinite(value) and 0 <= value <= MAX_SECONDS
    except OverflowError:
        return False


def is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def kind_of(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else f"{type(value).__name__} {shown(value)}"
    )


def _expected(kind: type | tuple[type, ...]) -> str:
    names = {dict: "an object", list: "a list", str: "a string", int: "an integer"}
    if kind == (int, float):
        return "a number"
    return names.get(kind, str(kind)) if isinstance(kind, type) else "a number"
