"""Peak memory of one call: the bytes it allocates above what was allocated before it.

Measured in a separate, untimed pass on the prepared case after its sampling (DESIGN.md
4), so it never disturbs a sample. The input, the weights and anything else allocated
before the call are the baseline; the output, every intermediate and every workspace
(im2col columns, oneDNN's reordered copies of input, weights and output) are counted.

- **CUDA**: the caching allocator's statistics. Cache emptied, peak reset, then
  ``max_memory_allocated - memory_allocated`` around one synchronised call. Exact for
  the blocks the allocator hands out (sizes rounded up to its 512-byte granularity);
  cuDNN's and cuBLAS's workspaces come from that allocator and count.
- **Other accelerators** (MPS, XPU): the same through ``torch.accelerator`` where the
  allocator keeps a peak statistic; where it keeps none (torch 2.13's MPS allocator
  reports only what is allocated now), None.
- **CPU**: c10's CPU allocator reports every allocation and free to the profiler when
  memory profiling is on; replaying them in order gives the running total and its peak.
  Measured on torch 2.13 against an LD_PRELOAD interposer on malloc: exact to the byte
  for the storages c10 allocates (requested sizes, malloc's rounding excluded); memory
  allocated outside c10 is missed: oneDNN's primitive arguments (about 28 KB per conv
  call), MKL's packing buffers and Python objects. On the workloads that made the
  interposer's peak 0.01% to 0.3% higher from 6 MB up, and 29 KB (3.5%) higher for the
  smallest case (conv, 32 channels, batch 1: 840 KB). The profiler's state is
  thread-local: an allocation on an intra-op worker thread would be missed, but every
  allocation of these workloads is made on the calling thread (checked at 2 threads).

The legacy profiler's raw records are read first: they are silent, while kineto prints
two lines to stderr per session, once per case in every worker. Kineto's events are the
fallback for a torch without the legacy profiler.
"""

from __future__ import annotations

import gc
import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch

Call = Callable[[], object]

CPU_METHOD = "c10 CPU allocator events (profiler), replayed in order"
CUDA_METHOD = "CUDA caching allocator: max_memory_allocated above the baseline"


@dataclass(frozen=True)
class PeakMemory:
    bytes: int | None  # None: not measurable here, ``how`` says why
    how: str


def peak_memory(call: Call, device: str, mode: str = "eager") -> int | None:
    """Bytes one call of ``call`` allocates above the baseline at its peak, on ``device``
    ("cpu", "cuda", "cuda:1", "mps", ...); None when that cannot be measured."""
    return measure_peak(call, device, mode).bytes


def measure_peak(call: Call, device: str, mode: str = "eager") -> PeakMemory:
    """``peak_memory`` with how it was measured, or why it could not be. Never raises for
    the call's own failures: the case was timed already, its peak is an extra.

    ``mode`` is the case's execution mode (harness.modes): a CUDA graph replays in the
    memory pool it captured, allocating nothing per call, so its peak is not measured."""
    if mode == "cuda_graph":
        return PeakMemory(None, "not measured: a CUDA graph replays in its captured pool")
    gc.collect()  # garbage freed during the call would lower the running total
    try:
        kind = torch.device(device).type
        with torch.inference_mode():
            if kind == "cpu":
                return _cpu(call)
            if kind == "cuda":
                return _cuda(call, torch.device(device))
            return _accelerator(call, torch.device(device))
    except Exception as e:  # noqa: BLE001 - torch's errors, OutOfMemoryError included
        lines = str(e).strip().splitlines()
        return PeakMemory(None, f"not measured: {type(e).__name__}: {lines[0] if lines else ''}")


def _cpu(call: Call) -> PeakMemory:
    if hasattr(torch.autograd, "_enable_profiler_legacy"):
        deltas = _legacy_deltas(call)
    else:  # pragma: no cover - a torch without the legacy profiler
        deltas = kineto_deltas(call)
    return PeakMemory(running_peak(deltas), CPU_METHOD)


def running_peak(deltas: Iterable[int]) -> int:
    """The highest running total of allocations (+) and frees (-), from zero."""
    total = peak = 0
    for d in deltas:
        total += d
        peak = max(peak, total)
    return peak


def _legacy_deltas(call: Call) -> list[int]:
    """Bytes allocated (+) and freed (-) by one call, in order, from the legacy profiler."""
    from torch.autograd import _disable_profiler_legacy, _enable_profiler_legacy
    from torch.autograd.profiler_legacy import profile

    _enable_profiler_legacy(profile(profile_memory=True).config())
    try:
        out = call()
        del out  # freed while recording: its block leaves c10's table of profiled blocks
    finally:
        threads = _disable_profiler_legacy()
    per_thread = [
        [(r.start_us(), r.cpu_memory_usage()) for r in records if r.kind() == "memory_alloc"]
        for records in threads
    ]
    # Each thread's records are in order; threads are merged by their start times.
    return [d for _, d in heapq.merge(*per_thread, key=lambda e: e[0])]


def kineto_deltas(call: Call) -> list[int]:
    """As ``_legacy_deltas``, from kineto's "[memory]" events (it prints two lines to
    stderr per session)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        out = call()
        del out
    events = [
        e
        for e in prof.profiler.kineto_results.events()
        if e.name() == "[memory]" and e.device_type() == torch._C._autograd.DeviceType.CPU
    ]
    return [e.nbytes() for e in sorted(events, key=lambda e: e.start_ns())]  # stable sort


def _cuda(call: Call, device: torch.device) -> PeakMemory:
    if not torch.cuda.is_available():
        return PeakMemory(None, "not measured: no CUDA device")
    torch.cuda.synchronize(device)
    torch.cuda.empty_cache()  # the cache emptied between cases
    torch.cuda.reset_peak_memory_stats(device)
    baseline = torch.cuda.memory_allocated(device)
    out = call()
    torch.cuda.synchronize(device)
    peak = torch.cuda.max_memory_allocated(device) - baseline
    del out
    return PeakMemory(peak, CUDA_METHOD)


def _accelerator(call: Call, device: torch.device) -> PeakMemory:
    acc = getattr(torch, "accelerator", None)
    current = acc.current_accelerator() if acc and acc.is_available() else None
    if current is None or current.type != device.type:
        return PeakMemory(None, f"not measured: no allocator statistics for {device.type}")
    index = device.index if device.index is not None else acc.current_device_index()
    acc.synchronize(index)
    acc.empty_cache()
    acc.reset_peak_memory_stats(index)
    if "allocated_bytes.all.peak" not in acc.memory_stats(index):
        return PeakMemory(None, f"not measured: the {device.type} allocator keeps no peak")
    baseline = acc.memory_allocated(index)
    out = call()
    acc.synchronize(index)
    peak = acc.max_memory_allocated(index) - baseline
    del out
    return PeakMemory(peak, f"{device.type} allocator: max_memory_allocated above the baseline")
