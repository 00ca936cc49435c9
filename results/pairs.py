"""Which cases form a speedup pair, and the theory a pair is held against (no torch).

One definition, shared by the runner (partners run side by side in every round), the
reports and ``bench speedup``. A pair is a standard convolution and its
depthwise-separable counterpart, identical in every other parameter, with the *same*
normalisation and activations on both sides (a fair pair):

- ``conv`` ↔ ``separable``: bare layers, no norm, no activation;
- ``conv_block`` ↔ ``separable_block``: conv-BN-ReLU ↔ dw-BN-ReLU-pw-BN-ReLU (the layer of
  the paper's Conv MobileNet ↔ the MobileNet v1 block);
- ``mobilenet_v1`` with ``conv = "standard"`` (Conv MobileNet) ↔ ``conv = "separable"``.

Theory (DESIGN.md 1): a separable k×k layer costs ``1/C_out + 1/k²`` of the standard
conv's multiply-adds, so the theoretical speedup is ``k²·C_out / (C_out + k²)``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Side = Literal["standard", "separable"]


@dataclass(frozen=True)
class PairKind:
    name: str  # shown in reports
    standard: str  # workload of the standard side
    separable: str  # workload of the separable side
    # For networks both sides are one workload, told apart by this parameter's value.
    by_param: str | None = None


CONV_PAIR = PairKind("conv ↔ separable", "conv", "separable")
BLOCK_PAIR = PairKind("conv_block ↔ separable_block", "conv_block", "separable_block")
NETWORK_PAIR = PairKind("Conv MobileNet ↔ MobileNet v1", "mobilenet_v1", "mobilenet_v1", "conv")
PAIR_KINDS: tuple[PairKind, ...] = (CONV_PAIR, BLOCK_PAIR, NETWORK_PAIR)


def pair_side(workload: str, params: Mapping[str, Any]) -> tuple[PairKind, Side] | None:
    """The kind of pair a case can belong to, and its side; None if it pairs with nothing."""
    for kind in PAIR_KINDS:
        if kind.by_param is not None:
            if workload == kind.standard:
                value = params.get(kind.by_param)
                if value in ("standard", "separable"):
                    return kind, value
        elif workload == kind.standard:
            return kind, "standard"
        elif workload == kind.separable:
            return kind, "separable"
    return None


def partner_key(workload: str, params: Mapping[str, Any]) -> tuple[Hashable, Side] | None:
    """A key equal for the two partners of a pair (and for no other case), and the side.

    Parameters are compared by value with 64 and 64.0 as one, so that a frame's numeric
    columns and a case's params give the same key.
    """
    found = pair_side(workload, params)
    if found is None:
        return None
    kind, side = found
    shared = tuple(sorted((k, _canon(v)) for k, v in params.items() if k != kind.by_param))
    return (kind.name, shared), side


def _canon(v: Any) -> Hashable:
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, int | float):
        return float(v)
    return repr(v)


def theory_ratio(channels_out: float, kernel: float = 3) -> float:
    """MACs of separable / standard conv: ``1/C_out + 1/k²``, written as one division so
    that it equals a ratio of exact integer MAC counts to the last bit."""
    k2 = kernel * kernel
    return (k2 + channels_out) / (k2 * channels_out)


def theory_speedup(channels_out: float, kernel: float = 3) -> float:
    """The speedup MAC counting predicts: ``k²·C_out / (C_out + k²)``, k² in the limit."""
    k2 = kernel * kernel
    return k2 * channels_out / (channels_out + k2)
