"""Which runs may be compared: a digest of the part of the environment that changes timings.

In `results` (not `harness`) because imported runs need it too and `results` must not
import `harness`. Hostname, driver build and the project's commit are left out: a fleet
of identical machines shares one fingerprint.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

COMPARABLE = (
    "cpu_model",
    "cpu_count",
    "gpu_name",
    "gpu_names",  # every GPU of the machine, whatever devices a run used
    "gpu_capability",
    "torch",
    "cuda",
    "cudnn",
    "allow_tf32_matmul",
    "allow_tf32_cudnn",
    "machine",
    "allocator",  # a pinned and a default malloc give different CPU times
)


def fingerprint(env: dict[str, Any]) -> str:
    comparable = {k: env.get(k) for k in COMPARABLE}
    return hashlib.sha256(json.dumps(comparable, sort_keys=True).encode()).hexdigest()[:16]
