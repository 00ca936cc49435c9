"""Analytic cost of a case: multiply-adds, parameters, bytes moved, activation and weight
memory, and output shape.

No torch here, and no module is built: ``bench list`` prices thousands of cases at once.

Conventions (DESIGN.md section 1):

- **MACs** count convolutions and the classifier's Linear (its bias add excluded), the
  papers' convention and ``torch.utils.flop_counter.FlopCounterMode``'s (its FLOPs / 2
  equal these MACs). BatchNorm, activations, pooling and the residual add cost nothing.
- **Parameters** are those of the built ``nn.Module``: BatchNorm's affine weight and bias
  included, running statistics excluded.
- **Bytes** are the minimum moved by an unfused-convolution implementation: every conv and
  Linear reads its input and its weights once and writes its output once. BatchNorm is
  folded into the conv before it and activations run in the conv's epilogue, so they move
  nothing more (nor are BatchNorm's parameters read). A residual add reads the block's
  input once more (its other operand is the projection's output, produced in place);
  global average pooling reads the last feature map and writes one value per channel.
  Elements are counted and multiplied by the dtype's size, so float16 moves half the
  bytes of float32.
- **Weight bytes** are the parameters (as counted above: BatchNorm's affine weight and
  bias and the Linear's bias included, running statistics excluded) times the dtype's size.
- **Activation bytes** (eager): the largest total size of the distinct tensors alive at
  one leaf-module call, over the calls of an eager forward pass, at the case's batch and
  dtype. Alive at a call: the layer's input and output, plus a residual block's input,
  held from the block's start to its add; anything else is freed once the next layer has
  read it (the network's input is the first layer's input). Views and in-place results
  are the tensor they come from. Hence a conv, pooling or Linear holds input + output;
  BatchNorm in eval writes a new tensor, so holds twice its output; in-place ReLU/ReLU6,
  eval Dropout and ``flatten`` add nothing; the residual add holds the block's input, the
  branch's output and the sum, as the projection's BatchNorm before it does. Weights are
  not activations. Sandler et al. 2018 (section 5.1) count memory this way, the largest
  inputs + outputs of any operation, with each eager layer an operation.
- **Efficient activation bytes**: the same, except that an inverted residual is one
  operation that streams its expanded tensor in channel slices (section 5.1): it holds
  its input + output bottleneck tensors and nothing for the expanded one (the O(size²)
  slice is ignored), or its eager footprint where that is smaller. Every other layer, v1's
  blocks included, counts as in eager mode, so the two figures differ by exactly what
  streaming saves. The paper's table 3 (v1 1600K, v2 400K: 16-bit, 224) counts less still:
  the largest single bottleneck tensor, with v2's first layer streamed too. This figure
  keeps its ranking (v2 below v1); the eager one inverts it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from harness.architecture import (
    Block,
    hidden_channels,
    v1_blocks,
    v1_last_channel,
    v1_stem,
    v2_blocks,
    v2_last_channel,
    v2_stem,
)
from harness.params import DTYPE_BYTES, WORKLOADS, cross_check, fill_defaults

NETWORKS = ("mobilenet_v1", "mobilenet_v2")
# Parameters that change how a case runs, not what it computes.
_RUNTIME = frozenset({"batch", "dtype", "device", "memory_format", "threads", "cudnn_benchmark"})


@dataclass(frozen=True)
class Cost:
    macs: int
    parameters: int
    bytes: int
    output_shape: tuple[int, ...]
    activation_bytes: int
    activation_bytes_efficient: int
    weight_bytes: int

    @property
    def intensity(self) -> float:
        """Arithmetic intensity in MACs per byte: where the case sits on the roofline."""
        return self.macs / self.bytes


def conv_out(size: int, kernel: int, stride: int) -> int:
    """Spatial output size of a conv padded by ``kernel // 2`` (PyTorch's formula)."""
    return (size + 2 * (kernel // 2) - kernel) // stride + 1


def cost(workload: str, params: dict[str, Any]) -> Cost:
    """Cost of one case; ``params`` as from ``fill_defaults`` (missing ones are filled)."""
    params = _full(workload, params)
    batch, size = params["batch"], DTYPE_BYTES[params["dtype"]]
    p = _profile(workload, tuple(sorted(kv for kv in params.items() if kv[0] not in _RUNTIME)))
    return Cost(
        macs=p.macs * batch,
        parameters=p.params,
        bytes=(p.activations * batch + p.weights) * size,
        output_shape=(batch, *p.shape),
        activation_bytes=p.peak * batch * size,
        activation_bytes_efficient=p.peak_efficient * batch * size,
        weight_bytes=p.params * size,
    )


def input_shape(workload: str, params: dict[str, Any]) -> tuple[int, ...]:
    """Shape of the input tensor: (batch, channels, size, size) or (batch, 3, res, res)."""
    params = _full(workload, params)
    if workload in NETWORKS:
        return (params["batch"], 3, params["resolution"], params["resolution"])
    return (params["batch"], params["channels"], params["size"], params["size"])


def _full(workload: str, params: dict[str, Any]) -> dict[str, Any]:
    spec = WORKLOADS.get(workload)
    if spec is None:
        raise ValueError(f"unknown workload {workload!r} (expected {', '.join(WORKLOADS)})")
    # fill_defaults is skipped when the set is already complete: cost() is on a hot path.
    return params if spec.keys() <= params.keys() else fill_defaults(workload, params)


class _Tally:
    """Per-sample totals, accumulated while walking a network one layer at a time."""

    def __init__(self, channels: int, size: int) -> None:
        self.channels, self.size = channels, size
        self.shape: tuple[int, ...] = (channels, size, size)
        self.macs = self.params = self.activations = self.weights = 0
        self.peak = self.peak_efficient = 0  # elements alive at once: eager, streamed
        self._held = 0  # a residual block's input, alive until the add
        self._input_held = False  # the next layer reads the held tensor (counted once)
        self._in_block = False  # inside an inverted residual (streamed when efficient)

    @property
    def elements(self) -> int:
        return self.channels * self.size * self.size

    def _live(self, elements: int) -> None:
        """One leaf call holding ``elements``, besides any held residual input."""
        elements += self._held
        self.peak = max(self.peak, elements)
        if not self._in_block:
            self.peak_efficient = max(self.peak_efficient, elements)

    def conv(
        self, out: int, kernel: int = 1, stride: int = 1, groups: int = 1, norm: bool = False
    ) -> None:
        size = conv_out(self.size, kernel, stride)
        weight = kernel * kernel * (self.channels // groups) * out
        output = out * size * size
        self.macs += weight * size * size
        self.params += weight + (2 * out if norm else 0)
        self.weights += weight
        self.activations += self.elements + output
        self._live((0 if self._input_held else self.elements) + output)
        self._input_held = False
        if norm:  # BatchNorm's new output; the in-place activation after it adds nothing
            self._live(2 * output)
        self.channels, self.size, self.shape = out, size, (out, size, size)

    def pool_and_classify(self, classes: int) -> None:
        self.activations += self.elements + self.channels  # global average pooling
        self._live(self.elements + self.channels)
        weight = self.channels * classes
        self.macs += weight
        self.params += weight + classes
        self.weights += weight + classes
        self.activations += self.channels + classes
        self._live(self.channels + classes)  # flatten is a view, eval Dropout a no-op
        self.shape = (classes,)

    def inverted_residual(self, block: Block, kernel: int = 3) -> None:
        skip = self.elements
        hidden = hidden_channels(block.channels, block.expand)
        outer, self.peak, self._in_block = self.peak, 0, True
        if block.residual:  # x stays alive for the add (its sum adds no new maximum)
            self._held, self._input_held = skip, True
        if block.expand != 1:
            self.conv(hidden, norm=True)
        self.conv(hidden, kernel, block.stride, groups=hidden, norm=True)
        self.conv(block.channels_out, norm=True)
        if block.residual:
            self.activations += skip
        streamed = min(self.peak, skip + self.elements)  # input + output, if that is less
        self.peak_efficient = max(self.peak_efficient, streamed)
        self.peak = max(outer, self.peak)
        self._held, self._in_block = 0, False


@dataclass(frozen=True)
class _Profile:
    """Per-sample cost: MACs and activations scale with batch, weights do not."""

    macs: int
    params: int
    activations: int
    weights: int
    shape: tuple[int, ...]
    peak: int
    peak_efficient: int


@lru_cache(maxsize=65536)
def _profile(workload: str, geometry: tuple[tuple[str, Any], ...]) -> _Profile:
    p = dict(geometry)
    problem = cross_check(workload, p)
    if problem:
        raise ValueError(problem)
    t = _WALKS[workload](p)
    return _Profile(t.macs, t.params, t.activations, t.weights, t.shape, t.peak, t.peak_efficient)


def _layer(p: dict[str, Any]) -> _Tally:
    return _Tally(p["channels"], p["size"])


def _conv(p: dict[str, Any]) -> _Tally:
    t = _layer(p)
    t.conv(p["channels_out"], p["kernel"], p["stride"])
    return t


def _conv_block(p: dict[str, Any]) -> _Tally:
    t = _layer(p)
    t.conv(p["channels_out"], p["kernel"], p["stride"], norm=True)
    return t


def _depthwise(p: dict[str, Any]) -> _Tally:
    t = _layer(p)
    t.conv(p["channels"], p["kernel"], p["stride"], groups=p["channels"])
    return t


def _pointwise(p: dict[str, Any]) -> _Tally:
    t = _layer(p)
    t.conv(p["channels_out"], 1, p["stride"])
    return t


def _separable(p: dict[str, Any], norm: bool = False) -> _Tally:
    t = _layer(p)
    t.conv(p["channels"], p["kernel"], p["stride"], groups=p["channels"], norm=norm)
    t.conv(p["channels_out"], norm=norm)
    return t


def _inverted_residual(p: dict[str, Any]) -> _Tally:
    t = _layer(p)
    block = Block(p["channels"], p["channels_out"], p["stride"], p["expand"])
    t.inverted_residual(block, p["kernel"])
    return t


def _mobilenet_v1(p: dict[str, Any]) -> _Tally:
    alpha = p["alpha"]
    t = _Tally(3, p["resolution"])
    t.conv(v1_stem(alpha), 3, 2, norm=True)
    for b in v1_blocks(alpha):
        if p["conv"] == "standard":  # the paper's "Conv MobileNet"
            t.conv(b.channels_out, 3, b.stride, norm=True)
        else:
            t.conv(b.channels, 3, b.stride, groups=b.channels, norm=True)
            t.conv(b.channels_out, norm=True)
    assert t.channels == v1_last_channel(alpha)
    t.pool_and_classify(p["classes"])
    return t


def _mobilenet_v2(p: dict[str, Any]) -> _Tally:
    alpha = p["alpha"]
    t = _Tally(3, p["resolution"])
    t.conv(v2_stem(alpha), 3, 2, norm=True)
    for b in v2_blocks(alpha):
        t.inverted_residual(b)
    t.conv(v2_last_channel(alpha), norm=True)
    t.pool_and_classify(p["classes"])
    return t


_WALKS: dict[str, Callable[[dict[str, Any]], _Tally]] = {
    "conv": _conv,
    "depthwise": _depthwise,
    "pointwise": _pointwise,
    "separable": _separable,
    "separable_block": lambda p: _separable(p, norm=True),
    "conv_block": _conv_block,
    "inverted_residual": _inverted_residual,
    "mobilenet_v1": _mobilenet_v1,
    "mobilenet_v2": _mobilenet_v2,
}
