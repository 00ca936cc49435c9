"""Timers: one adaptive sampling loop, two ways to take a sample (DESIGN.md 4).

`measure` owns warm-up, block sizing and the stopping rule and knows nothing of torch,
so it is tested with a deterministic fake clock. A `SampleSource` takes the samples:
`HostSource` with `time.perf_counter_ns` (CPU), `CudaEventSource` with CUDA events on
the current stream, synchronising once per batch of samples rather than per call.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from harness.timing_config import TimingConfig
from results.stats import rel_ci_halfwidth

Fn = Callable[[], object]


@dataclass
class Measurement:
    samples: list[float]  # seconds per call, one entry per sample
    calls_per_sample: int
    target_met: bool
    warmup_calls: int
    elapsed: float  # seconds spent sampling (warm-up excluded)


class SampleSource(Protocol):
    def now(self) -> float:
        """Host wall-clock seconds, for the time budget."""

    def warmup(self, fn: Fn, seconds: float, min_calls: int) -> tuple[int, float]:
        """Call fn for at least `seconds` and `min_calls`; return (calls, seconds per call)."""

    def collect(self, fn: Fn, calls: int, count: int) -> list[float]:
        """Take `count` samples of `calls` calls each; return seconds per call."""


def measure(fn: Fn, config: TimingConfig, source: SampleSource) -> Measurement:
    """Warm up, size the blocks, then sample until the stopping rule says enough.

    Rule: at least `min_samples` samples and `min_time` seconds; then stop as soon as the
    95% CI of the median is within ±`target` of it, or when `max_time` has passed.
    """
    warmup_calls, per_call = source.warmup(fn, config.warmup_time, config.min_warmup_calls)
    calls = 1 if config.cold else max(1, math.ceil(config.block_time / max(per_call, 1e-12)))
    samples: list[float] = []
    start = source.now()
    met = False
    gc_was_enabled = gc.isenabled()
    gc.disable()  # as timeit does: a collection inside a sample is noise, not the workload
    try:
        while True:
            # Check the rule every batch; batches grow with the sample count so that the
            # check (a sort) stays a small fraction of the time for very short calls.
            batch = max(config.sync_every, len(samples) // 10)
            if len(samples) < config.min_samples:
                batch = max(1, min(batch, config.min_samples - len(samples)))
            samples.extend(source.collect(fn, calls, batch))
            elapsed = source.now() - start
            if len(samples) < config.min_samples or elapsed < config.min_time:
                continue
            if rel_ci_halfwidth(samples) <= config.target:
                met = True
                break
            if elapsed >= config.max_time:
                break
    finally:
        if gc_was_enabled:
            gc.enable()
    return Measurement(samples, calls, met, warmup_calls, source.now() - start)


class HostSource:
    """Wall-clock samples on the host; `sync` (e.g. torch.cuda.synchronize) ends each block."""

    def __init__(
        self,
        clock_ns: Callable[[], int] = time.perf_counter_ns,
        sync: Callable[[], object] | None = None,
    ):
        self._clock = clock_ns
        self._sync = sync or (lambda: None)

    def now(self) -> float:
        return self._clock() / 1e9

    def warmup(self, fn: Fn, seconds: float, min_calls: int) -> tuple[int, float]:
        calls = 0
        t0 = self._clock()
        while True:
            fn()
            calls += 1
            self._sync()
            elapsed = (self._clock() - t0) / 1e9
            if calls >= min_calls and elapsed >= seconds:
                # Time a few calls more on their own: the first calls pay one-time costs.
                tail = max(1, calls // 4)
                t1 = self._clock()
                for _ in range(tail):
                    fn()
                self._sync()
                return calls + tail, (self._clock() - t1) / 1e9 / tail

    def collect(self, fn: Fn, calls: int, count: int) -> list[float]:
        out = []
        clock, sync = self._clock, self._sync
        for _ in range(count):
            t0 = clock()
            for _ in range(calls):
                fn()
            sync()
            out.append((clock() - t0) / 1e9 / calls)
        return out


class CudaEventSource:
    """Samples timed by pairs of CUDA events on the current stream.

    The host enqueues a whole batch of samples and synchronises once at its end, so the
    GPU never idles waiting for Python between samples. In cold mode a buffer the size
    of the L2 cache is overwritten before each sample, outside the events.
    """

    def __init__(self, device: str, cold: bool = False):
        import torch

        self._torch = torch
        self._device = torch.device(device)
        self._flush = None
        if cold:
            l2 = getattr(torch.cuda.get_device_properties(self._device), "L2_cache_size", 0)
            self._flush = torch.empty(max(l2, 1 << 20), dtype=torch.uint8, device=self._device)

    def now(self) -> float:
        return time.perf_counter()

    def warmup(self, fn: Fn, seconds: float, min_calls: int) -> tuple[int, float]:
        torch = self._torch
        calls = 0
        t0 = time.perf_counter()
        while calls < min_calls or time.perf_counter() - t0 < seconds:
            fn()
            calls += 1
            if calls % 8 == 0 or calls >= min_calls:
                torch.cuda.synchronize(self._device)
        tail = max(1, min(calls // 4, 100))
        per_call = sum(self.collect(fn, tail, 1))
        return calls + tail, per_call

    def collect(self, fn: Fn, calls: int, count: int) -> list[float]:
        cuda = self._torch.cuda
        stream = cuda.current_stream(self._device)
        starts = [cuda.Event(enable_timing=True) for _ in range(count)]
        ends = [cuda.Event(enable_timing=True) for _ in range(count)]
        for start, end in zip(starts, ends, strict=True):
            if self._flush is not None:
                self._flush.zero_()
            start.record(stream)
            for _ in range(calls):
                fn()
            end.record(stream)
        ends[-1].synchronize()
        return [s.elapsed_time(e) / 1e3 / calls for s, e in zip(starts, ends, strict=True)]


def source_for(device: str, cold: bool = False) -> SampleSource:
    if device.startswith("cuda"):
        return CudaEventSource(device, cold=cold)
    return HostSource()
