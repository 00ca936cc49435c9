"""MobileNet v1 and v2 architecture tables, shared by the cost model and the modules.

No torch here: ``harness.costmodel`` walks these tables analytically and
``harness.workloads.mobilenet`` builds its modules from the same tables, so the counted
network and the timed network cannot drift apart.
"""

from __future__ import annotations

from typing import NamedTuple


class Block(NamedTuple):
    """One v1 separable block or one v2 inverted residual."""

    channels: int
    channels_out: int
    stride: int
    expand: int = 1  # v2 expansion factor t; 1 for v1 blocks

    @property
    def residual(self) -> bool:
        """v2: the skip connection exists only when the shapes match."""
        return self.stride == 1 and self.channels == self.channels_out


# --- MobileNet v1 (Howard et al. 2017, table 1) -------------------------------------------

V1_STEM = 32
# (stride, out channels) of the 13 depthwise-separable blocks.
V1_BLOCKS: tuple[tuple[int, int], ...] = (
    (1, 64),
    (2, 128),
    (1, 128),
    (2, 256),
    (1, 256),
    (2, 512),
    *((1, 512),) * 5,
    (2, 1024),
    (1, 1024),
)


def v1_width(channels: int, alpha: float) -> int:
    """Channels scaled by the width multiplier: ``int(c * alpha)``, at least 1.

    Plain truncation as in the reference (Keras) implementation. v1 widths are powers of
    two, so every product that should be whole is exact in binary floating point.
    """
    return max(1, int(channels * alpha))


def v1_stem(alpha: float) -> int:
    return v1_width(V1_STEM, alpha)


def v1_blocks(alpha: float) -> tuple[Block, ...]:
    blocks = []
    channels = v1_stem(alpha)
    for stride, out in V1_BLOCKS:
        channels_out = v1_width(out, alpha)
        blocks.append(Block(channels, channels_out, stride))
        channels = channels_out
    return tuple(blocks)


def v1_last_channel(alpha: float) -> int:
    """Width of the features the classifier sees (1024·α)."""
    return v1_width(V1_BLOCKS[-1][1], alpha)


# --- MobileNet v2 (Sandler et al. 2018, table 2; torchvision's rounding) ------------------

V2_STEM = 32
V2_LAST = 1280
# (expansion t, out channels c, repeats n, stride of the first repeat s).
V2_SETTINGS: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
V2_DROPOUT = 0.2


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round ``v`` to the nearest multiple of ``divisor``, never more than 10% below ``v``.

    Identical to torchvision's ``_make_divisible`` (from the TensorFlow reference code).
    """
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def hidden_channels(channels: int, expand: int | float) -> int:
    """Width of an inverted residual's expanded (depthwise) stage."""
    return int(round(channels * expand))


def v2_stem(alpha: float) -> int:
    return make_divisible(V2_STEM * alpha, 8)


def v2_blocks(alpha: float) -> tuple[Block, ...]:
    blocks = []
    channels = v2_stem(alpha)
    for t, c, n, s in V2_SETTINGS:
        channels_out = make_divisible(c * alpha, 8)
        for i in range(n):
            blocks.append(Block(channels, channels_out, s if i == 0 else 1, t))
            channels = channels_out
    return tuple(blocks)


def v2_last_channel(alpha: float) -> int:
    """The final 1x1 conv's width: 1280, scaled up for α > 1 but never down."""
    return make_divisible(V2_LAST * max(1.0, alpha), 8)
