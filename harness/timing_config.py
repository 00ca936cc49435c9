"""Timing settings: per-device defaults, overridden by a suite's [timing] table (no torch)."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

from harness.params import Param


def _positive(v: float) -> str | None:
    return None if 0 < v < math.inf else "a positive finite number"


def _fraction(v: float) -> str | None:
    return None if 0 < v < 1 else "a fraction between 0 and 1, e.g. 0.01"


TIMING_KEYS: dict[str, Param] = {
    p.name: p
    for p in (
        Param("min_time_ms", float, None, _positive),
        Param("max_time_ms", float, None, _positive),
        Param("warmup_ms", float, None, _positive),
        Param("min_samples", int, None, lambda v: None if v >= 2 else "at least 2"),
        Param("target", float, None, _fraction),
        Param("cold", bool, None),
        Param("timeout_s", float, None, _positive),
    )
}


@dataclass(frozen=True)
class TimingConfig:
    """How one case is timed (DESIGN.md 4). Times are in seconds."""

    min_time: float = 0.5  # keep sampling at least this long
    max_time: float = 10.0  # give up on the target after this long
    warmup_time: float = 0.1
    min_warmup_calls: int = 3
    min_samples: int = 10
    block_time: float = 1e-3  # one sample lasts at least this long (blocks of calls)
    target: float = 0.01  # stop when the median's 95% CI half-width / median is below
    cold: bool = False  # CUDA only: flush L2 before every sample
    sync_every: int = 10  # CUDA: samples recorded between two synchronisations
    timeout: float | None = None  # a case's wall-clock limit in a worker; None: derived

    def case_timeout(self) -> float:
        """Seconds after which a worker still busy with one case is killed (a hang).

        Derived generously from max_time, so that only a case that is stuck (a kernel that
        never returns, a deadlock) hits it, not one that is merely slow.
        """
        return self.timeout if self.timeout is not None else max(120.0, 4 * self.max_time + 60)


DEVICE_DEFAULTS = {
    "cpu": TimingConfig(warmup_time=0.1, block_time=1e-3),
    # ≥ 25 ms of warm-up lets cuDNN finish autotuning (cudnn.benchmark) before samples.
    "cuda": TimingConfig(warmup_time=0.025, block_time=1e-4),
}


@dataclass(frozen=True)
class TimingOverrides:
    """The suite's [timing] table as given; None means "device default"."""

    min_time_ms: float | None = None
    max_time_ms: float | None = None
    warmup_ms: float | None = None
    min_samples: int | None = None
    target: float | None = None
    cold: bool | None = None
    timeout_s: float | None = None

    def check(self) -> str | None:
        if (
            self.min_time_ms is not None
            and self.max_time_ms is not None
            and self.min_time_ms > self.max_time_ms
        ):
            return f"min_time_ms ({self.min_time_ms}) exceeds max_time_ms ({self.max_time_ms})"
        return None

    def for_device(self, device: str) -> TimingConfig:
        base = DEVICE_DEFAULTS["cuda" if device.startswith("cuda") else "cpu"]
        changes: dict[str, object] = {}
        scale = {"min_time_ms": "min_time", "max_time_ms": "max_time", "warmup_ms": "warmup_time"}
        renamed = {"timeout_s": "timeout"}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if f.name in scale:
                changes[scale[f.name]] = value / 1000.0
            elif f.name in renamed:
                changes[renamed[f.name]] = value
            else:
                changes[f.name] = value
        config = replace(base, **changes)
        if config.max_time < config.min_time:
            config = replace(config, max_time=config.min_time)
        return config
