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
    import torch

    from harness import allocator, system

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
        **system.settings(),
    }
    if torch.cuda.is_available() and any(d.startswith("cuda") for d in devices or ()):
        env.update(_gpu_facts(torch))
    return env


def _gpu_facts(torch: Any) -> dict[str, Any]:
    index = torch.cuda.current_device()
    props = torch.cuda.get_device_properties(index)
    facts: dict[str, Any] = {
        "gpu_name": props.name,
        "gpu_capability": f"{props.major}.{props.minor}",
        "gpu_sm_count": props.multi_processor_count,
        "gpu_memory_bytes": props.total_memory,
        "gpu_l2_bytes": getattr(props, "L2_cache_size", None),
        "gpu_count": torch.cuda.device_count(),
    }
    # Clocks and driver come from nvidia-smi when it is there; absent is not an error.
    query = "driver_version,clocks.max.sm,clocks.max.mem,clocks.sm,power.limit"
    try:
        out = subprocess.run(
            ["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader,nounits", f"-i={index}"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        values = [v.strip() for v in out.split(",")]
        keys = [
            "driver",
            "gpu_clock_max_sm_mhz",
            "gpu_clock_max_mem_mhz",
            "gpu_clock_sm_mhz",
            "gpu_power_limit_w",
        ]
        facts.update(dict(zip(keys, values, strict=False)))
    except (OSError, subprocess.SubprocessError):
        facts["driver"] = None
    return facts


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
