"""The built modules: they agree with the cost model, and have the papers' architecture."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from test_memory_model import LeafHooks
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from harness.cases import Case
from harness.costmodel import cost, input_shape
from harness.params import fill_defaults
from harness.workloads import build_module, make_input
from harness.workloads.layers import InvertedResidual, SeparableBlock
from harness.workloads.mobilenet import MobileNetV1, MobileNetV2

LAYERS = (
    "conv",
    "depthwise",
    "pointwise",
    "separable",
    "separable_block",
    "conv_block",
    "inverted_residual",
)

# Odd channel counts and sizes, channels_out != channels, strides 1 and 2, kernels 1/3/5.
GEOMETRIES: list[dict[str, Any]] = [
    dict(channels=3, size=7),
    dict(channels=3, channels_out=16, size=15, stride=2, batch=2),
    dict(channels=24, size=56, expand=1),
    dict(channels=24, channels_out=40, size=15, kernel=5, stride=2),
    dict(channels=64, channels_out=128, size=28, kernel=1, stride=2, batch=2, expand=4),
    dict(channels=64, size=15, kernel=5, expand=1),
    dict(channels=96, channels_out=24, size=14, stride=2),
    dict(channels=96, size=7, batch=2, expand=3),
    dict(channels=32, size=8, kernel=1),
]

# Published MACs at 224 are pinned analytically in test_costmodel.py, so the networks are
# run mostly at smaller resolutions; every resolution still runs once at alpha = 1.
NETWORKS: list[tuple[str, dict[str, Any]]] = [
    *(("mobilenet_v1", dict(resolution=r)) for r in (224, 192, 160, 128, 96)),
    ("mobilenet_v1", dict(alpha=0.75, resolution=160)),
    ("mobilenet_v1", dict(alpha=0.5, resolution=128, batch=2)),
    ("mobilenet_v1", dict(alpha=0.25, resolution=192)),
    ("mobilenet_v1", dict(alpha=1.4, resolution=96)),
    ("mobilenet_v1", dict(alpha=0.35, resolution=96, classes=10)),
    ("mobilenet_v1", dict(conv="standard", resolution=96)),
    ("mobilenet_v1", dict(conv="standard", alpha=0.5, resolution=128, batch=2)),
    ("mobilenet_v1", dict(conv="standard", alpha=0.25, resolution=160)),
    *(("mobilenet_v2", dict(resolution=r)) for r in (224, 192, 160, 128, 96)),
    ("mobilenet_v2", dict(alpha=0.75, resolution=160)),
    ("mobilenet_v2", dict(alpha=0.5, resolution=128, batch=2)),
    ("mobilenet_v2", dict(alpha=0.35, resolution=192)),
    ("mobilenet_v2", dict(alpha=1.4, resolution=96)),
    ("mobilenet_v2", dict(alpha=1.0, resolution=96, classes=10)),
]


def _layer_cases() -> list[Case]:
    cases = []
    for workload in LAYERS:
        for g in GEOMETRIES:
            params = {
                k: v for k, v in g.items() if k != "expand" or workload == "inverted_residual"
            }
            if workload == "depthwise":
                params.pop("channels_out", None)
            cases.append(Case.make(workload, **params))
    return cases


CASES = _layer_cases() + [Case.make(w, **p) for w, p in NETWORKS]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_module_matches_cost_model(case: Case) -> None:
    module = build_module(case.workload, case.params)
    x = make_input(case.workload, case.params, torch.Generator().manual_seed(0))
    with (
        torch.inference_mode(),
        FlopCounterMode(display=False) as counter,
        LeafHooks(module) as live,
    ):
        y = module(x)
    expected = cost(case.workload, case.params)
    assert expected.macs * 2 == counter.get_total_flops()
    assert expected.parameters == sum(p.numel() for p in module.parameters())
    assert expected.activation_bytes == live.peak
    assert expected.output_shape == tuple(y.shape)
    assert torch.isfinite(y).all()


# --- v2 -------------------------------------------------------------------------------------


def _convs(module: nn.Module) -> list[nn.Conv2d]:
    return [m for m in module.modules() if isinstance(m, nn.Conv2d)]


def _blocks(net: nn.Module, kind: type[nn.Module]) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, kind)]


@pytest.mark.parametrize("alpha", [1.0, 0.35, 1.4])
def test_v2_residual_exactly_when_shape_is_kept(alpha: float) -> None:
    blocks = _blocks(MobileNetV2(alpha), InvertedResidual)
    assert len(blocks) == 17
    for block in blocks:
        convs = _convs(block)
        stride = max(conv.stride[0] for conv in convs)
        keeps_shape = stride == 1 and convs[0].in_channels == convs[-1].out_channels
        assert block.use_residual == keeps_shape
    # From the settings table: each group of n repeats has n - 1 residual blocks, plus
    # none for (6, 96, 3, 1)'s first block since 64 != 96.
    assert sum(block.use_residual for block in blocks) == 10


@pytest.mark.parametrize(
    ("channels_out", "stride", "adds"), [(16, 1, True), (24, 1, False), (16, 2, False)]
)
def test_v2_residual_is_added(channels_out: int, stride: int, adds: bool) -> None:
    block = InvertedResidual(16, channels_out, stride, expand=6).eval()
    last_bn = block.conv[-1]
    nn.init.zeros_(last_bn.weight)  # the branch now outputs exactly zero
    nn.init.zeros_(last_bn.bias)
    x = torch.randn(2, 16, 8, 8)
    with torch.inference_mode():
        y = block(x)
    if adds:
        assert torch.equal(y, x)
    else:
        assert not y.any()


def test_v2_linear_bottleneck() -> None:
    for block in _blocks(MobileNetV2(), InvertedResidual):
        leaves = [m for m in block.conv.modules() if not list(m.children())]
        assert isinstance(leaves[-1], nn.BatchNorm2d)
        projection = leaves[-2]
        assert isinstance(projection, nn.Conv2d) and projection.kernel_size == (1, 1)
        # Activations only inside the expand and depthwise stages.
        assert sum(isinstance(m, nn.ReLU6) for m in leaves) == len(_convs(block)) - 1


def test_v2_expand_stage_only_when_t_above_one() -> None:
    plain = _convs(InvertedResidual(32, 16, expand=1))
    assert len(plain) == 2 and plain[0].groups == 32  # depthwise first
    expanded = _convs(InvertedResidual(32, 16, expand=6))
    assert len(expanded) == 3
    assert expanded[0].kernel_size == (1, 1) and expanded[0].out_channels == 192
    assert expanded[1].groups == 192
    first = _blocks(MobileNetV2(), InvertedResidual)[0]
    assert len(_convs(first)) == 2  # (t, c, n, s) = (1, 16, 1, 1)


def test_v2_matches_torchvision_layout() -> None:
    net = MobileNetV2()
    keys = net.state_dict().keys()
    # Keys as torchvision's mobilenet_v2 names them, so its weights would load.
    for key in (
        "features.0.0.weight",
        "features.0.1.running_var",
        "features.1.conv.0.0.weight",  # t = 1: depthwise first
        "features.1.conv.2.weight",
        "features.2.conv.3.bias",
        "features.18.0.weight",
        "classifier.1.weight",
        "classifier.1.bias",
    ):
        assert key in keys
    assert net.features[0][0].out_channels == 32 and net.features[0][0].stride == (2, 2)
    assert net.features[-1][0].out_channels == 1280
    dropout, linear = net.classifier
    assert isinstance(dropout, nn.Dropout) and dropout.p == 0.2
    assert linear.bias is not None and linear.in_features == 1280
    assert MobileNetV2(1.4).classifier[1].in_features == 1792
    assert MobileNetV2(0.5).classifier[1].in_features == 1280


# --- v1 -------------------------------------------------------------------------------------

# DESIGN.md section 1: (stride, out channels) of the 13 separable blocks at alpha = 1.
V1_TABLE = [(1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512)]
V1_TABLE += [(1, 512)] * 5 + [(2, 1024), (1, 1024)]


@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_v1_blocks(alpha: float) -> None:
    net = MobileNetV1(alpha)
    stem = net.features[0][0]
    assert (stem.in_channels, stem.out_channels, stem.stride) == (3, 32 * alpha, (2, 2))
    blocks = _blocks(net, SeparableBlock)
    assert len(blocks) == 13
    channels = 32 * alpha
    for block, (stride, out) in zip(blocks, V1_TABLE, strict=True):
        dw, pw = _convs(block)
        assert dw.groups == dw.in_channels == channels and dw.kernel_size == (3, 3)
        assert dw.stride == (stride, stride) and pw.stride == (1, 1)
        assert pw.kernel_size == (1, 1) and pw.out_channels == out * alpha
        leaves = [type(m) for m in block.modules() if not list(m.children())]
        assert leaves == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU] * 2
        channels = out * alpha
    assert isinstance(net.pool, nn.AdaptiveAvgPool2d)
    assert net.classifier.in_features == 1024 * alpha and net.classifier.bias is not None


def test_conv_block_is_conv_bn_relu() -> None:
    block = build_module("conv_block", dict(channels=16, channels_out=24, kernel=5, stride=2))
    conv, bn, relu = block
    assert (conv.in_channels, conv.out_channels, conv.groups) == (16, 24, 1)
    assert conv.kernel_size == (5, 5) and conv.stride == (2, 2) and conv.padding == (2, 2)
    assert conv.bias is None and isinstance(bn, nn.BatchNorm2d) and bn.num_features == 24
    assert isinstance(relu, nn.ReLU) and relu.inplace
    # He init on the fan-in, 16 x 5 x 5: std sqrt(2 / 400), not PyTorch's default.
    assert conv.weight.std().item() == pytest.approx((2 / 400) ** 0.5, rel=0.1)
    # The same layers as Conv MobileNet's, as separable_block is v1's block.
    layer = MobileNetV1(conv="standard").features[1]
    assert [type(m) for m in layer] == [type(m) for m in block]


def test_conv_mobilenet_uses_standard_convs() -> None:
    net = MobileNetV1(conv="standard")
    assert not _blocks(net, SeparableBlock)
    convs = _convs(net)[1:]
    assert len(convs) == 13
    assert [(c.stride[0], c.out_channels) for c in convs] == V1_TABLE
    assert all(c.groups == 1 and c.kernel_size == (3, 3) for c in convs)
    with pytest.raises(ValueError):
        MobileNetV1(conv="dilated")


# --- building and inputs --------------------------------------------------------------------


@pytest.mark.parametrize("workload", ["mobilenet_v1", "mobilenet_v2"])
def test_networks_keep_activations_in_range(workload: str) -> None:
    # Deep stacks must neither vanish nor blow up, or float16 runs would time zeros and
    # subnormals: with PyTorch's default init v1's features have a std of about 1e-11.
    torch.manual_seed(0)  # the weights are random; keep the test deterministic
    net = build_module(workload, dict(resolution=96))
    with torch.inference_mode():
        features = net.features(torch.randn(2, 3, 96, 96))
    assert 1e-2 < features.std().item() < 1e2


def test_build_module_is_eval_float32_cpu() -> None:
    for workload in ("separable_block", "inverted_residual", "mobilenet_v2"):
        module = build_module(workload, fill_defaults(workload, dict(channels=8, resolution=64)))
        assert all(not m.training for m in module.modules())
        for p in module.parameters():
            assert p.dtype == torch.float32 and p.device.type == "cpu"


def test_make_input_is_seeded_normal() -> None:
    params = fill_defaults("conv", dict(channels=24, size=15, batch=2))
    a = make_input("conv", params, torch.Generator().manual_seed(3))
    b = make_input("conv", params, torch.Generator().manual_seed(3))
    c = make_input("conv", params, torch.Generator().manual_seed(4))
    assert tuple(a.shape) == input_shape("conv", params) == (2, 24, 15, 15)
    assert a.dtype == torch.float32 and a.device.type == "cpu"
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert (a != 0).all() and 0.8 < a.std().item() < 1.2
    net = make_input("mobilenet_v1", dict(resolution=96), torch.Generator().manual_seed(0))
    assert tuple(net.shape) == (1, 3, 96, 96)


def test_build_module_rejects_bad_cases() -> None:
    with pytest.raises(ValueError, match="unknown workload"):
        build_module("resnet50", {})
    with pytest.raises(ValueError, match="channels_out == channels"):
        build_module("depthwise", dict(channels=8, channels_out=16))
