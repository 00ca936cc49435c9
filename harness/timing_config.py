"""Timing settings: per-device defaults, overridden by a suite's [timing] table (no torch)."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from harness.params import Param

MAX_ROUNDS = 100
# A suite without `rounds` (and no --rounds): three fresh processes, as few as show whether
# process-level effects move a case (pyperf uses 20; a case here costs seconds, not ms).
DEFAULT_ROUNDS = 3


# Upper bounds: beyond them a timeout overflows a wait, and no real suite needs more than
# an hour per case or a million samples.
MAX_CASE_MS = 3_600_000  # min_time_ms, max_time_ms, warmup_ms: one hour
MAX_TIMEOUT_S = 86_400  # one day
MAX_MIN_SAMPLES = 1_000_000


def _positive_up_to(limit: float):  # type: ignore[no-untyped-def]
    def check(v: float) -> str | None:
        return None if 0 < v <= limit else f"a positive number up to {limit:,}"

    return check


def _min_samples(v: int) -> str | None:
    return None if 2 <= v <= MAX_MIN_SAMPLES else f"from 2 to {MAX_MIN_SAMPLES:,}"


def _rounds(v: int) -> str | None:
    return None if 1 <= v <= MAX_ROUNDS else f"a number of rounds from 1 to {MAX_ROUNDS}"


def _fraction(v: float) -> str | None:
    return None if 0 < v < 1 else "a fraction between 0 and 1, e.g. 0.01"


TIMING_KEYS: dict[str, Param] = {
    p.name: p
    for p in (
        Param("min_time_ms", float, None, _positive_up_to(MAX_CASE_MS)),
        Param("max_time_ms", float, None, _positive_up_to(MAX_CASE_MS)),
        Param("warmup_ms", float, None, _positive_up_to(MAX_CASE_MS)),
        Param("min_samples", int, None, _min_samples),
        Param("target", float, None, _fraction),
        Param("cold", bool, None),
        Param("timeout_s", float, None, _positive_up_to(MAX_TIMEOUT_S)),
        Param("rounds", int, None, _rounds),
        Param("min_clock_ratio", float, None, _fraction),
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
    min_clock_ratio: float = 0.75  # GPU: batches below this share of the default clock drop
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
    rounds: int | None = None  # run-level: how many times the plan runs (not per case)
    min_clock_ratio: float | None = None

    @property
    def round_count(self) -> int:
        return self.rounds if self.rounds is not None else DEFAULT_ROUNDS

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
            if value is None or f.name == "rounds":
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
