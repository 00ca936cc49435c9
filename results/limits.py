"""Limits of what bench accepts as input, checked where the input enters.

The database has bounded columns (names of at most 255 characters, 64-bit integers) and
PostgreSQL refuses a NUL in text; files named on the command line may be FIFOs, devices
or huge. Each check here says what is wrong and names the limit, so the caller can raise
its own error (``SuiteError``, ``ImportFormatError``, ``UsageError``) naming the file,
key or option, before anything is written. No torch, no SQLAlchemy.
"""

from __future__ import annotations

import math
import os
import re
import stat
from typing import Any

from results.errors import UsageError

MAX_NAME_LENGTH = 255  # runs.suite, runs.label, runs.group: VARCHAR(255)
MAX_KEY_LENGTH = 64  # results.case_key, results.workload, runs.commit: VARCHAR(64)
INT32_MAX = 2**31 - 1  # INTEGER columns: n_samples, calls_per_sample, planned
INT64_MAX = 2**63 - 1  # BIGINT columns: macs, parameters, bytes
MAX_JSON_DEPTH = 64  # nesting of a stored JSON value (params, environment)

MiB = 1024 * 1024
MAX_SUITE_BYTES = 1 * MiB  # a suite is a page of TOML; the largest built-in is ~2 KiB
MAX_IMPORT_BYTES = 256 * MiB  # pytest-benchmark JSON with --benchmark-save-data

# C0 controls, DEL and C1 controls: NUL breaks PostgreSQL text, the rest break tables.
# A lone surrogate (from a JSON escape such as "\ud800") cannot be encoded at all.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def char_problem(value: str, *, controls: bool = False) -> str | None:
    """A character no database can store (NUL, a lone surrogate) or, unless ``controls``,
    any control character; None when there is none."""
    m = (_UNSTORABLE if controls else _CONTROL).search(value)
    if m is None:
        return None
    code = ord(m.group())
    if 0xD800 <= code <= 0xDFFF:
        return f"contains a lone surrogate U+{code:04X} (not valid Unicode)"
    if code == 0:
        return "contains a NUL character" if controls else "contains the control character U+0000"
    return f"contains the control character U+{code:04X}"


def shown(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut to about ``limit`` characters: messages stay one paragraph."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    try:
        text = repr(value)
    except ValueError:  # an int of more than 4,300 digits has no repr
        return f"an integer of {value.bit_length():,} bits"
    return text if len(text) <= limit else f"{text[: limit - 3]}...{text[-1]}"


def text_problem(value: Any, max_length: int = MAX_NAME_LENGTH) -> str | None:
    """What keeps ``value`` from being a stored name (suite, label, group), or None."""
    if not isinstance(value, str):
        return f"expected a string, got {shown(value)}"
    if len(value) > max_length:
        return f"{len(value):,} characters, over the limit of {max_length}"
    problem = char_problem(value)
    return f"{problem} (not allowed in names)" if problem else None


def check_option_name(option: str, value: str | None) -> None:
    """Raise ``UsageError`` when an option's value (``--label``, ``--group``) cannot be
    stored as a run's name. None (option not given) is fine."""
    if value is None:
        return
    problem = text_problem(value)
    if problem is None and not value.strip():
        problem = "empty"
    if problem:
        raise UsageError(f"{option} {shown(value)}: {problem}")


def int_problem(value: Any, low: int, high: int) -> str | None:
    """An integer (not a boolean) from ``low`` to ``high``, or what is wrong."""
    if isinstance(value, bool) or not isinstance(value, int):
        return f"expected an integer, got {shown(value)}"
    if not low <= value <= high:
        return f"expected an integer from {low:,} to {high:,}, got {shown(value)}"
    return None


def json_problem(value: Any, where: str) -> tuple[str, str] | None:
    """The first part of a JSON-like value that the store cannot keep, as (path, what).

    Stored JSON (params, environment) must have finite numbers (PostgreSQL's JSON has no
    NaN or Infinity), integers within 64 bits, no NUL in strings or keys (PostgreSQL
    cannot read ``\\u0000`` back as text) and a nesting of at most ``MAX_JSON_DEPTH``.
    Walked without recursion, so a deep value cannot crash the check itself.
    """
    stack: list[tuple[Any, str, int]] = [(value, where, 0)]
    while stack:
        v, path, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return path, f"nested more than {MAX_JSON_DEPTH} levels deep"
        if isinstance(v, dict):
            for k, item in v.items():
                if not isinstance(k, str) or char_problem(k, controls=True):
                    return path, f"key {shown(k)}: not a string without NUL or lone surrogates"
                stack.append((item, f"{path}.{k}" if path else k, depth + 1))
        elif isinstance(v, list | tuple):
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(v))
        elif isinstance(v, bool) or v is None:
            continue
        elif isinstance(v, int):
            if not -INT64_MAX - 1 <= v <= INT64_MAX:
                return path, f"integer {shown(v)} does not fit in 64 bits"
        elif isinstance(v, float):
            if not math.isfinite(v):
                return path, f"{v!r} is not a finite number"
        elif isinstance(v, str):
            if problem := char_problem(v, controls=True):
                return path, problem
        else:
            return path, f"unsupported value {shown(v)}"
    return None


class FileRefused(Exception):
    """A file that is not read: not a regular file, too large, or unreadable."""


def read_capped(
    path: str | os.PathLike[str], cap: int, what: str = "file"
) -> tuple[bytes, os.stat_result]:
    """The bytes of a regular file of at most ``cap`` bytes, and its stat.

    A FIFO is never opened (opening one blocks until a writer comes), nor a device such as
    /dev/zero, a directory or a socket: ``os.stat`` decides before ``open``. The file is
    opened non-blocking and checked again (it may have been swapped in between), and at
    most ``cap + 1`` bytes are read, so a file that grows while it is read is refused too.
    Raises ``FileRefused`` with a message that does not repeat the path, e.g. "cannot read
    suite file (No such file or directory)" (``what`` = "suite file").
    """
    try:
        st = os.stat(path)
    except (OSError, ValueError) as e:  # ValueError: a NUL in the path
        raise FileRefused(f"cannot read {what} ({_reason(e)})") from None
    _check_kind(st, cap, what)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise FileRefused(f"cannot read {what} ({_reason(e)})") from None
    try:
        st = os.fstat(fd)
        _check_kind(st, cap, what)
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(cap + 1)
    except OSError as e:
        raise FileRefused(f"cannot read {what} ({_reason(e)})") from None
    finally:
        os.close(fd)
    if len(data) > cap:
        raise FileRefused(f"{what} larger than the limit of {_size(cap)}")
    return data, st


def _reason(e: Exception) -> str:
    return (e.strerror if isinstance(e, OSError) else None) or str(e)


def _check_kind(st: os.stat_result, cap: int, what: str) -> None:
    mode = st.st_mode
    if stat.S_ISREG(mode):
        if st.st_size > cap:
            raise FileRefused(
                f"{what} of {_size(st.st_size)}, larger than the limit of {_size(cap)}"
            )
        return
    if stat.S_ISDIR(mode):
        kind = "a directory"
    elif stat.S_ISFIFO(mode):
        kind = "a FIFO (named pipe)"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        kind = "a device"
    elif stat.S_ISSOCK(mode):
        kind = "a socket"
    else:
        kind = "a special file"
    raise FileRefused(f"is {kind}, not a regular file: not read as a {what}")


def _size(n: int) -> str:
    if n >= MiB:
        return f"{n / MiB:,.1f} MiB" if n % MiB else f"{n // MiB:,} MiB"
    return f"{n:,} bytes"
