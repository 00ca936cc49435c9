"""Run one case: build it, check it, time it. Failures come back as data."""

from __future__ import annotations

import contextlib
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import torch

from harness import contention
from harness.cases import Case, described
from harness.costmodel import cost
from harness.devices import unavailable
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

    def call() -> torch.Tensor:
        return module(x)

    with torch.inference_mode():
        out = call()
    expected = cost(case.workload, p).output_shape
    if tuple(out.shape) != expected:
        raise RuntimeError(f"output shape {tuple(out.shape)}, expected {expected}")
    if not torch.isfinite(out).all():
        raise RuntimeError("output has NaN or infinite values")
    return PreparedCase(case, call)


def run_case(case: Case, config: TimingConfig) -> ResultRecord:
    """Time one case. Never raises for the case's own failures (only KeyboardInterrupt)."""
    record = ResultRecord(
        **described(case),
        status=CaseStatus.OK,
        started_at=datetime.now(UTC),
        target=config.target,
    )
    t0 = time.perf_counter()
    reason = unavailable(case.device, case.params["dtype"])
    if reason:
        record.status, record.error = CaseStatus.SKIPPED, reason
        return record
    try:
        with case_settings(case), torch.inference_mode():
            prepared = prepare(case)
            with contention.Meter(busy_threads(case)) as meter:
                m = measure(prepared.call, config, source_for(case.device, cold=config.cold))
        if meter.result is not None:
            record.contended = meter.result.contended
            record.others_cpu = meter.result.others_cpu
        record.samples = m.samples
        record.calls_per_sample = m.calls_per_sample
        record.target_met = m.target_met
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


def busy_threads(case: Case) -> int:
    """CPU threads the case keeps busy: its intra-op threads on CPU, one host thread else."""
    return torch.get_num_threads() if case.device == "cpu" else 1


def describe(e: BaseException) -> str:
    """One readable error: type, message, and where in our code or torch it came from."""
    frames = traceback.extract_tb(e.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    message = str(e).strip().splitlines()
    return f"{type(e).__name__}: {message[0] if message else ''}{where}"
