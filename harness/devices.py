"""Which devices and dtypes this machine can run: a reason to skip, or None."""

from __future__ import annotations

import functools

import torch


@functools.cache
def unavailable(device: str, dtype: str) -> str | None:
    """Why a case on (device, dtype) cannot run here, or None when it can.

    Probed once per pair with a tiny convolution, because capability tables drift
    between torch releases and backends (CPU half-precision conv, bf16 before Ampere).
    """
    base, _, index = device.partition(":")
    if base == "cuda":
        if not torch.cuda.is_available():
            return "no CUDA device on this machine"
        if index and int(index) >= torch.cuda.device_count():
            return f"{device} absent: this machine has {torch.cuda.device_count()} CUDA device(s)"
    elif base == "mps" and not torch.backends.mps.is_available():
        return "no MPS device on this machine"
    try:
        dt = getattr(torch, dtype)
        w = torch.ones(4, 1, 3, 3, device=device, dtype=dt)
        x = torch.ones(1, 4, 8, 8, device=device, dtype=dt)
        torch.nn.functional.conv2d(x, w, padding=1, groups=4)
        torch.nn.functional.conv2d(x, torch.ones(4, 4, 1, 1, device=device, dtype=dt))
    except (RuntimeError, TypeError) as e:
        return f"{dtype} convolution unsupported on {device}: {str(e).splitlines()[0]}"
    return None
