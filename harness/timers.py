"""Timers: one adaptive sampling loop, two ways to take a sample (DESIGN.md 4).

`measure` owns warm-up, block sizing and the stopping rule and knows nothing of torch,
so it is tested with a deterministic fake clock. A `SampleSource` takes the samples:
`HostSource` with `time.perf_counter_ns` (CPU), `EventSource` with device events (CUDA
on the current stream, MPS), synchronising once per batch of samples rather than per
call, and dropping batches taken while the GPU was throttled. `source_for` picks one for
a device; `bench run`, the peaks and the pytest plugin (`device_sync`) all go through
this module, so the timing paths cannot drift apart. Fake backends test the order of
operations without a GPU (tests/harness/test_event_source.py).
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

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
            got = source.collect(fn, calls, batch)
            samples.extend(got)
            elapsed = source.now() - start
            if len(got) < batch and elapsed >= config.max_time:
                break  # batches dropped (a throttled GPU) until the time ran out
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


class EventBackend(Protocol):
    """What an event-timed sample source needs of a device API (CUDA, MPS)."""

    def event(self) -> Any:
        """A new timing event: ``record`` it, ``synchronize`` it, ``elapsed_time`` (ms)."""

    def record(self, event: Any) -> None:
        """Record ``event`` where the device's work is enqueued (its current stream)."""

    def synchronize(self) -> None:
        """Wait for all the device's work."""


class ClockReader(Protocol):
    """The SM clock of a GPU (harness.nvml), read around each batch of samples."""

    default_mhz: float

    def sm_mhz(self) -> float | None: ...


class EventSource:
    """Samples timed by pairs of device events, one synchronisation per batch.

    The host enqueues a whole batch of samples and waits once at its end, so the device
    never idles waiting for Python between samples. ``flush`` (cold mode: overwrite a
    buffer the size of the L2 cache) runs before each sample, *outside* its events.
    With a ``clock``, the SM clock is read before and after each batch and a batch taken
    below ``min_clock_ratio`` of the default clock is dropped as throttled (nvbench's
    rule): its samples measured a slower machine.
    """

    def __init__(
        self,
        backend: EventBackend,
        *,
        flush: Callable[[], object] | None = None,
        clock: ClockReader | None = None,
        min_clock_ratio: float = 0.75,
    ) -> None:
        self._backend = backend
        self._flush = flush
        self._clock = clock
        self._ratio = min_clock_ratio
        self._mhz: list[float] = []
        self._batches = self._dropped_batches = self._dropped_samples = 0

    def now(self) -> float:
        return time.perf_counter()

    def warmup(self, fn: Fn, seconds: float, min_calls: int) -> tuple[int, float]:
        calls = 0
        t0 = time.perf_counter()
        while calls < min_calls or time.perf_counter() - t0 < seconds:
            fn()
            calls += 1
            if calls % 8 == 0 or calls >= min_calls:
                self._backend.synchronize()
        tail = max(1, min(calls // 4, 100))
        per_call = sum(self._timed(fn, tail, 1))
        return calls + tail, per_call

    def collect(self, fn: Fn, calls: int, count: int) -> list[float]:
        before = self._read_clock()
        samples = self._timed(fn, calls, count)
        after = self._read_clock()
        if self._clock is None:
            return samples
        self._batches += 1
        seen = [m for m in (before, after) if m is not None]
        self._mhz.extend(seen)
        if seen and min(seen) < self._ratio * self._clock.default_mhz:
            self._dropped_batches += 1
            self._dropped_samples += len(samples)
            return []
        return samples

    def _timed(self, fn: Fn, calls: int, count: int) -> list[float]:
        backend = self._backend
        starts = [backend.event() for _ in range(count)]
        ends = [backend.event() for _ in range(count)]
        for start, end in zip(starts, ends, strict=True):
            if self._flush is not None:
                self._flush()
            backend.record(start)
            for _ in range(calls):
                fn()
            backend.record(end)
        ends[-1].synchronize()
        return [s.elapsed_time(e) / 1e3 / calls for s, e in zip(starts, ends, strict=True)]

    def _read_clock(self) -> float | None:
        return self._clock.sm_mhz() if self._clock is not None else None

    def clock_stats(self) -> dict[str, Any] | None:
        """SM clock over the sampling, and what was dropped as throttled (None: no clock)."""
        if self._clock is None:
            return None
        mhz = sorted(self._mhz)
        return {
            "default_mhz": self._clock.default_mhz,
            "threshold_mhz": self._ratio * self._clock.default_mhz,
            "sm_mhz_min": mhz[0] if mhz else None,
            "sm_mhz_median": mhz[len(mhz) // 2] if mhz else None,
            "sm_mhz_max": mhz[-1] if mhz else None,
            "batches": self._batches,
            "dropped_batches": self._dropped_batches,
            "dropped_samples": self._dropped_samples,
        }


class CudaBackend:
    """CUDA events on the device's current stream."""

    def __init__(self, device: str) -> None:
        import torch

        self._cuda = torch.cuda
        self._device = torch.device(device)

    def event(self) -> Any:
        return self._cuda.Event(enable_timing=True)

    def record(self, event: Any) -> None:
        event.record(self._cuda.current_stream(self._device))

    def synchronize(self) -> None:
        self._cuda.synchronize(self._device)


class MpsBackend:
    """MPS events (torch.mps.Event, recorded on the default stream)."""

    def __init__(self) -> None:
        import torch

        self._mps = torch.mps

    def event(self) -> Any:
        return self._mps.Event(enable_timing=True)

    def record(self, event: Any) -> None:
        event.record()

    def synchronize(self) -> None:
        self._mps.synchronize()


def device_sync(device: str) -> Callable[[], None]:
    """What makes the host wait for ``device``: what a host timer must call after each
    timed call (pytest-benchmark's rounds, a synchronize-and-perf_counter loop)."""
    import torch

    if device.startswith("cuda"):
        dev = torch.device(device)
        return lambda: torch.cuda.synchronize(dev)
    if device.startswith("mps"):
        return torch.mps.synchronize
    return lambda: None


def l2_flush(device: str) -> Callable[[], object]:
    """Cold mode: overwrite a buffer the size of the device's L2 cache (at least 1 MiB)."""
    import torch

    dev = torch.device(device)
    l2 = getattr(torch.cuda.get_device_properties(dev), "L2_cache_size", 0)
    buffer = torch.empty(max(l2, 1 << 20), dtype=torch.uint8, device=dev)
    return buffer.zero_


def source_for(
    device: str,
    cold: bool = False,
    *,
    clock: ClockReader | None = None,
    min_clock_ratio: float = 0.75,
) -> SampleSource:
    """The one way bench takes samples on ``device`` (runs, peaks): events on CUDA and
    MPS, the host clock on CPU. Cold mode needs CUDA (an L2 of known size)."""
    if device.startswith("cuda"):
        return EventSource(
            CudaBackend(device),
            flush=l2_flush(device) if cold else None,
            clock=clock,
            min_clock_ratio=min_clock_ratio,
        )
    if device.startswith("mps"):
        return EventSource(MpsBackend())
    return HostSource()
