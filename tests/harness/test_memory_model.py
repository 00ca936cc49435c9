"""Activation and weight memory of the cost model against real eager runs (issue 13).

Two observers of one forward pass: forward hooks on the leaf modules (what the cost
model's definition speaks of), and the op trace under a TorchDispatchMode, where a tensor
lives from the op that makes it to the last op that reads it. The second knows nothing of
modules or residual blocks, so it checks the rule the first one uses for them.
test_workloads.py runs the hooks on every case it checks against FlopCounterMode.
"""

from __future__ import annotations

import itertools
from types import TracebackType
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode

from harness.architecture import Block, v1_blocks, v2_blocks
from harness.cases import Case
from harness.costmodel import Cost, cost
from harness.params import fill_defaults
from harness.workloads import build_module, make_input

Storages = dict[int, int]  # data_ptr -> bytes: views and in-place results count once


def _storages(value: Any) -> Storages:
    tensors = [t for t in pytree.tree_leaves(value) if isinstance(t, torch.Tensor)]
    return {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in tensors}


class LeafHooks:
    """Peak bytes alive at once over the leaf-module calls of one eager forward pass.

    At a leaf call the live tensors are its input and output, plus the input of every
    enclosing module whose output is not its last leaf's output: such a module computed
    its result itself (the residual add), so it read its input again at its end. That
    step is one more call, holding the module's input, the last leaf's output and its
    result.
    """

    def __init__(self, module: nn.Module) -> None:
        self.module = module
        self.calls: list[Storages] = []
        self._open: list[tuple[int, Storages]] = []
        self._last: Storages = {}
        self._handles: list[Any] = []

    def __enter__(self) -> LeafHooks:
        for m in self.module.modules():
            self._handles.append(m.register_forward_pre_hook(self._pre))
            self._handles.append(m.register_forward_hook(self._post))
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        for h in self._handles:
            h.remove()

    def _pre(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        self._open.append((len(self.calls), _storages(args)))

    def _post(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        start, inputs = self._open.pop()
        out = _storages(output)
        if next(module.children(), None) is None:
            self.calls.append(inputs | out)
            self._last = out
        elif out != self._last:
            for call in self.calls[start:]:
                call.update(inputs)
            self.calls.append(inputs | self._last | out)
            self._last = out

    @property
    def peak(self) -> int:
        return max(sum(call.values()) for call in self.calls)


class DataFlow(TorchDispatchMode):
    """Peak bytes alive at once over every op, a tensor living from the op that makes it
    (or the start) to the last op that reads it; parameters and buffers are not counted.
    Tensors are kept referenced so that no address is reused within the trace."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        state = itertools.chain(module.parameters(), module.buffers())
        self._weights = {t.untyped_storage().data_ptr() for t in state}
        self.ops: list[Storages] = []
        self._keep: list[Any] = []

    def __torch_dispatch__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        out = func(*args, **(kwargs or {}))
        self._keep.append(out)
        seen = _storages((args, kwargs, out))
        self.ops.append({p: n for p, n in seen.items() if p not in self._weights})
        return out

    @property
    def peak(self) -> int:
        first: dict[int, int] = {}
        last: Storages = {}
        size: Storages = {}
        for i, op in enumerate(self.ops):
            for p, n in op.items():
                first.setdefault(p, i)
                last[p], size[p] = i, n
        return max(
            sum(n for p, n in size.items() if first[p] <= i <= last[p])
            for i in range(len(self.ops))
        )


def run(case: Case, *, data_flow: bool = False) -> tuple[int, int | None]:
    """Run the case's module once, eager, in its dtype and memory format: (hooks' peak,
    the op trace's peak or None)."""
    p = case.params
    dtype = getattr(torch, p["dtype"])
    fmt = torch.channels_last if p["memory_format"] == "channels_last" else torch.contiguous_format
    module = build_module(case.workload, p).to(dtype=dtype, memory_format=fmt)
    x = make_input(case.workload, p, torch.Generator().manual_seed(0)).to(dtype=dtype)
    x = x.contiguous(memory_format=fmt)
    flow = DataFlow(module) if data_flow else None
    with torch.inference_mode(), LeafHooks(module) as hooks:
        if flow is None:
            module(x)
        else:
            with flow:
                module(x)
    return hooks.peak, None if flow is None else flow.peak


def c(workload: str, **params: object) -> Cost:
    return cost(workload, fill_defaults(workload, params))


# Every workload, and the shapes of inverted residual that count differently.
CASES = [
    Case.make("conv", channels=24, channels_out=40, size=15, kernel=5, stride=2),
    Case.make("depthwise", channels=24, size=15, stride=2, batch=3),
    Case.make("pointwise", channels=24, channels_out=8, size=15, stride=2),
    Case.make("separable", channels=16, channels_out=48, size=14),
    Case.make("separable_block", channels=32, channels_out=16, size=14, stride=2),
    Case.make("conv_block", channels=16, channels_out=48, size=14),
    Case.make("conv_block", channels=32, channels_out=16, size=15, kernel=1, stride=2),
    Case.make("inverted_residual", channels=16, size=14),  # residual
    Case.make("inverted_residual", channels=16, channels_out=24, size=14),  # shape changes
    Case.make("inverted_residual", channels=16, size=14, stride=2, expand=4),
    Case.make("inverted_residual", channels=16, size=14, expand=1),  # residual, no expand
    Case.make("inverted_residual", channels=16, channels_out=32, size=8, stride=2, expand=1),
    Case.make("mobilenet_v1", resolution=96),
    Case.make("mobilenet_v1", conv="standard", alpha=0.25, resolution=96),
    Case.make("mobilenet_v2", resolution=96),
    Case.make("mobilenet_v2", alpha=0.35, resolution=32, classes=10),  # 1x1 at the end
]

# Width, resolution, batch, dtype and memory format: the bytes must follow each.
VARIANTS = [
    Case.make("mobilenet_v1", alpha=0.5, resolution=128, batch=2),
    Case.make("mobilenet_v1", alpha=0.75, resolution=160, dtype="bfloat16"),
    Case.make("mobilenet_v1", conv="standard", alpha=0.5, resolution=64, dtype="float16"),
    Case.make("mobilenet_v2", alpha=1.4, resolution=64, batch=2),
    Case.make("mobilenet_v2", alpha=0.5, resolution=128, dtype="bfloat16"),
    Case.make("mobilenet_v2", alpha=0.75, resolution=96, memory_format="channels_last"),
    Case.make("inverted_residual", channels=24, size=28, batch=4, dtype="float16"),
    Case.make("separable_block", channels=32, size=28, batch=2, dtype="bfloat16"),
    Case.make("conv_block", channels=8, channels_out=16, size=28, dtype="float16", batch=3),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_model_matches_hooks_and_data_flow(case: Case) -> None:
    hooks, flow = run(case, data_flow=True)
    assert cost(case.workload, case.params).activation_bytes == hooks == flow


@pytest.mark.parametrize("case", VARIANTS, ids=lambda case: case.id)
def test_model_matches_hooks_across_width_resolution_batch_dtype(case: Case) -> None:
    hooks, _ = run(case)
    assert cost(case.workload, case.params).activation_bytes == hooks


def test_issue_example() -> None:
    # A 3x3 conv or separable layer, 64 -> 64, 56x56, batch 8, float32: input + output.
    case = Case.make("conv", channels=64, size=56, batch=8)
    assert c("conv", channels=64, size=56, batch=8).activation_bytes == 12_845_056
    assert c("separable", channels=64, size=56, batch=8).activation_bytes == 12_845_056
    assert run(case)[0] == 12_845_056


# --- by hand ------------------------------------------------------------------------------


def test_blocks_by_hand() -> None:
    # conv_block 16 -> 32 at 8x8: BatchNorm's input and new output, 2 x 32 x 64 elements.
    assert c("conv_block", channels=16, channels_out=32, size=8).activation_bytes == 4 * 4096
    # separable_block 16 -> 32: the pointwise BatchNorm again; depthwise holds 2 x 16 x 64.
    assert c("separable_block", channels=16, channels_out=32, size=8).activation_bytes == (4 * 4096)
    # Inverted residual 16 -> 16, t = 6 at 8x8: x (1024) is held for the add; the
    # expanded BatchNorm and the depthwise conv each hold x + 2 x 6144.
    block = c("inverted_residual", channels=16, size=8)
    assert block.activation_bytes == 4 * (1024 + 2 * 6144)
    assert block.activation_bytes_efficient == 4 * (1024 + 1024)  # input + output
    # Without the residual (16 -> 24) nothing is held: expanded BatchNorm, 2 x 6144.
    plain = c("inverted_residual", channels=16, channels_out=24, size=8)
    assert plain.activation_bytes == 4 * 2 * 6144
    assert plain.activation_bytes_efficient == 4 * (1024 + 24 * 64)


def test_streaming_never_costs_more_than_eager() -> None:
    # t = 1, stride 2, 16 -> 32 at 8x8: eager frees x after the depthwise conv
    # (1024 + 256), less than streaming's input + output (1024 + 512).
    block = c("inverted_residual", channels=16, channels_out=32, size=8, stride=2, expand=1)
    assert block.activation_bytes == block.activation_bytes_efficient == 4 * (1024 + 256)


@pytest.mark.parametrize(
    ("workload", "params"),
    [
        ("conv", dict(channels=64)),
        ("depthwise", dict(channels=64, stride=2)),
        ("pointwise", dict(channels=64, channels_out=128)),
        ("separable", dict(channels=64)),
        ("separable_block", dict(channels=64)),
        ("conv_block", dict(channels=64)),
        ("mobilenet_v1", dict()),
        ("mobilenet_v1", dict(conv="standard")),
    ],
    ids=str,
)
def test_efficient_equals_eager_without_inverted_residuals(workload: str, params: dict) -> None:
    got = c(workload, **params)
    assert got.activation_bytes_efficient == got.activation_bytes > 0


@pytest.mark.parametrize("alpha", [0.35, 0.5, 1.0, 1.4])
@pytest.mark.parametrize("resolution", [96, 160, 224])
def test_efficient_saves_the_expanded_tensors(alpha: float, resolution: int) -> None:
    v2 = c("mobilenet_v2", alpha=alpha, resolution=resolution)
    assert v2.activation_bytes_efficient < v2.activation_bytes
    for block in (dict(channels=24, size=56), dict(channels=24, channels_out=32, stride=2)):
        got = c("inverted_residual", **block)
        assert got.activation_bytes_efficient < got.activation_bytes


def test_weight_bytes() -> None:
    # Parameters (BatchNorm's affine pair included) times the dtype's size.
    block = c("conv_block", channels=16, channels_out=32, dtype="float16")
    assert block.weight_bytes == 2 * (9 * 16 * 32 + 2 * 32)
    assert c("mobilenet_v1").weight_bytes == 4 * 4_231_976  # Linear bias included
    assert c("mobilenet_v2", dtype="bfloat16").weight_bytes == 2 * 3_504_872
    assert c("conv", channels=8, batch=7).weight_bytes == 4 * 9 * 8 * 8  # batch-independent


# --- the networks against the paper (Sandler et al. 2018, table 3) ------------------------

# Elements alive at once per image at 224, found by hand from the architecture tables.
V1_PEAK = 2 * 64 * 112 * 112  # block 1's pointwise BatchNorm: input and output, 64 @ 112
V2_EAGER = 2 * 96 * 112 * 112  # block 2's expand BatchNorm: 96 channels, still at 112
V2_EFFICIENT = 2 * 32 * 112 * 112  # the stem's BatchNorm (32 @ 112), not a block


@pytest.mark.parametrize(("dtype", "size"), [("float32", 4), ("float16", 2)])
def test_network_figures_at_224(dtype: str, size: int) -> None:
    v1 = c("mobilenet_v1", dtype=dtype)
    conv_mobilenet = c("mobilenet_v1", conv="standard", dtype=dtype)
    v2 = c("mobilenet_v2", dtype=dtype)
    assert v1.activation_bytes == v1.activation_bytes_efficient == size * V1_PEAK
    assert (
        conv_mobilenet.activation_bytes
        == conv_mobilenet.activation_bytes_efficient
        == (size * V1_PEAK)
    )
    assert v2.activation_bytes == size * V2_EAGER
    assert v2.activation_bytes_efficient == size * V2_EFFICIENT


def test_table3_ranking() -> None:
    # Table 3: v1 1600K, v2 400K (16-bit). Eager execution inverts the ranking (v2's
    # expanded tensors are the largest); streaming them restores it.
    v1, v2 = c("mobilenet_v1", dtype="float16"), c("mobilenet_v2", dtype="float16")
    assert v2.activation_bytes > v1.activation_bytes
    assert v2.activation_bytes_efficient * 2 == v1.activation_bytes_efficient


def test_table3_counts_the_largest_bottleneck_tensor() -> None:
    # What the table's figures are: the largest single tensor between blocks, 16-bit,
    # with v2's first layer (stem + first block) streamed, so its 32 @ 112 never exists.
    def largest(blocks: tuple[Block, ...]) -> int:
        size, most = 112, 0
        for b in blocks:
            size //= b.stride
            most = max(most, b.channels_out * size * size)
        return 2 * most

    assert largest(v1_blocks(1.0)) == 1_605_632  # "1600K"
    assert largest(v2_blocks(1.0)) == 401_408  # "400K"
    assert c("mobilenet_v1", dtype="float16").activation_bytes == 2 * 1_605_632  # in + out
