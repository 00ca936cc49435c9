"""Measured peaks of a device, for the roofline: a large matmul and a large copy.

Measured once per run and device (not looked up in a spec sheet), so the roofline shows
what this machine actually reaches with this torch build.
"""

from __future__ import annotations

from typing import Any

import torch

from harness.timers import source_for


def measure_peaks(device: str, dtypes: list[str]) -> dict[str, Any]:
    cuda = device.startswith("cuda")
    n = 8192 if cuda else 2048  # large enough to reach the BLAS kernel's steady rate
    copy_bytes = (1 << 30) if cuda else (1 << 27)
    source = source_for(device)
    by_dtype: dict[str, float] = {}
    with torch.inference_mode():
        for name in dict.fromkeys(["float32", *dtypes]):
            dt = getattr(torch, name)
            g = torch.Generator(device="cpu").manual_seed(0)
            a = torch.randn(n, n, generator=g).to(device=device, dtype=dt)
            b = torch.randn(n, n, generator=g).to(device=device, dtype=dt)
            source.warmup(lambda a=a, b=b: a @ b, 0.2, 2)  # let clocks and threads ramp up
            best = min(source.collect(lambda a=a, b=b: a @ b, 1, 5))
            by_dtype[name] = n**3 / best
            del a, b
        best = _best_copy(source, device, copy_bytes)
    if cuda:
        torch.cuda.empty_cache()
    return {
        "macs_per_s": by_dtype["float32"],
        "macs_per_s_by_dtype": by_dtype,
        "bytes_per_s": 2 * copy_bytes / best,  # a copy reads and writes every byte
        "method": f"best of 5: {n}x{n} matmul; copy of {copy_bytes >> 20} MiB",
    }


def _best_copy(source, device: str, nbytes: int) -> float:
    src = torch.empty(nbytes, dtype=torch.uint8, device=device).fill_(1)
    dst = torch.empty_like(src)
    source.warmup(lambda: dst.copy_(src), 0.05, 2)
    return min(source.collect(lambda: dst.copy_(src), 1, 5))
