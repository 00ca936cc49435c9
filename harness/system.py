"""System settings that change CPU timings, read where readable (no torch; pyperf's list).

``settings()`` are properties of the machine's configuration (kept in the environment);
``state()`` is what changes from run to run (kept with the run).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_CPUFREQ = Path("/sys/devices/system/cpu")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def settings() -> dict[str, Any]:
    """CPU frequency governor, turbo/boost, transparent huge pages (None: unreadable)."""
    governors = {g for p in _CPUFREQ.glob("cpu[0-9]*/cpufreq/scaling_governor") if (g := _read(p))}
    no_turbo = _read(_CPUFREQ / "intel_pstate/no_turbo")
    boost = _read(_CPUFREQ / "cpufreq/boost")
    if no_turbo is not None:
        turbo: str | None = "off" if no_turbo == "1" else "on"
    elif boost is not None:
        turbo = "on" if boost == "1" else "off"
    else:
        turbo = None
    thp = _read(Path("/sys/kernel/mm/transparent_hugepage/enabled"))
    if thp and "[" in thp:
        thp = thp.split("[", 1)[1].split("]", 1)[0]  # "always [madvise] never" -> madvise
    return {
        "cpu_governor": ",".join(sorted(governors)) or None,
        "cpu_turbo": turbo,
        "transparent_hugepages": thp,
    }


def state() -> dict[str, Any]:
    """Load average at the start of a run, with the number of CPUs it is measured against."""
    try:
        load = list(os.getloadavg())
    except OSError:
        load = None
    from harness.contention import allowed_cpus  # sched_getaffinity, or all CPUs (macOS)

    return {"load_average": load, "cpus": len(allowed_cpus())}


def busy_warning(state: dict[str, Any]) -> str | None:
    """A warning when the machine was already busy as the run started."""
    load, cpus = state.get("load_average"), state.get("cpus") or 1
    if load and load[0] > cpus:
        return (
            f"load average {load[0]:.2f} at the start on {cpus} CPU(s): other work was "
            "running; times may be inflated"
        )
    return None
