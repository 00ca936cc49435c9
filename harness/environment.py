"""What a run ran on (DESIGN.md 4); results.fingerprint says which runs compare."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any


def capture(devices: set[str] | None = None) -> dict[str, Any]:
    """The machine and software a run ran on.

    Every GPU of the machine is described, whatever devices the run uses, so that one
    machine has one fingerprint (a CPU-only run and a mixed run compare); the facts of
    each case's own device go with its result (``device_facts``).
    """
    import torch

    from harness import allocator, memory, system

    env: dict[str, Any] = {
        "hostname": socket.gethostname(),
        "os": platform.platform(),
        "machine": platform.machine(),
        "python": sys.version.split()[0],
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "torch_git": getattr(torch.version, "git_version", None),
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "allow_tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
        "allow_tf32_cudnn": torch.backends.cudnn.allow_tf32,
        "bench_commit": git_commit(Path(__file__).resolve().parent.parent),
        "devices": sorted(devices or ()),
        "allocator": allocator.describe(),
        "peak_memory_method": {"cpu": memory.CPU_METHOD, "cuda": memory.CUDA_METHOD},
        **system.settings(),
    }
    gpus = gpu_facts(torch)
    if gpus:
        env["gpus"] = gpus
        # The first GPU's name and capability, as older runs recorded them.
        env["gpu_name"] = gpus[0]["name"]
        env["gpu_capability"] = gpus[0]["capability"]
        env["gpu_names"] = sorted({g["name"] for g in gpus})
        env["gpu_count"] = len(gpus)
        env["driver"] = gpus[0].get("driver")
    return env


def gpu_facts(torch: Any) -> list[dict[str, Any]]:
    """One entry per CUDA device of the machine (empty without CUDA)."""
    if not torch.cuda.is_available():
        return []
    from harness import nvml

    out = []
    for index in range(torch.cuda.device_count()):
        out.append({**device_properties(torch, index), **nvml.facts(index)})
    return out


def device_properties(torch: Any, index: int) -> dict[str, Any]:
    props = torch.cuda.get_device_properties(index)
    return {
        "index": index,
        "name": props.name,
        "capability": f"{props.major}.{props.minor}",
        "sm_count": props.multi_processor_count,
        "memory_bytes": props.total_memory,
        "l2_bytes": getattr(props, "L2_cache_size", None),
        "uuid": str(getattr(props, "uuid", "")) or None,
    }


def case_device_facts(device: str, dtype: str) -> dict[str, Any]:
    """The facts of the device a case ran on, and the math mode its convolutions used
    (which roof of the roofline applies: TF32 tensor cores for float32 on Ampere+)."""
    import torch

    if device.startswith("cuda"):
        dev = torch.device(device)
        index = dev.index if dev.index is not None else torch.cuda.current_device()
        facts = {"device": device, **device_properties(torch, index)}
        major = torch.cuda.get_device_properties(index).major
        tf32 = dtype == "float32" and major >= 8 and torch.backends.cudnn.allow_tf32
        facts["math_mode"] = "float32+tf32" if tf32 else dtype
        return facts
    return {"device": device, "threads": torch.get_num_threads(), "math_mode": dtype}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit(path: Path) -> str | None:
    """The commit of the checkout that holds `path`, or None for an installed package."""
    try:
        out = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
