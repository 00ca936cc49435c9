"""Measured peaks of a device, for the roofline: large matmuls and a large copy.

Measured once per run and device (not looked up in a spec sheet), so the roofline shows
what this machine actually reaches with this torch build. One roof per *math mode*, the
way the cases run: on CUDA, float32 convolutions run on TF32 tensor cores (Ampere and
newer, ``torch.backends.cudnn.allow_tf32``, on by default), so float32 gets two roofs,
``float32`` (TF32 off) and ``float32+tf32``; float16 and bfloat16 one each; on the CPU
one per dtype. Each result records its math mode (``device_facts``) and is drawn under
the roof of that mode.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch

from harness.timers import source_for

REPEATS = 5  # best of: the peak is what the device reaches, not what it usually does


@contextlib.contextmanager
def tf32_matmul(enabled: bool) -> Iterator[None]:
    before = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before


def math_modes(device: str, dtypes: list[str]) -> list[tuple[str, str, bool]]:
    """(mode name, dtype, TF32 on) for every roof to measure on ``device``."""
    cuda = device.startswith("cuda")
    out = []
    for dtype in dict.fromkeys(["float32", *dtypes]):
        out.append((dtype, dtype, False))
        if cuda and dtype == "float32" and torch.cuda.get_device_properties(device).major >= 8:
            out.append(("float32+tf32", dtype, True))
    return out


def measure_peaks(device: str, dtypes: list[str]) -> dict[str, Any]:
    cuda = device.startswith("cuda")
    n = 8192 if cuda else 2048  # large enough to reach the BLAS kernel's steady rate
    copy_bytes = (1 << 30) if cuda else (1 << 27)
    source = source_for(device)
    by_mode: dict[str, float] = {}
    with torch.inference_mode():
        for mode, name, tf32 in math_modes(device, dtypes):
            dt = getattr(torch, name)
            g = torch.Generator(device="cpu").manual_seed(0)
            a = torch.randn(n, n, generator=g).to(device=device, dtype=dt)
            b = torch.randn(n, n, generator=g).to(device=device, dtype=dt)
            with tf32_matmul(tf32):
                source.warmup(lambda a=a, b=b: a @ b, 0.2, 2)  # clocks and threads ramp up
                best = min(source.collect(lambda a=a, b=b: a @ b, 1, REPEATS))
            by_mode[mode] = n**3 / best
            del a, b
        best = _best_copy(source, device, copy_bytes)
    if cuda:
        torch.cuda.empty_cache()
    return {
        "macs_per_s": by_mode["float32"],
        # dtype -> the roof its cases run under by default (TF32 for float32 where on)
        "macs_per_s_by_dtype": {
            name: by_mode["float32+tf32"]
            if name == "float32" and "float32+tf32" in by_mode and torch.backends.cudnn.allow_tf32
            else by_mode[name]
            for _, name, _ in math_modes(device, dtypes)
        },
        "macs_per_s_by_mode": by_mode,
        "bytes_per_s": 2 * copy_bytes / best,  # a copy reads and writes every byte
        "method": f"best of {REPEATS}: {n}x{n} matmul per math mode; copy of "
        f"{copy_bytes >> 20} MiB",
    }


def _best_copy(source, device: str, nbytes: int) -> float:
    src = torch.empty(nbytes, dtype=torch.uint8, device=device).fill_(1)
    dst = torch.empty_like(src)
    source.warmup(lambda: dst.copy_(src), 0.05, 2)
    return min(source.collect(lambda: dst.copy_(src), 1, REPEATS))
