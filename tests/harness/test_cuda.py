"""The CUDA path, on real hardware only (`nox -s gpu`); skipped without a CUDA device."""

from __future__ import annotations

import pytest

from harness.cases import Case
from harness.timing_config import TimingConfig

pytestmark = pytest.mark.gpu

QUICK = TimingConfig(min_time=0.05, max_time=0.5, warmup_time=0.025, block_time=1e-4)


def test_cuda_event_source_times_a_matmul() -> None:
    import torch

    from harness.timers import measure, source_for

    a = torch.randn(2048, 2048, device="cuda")
    source = source_for("cuda")
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

    from harness.timers import measure, source_for

    x = torch.randn(1 << 20, device="cuda")
    cold = measure(
        lambda: x.mul_(1.0),
        QUICK.__class__(**{**QUICK.__dict__, "cold": True}),
        source_for("cuda", cold=True),
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


def test_peaks_are_plausible_per_math_mode() -> None:
    import torch

    from harness.peaks import measure_peaks

    p = measure_peaks("cuda", ["float16"])
    assert p["macs_per_s"] > 1e11  # > 0.1 TMAC/s on any GPU this project targets
    assert p["bytes_per_s"] > 1e11
    by_mode = p["macs_per_s_by_mode"]
    assert by_mode["float16"] > by_mode["float32"]  # tensor cores
    if torch.cuda.get_device_properties(0).major >= 8:  # TF32 beats strict float32
        assert by_mode["float32+tf32"] > 1.5 * by_mode["float32"]


def test_environment_records_every_gpu_whatever_the_devices() -> None:
    import torch

    from harness.environment import capture

    env = capture({"cpu"})
    assert len(env["gpus"]) == torch.cuda.device_count()
    for key in ("name", "capability", "sm_count", "memory_bytes", "l2_bytes"):
        assert env["gpus"][0].get(key), key
    assert env["gpu_name"] and env["cuda"]


@pytest.mark.parametrize("mode", ["compile", "cuda_graph"])
def test_modes_run_on_cuda(mode: str) -> None:
    from harness.execute import run_case

    case = Case.make("separable", channels=64, size=28, device="cuda", mode=mode)
    r = run_case(case, QUICK)
    if mode == "compile" and r.status == "skipped":
        pytest.skip(r.error)  # no triton here: skipped with its reason, as designed
    assert r.status == "ok", r.error
    assert r.device_facts["name"] and r.device_facts["math_mode"]
    if mode == "compile":
        assert r.compile_s > 0


def test_clocks_are_recorded_where_nvml_works() -> None:
    from harness import nvml
    from harness.execute import run_case

    if not nvml.available():
        pytest.skip("nvidia-ml-py not installed (pip install 'bench[gpu]')")
    r = run_case(Case.make("conv", channels=64, size=28, device="cuda"), QUICK)
    assert r.clocks and r.clocks["batches"] >= 1 and r.clocks["sm_mhz_max"] > 0
