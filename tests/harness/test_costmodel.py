"""The analytic cost model: published figures, the theory, bytes and speed.

Agreement with the built modules (FlopCounterMode, parameter counts, shapes) is in
test_workloads.py, activation and weight memory in test_memory_model.py; this file needs
no torch.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest

from harness.architecture import (
    V1_BLOCKS,
    make_divisible,
    v1_blocks,
    v2_blocks,
    v2_last_channel,
    v2_stem,
)
from harness.costmodel import Cost, cost, input_shape
from harness.params import fill_defaults
from results.pairs import theory_ratio, theory_speedup

ROOT = Path(__file__).resolve().parents[2]


def c(workload: str, **params: object) -> Cost:
    return cost(workload, fill_defaults(workload, params))


# --- published figures (DESIGN.md section 1) ----------------------------------------------


def test_mobilenet_v1_published() -> None:
    v1 = c("mobilenet_v1")
    assert v1.macs == pytest.approx(569e6, rel=0.01)
    assert v1.parameters == 4_231_976
    assert v1.output_shape == (1, 1000)


def test_conv_mobilenet_published() -> None:
    full = c("mobilenet_v1", conv="standard")
    assert full.macs == pytest.approx(4866e6, rel=0.01)
    assert full.parameters == pytest.approx(29.3e6, rel=0.01)


def test_mobilenet_v2_published() -> None:
    v2 = c("mobilenet_v2")
    assert v2.parameters == 3_504_872
    assert v2.macs == pytest.approx(300e6, rel=0.02)


# Howard et al. 2017, table 6 (width) and table 7 (resolution): (alpha, resolution, MACs,
# parameters), rounded there to 1 M MACs and 0.1 M parameters. These pin v1's rounding.
@pytest.mark.parametrize(
    ("alpha", "resolution", "macs", "params"),
    [
        (0.75, 224, 325e6, 2.6e6),
        (0.5, 224, 149e6, 1.3e6),
        (0.25, 224, 41e6, 0.5e6),
        (1.0, 192, 418e6, 4.2e6),
        (1.0, 160, 290e6, 4.2e6),
        (1.0, 128, 186e6, 4.2e6),
    ],
)
def test_mobilenet_v1_paper_tables(alpha: float, resolution: int, macs: float, params: float):
    v1 = c("mobilenet_v1", alpha=alpha, resolution=resolution)
    assert abs(v1.macs - macs) <= 0.5e6 + 1e-3 * macs
    assert abs(v1.parameters - params) <= 0.05e6


# --- the theory -----------------------------------------------------------------------------


def test_theory_speedup_figures() -> None:
    assert theory_speedup(64) == pytest.approx(7.9, abs=0.05)
    assert theory_speedup(512) == pytest.approx(8.8, abs=0.05)
    assert theory_speedup(10**9) == pytest.approx(9.0, rel=1e-6)
    assert theory_speedup(64, kernel=5) == pytest.approx(25 * 64 / 89)


@pytest.mark.parametrize("channels_out", [1, 3, 24, 64, 512])
@pytest.mark.parametrize("kernel", [1, 3, 5])
def test_theory_ratio_is_inverse_speedup(channels_out: int, kernel: int) -> None:
    assert theory_ratio(channels_out, kernel) == pytest.approx(1 / channels_out + 1 / kernel**2)
    assert theory_ratio(channels_out, kernel) * theory_speedup(channels_out, kernel) == (
        pytest.approx(1.0)
    )


@pytest.mark.parametrize(
    "geometry",
    [
        dict(channels=64, size=56),
        dict(channels=3, channels_out=24, size=15, stride=2),
        dict(channels=96, channels_out=512, size=7, kernel=5, batch=2),
        dict(channels=24, channels_out=64, size=56, kernel=1),
    ],
    ids=str,
)
def test_separable_over_conv_is_theory_ratio(geometry: dict) -> None:
    ratio = c("separable", **geometry).macs / c("conv", **geometry).macs
    channels_out = geometry.get("channels_out", geometry["channels"])
    assert ratio == theory_ratio(channels_out, geometry.get("kernel", 3))


@pytest.mark.parametrize(
    "geometry",
    [
        dict(channels=64, size=56),
        dict(channels=3, channels_out=24, size=15, stride=2),
        dict(channels=96, channels_out=512, size=7, kernel=5, batch=2),
        dict(channels=24, channels_out=64, size=56, kernel=1),
        dict(channels=512, size=14, stride=2, batch=8),
    ],
    ids=str,
)
def test_separable_block_over_conv_block_is_theory_ratio(geometry: dict) -> None:
    # The fair pair: BatchNorm and ReLU add no MACs, so the ratio stays exact.
    ratio = c("separable_block", **geometry).macs / c("conv_block", **geometry).macs
    channels_out = geometry.get("channels_out", geometry["channels"])
    assert ratio == theory_ratio(channels_out, geometry.get("kernel", 3))


# --- hand-computed counts -------------------------------------------------------------------


def test_conv_counts_by_hand() -> None:
    # 64 -> 128 channels, 3x3, stride 2 on 15x15: output (15 + 2 - 3) // 2 + 1 = 8.
    got = c("conv", channels=64, channels_out=128, size=15, stride=2, batch=2)
    assert got.macs == 2 * 9 * 64 * 128 * 8 * 8
    assert got.parameters == 9 * 64 * 128
    assert got.output_shape == (2, 128, 8, 8)


def test_conv_block_counts_by_hand() -> None:
    # The conv above, plus BatchNorm's affine pair (2 x 128); BN and ReLU add no MACs and,
    # folded into the conv, move no bytes.
    conv = c("conv", channels=64, channels_out=128, size=15, stride=2, batch=2)
    got = c("conv_block", channels=64, channels_out=128, size=15, stride=2, batch=2)
    assert got.macs == conv.macs == 2 * 9 * 64 * 128 * 8 * 8
    assert got.parameters == 9 * 64 * 128 + 2 * 128
    assert got.bytes == conv.bytes
    assert got.output_shape == conv.output_shape == (2, 128, 8, 8)


def test_inverted_residual_counts_by_hand() -> None:
    # 16 -> 16, t = 6, 3x3, stride 1 at 8x8: expand 16->96, depthwise 96, project 96->16,
    # each followed by a BatchNorm (2 parameters per channel).
    got = c("inverted_residual", channels=16, size=8)
    assert got.macs == (16 * 96 + 9 * 96 + 96 * 16) * 64
    assert got.parameters == 16 * 96 + 9 * 96 + 96 * 16 + 2 * (96 + 96 + 16)
    # t = 1: no expand stage.
    assert c("inverted_residual", channels=16, size=8, expand=1).macs == (9 * 16 + 16 * 16) * 64


def test_input_and_output_shapes() -> None:
    conv = fill_defaults("conv", dict(channels=24, batch=4))
    assert input_shape("conv", conv) == (4, 24, 56, 56)
    assert input_shape("mobilenet_v2", dict(resolution=160, batch=2)) == (2, 3, 160, 160)
    pointwise = c("pointwise", channels=8, channels_out=5, size=15, stride=2)
    assert pointwise.output_shape == (1, 5, 8, 8)  # (15 - 1) // 2 + 1
    assert c("depthwise", channels=8, size=7, kernel=5, stride=2).output_shape == (1, 8, 4, 4)
    assert c("mobilenet_v1", classes=10, batch=3).output_shape == (3, 10)


# --- bytes ----------------------------------------------------------------------------------


def test_conv_bytes_by_hand() -> None:
    # float32, batch 1, 64 -> 128 channels, 3x3, stride 1 at 56x56.
    got = c("conv", channels=64, channels_out=128, size=56)
    elements = 64 * 56 * 56 + 9 * 64 * 128 + 128 * 56 * 56  # input + weights + output
    assert got.bytes == 4 * elements
    assert got.intensity == got.macs / got.bytes


def test_separable_bytes_by_hand() -> None:
    # float32, batch 2, 64 -> 32 channels, 3x3, stride 2 at 56x56 (28x28 out).
    got = c("separable", channels=64, channels_out=32, size=56, stride=2, batch=2)
    depthwise = 2 * 64 * 56 * 56 + 9 * 64 + 2 * 64 * 28 * 28
    pointwise = 2 * 64 * 28 * 28 + 64 * 32 + 2 * 32 * 28 * 28
    assert got.bytes == 4 * (depthwise + pointwise)


def test_residual_add_reads_the_skip_once_more() -> None:
    # t = 1 keeps everything at 16 channels x 8x8 = 1024 elements per tensor.
    with_add = c("inverted_residual", channels=16, size=8, expand=1)
    assert with_add.bytes == 4 * ((1024 + 9 * 16 + 1024) + (1024 + 16 * 16 + 1024) + 1024)
    without = c("inverted_residual", channels=16, channels_out=24, size=8, expand=1)
    assert without.bytes == 4 * ((1024 + 9 * 16 + 1024) + (1024 + 16 * 24 + 24 * 64))


WORKLOAD_CASES = [
    ("conv", dict(channels=32, channels_out=48, size=15, kernel=5, stride=2)),
    ("depthwise", dict(channels=32, size=15)),
    ("pointwise", dict(channels=32, channels_out=48, size=15)),
    ("separable", dict(channels=32, size=15)),
    ("separable_block", dict(channels=32, size=15)),
    ("conv_block", dict(channels=32, channels_out=48, size=15, kernel=5, stride=2)),
    ("inverted_residual", dict(channels=32, size=15)),
    ("mobilenet_v1", dict(alpha=0.5)),
    ("mobilenet_v1", dict(conv="standard")),
    ("mobilenet_v2", dict(resolution=160)),
]


@pytest.mark.parametrize(("workload", "params"), WORKLOAD_CASES, ids=lambda v: str(v))
def test_dtype_and_batch_scaling(workload: str, params: dict) -> None:
    f32 = c(workload, **params)
    assert f32.bytes > 0 and f32.macs > 0
    for dtype in ("float16", "bfloat16"):
        half = c(workload, **params, dtype=dtype)
        assert half.bytes * 2 == f32.bytes
        assert half.activation_bytes * 2 == f32.activation_bytes
        assert half.activation_bytes_efficient * 2 == f32.activation_bytes_efficient
        assert half.weight_bytes * 2 == f32.weight_bytes == 4 * f32.parameters
    four = c(workload, **params, batch=4)
    assert four.macs == 4 * f32.macs
    assert four.parameters == f32.parameters
    assert four.activation_bytes == 4 * f32.activation_bytes  # weights are not activations
    assert four.activation_bytes_efficient == 4 * f32.activation_bytes_efficient
    assert four.weight_bytes == f32.weight_bytes
    assert 0 < f32.activation_bytes_efficient <= f32.activation_bytes
    assert f32.bytes < four.bytes < 4 * f32.bytes  # weights are read once per batch
    assert four.output_shape == (4, *f32.output_shape[1:])
    # Runtime parameters change how a case runs, not what it costs.
    assert c(workload, **params, device="cuda", memory_format="channels_last", threads=2) == f32


def test_partial_params_are_filled() -> None:
    assert cost("conv", {"channels": 64}) == c("conv", channels=64)


def test_bad_cases_raise_value_error() -> None:
    with pytest.raises(ValueError, match="unknown workload"):
        cost("resnet50", {})
    with pytest.raises(ValueError, match="unknown workload"):
        input_shape("resnet50", {})
    with pytest.raises(ValueError, match="channels_out == channels"):
        c("depthwise", channels=32, channels_out=64)


# --- architecture tables --------------------------------------------------------------------


def test_make_divisible_matches_torchvision_rule() -> None:
    assert make_divisible(32 * 1.0) == 32
    assert make_divisible(20) == 24  # rounds half up to the nearest multiple of 8
    assert make_divisible(5.6) == 8  # never below divisor
    assert make_divisible(24 * 0.75) == 24  # 16 would lose more than 10% of 18
    assert make_divisible(32 * 0.35) == 16  # 8 would lose more than 10% of 11.2
    assert make_divisible(96 * 0.75) == 72
    assert make_divisible(3, divisor=4, min_value=1) == 4
    assert make_divisible(7, divisor=1, min_value=1) == 7


def test_v2_widths() -> None:
    assert v2_stem(1.0) == 32 and v2_stem(0.35) == 16
    assert v2_last_channel(0.35) == v2_last_channel(1.0) == 1280  # never scaled down
    assert v2_last_channel(1.4) == 1792
    blocks = v2_blocks(1.0)
    assert len(blocks) == 17
    widths = [16] + [24] * 2 + [32] * 3 + [64] * 4 + [96] * 3 + [160] * 3 + [320]
    assert [b.channels_out for b in blocks] == widths
    assert [b.stride for b in blocks] == [1, 2, 1, 2, 1, 1, 2, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1]
    assert [b.expand for b in blocks] == [1] + [6] * 16
    assert sum(b.residual for b in blocks) == 10
    assert all(b.channels == a.channels_out for a, b in itertools.pairwise(blocks))


def test_v1_widths() -> None:
    assert [(b.stride, b.channels_out) for b in v1_blocks(1.0)] == list(V1_BLOCKS)
    assert len(V1_BLOCKS) == 13
    quarter = v1_blocks(0.25)
    assert quarter[0].channels == 8 and quarter[-1].channels_out == 256
    assert v1_blocks(0.35)[0].channels == 11  # int(32 * 0.35) = int(11.2): truncation


# --- no torch, and speed --------------------------------------------------------------------


def test_cost_model_does_not_import_torch() -> None:
    code = "import harness.costmodel, harness.architecture, sys; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
