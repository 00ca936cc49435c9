"""The workloads as nn.Modules, and their inputs.

``harness.params`` names the workloads and ``harness.costmodel`` prices them without
torch; this package builds what the runner times.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from harness.costmodel import NETWORKS, input_shape
from harness.params import WORKLOADS, cross_check, fill_defaults
from harness.workloads import layers
from harness.workloads.mobilenet import MobileNetV1, MobileNetV2

__all__ = ["build_module", "make_input"]

_BUILDERS: dict[str, Callable[[dict[str, Any]], nn.Module]] = {
    "conv": lambda p: layers.conv(p["channels"], p["channels_out"], p["kernel"], p["stride"]),
    "depthwise": lambda p: layers.depthwise(p["channels"], p["kernel"], p["stride"]),
    "pointwise": lambda p: layers.pointwise(p["channels"], p["channels_out"], p["stride"]),
    "separable": lambda p: layers.separable(
        p["channels"], p["channels_out"], p["kernel"], p["stride"]
    ),
    "separable_block": lambda p: layers.SeparableBlock(
        p["channels"], p["channels_out"], p["kernel"], p["stride"]
    ),
    "conv_block": lambda p: layers.conv_block(
        p["channels"], p["channels_out"], p["kernel"], p["stride"]
    ),
    "inverted_residual": lambda p: layers.InvertedResidual(
        p["channels"], p["channels_out"], p["stride"], p["expand"], p["kernel"]
    ),
    "mobilenet_v1": lambda p: MobileNetV1(p["alpha"], p["classes"], p["conv"]),
    "mobilenet_v2": lambda p: MobileNetV2(p["alpha"], p["classes"]),
}


def build_module(workload: str, params: dict[str, Any]) -> nn.Module:
    """The module a case times: float32, on CPU, in eval mode (the runner moves it)."""
    if workload not in _BUILDERS:
        raise ValueError(f"unknown workload {workload!r} (expected {', '.join(WORKLOADS)})")
    params = fill_defaults(workload, params)
    problem = cross_check(workload, params)
    if problem:
        raise ValueError(problem)
    module = _BUILDERS[workload](params)
    if workload not in NETWORKS:  # the networks initialise themselves
        layers.init_weights(module)
    return module.eval()


def make_input(workload: str, params: dict[str, Any], generator: torch.Generator) -> torch.Tensor:
    """A float32 CPU input of the case's shape, standard normal from ``generator``."""
    return torch.randn(input_shape(workload, params), generator=generator)
