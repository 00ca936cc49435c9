"""MobileNet v1 (Howard et al. 2017) and v2 (Sandler et al. 2018) as nn.Modules.

Built from the tables in ``harness.architecture``, which the cost model reads too.
Resolution is only the input's size: adaptive pooling accepts any.
"""

from __future__ import annotations

import torch
from torch import nn

from harness.architecture import (
    V2_DROPOUT,
    v1_blocks,
    v1_last_channel,
    v1_stem,
    v2_blocks,
    v2_last_channel,
    v2_stem,
)
from harness.workloads.layers import (
    InvertedResidual,
    SeparableBlock,
    conv_block,
    conv_bn,
    init_weights,
)


class MobileNetV1(nn.Module):
    """``conv="standard"`` replaces every separable block by a standard 3×3 conv with BN
    and ReLU, same stride and widths: the paper's "Conv MobileNet" baseline."""

    def __init__(self, alpha: float = 1.0, classes: int = 1000, conv: str = "separable"):
        super().__init__()
        if conv not in ("separable", "standard"):
            raise ValueError(f"conv must be 'separable' or 'standard', got {conv!r}")
        layers: list[nn.Module] = [conv_bn(3, v1_stem(alpha), 3, 2)]
        for b in v1_blocks(alpha):
            if conv == "separable":
                layers.append(SeparableBlock(b.channels, b.channels_out, stride=b.stride))
            else:
                layers.append(conv_block(b.channels, b.channels_out, 3, b.stride))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(v1_last_channel(alpha), classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


class MobileNetV2(nn.Module):
    """torchvision's ``mobilenet_v2``: same structure, parameter count and state_dict keys."""

    def __init__(self, alpha: float = 1.0, classes: int = 1000):
        super().__init__()
        blocks = v2_blocks(alpha)
        last = v2_last_channel(alpha)
        layers: list[nn.Module] = [conv_bn(3, v2_stem(alpha), 3, 2, activation=nn.ReLU6)]
        layers += [InvertedResidual(b.channels, b.channels_out, b.stride, b.expand) for b in blocks]
        layers.append(conv_bn(blocks[-1].channels_out, last, activation=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(V2_DROPOUT), nn.Linear(last, classes))
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))
