"""Run one case: build it, check it, time it. Failures come back as data."""

from __future__ import annotations

import contextlib
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import torch

from harness import contention, memory, modes, nvml
from harness.cases import Case, described
from harness.costmodel import cost
from harness.devices import unavailable
from harness.environment import case_device_facts
from harness.timers import measure, source_for
from harness.timing_config import TimingConfig
from harness.workloads import build_module, make_input
from results.records import CaseStatus, ResultRecord

SEED = 0  # the inputs' generator


def weight_seed(case: Case) -> int:
    """Module weights are drawn from a seed of the case's own, not from whatever the global
    generator holds after the cases before it: the same case gets the same weights."""
    return int(case.key, 16) & (2**63 - 1)


@dataclass
class PreparedCase:
    """A case ready to call: the module and input on their device, under inference mode."""

    case: Case
    call: Callable[[], torch.Tensor]
    compile_s: float | None = None  # mode = compile: the first call's time


@contextlib.contextmanager
def case_settings(case: Case) -> Iterator[None]:
    """Thread count and cuDNN flags for one case, restored afterwards."""
    threads = torch.get_num_threads()
    benchmark = torch.backends.cudnn.benchmark
    try:
        if case.params.get("threads"):
            torch.set_num_threads(case.params["threads"])
        torch.backends.cudnn.benchmark = bool(case.params.get("cudnn_benchmark", True))
        yield
    finally:
        torch.set_num_threads(threads)
        torch.backends.cudnn.benchmark = benchmark


def prepare(case: Case) -> PreparedCase:
    """Build the module and a seeded input, move them, and check one call's output."""
    p = case.params
    dtype = getattr(torch, p["dtype"])
    fmt = torch.channels_last if p["memory_format"] == "channels_last" else torch.contiguous_format
    generator = torch.Generator().manual_seed(SEED)
    torch.manual_seed(weight_seed(case))
    module = build_module(case.workload, p).to(device=p["device"], dtype=dtype, memory_format=fmt)
    module.eval()
    x = make_input(case.workload, p, generator).to(device=p["device"], dtype=dtype)
    x = x.contiguous(memory_format=fmt)
    with torch.inference_mode():
        wrapped = modes.wrap(p.get("mode", "eager"), module, x)
        call = wrapped.call
        out = call()
    expected = cost(case.workload, p).output_shape
    if tuple(out.shape) != expected:
        raise RuntimeError(f"output shape {tuple(out.shape)}, expected {expected}")
    if not torch.isfinite(out).all():
        raise RuntimeError("output has NaN or infinite values")
    return PreparedCase(case, call, wrapped.compile_s)


def run_case(case: Case, config: TimingConfig) -> ResultRecord:
    """Time one case. Never raises for the case's own failures (only KeyboardInterrupt)."""
    record = ResultRecord(
        **described(case),
        status=CaseStatus.OK,
        started_at=datetime.now(UTC),
        target=config.target,
    )
    t0 = time.perf_counter()
    p = case.params
    reason = unavailable(case.device, p["dtype"]) or modes.unavailable(p["mode"], case.device)
    if reason:
        record.status, record.error = CaseStatus.SKIPPED, reason
        return record
    try:
        with case_settings(case), torch.inference_mode():
            record.device_facts = case_device_facts(case.device, p["dtype"])
            prepared = prepare(case)
            record.compile_s = prepared.compile_s
            index = record.device_facts.get("index")
            gpu = case.device.startswith("cuda") and index is not None
            source = source_for(
                case.device,
                cold=config.cold,
                clock=nvml.sm_clock(index) if gpu else None,
                min_clock_ratio=config.min_clock_ratio,
            )
            others = (lambda: nvml.other_processes(index)) if gpu else None
            with contention.Meter(busy_threads(case), gpu_others=others) as meter:
                m = measure(prepared.call, config, source)
            # Untimed, after the sampling: what one call allocates (None: not measurable).
            record.peak_memory = memory.peak_memory(prepared.call, case.device, p["mode"])
        if meter.result is not None:
            record.contended = meter.result.contended
            record.others_cpu = meter.result.others_cpu
        record.clocks = getattr(source, "clock_stats", lambda: None)()
        record.samples = m.samples
        record.calls_per_sample = m.calls_per_sample
        record.target_met = m.target_met
        if not m.samples:
            raise RuntimeError(throttled_message(record.clocks))
    except modes.ModeUnavailable as e:
        record.status, record.error = CaseStatus.SKIPPED, str(e)
    except KeyboardInterrupt:
        raise
    except Exception as e:  # noqa: BLE001 - any failure of the case is a failed row
        record.status = CaseStatus.FAILED
        record.error = describe(e)
        if isinstance(e, torch.cuda.OutOfMemoryError) and torch.cuda.is_available():
            torch.cuda.empty_cache()
    finally:
        record.duration_s = time.perf_counter() - t0
    return record


def throttled_message(clocks: dict | None) -> str:
    if not clocks:
        return "no sample was taken"
    return (
        f"every batch of samples ran while the GPU was throttled (SM clock down to "
        f"{clocks.get('sm_mhz_min')} MHz, below {clocks.get('threshold_mhz'):.0f} MHz = "
        "min_clock_ratio of its default): nothing to report; let it cool and rerun"
    )


def busy_threads(case: Case) -> int:
    """CPU threads the case keeps busy: its intra-op threads on CPU, one host thread else."""
    return torch.get_num_threads() if case.device == "cpu" else 1


def describe(e: BaseException) -> str:
    """One readable error: type, message, and where in our code or torch it came from."""
    frames = traceback.extract_tb(e.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    message = str(e).strip().splitlines()
    return f"{type(e).__name__}: {message[0] if message else ''}{where}"
