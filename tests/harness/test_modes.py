"""Execution modes (eager, compile, cuda_graph), GPU facts and roofs per math mode, on a
CPU machine: what can run runs, what cannot is skipped with its reason."""

from __future__ import annotations

import types

import pytest

import harness.execute as execute
from harness.cases import Case
from harness.runner import run_suite
from harness.suites import parse_suite
from results.fingerprint import fingerprint
from results.records import CaseStatus
from results.store import Store


def test_mode_is_an_axis_and_eager_keeps_the_keys_of_before() -> None:
    eager = Case.make("conv", channels=8)
    assert eager.params["mode"] == "eager" and eager.id == "conv[channels=8]"
    # the key this case had before `mode` existed: its history still lines up
    assert eager.key == "ef699006d8455cfc"
    compiled = Case.make("conv", channels=8, mode="compile")
    assert compiled.key != eager.key and compiled.id == "conv[channels=8,mode=compile]"
    with pytest.raises(Exception, match="mode"):
        parse_suite(
            b'[[sweep]]\nworkload = "conv"\nchannels = 8\nmode = "jit"',
            source="x.toml",
            default_name="x",
        )


@pytest.mark.slow
def test_on_cpu_eager_and_compile_run_and_cuda_graph_is_skipped(tmp_path) -> None:
    suite = parse_suite(
        b"[timing]\nmin_time_ms = 5\nmax_time_ms = 20\nwarmup_ms = 2\n"
        b'[[sweep]]\nworkload = "separable"\nchannels = 8\nsize = 8\n'
        b'mode = ["eager", "compile", "cuda_graph"]',
        source="m.toml",
        default_name="m",
    )
    with Store.open(f"sqlite:///{tmp_path / 'r.db'}", create=True) as store:
        outcome = run_suite(suite, suite.cases, store, peaks=False, rounds=1, isolation="inline")
        rows = {r.params["mode"]: r for r in store.results(outcome.run.id)}
    assert [rows[m].status for m in ("eager", "compile", "cuda_graph")] == [
        CaseStatus.OK,
        CaseStatus.OK,
        CaseStatus.SKIPPED,
    ]
    assert "cuda_graph needs a CUDA device" in rows["cuda_graph"].error
    assert rows["compile"].compile_s > 0 and rows["eager"].compile_s is None
    assert rows["compile"].stats.median > 0
    assert rows["eager"].device_facts["math_mode"] == "float32"


def test_a_broken_compiler_is_a_skipped_row_not_a_failure(monkeypatch) -> None:
    import torch

    class BackendCompilerFailed(Exception):
        pass

    def broken(module, **kw):
        def call(x):
            raise BackendCompilerFailed("InvalidCxxCompiler: No working C compiler found")

        return call

    from harness import modes

    monkeypatch.setattr(torch, "compile", broken)
    modes.toolchain_problem.cache_clear()  # probed once per process: probe again
    try:
        case = Case.make("conv", channels=8, size=8, mode="compile")
        r = execute.run_case(case, execute.TimingConfig(min_time=0.001, max_time=0.01))
    finally:
        modes.toolchain_problem.cache_clear()
    assert r.status == CaseStatus.SKIPPED
    assert r.error.startswith(
        "torch.compile does not work here: BackendCompilerFailed: InvalidCxxCompiler"
    )


def test_a_compile_error_of_the_case_itself_is_a_failure(monkeypatch) -> None:
    import torch

    def wrong(module, **kw):
        def call(x):
            raise ValueError("shape mismatch in the graph")

        return call

    from harness import modes

    monkeypatch.setattr(torch, "compile", wrong)
    monkeypatch.setattr(modes, "toolchain_problem", lambda device_type: None)  # it works
    case = Case.make("conv", channels=8, size=8, mode="compile")
    r = execute.run_case(case, execute.TimingConfig(min_time=0.001, max_time=0.01))
    assert r.status == CaseStatus.FAILED and "shape mismatch" in r.error


def fake_gpus(monkeypatch, names: list[str], major: int = 9) -> None:
    import torch

    props = [
        types.SimpleNamespace(
            name=n, major=major, minor=0, multi_processor_count=132,
            total_memory=80 << 30, L2_cache_size=50 << 20, uuid=f"uuid-{i}",
        )
        for i, n in enumerate(names)
    ]  # fmt: skip
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: len(props))
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: props[_index(i)])
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)


def _index(i) -> int:
    """torch accepts 1, "cuda:1", "cuda" or a torch.device."""
    if isinstance(i, int):
        return i
    if isinstance(i, str):
        return int(i.partition(":")[2] or 0)
    return i.index or 0


def test_every_gpu_is_described_whatever_devices_the_run_uses(monkeypatch) -> None:
    from harness.environment import capture

    fake_gpus(monkeypatch, ["NVIDIA H100 80GB HBM3", "NVIDIA H100 80GB HBM3"])
    cpu_only, mixed = capture({"cpu"}), capture({"cpu", "cuda:1"})
    assert [g["index"] for g in cpu_only["gpus"]] == [0, 1]
    assert cpu_only["gpu_name"] == "NVIDIA H100 80GB HBM3" and cpu_only["gpu_count"] == 2
    assert fingerprint(cpu_only) == fingerprint(mixed)  # one machine, one fingerprint


def test_a_case_records_its_own_device_and_math_mode(monkeypatch) -> None:
    import torch

    from harness.environment import case_device_facts

    fake_gpus(monkeypatch, ["A100", "H100"], major=8)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", True)
    facts = case_device_facts("cuda:1", "float32")
    assert facts["index"] == 1 and facts["name"] == "H100"
    assert facts["math_mode"] == "float32+tf32"
    assert case_device_facts("cuda:1", "float16")["math_mode"] == "float16"
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    assert case_device_facts("cuda:0", "float32")["math_mode"] == "float32"
    fake_gpus(monkeypatch, ["V100"], major=7)  # no TF32 before Ampere
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", True)
    assert case_device_facts("cuda:0", "float32")["math_mode"] == "float32"


def test_roofs_are_measured_per_math_mode(monkeypatch) -> None:
    from harness.peaks import math_modes

    assert [m for m, _, _ in math_modes("cpu", ["bfloat16"])] == ["float32", "bfloat16"]
    fake_gpus(monkeypatch, ["H100"], major=9)
    modes = math_modes("cuda", ["float16", "float32"])
    assert modes == [
        ("float32", "float32", False),
        ("float32+tf32", "float32", True),
        ("float16", "float16", False),
    ]


def test_the_gpu_summary_reads_a_run(tmp_path) -> None:
    """harness.gpucheck's run part works from any database (here a CPU run)."""
    from harness.gpucheck import run_summary

    suite = parse_suite(
        b"[timing]\nmin_time_ms = 2\nmax_time_ms = 10\n"
        b'[[sweep]]\nworkload = "conv"\nchannels = 8\nsize = 8\nmode = ["eager", "cuda_graph"]',
        source="g.toml",
        default_name="g",
    )
    url = f"sqlite:///{tmp_path / 'r.db'}"
    with Store.open(url, create=True) as store:
        run_suite(suite, suite.cases, store, rounds=1, isolation="inline")
    lines = run_summary(url, "latest")
    text = "\n".join(lines)
    assert "roofs cpu: float32" in text and "GMAC" not in text  # TMAC/s on every device
    assert "mode eager: 1 ok" in text and "mode cuda_graph: 1 skipped" in text
    assert "SM clock: not read" in text
