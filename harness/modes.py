"""Execution modes: how a case's module is run (the ``mode`` parameter).

- ``eager``: the module called as it is;
- ``compile``: ``torch.compile(module)``; the first call compiles, and its time is stored
  as ``compile_s``, apart from the samples. A machine whose compiler does not work (no
  C++ compiler for inductor on CPU, no triton on CUDA) gets a skipped row saying why;
- ``cuda_graph``: the call captured once in a CUDA graph and replayed, which removes the
  launch overhead of every kernel; CUDA only (skipped elsewhere).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

Call = Callable[[], torch.Tensor]


class ModeUnavailable(Exception):
    """This machine cannot run the mode (a skipped row, not a failure)."""


@dataclass
class Wrapped:
    call: Call
    compile_s: float | None = None


def unavailable(mode: str, device: str) -> str | None:
    """Why ``mode`` cannot run on ``device`` at all, before anything is built."""
    if mode == "cuda_graph" and not device.startswith("cuda"):
        return f"mode cuda_graph needs a CUDA device (this case runs on {device})"
    return None


def wrap(mode: str, module: torch.nn.Module, x: torch.Tensor) -> Wrapped:
    """The call that times ``module(x)`` in ``mode``; raises ModeUnavailable."""
    if mode == "eager":
        return Wrapped(lambda: module(x))
    if mode == "compile":
        return _compiled(module, x)
    if mode == "cuda_graph":
        return _graphed(module, x)
    raise ValueError(f"unknown mode {mode!r}")


def _compiled(module: torch.nn.Module, x: torch.Tensor) -> Wrapped:
    if problem := toolchain_problem(x.device.type):
        raise ModeUnavailable(problem)
    compiled = torch.compile(module)
    t0 = time.perf_counter()
    compiled(x)  # compiles; its time is not a sample. An error here is the case's own.
    if x.is_cuda:
        torch.cuda.synchronize(x.device)
    return Wrapped(lambda: compiled(x), time.perf_counter() - t0)


@functools.cache
def toolchain_problem(device_type: str) -> str | None:
    """Why torch.compile cannot work on this device type here (no C++ compiler for
    inductor's CPU code, no triton for its GPU code), or None. Probed once per process on
    a trivial function, so that an error compiling a case's own module is a failure of
    that case (a lowering bug is worth seeing), not a skipped row."""
    try:
        probe = torch.compile(lambda t: t * 2 + 1)
        with torch.inference_mode():
            probe(torch.ones(8, device=device_type))
    except Exception as e:  # noqa: BLE001 - any failure here is the toolchain's
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        return f"torch.compile does not work here: {type(e).__name__}: {first[:300]}"
    return None


def _graphed(module: torch.nn.Module, x: torch.Tensor) -> Wrapped:
    if not x.is_cuda:
        raise ModeUnavailable(f"mode cuda_graph needs a CUDA device (this case is on {x.device})")
    # Warm up on a side stream (cuDNN autotuning, lazy allocations), as torch's docs ask.
    side = torch.cuda.Stream(x.device)
    side.wait_stream(torch.cuda.current_stream(x.device))
    with torch.cuda.stream(side):
        for _ in range(3):
            module(x)
    torch.cuda.current_stream(x.device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = module(x)  # a static output tensor, refilled by every replay

    def replay() -> torch.Tensor:
        graph.replay()
        return out

    return Wrapped(replay)
