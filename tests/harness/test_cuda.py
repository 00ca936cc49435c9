"""The CUDA path, on real hardware only (`nox -s gpu`); skipped without a CUDA device."""

from __future__ import annotations

import pytest

from harness.cases import Case
from harness.timing_config import TimingConfig

pytestmark = pytest.mark.gpu

QUICK = TimingConfig(min_time=0.05, max_time=0.5, warmup_time=0.025, block_time=1e-4)


def test_cuda_event_source_times_a_matmul() -> None:
    import torch

    from harness.timers import CudaEventSource, measure

    a = torch.randn(2048, 2048, device="cuda")
    source = CudaEventSource("cuda")
    m = measure(lambda: a @ a, QUICK, source)
    assert len(m.samples) >= QUICK.min_samples
    # 2048^3 MACs take well over a microsecond and under a second on any CUDA GPU.
    assert all(1e-6 < s < 1.0 for s in m.samples)
    # Events measure device time: one call's time is close to the samples' median.
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    a @ a
    end.record()
    end.synchronize()
    single = start.elapsed_time(end) / 1e3
    median = sorted(m.samples)[len(m.samples) // 2]
    assert 0.5 < single / median < 2.0


def test_cold_mode_flushes_and_times_single_calls() -> None:
    import torch

    from harness.timers import CudaEventSource, measure

    x = torch.randn(1 << 20, device="cuda")
    cold = measure(
        lambda: x.mul_(1.0),
        QUICK.__class__(**{**QUICK.__dict__, "cold": True}),
        CudaEventSource("cuda", cold=True),
    )
    assert cold.calls_per_sample == 1


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("fmt", ["contiguous", "channels_last"])
def test_run_case_on_cuda(dtype: str, fmt: str) -> None:
    from harness.execute import run_case

    case = Case.make(
        "separable", channels=64, size=28, device="cuda", dtype=dtype, memory_format=fmt
    )
    r = run_case(case, QUICK)
    assert r.status == "ok", r.error
    assert r.stats.median > 0


def test_networks_run_on_cuda() -> None:
    from harness.execute import run_case

    for case in (
        Case.make("mobilenet_v1", alpha=0.5, resolution=128, device="cuda"),
        Case.make("mobilenet_v2", alpha=0.5, resolution=128, device="cuda", dtype="float16"),
    ):
        r = run_case(case, QUICK)
        assert r.status == "ok", r.error


def test_peaks_are_plausible() -> None:
    from harness.peaks import measure_peaks

    p = measure_peaks("cuda", ["float16"])
    assert p["macs_per_s"] > 1e11  # > 0.1 TMAC/s on any GPU this project targets
    assert p["bytes_per_s"] > 1e11
    assert p["macs_per_s_by_dtype"]["float16"] > p["macs_per_s"] * 0.5


def test_environment_records_the_gpu() -> None:
    from harness.environment import capture

    env = capture({"cuda"})
    for key in ("gpu_name", "gpu_capability", "gpu_sm_count", "gpu_memory_bytes", "cuda"):
        assert env.get(key), key
