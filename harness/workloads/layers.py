"""The layer workloads, and the blocks the MobileNets are built from.

Convolutions are padded by ``kernel // 2`` and have no bias (BatchNorm follows, or the
layer is timed alone); ``harness.costmodel`` counts exactly these shapes.
"""

from __future__ import annotations

import torch
from torch import nn

from harness.architecture import hidden_channels


def conv(channels: int, channels_out: int, kernel: int = 3, stride: int = 1) -> nn.Conv2d:
    """Standard k×k convolution."""
    return nn.Conv2d(channels, channels_out, kernel, stride, kernel // 2, bias=False)


def depthwise(channels: int, kernel: int = 3, stride: int = 1) -> nn.Conv2d:
    """k×k depthwise convolution: one filter per channel (groups = channels)."""
    return nn.Conv2d(channels, channels, kernel, stride, kernel // 2, groups=channels, bias=False)


def pointwise(channels: int, channels_out: int, stride: int = 1) -> nn.Conv2d:
    """1×1 convolution: mixes channels, no spatial extent."""
    return nn.Conv2d(channels, channels_out, 1, stride, bias=False)


def separable(channels: int, channels_out: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    """Depthwise k×k (carrying the stride) then pointwise 1×1; no norm, no activation."""
    return nn.Sequential(depthwise(channels, kernel, stride), pointwise(channels, channels_out))


def conv_bn(
    channels: int,
    channels_out: int,
    kernel: int = 1,
    stride: int = 1,
    groups: int = 1,
    activation: type[nn.Module] | None = nn.ReLU,
) -> nn.Sequential:
    """Conv → BatchNorm (→ activation), laid out like torchvision's Conv2dNormActivation
    so that state_dict keys line up with torchvision's MobileNet v2."""
    layers: list[nn.Module] = [
        nn.Conv2d(channels, channels_out, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(channels_out),
    ]
    if activation is not None:
        layers.append(activation(inplace=True))
    return nn.Sequential(*layers)


def conv_block(channels: int, channels_out: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    """Standard k×k conv → BN → ReLU: a layer of the paper's "Conv MobileNet", and the fair
    partner of SeparableBlock (the same normalisation and activation after each conv)."""
    return conv_bn(channels, channels_out, kernel, stride)


class SeparableBlock(nn.Sequential):
    """MobileNet v1 block: depthwise → BN → ReLU → pointwise → BN → ReLU."""

    def __init__(self, channels: int, channels_out: int, kernel: int = 3, stride: int = 1):
        super().__init__(
            conv_bn(channels, channels, kernel, stride, groups=channels),
            conv_bn(channels, channels_out),
        )


class InvertedResidual(nn.Module):
    """MobileNet v2 block: 1×1 expand → BN → ReLU6 → k×k depthwise → BN → ReLU6 →
    1×1 project → BN, with no activation after the projection (linear bottleneck).

    The expand stage is absent when ``expand == 1``; the residual add exists only when
    the block keeps the shape (stride 1, channels == channels_out).
    """

    def __init__(
        self, channels: int, channels_out: int, stride: int = 1, expand: int = 6, kernel: int = 3
    ):
        super().__init__()
        self.stride = stride
        self.use_residual = stride == 1 and channels == channels_out
        hidden = hidden_channels(channels, expand)
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(conv_bn(channels, hidden, activation=nn.ReLU6))
        layers += [
            conv_bn(hidden, hidden, kernel, stride, groups=hidden, activation=nn.ReLU6),
            nn.Conv2d(hidden, channels_out, 1, bias=False),
            nn.BatchNorm2d(channels_out),
        ]
        self.conv = nn.Sequential(*layers)  # "conv", as torchvision names it

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return x + out if self.use_residual else out


def init_weights(module: nn.Module) -> None:
    """He initialisation on each conv's fan-in, so that activations keep their scale
    through deep stacks; PyTorch's default shrinks them by ~6x per layer, and float16
    runs would then time subnormals and zeros instead of real arithmetic."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
