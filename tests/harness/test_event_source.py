"""The event-timed sample source, with fake devices: the order of operations (flush
outside the events, records around the calls, one synchronisation per batch), dropped
throttled batches, and the one device-sync used by the host timers."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest

from harness import nvml
from harness.timers import EventSource, HostSource, device_sync, measure, source_for
from harness.timing_config import TimingConfig


class FakeEvent:
    def __init__(self, log: list[str], name: str, device: FakeDevice) -> None:
        self.log, self.name, self.device = log, name, device
        self.at: float | None = None

    def record(self, stream: Any = None) -> None:
        self.at = self.device.time
        self.log.append(f"record {self.name}")

    def synchronize(self) -> None:
        self.log.append(f"sync {self.name}")

    def elapsed_time(self, end: FakeEvent) -> float:
        assert self.at is not None and end.at is not None
        return (end.at - self.at) * 1e3  # ms, like torch's events


class FakeDevice:
    """A device whose work takes ``per_call`` seconds of device time per call."""

    def __init__(self, per_call: float = 1e-3) -> None:
        self.time = 0.0
        self.per_call = per_call
        self.log: list[str] = []
        self.n = 0

    def fn(self) -> None:
        self.time += self.per_call
        self.log.append("call")

    def flush(self) -> None:
        self.log.append("flush")

    # the EventBackend protocol
    def event(self) -> FakeEvent:
        self.n += 1
        return FakeEvent(self.log, f"e{self.n}", self)

    def record(self, event: FakeEvent) -> None:
        event.record()

    def synchronize(self) -> None:
        self.log.append("device sync")


class FakeClock:
    def __init__(self, readings: list[float | None], default: float = 1980.0) -> None:
        self.readings = list(readings)
        self.default_mhz = default

    def sm_mhz(self) -> float | None:
        return self.readings.pop(0) if self.readings else self.default_mhz


def test_flush_is_outside_the_events_and_one_sync_ends_a_batch() -> None:
    dev = FakeDevice()
    source = EventSource(dev, flush=dev.flush)
    samples = source.collect(dev.fn, calls=2, count=3)
    assert samples == pytest.approx([2e-3 / 2] * 3)
    assert dev.log == [
        "flush", "record e1", "call", "call", "record e4",
        "flush", "record e2", "call", "call", "record e5",
        "flush", "record e3", "call", "call", "record e6",
        "sync e6",
    ]  # fmt: skip
    assert dev.log.count("sync e6") == 1 and "device sync" not in dev.log


def test_without_flush_the_batch_is_back_to_back() -> None:
    dev = FakeDevice()
    EventSource(dev).collect(dev.fn, calls=1, count=2)
    assert dev.log == ["record e1", "call", "record e3", "record e2", "call", "record e4",
                       "sync e4"]  # fmt: skip


def test_throttled_batches_are_dropped_and_counted() -> None:
    dev = FakeDevice()
    # batch 1: 1900 -> 1950 (fine); batch 2: 1900 -> 1200 (< 75% of 1980); batch 3: fine
    clock = FakeClock([1900, 1950, 1900, 1200, 1980, 1980])
    source = EventSource(dev, clock=clock, min_clock_ratio=0.75)
    kept = [source.collect(dev.fn, 1, 4) for _ in range(3)]
    assert [len(k) for k in kept] == [4, 0, 4]
    stats = source.clock_stats()
    assert stats is not None
    assert stats["dropped_batches"] == 1 and stats["dropped_samples"] == 4
    assert stats["batches"] == 3 and stats["sm_mhz_min"] == 1200
    assert stats["threshold_mhz"] == pytest.approx(0.75 * 1980)


def test_an_unreadable_clock_never_counts_as_throttled() -> None:
    dev = FakeDevice()
    source = EventSource(dev, clock=FakeClock([None, None]))
    assert len(source.collect(dev.fn, 1, 3)) == 3
    assert source.clock_stats()["dropped_batches"] == 0


def test_measure_stops_at_max_time_when_every_batch_is_throttled() -> None:
    dev = FakeDevice(per_call=1e-3)

    class Hot(FakeClock):
        def sm_mhz(self) -> float:
            return 900.0  # always below 75% of 1980

    source = EventSource(dev, clock=Hot([]))
    source.now = lambda: dev.time  # type: ignore[method-assign]
    config = TimingConfig(min_time=0.01, max_time=0.05, warmup_time=0.001, block_time=1e-3)
    m = measure(dev.fn, config, source)
    assert m.samples == [] and source.clock_stats()["dropped_batches"] >= 1


def test_the_source_for_each_device_kind() -> None:
    assert isinstance(source_for("cpu"), HostSource)
    sync = device_sync("cpu")
    assert sync() is None


def test_mps_uses_its_events_and_synchronize(monkeypatch) -> None:
    """MPS: events from torch.mps (a fake here), recorded without a stream."""
    import torch

    dev = FakeDevice()
    fake_mps = types.SimpleNamespace(
        Event=lambda enable_timing: dev.event(), synchronize=dev.synchronize
    )
    monkeypatch.setattr(torch, "mps", fake_mps)
    source = source_for("mps")
    assert isinstance(source, EventSource)
    source.collect(dev.fn, 1, 2)
    assert dev.log == ["record e1", "call", "record e3", "record e2", "call", "record e4",
                       "sync e4"]  # fmt: skip
    device_sync("mps")()
    assert dev.log[-1] == "device sync"


def test_the_pytest_plugin_waits_for_the_device_through_the_same_function(monkeypatch):
    from harness import pytest_plugin, timers

    log: list[str] = []
    monkeypatch.setattr(timers, "device_sync", lambda device: lambda: log.append(device))
    call = pytest_plugin.synced(lambda: log.append("call"), "cuda:1")
    call()
    assert log == ["call", "cuda:1"]
    plain = lambda: None  # noqa: E731
    assert pytest_plugin.synced(plain, "cpu") is plain


class FakePynvml(types.SimpleNamespace):
    NVML_CLOCK_SM, NVML_CLOCK_MEM = 1, 2


def fake_pynvml(processes: list[int]) -> FakePynvml:
    handle = object()
    return FakePynvml(
        nvmlInit=lambda: None,
        nvmlDeviceGetHandleByUUID=lambda uuid: handle,
        nvmlDeviceGetHandleByIndex=lambda i: handle,
        nvmlDeviceGetClockInfo=lambda h, kind: 1410,
        nvmlDeviceGetApplicationsClock=lambda h, kind: 1980 if kind == 1 else 2619,
        nvmlDeviceGetDefaultApplicationsClock=lambda h, kind: 1980,
        nvmlDeviceGetMaxClockInfo=lambda h, kind: 1980 if kind == 1 else 2619,
        nvmlSystemGetDriverVersion=lambda: b"560.35.03",
        nvmlDeviceGetPersistenceMode=lambda h: 1,
        nvmlDeviceGetPowerManagementLimit=lambda h: 700_000,
        nvmlDeviceGetComputeRunningProcesses=lambda h: [
            types.SimpleNamespace(pid=p) for p in processes
        ],
    )


def test_nvml_reads_clocks_facts_and_other_processes(monkeypatch) -> None:
    import os

    import torch

    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml([os.getpid(), 4242]))
    monkeypatch.setattr(
        torch.cuda, "get_device_properties", lambda i: types.SimpleNamespace(uuid="abc")
    )
    nvml._nvml.cache_clear()
    try:
        clock = nvml.sm_clock(0)
        assert clock is not None and clock.default_mhz == 1980 and clock.sm_mhz() == 1410
        facts = nvml.facts(0)
        assert facts["persistence_mode"] is True and facts["power_limit_w"] == 700
        assert facts["application_sm_mhz"] == 1980 and facts["driver"] == "560.35.03"
        assert nvml.other_processes(0) == 1  # ours is not "other"
    finally:
        nvml._nvml.cache_clear()


def test_without_nvml_there_is_no_clock_and_the_environment_says_so(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import fails
    nvml._nvml.cache_clear()
    try:
        assert nvml.sm_clock(0) is None and nvml.other_processes(0) == 0
        assert "unavailable" in nvml.facts(0)["nvml"]
    finally:
        nvml._nvml.cache_clear()
