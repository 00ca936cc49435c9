"""The workloads and their parameters: names, types, defaults and allowed values.

No torch here: suite validation, case expansion and ``bench list`` use this table and
must stay instant. ``harness.workloads`` builds the modules these names stand for.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DTYPES = ("float32", "float16", "bfloat16")
DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}
MEMORY_FORMATS = ("contiguous", "channels_last")
CONV_KINDS = ("standard", "separable")
MODES = ("eager", "compile", "cuda_graph")  # how the module is executed

# A checker returns None when the value is fine, or "what was expected".
Check = Callable[[Any], str | None]


MAX_INT = 2**31 - 1  # the most any integer parameter without its own bound may be

# Bounds of each value (inclusive). Each is beyond any real network or benchmark, yet small
# enough that a case stays something a machine could run; a case whose cost-model MACs or
# bytes still exceed a 64-bit integer is refused as a whole (harness.suites).
MAX_BATCH = 65_536
MAX_CHANNELS = 65_536  # channels, channels_out
MAX_SIZE = 16_384  # spatial size of a layer's input (size x size)
MAX_KERNEL = 31  # the largest kernels in use (RepLKNet) are 31x31
MAX_STRIDE = 64
MAX_EXPAND = 64  # inverted residual expansion (MobileNet v2 uses 6)
MAX_THREADS = 4_096
MIN_ALPHA, MAX_ALPHA = 0.01, 4.0  # width multiplier (the papers use 0.25 to 1.4)
MIN_RESOLUTION, MAX_RESOLUTION = 32, 8_192
MAX_CLASSES = 1_000_000
MAX_DEVICE_INDEX = 1_023


def _positive(v: Any) -> str | None:
    if isinstance(v, int) and v > MAX_INT:
        return f"a positive number up to {MAX_INT:,}"
    return None if 0 < v < math.inf else "a positive finite number"


def _between(low: int | float, high: int | float) -> Check:
    """An integer or number from ``low`` to ``high``; the message names both bounds."""

    def check(v: Any) -> str | None:
        if isinstance(v, float) and not math.isfinite(v):
            return f"a finite number from {low:,} to {high:,}"
        if low <= v <= high:
            return None
        if low == 1 and isinstance(low, int):
            return f"a positive integer up to {high:,}"
        return f"from {low:,} to {high:,}"

    return check


_DEVICE = re.compile(r"(cpu|(cuda|mps)(:(0|[1-9][0-9]{0,3}))?)")  # at most 4 digits


def _device(v: str) -> str | None:
    m = _DEVICE.fullmatch(v)
    if m and (m.group(4) is None or int(m.group(4)) <= MAX_DEVICE_INDEX):
        return None
    return f"cpu, cuda, cuda:N or mps, N from 0 to {MAX_DEVICE_INDEX:,}"


def _odd(v: int) -> str | None:
    if 1 <= v <= MAX_KERNEL and v % 2 == 1:
        return None
    return f"an odd kernel size from 1 to {MAX_KERNEL}: 1, 3, 5, ..."


def _choice(*options: str) -> Check:
    def check(v: str) -> str | None:
        return None if v in options else ", ".join(options)

    check.options = options  # type: ignore[attr-defined]
    return check


@dataclass(frozen=True)
class Param:
    name: str
    type: type  # int, float, str or bool
    default: Any  # None: derived (channels_out = channels) or "not set" (threads: all cores)
    check: Check | None = None
    required: bool = False
    nullable: bool = False  # None is an allowed value (threads)

    def validate(self, value: Any) -> tuple[Any, str | None]:
        """Coerce ``value`` to this parameter's type; return (value, problem)."""
        if value is None and self.nullable:
            return None, None
        if self.type is bool:
            if not isinstance(value, bool):
                return value, f"expected true or false, got {value!r}"
        elif self.type is int:
            if isinstance(value, bool) or not isinstance(value, int):
                return value, f"expected an integer, got {value!r}"
        elif self.type is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                return value, f"expected a number, got {value!r}"
            value = float(value)
        elif self.type is str and not isinstance(value, str):
            return value, f"expected a string, got {value!r}"
        if self.check is not None:
            expected = self.check(value)
            if expected is not None:
                return value, f"bad {self.name} {value!r} (expected {expected})"
        return value, None


