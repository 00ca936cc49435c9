"""File names of the site's pages."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any


def safe_name(text: str) -> str:
    """A file-name-safe form of ``text``; a digest keeps different names apart."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.") or "suite"
    if safe != text:
        safe = f"{safe[:60]}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"
    return safe


def run_file(run: Mapping[str, Any]) -> str:
    """``run-<uid[:12]>.html`` (``run-<run_id>.html`` without a uid)."""
    uid = run.get("uid")
    ident = str(uid)[:12] if isinstance(uid, str) and uid else str(run.get("run_id"))
    return f"run-{safe_name(ident)}.html"


def trend_file(suite: str) -> str:
    return f"trend-{safe_name(str(suite))}.html"


def group_file(group: str) -> str:
    """The page of a group of runs (the shards of one nightly)."""
    return f"group-{safe_name(str(group))}.html"


# Workloads in the order figures list them: the comparison first, then its parts.
WORKLOAD_ORDER = (
    "conv",
    "separable",
    "depthwise",
    "pointwise",
    "conv_block",
    "separable_block",
    "inverted_residual",
    "mobilenet_v1",
    "mobilenet_v2",
)


def workload_rank(workload: str) -> tuple[int, str]:
    """Sort key: WORKLOAD_ORDER first, any other workload after, alphabetically."""
    return (WORKLOAD_ORDER.index(workload) if workload in WORKLOAD_ORDER else 99, workload)
