"""What NVML says about a GPU: its SM clock now, its default clock, its settings.

Optional: with ``nvidia-ml-py`` installed (``pip install 'bench[gpu]'``) bench reads the
SM clock around each batch of samples and drops throttled batches (harness.timers), and
records each GPU's persistence mode, power limit and application clocks. Without it, or
where NVML fails (no driver, a container without access), everything here answers
None and timing goes on unchecked; the environment says so.

A torch CUDA index is not an NVML index when ``CUDA_VISIBLE_DEVICES`` reorders or hides
devices: GPUs are matched by UUID.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any


@functools.cache
def _nvml() -> Any | None:
    try:
        import pynvml  # nvidia-ml-py
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:  # noqa: BLE001 - no driver, no permission: NVML is unavailable
        return None
    return pynvml


def available() -> bool:
    return _nvml() is not None


def _handle(torch_index: int) -> Any | None:
    nv = _nvml()
    if nv is None:
        return None
    try:
        import torch

        uuid = str(torch.cuda.get_device_properties(torch_index).uuid)
        return nv.nvmlDeviceGetHandleByUUID(uuid if uuid.startswith("GPU-") else f"GPU-{uuid}")
    except Exception:  # noqa: BLE001 - an older torch without uuid: fall back to the index
        try:
            return nv.nvmlDeviceGetHandleByIndex(torch_index)
        except Exception:  # noqa: BLE001
            return None


@dataclass
class SmClock:
    """The SM clock of one GPU, for harness.timers.EventSource."""

    handle: Any
    default_mhz: float  # the application clock the GPU runs at unthrottled

    def sm_mhz(self) -> float | None:
        nv = _nvml()
        try:
            return float(nv.nvmlDeviceGetClockInfo(self.handle, nv.NVML_CLOCK_SM))
        except Exception:  # noqa: BLE001 - a failed read is "unknown", never a throttle
            return None


def sm_clock(torch_index: int) -> SmClock | None:
    """The clock reader of GPU ``torch_index``, or None without NVML."""
    handle = _handle(torch_index)
    if handle is None:
        return None
    nv = _nvml()
    for read in (
        lambda: nv.nvmlDeviceGetApplicationsClock(handle, nv.NVML_CLOCK_SM),
        lambda: nv.nvmlDeviceGetDefaultApplicationsClock(handle, nv.NVML_CLOCK_SM),
        lambda: nv.nvmlDeviceGetMaxClockInfo(handle, nv.NVML_CLOCK_SM),
    ):
        try:
            default = float(read())
        except Exception:  # noqa: BLE001 - not supported on this GPU: try the next
            continue
        if default > 0:
            return SmClock(handle, default)
    return None


def facts(torch_index: int) -> dict[str, Any]:
    """Settings that change timings: persistence mode, power limit, clocks, driver."""
    handle = _handle(torch_index)
    if handle is None:
        return {"nvml": "unavailable (install nvidia-ml-py to read clocks)"}
    nv = _nvml()
    out: dict[str, Any] = {"nvml": "ok"}
    reads = {
        "driver": lambda: nv.nvmlSystemGetDriverVersion(),
        "persistence_mode": lambda: nv.nvmlDeviceGetPersistenceMode(handle) == 1,
        "power_limit_w": lambda: nv.nvmlDeviceGetPowerManagementLimit(handle) / 1000,
        "application_sm_mhz": lambda: nv.nvmlDeviceGetApplicationsClock(handle, nv.NVML_CLOCK_SM),
        "default_application_sm_mhz": lambda: nv.nvmlDeviceGetDefaultApplicationsClock(
            handle, nv.NVML_CLOCK_SM
        ),
        "max_sm_mhz": lambda: nv.nvmlDeviceGetMaxClockInfo(handle, nv.NVML_CLOCK_SM),
        "max_mem_mhz": lambda: nv.nvmlDeviceGetMaxClockInfo(handle, nv.NVML_CLOCK_MEM),
    }
    for key, read in reads.items():
        try:
            value = read()
        except Exception:  # noqa: BLE001 - not supported on this GPU
            continue
        out[key] = value.decode() if isinstance(value, bytes) else value
    return out


def other_processes(torch_index: int) -> int:
    """Compute processes other than this one (and its parent) on the GPU."""
    handle = _handle(torch_index)
    if handle is None:
        return 0
    try:
        procs = _nvml().nvmlDeviceGetComputeRunningProcesses(handle)
    except Exception:  # noqa: BLE001 - unknown is not busy
        return 0
    mine = {os.getpid(), os.getppid()}
    pids = [p.pid for p in procs]
    if pids and not mine & set(pids):
        # In a container NVML reports the host's pids, so ours is not recognisable; this
        # process holds a context on the GPU, so one of the listed processes is us.
        return len(pids) - 1
    return sum(1 for p in pids if p not in mine)
