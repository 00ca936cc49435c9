"""A case: one workload with its full parameter set, and its stable key."""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from harness.params import fill_defaults

# Shown first in a case id, in this order; the rest follow alphabetically.
_ID_ORDER = ("channels", "channels_out", "alpha", "resolution", "conv", "expand", "batch")


@dataclass(frozen=True)
class Case:
    workload: str
    params: dict[str, Any] = field(hash=False)  # full set, defaults filled in

    @classmethod
    def make(cls, workload: str, **params: Any) -> Case:
        return cls(workload, fill_defaults(workload, params))

    @functools.cached_property
    def key(self) -> str:
        """Digest of the identity: equal across runs, machines and Python versions."""
        return case_key(self.workload, self.params)

    @property
    def id(self) -> str:
        """Readable name: the workload and the parameters that differ from the defaults."""
        defaults = fill_defaults(self.workload, {"channels": self.params.get("channels")})
        changed = {k: v for k, v in self.params.items() if v != defaults.get(k)}
        if "channels" in self.params:
            changed["channels"] = self.params["channels"]
            if self.params["channels_out"] == self.params["channels"]:
                changed.pop("channels_out", None)
        order = sorted(changed, key=lambda k: (_ID_ORDER.index(k) if k in _ID_ORDER else 99, k))
        return f"{self.workload}[" + ",".join(f"{k}={_fmt(changed[k])}" for k in order) + "]"

    @property
    def device(self) -> str:
        return self.params["device"]

    def with_params(self, **changes: Any) -> Case:
        return Case(self.workload, fill_defaults(self.workload, {**self.params, **changes}))


def described(case: Case) -> dict[str, Any]:
    """The case's identity and analytic cost, as results and benchmark files carry them."""
    from harness.costmodel import cost

    c = cost(case.workload, case.params)
    return {
        "case_key": case.key,
        "case_id": case.id,
        "workload": case.workload,
        "params": dict(case.params),
        "macs": c.macs,
        "parameters": c.parameters,
        "bytes": c.bytes,
        "activation_bytes": c.activation_bytes,
        "activation_bytes_efficient": c.activation_bytes_efficient,
        "weight_bytes": c.weight_bytes,
    }


# Parameters added after the first release enter the key only when they differ from
# their default: every case that existed before keeps its key, and with it its history.
_LATER_DEFAULTS = {"mode": "eager"}


def case_key(workload: str, params: dict[str, Any]) -> str:
    """sha256 of ``{"params": {...sorted...}, "workload": ...}`` as json.dumps writes it.

    Params from fill_defaults are already sorted; json.dumps without sort_keys then uses
    its cached encoder, which makes expanding a 100,000-case suite twice as fast.
    """
    if any(params.get(k, v) == v and k in params for k, v in _LATER_DEFAULTS.items()):
        params = {k: v for k, v in params.items() if _LATER_DEFAULTS.get(k, _NONE) != v}
    names = list(params)
    if names != sorted(names):
        params = dict(sorted(params.items()))
    ident = json.dumps({"params": params, "workload": workload})
    return hashlib.sha256(ident.encode()).hexdigest()[:16]


_NONE = object()


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float) and v.is_integer():
        return f"{v:.1f}"
    return str(v)