def _p(name: str, type_: type, default: Any, check: Check | None = None, **kw: Any) -> Param:
    return Param(name, type_, default, check, **kw)


COMMON = (
    _p("batch", int, 1, _between(1, MAX_BATCH)),
    _p("device", str, "cpu", _device),
    _p("dtype", str, "float32", _choice(*DTYPES)),
    _p("memory_format", str, "contiguous", _choice(*MEMORY_FORMATS)),
    _p("threads", int, None, _between(1, MAX_THREADS), nullable=True),  # None: all cores
    _p("cudnn_benchmark", bool, True),
    _p("mode", str, "eager", _choice(*MODES)),
)

GEOMETRY = (
    _p("channels", int, None, _between(1, MAX_CHANNELS), required=True),
    _p("channels_out", int, None, _between(1, MAX_CHANNELS), nullable=True),  # None: = channels
    _p("size", int, 56, _between(1, MAX_SIZE)),
    _p("kernel", int, 3, _odd),
    _p("stride", int, 1, _between(1, MAX_STRIDE)),
)

NETWORK = (
    _p("alpha", float, 1.0, _between(MIN_ALPHA, MAX_ALPHA)),
    _p("resolution", int, 224, _between(MIN_RESOLUTION, MAX_RESOLUTION)),
    _p("classes", int, 1000, _between(1, MAX_CLASSES)),
)

WORKLOADS: dict[str, dict[str, Param]] = {
    name: {p.name: p for p in params + COMMON}
    for name, params in {
        "conv": GEOMETRY,
        "depthwise": GEOMETRY,
        "pointwise": GEOMETRY,
        "separable": GEOMETRY,
        "separable_block": GEOMETRY,
        "conv_block": GEOMETRY,
        "inverted_residual": GEOMETRY + (_p("expand", int, 6, _between(1, MAX_EXPAND)),),
        "mobilenet_v1": NETWORK + (_p("conv", str, "separable", _choice(*CONV_KINDS)),),
        "mobilenet_v2": NETWORK,
    }.items()
}

ALL_PARAMS: frozenset[str] = frozenset(n for ps in WORKLOADS.values() for n in ps)


def fill_defaults(workload: str, params: dict[str, Any]) -> dict[str, Any]:
    """The full parameter set of a case: every parameter of the workload, sorted by name.

    Derived defaults are resolved here (``channels_out`` = ``channels``) and 1 and 1.0
    are one alpha, so two spellings of the same case get the same identity.
    """
    template, floats = _TEMPLATES[workload]
    full = dict(template)  # sorted by name; update() keeps that order for known names
    full.update(params)
    for name in floats:
        v = full[name]
        if isinstance(v, int) and not isinstance(v, bool):
            full[name] = float(v)
    if "channels_out" in full and full["channels_out"] is None:
        full["channels_out"] = full["channels"]
    return full


# Per workload: the defaults sorted by name, and the float parameters to coerce.
# Precomputed because suite expansion calls fill_defaults once per case (100,000s).
_TEMPLATES: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    w: (
        {name: spec[name].default for name in sorted(spec)},
        tuple(name for name in sorted(spec) if spec[name].type is float),
    )
    for w, spec in WORKLOADS.items()
}


def cross_check(workload: str, params: dict[str, Any]) -> str | None:
    """Problems that involve several parameters at once (after fill_defaults)."""
    if workload == "depthwise" and params["channels_out"] != params["channels"]:
        return "depthwise needs channels_out == channels (groups = channels)"
    return None
