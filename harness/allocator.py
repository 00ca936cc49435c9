"""Hold the CPU allocator in a steady state, so a case's time does not depend on history.

With glibc's default malloc, a tensor above the *dynamic* mmap threshold is mmapped and
its pages are faulted in on every call, or it is carved from the heap and reused: which
one depends on what the process allocated and freed before. Measured on a 2-core VM
(torch 2.13 CPU): `separable[channels=64,batch=8,threads=1]` took 3.4 or 8.5 ms per call
in one process, with 0 or 3,104 page faults per call; a 1x1 conv on 8x256x56x56 took
27 ms (15,000 faults per call) by default and 9.5 ms pinned. Pinning the thresholds with
``mallopt`` (what ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` do) keeps every
block under 1 GiB in the heap and the heap from being trimmed: no faults per call,
whatever ran before. jemalloc (tried via LD_PRELOAD) was steady but faulted on every
large allocation (3x slower on the conv above), so glibc pinned is the choice; a
jemalloc or tcmalloc that the user preloads is detected and left alone.

Call :func:`hold_steady` in a fresh worker process before torch allocates anything.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any

M_TRIM_THRESHOLD = -1  # glibc <malloc.h>
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 1 << 30  # blocks below 1 GiB come from the heap and are reused
TRIM_THRESHOLD = 2**31 - 1  # mallopt takes an int: never give freed memory back

_state: dict[str, Any] | None = None


def preloaded() -> str | None:
    """jemalloc or tcmalloc mapped into this process (LD_PRELOAD), if any."""
    try:
        with open("/proc/self/maps") as f:
            maps = f.read()
    except OSError:
        return None
    for name in ("jemalloc", "tcmalloc"):
        if f"lib{name}" in maps:
            return name
    return None


def hold_steady() -> dict[str, Any]:
    """Pin glibc malloc's thresholds (once per process); describe the allocator."""
    global _state
    if _state is not None:
        return _state
    other = preloaded()
    if other:
        _state = {"name": other, "steady": True, "how": "preloaded"}
        return _state
    libc_name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(libc_name)
        mallopt = libc.mallopt
        libc.gnu_get_libc_version.restype = ctypes.c_char_p
        version = libc.gnu_get_libc_version()
    except (OSError, AttributeError, TypeError):  # not glibc (musl, macOS): cannot pin
        _state = {"name": "system", "steady": False, "how": "default (not glibc)"}
        return _state
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    pinned = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
    _state = {
        "name": f"glibc {version.decode() if version else '?'}",
        "steady": pinned,
        "how": f"mallopt mmap_threshold={MMAP_THRESHOLD} trim_threshold={TRIM_THRESHOLD}"
        if pinned
        else "mallopt refused: default dynamic thresholds",
    }
    return _state


def describe() -> str:
    """One line for the environment (and the fingerprint): which allocator, how held."""
    state = _state or {"name": "unknown", "steady": False, "how": "not set up"}
    steady = "steady" if state["steady"] else "NOT steady"
    return f"{state['name']} ({steady}: {state['how']})"


def page_faults() -> int:
    """Minor page faults of this process so far (a steady allocator adds none per call)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
