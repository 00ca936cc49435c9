"""Measured peak memory (harness.memory) against known answers and the cost model.

Known answers: a tensor's bytes, an add's two results, and the slow convolution's im2col
columns plus its output, to the byte. Then every layer workload and both networks:
their measured peak is at least their output and at most 3x the modelled eager
activation memory (the measurement leaves out the input, allocated before the call, and
adds oneDNN's reordered copies and workspaces, which the model does not count).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from click.testing import CliRunner

import harness.execute
from harness import memory
from harness.cases import Case, described
from harness.cli import cli
from harness.cli.store import _memory_model
from harness.costmodel import cost
from harness.execute import case_settings, prepare
from results.records import CaseStatus, ResultRecord, RunRecord, RunStatus
from results.store import Store

F32 = 4


def _profiling() -> bool:
    return bool(torch.autograd.profiler._is_profiler_enabled)


def test_running_peak_replays_allocations_and_frees_in_order() -> None:
    assert memory.running_peak([5, 3, -5, 4, -7]) == 8
    assert memory.running_peak([-4, 2]) == 0  # a free of an older block never goes below 0
    assert memory.running_peak([]) == 0


def test_one_tensor_is_counted_to_the_byte() -> None:
    assert memory.peak_memory(lambda: torch.empty(1000), "cpu") == 1000 * F32
    assert memory.peak_memory(lambda: torch.empty(333, dtype=torch.bfloat16), "cpu") == 666


def test_a_temporary_counts_while_it_lives() -> None:
    x, y = torch.randn(10_000), torch.randn(10_000)
    # x + y is a temporary, alive while * y writes the result: two tensors at the peak
    # (tensor operands: a Python scalar would be wrapped in a small tensor of its own)
    assert memory.peak_memory(lambda: (x + y) * y, "cpu") == 2 * 10_000 * F32
    assert memory.peak_memory(lambda: x.add_(y), "cpu") == 0  # in place: nothing new
    assert memory.peak_memory(lambda: x.view(100, 100), "cpu") == 0  # a view has no storage


@pytest.mark.filterwarnings("ignore:TF32 acceleration on top of oneDNN")  # switching it off
def test_slow_conv_counts_its_im2col_columns_and_output_exactly() -> None:
    """Without oneDNN a 3x3 conv unfolds its input into batch x (C_in k²) x (H' W')
    columns, then writes the output: both alive at the peak, and nothing else."""
    conv = torch.nn.Conv2d(16, 32, 3, padding=1, bias=False).eval()
    x = torch.randn(2, 16, 20, 20)

    def call() -> torch.Tensor:
        with torch.backends.mkldnn.flags(enabled=False):
            return conv(x)

    columns = 2 * (16 * 9) * (20 * 20) * F32
    output = 2 * 32 * 20 * 20 * F32
    with torch.inference_mode():
        call()
    assert memory.peak_memory(call, "cpu") == columns + output


def test_the_two_profiler_collectors_agree() -> None:
    """The legacy profiler's records and kineto's events come from separate code paths."""
    case = Case.make("separable_block", channels=32, size=28, batch=2)
    with case_settings(case), torch.inference_mode():
        call = prepare(case).call
        legacy = memory.peak_memory(call, "cpu")
        kineto = memory.running_peak(memory.kineto_deltas(call))
    assert legacy == kineto > 32 * 28 * 28 * 2 * F32


CASES: list[tuple[str, dict[str, Any]]] = [
    ("conv", {"channels": 64, "batch": 8}),
    ("conv", {"channels": 64, "channels_out": 128, "stride": 2, "batch": 4}),
    ("conv", {"channels": 32, "batch": 4, "memory_format": "channels_last"}),
    ("conv", {"channels": 32, "batch": 4, "dtype": "bfloat16"}),
    ("depthwise", {"channels": 128, "size": 28, "batch": 8}),
    ("pointwise", {"channels": 64, "channels_out": 128, "batch": 4}),
    ("separable", {"channels": 64, "batch": 4}),
    ("conv_block", {"channels": 32, "batch": 4}),
    ("separable_block", {"channels": 64, "size": 28, "batch": 8, "threads": 1}),
    ("inverted_residual", {"channels": 24, "size": 28, "batch": 4}),
    ("inverted_residual", {"channels": 24, "channels_out": 32, "stride": 2, "batch": 2}),
    ("mobilenet_v1", {"alpha": 0.5, "resolution": 128, "batch": 2}),
    ("mobilenet_v2", {"resolution": 160}),
    ("mobilenet_v2", {"alpha": 0.5, "resolution": 128, "batch": 2, "dtype": "bfloat16"}),
]


@pytest.mark.parametrize(("workload", "params"), CASES, ids=lambda v: str(v))
def test_measured_peak_is_at_least_the_output_and_near_the_model(
    workload: str, params: dict[str, Any]
) -> None:
    case = Case.make(workload, **params)
    modelled = cost(case.workload, case.params).activation_bytes
    with case_settings(case), torch.inference_mode():
        prepared = prepare(case)
        out = prepared.call()
        output = out.untyped_storage().nbytes()
        del out
        got = memory.measure_peak(prepared.call, case.device)
        again = memory.peak_memory(prepared.call, case.device)
    assert got.how == memory.CPU_METHOD
    assert got.bytes == again  # deterministic: the same allocations every call
    assert got.bytes is not None and output <= got.bytes <= 3 * modelled, (got.bytes, modelled)


def test_conv_mobilenet_peak_holds_copies_of_its_weights() -> None:
    """oneDNN reorders a 3x3 conv's weights into its blocked layout on every eager call:
    Conv MobileNet's peak holds such a copy of a wide layer's weights (512 x 1024 x 9
    floats, 18.9 MB, at resolution 128), far above the activation model, which counts no
    weights, yet below activations plus all weights."""
    case = Case.make("mobilenet_v1", conv="standard", resolution=128)
    c = cost(case.workload, case.params)
    with case_settings(case), torch.inference_mode():
        got = memory.peak_memory(prepare(case).call, "cpu")
    assert got is not None and 3 * c.activation_bytes < got < c.activation_bytes + c.weight_bytes


def test_unmeasurable_devices_and_failing_calls_give_none_with_a_reason() -> None:
    if not torch.backends.mps.is_available():
        got = memory.measure_peak(lambda: torch.empty(10), "mps")
        assert got.bytes is None and "mps" in got.how
    if not torch.cuda.is_available():
        assert memory.measure_peak(lambda: torch.empty(10), "cuda").bytes is None
    graphed = memory.measure_peak(lambda: torch.empty(10), "cuda", "cuda_graph")
    assert graphed.bytes is None and "CUDA graph" in graphed.how
    assert memory.peak_memory(lambda: torch.empty(10), "cpu", "compile") == 10 * F32

    def fails() -> None:
        raise RuntimeError("out of memory\nsecond line")

    got = memory.measure_peak(fails, "cpu")
    assert got.bytes is None and got.how == "not measured: RuntimeError: out of memory"
    assert not _profiling()  # the failed pass switched the profiler off again
    assert memory.peak_memory(lambda: torch.empty(10), "cpu") == 10 * F32


def test_the_pass_leaves_no_state_behind() -> None:
    threads = torch.get_num_threads()
    memory.peak_memory(lambda: torch.empty(10), "cpu")
    assert not _profiling()
    assert not torch.is_inference_mode_enabled()
    assert torch.get_num_threads() == threads


@pytest.mark.skipif(
    not hasattr(harness.execute, "memory"), reason="run_case does not take the peak pass yet"
)
def test_run_case_records_the_peak() -> None:
    from harness.timing_config import TimingConfig

    config = TimingConfig(min_time=0.01, max_time=0.2, warmup_time=0.01, block_time=1e-4)
    case = Case.make("conv", channels=16, size=16, batch=2)
    record = harness.execute.run_case(case, config)
    assert record.status == "ok" and record.samples
    output = 2 * 16 * 16 * 16 * F32
    modelled = cost(case.workload, case.params).activation_bytes
    assert record.peak_memory is not None and output <= record.peak_memory <= 3 * modelled


def test_show_carries_the_measured_peak_and_the_model(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    conv, depthwise = Case.make("conv", channels=8, size=8), Case.make("depthwise", channels=8)
    older = {k: v for k, v in described(depthwise).items() if not k.endswith("_bytes")}
    ok = {"status": CaseStatus.OK, "samples": [1e-3] * 10}
    with Store.open(url, create=True) as store:
        run = store.start_run(RunRecord("s", "d", {}, "f", datetime(2026, 1, 1, tzinfo=UTC)))
        store.add_results(
            run.id,
            [  # a new row, and one stored before the model's memory figures were
                ResultRecord(**described(conv), peak_memory=4096, **ok),
                ResultRecord(**older, **ok),
            ],
        )
        store.finish_run(run.id, RunStatus.FINISHED, datetime(2026, 1, 1, 1, tzinfo=UTC))
    shown = json.loads(CliRunner().invoke(cli, ["show", "latest", "--json", "--db", url]).output)
    got = {x["workload"]: x for x in shown["results"]}
    assert got["conv"]["peak_memory"] == 4096 and got["depthwise"]["peak_memory"] is None
    for case in (conv, depthwise):  # stored, or computed from the parameters: the same
        c = cost(case.workload, case.params)
        assert got[case.workload]["activation_bytes"] == c.activation_bytes
        assert got[case.workload]["activation_bytes_efficient"] == c.activation_bytes_efficient
        assert got[case.workload]["weight_bytes"] == c.weight_bytes
    table = CliRunner().invoke(cli, ["show", "latest", "--db", url]).output
    assert "peak mem" in table.splitlines()[1] and "4.1kB" in table


def test_an_unknown_workload_is_not_modelled() -> None:
    imported = SimpleNamespace(workload="test_matmul", params={"n": 3}, weight_bytes=None)
    assert _memory_model(imported) == dict.fromkeys(
        ("activation_bytes", "activation_bytes_efficient", "weight_bytes")
    )


@pytest.mark.gpu
def test_cuda_peak_counts_tensors_and_a_conv() -> None:
    assert memory.peak_memory(lambda: torch.empty(1 << 20, device="cuda"), "cuda") == 4 << 20
    x = torch.randn(1 << 20, device="cuda")
    assert memory.peak_memory(lambda: (x + 1) * 2, "cuda") == 2 * (4 << 20)
    case = Case.make("conv", channels=64, batch=8, device="cuda")
    modelled = cost(case.workload, case.params).activation_bytes
    with case_settings(case), torch.inference_mode():
        got = memory.measure_peak(prepare(case).call, "cuda")
    assert got.how == memory.CUDA_METHOD
    assert got.bytes is not None and 8 * 64 * 56 * 56 * F32 <= got.bytes <= 3 * modelled
