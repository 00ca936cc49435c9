"""Fixtures for the result store: sample records (``db_url`` lives in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from results.records import CaseStatus, ResultRecord, RunRecord

# -- records ---------------------------------------------------------------------------

T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)


def make_run(**changes: object) -> RunRecord:
    fields: dict[str, object] = {
        "suite": "conv",
        "suite_digest": "d" * 64,
        "environment": {"torch": "2.3.0", "cpu_model": "Xeon", "gpu_name": "H100", "cores": 16},
        "fingerprint": "f" * 16,
        "started_at": T0,
    }
    fields.update(changes)
    return RunRecord(**fields)  # type: ignore[arg-type]


def make_result(i: int = 0, **changes: object) -> ResultRecord:
    fields: dict[str, object] = {
        "case_key": f"{i:016x}",
        "case_id": f"conv[batch={i}]",
        "workload": "conv",
        "params": {"batch": i, "channels": 32, "device": "cpu", "dtype": "float32"},
        "status": CaseStatus.OK,
        "macs": 10**12 + i,  # beyond 32 bits: BigInteger columns
        "parameters": 9216,
        "bytes": 3 * 10**9,
        "samples": [(1 + (j * 7919 + i) % 13 / 100) / 3 * 1e-4 for j in range(20)],
        "calls_per_sample": 4,
        "target_met": True,
        "started_at": T0 + timedelta(seconds=i),
        "duration_s": 0.5 + i,
    }
    fields.update(changes)
    return ResultRecord(**fields)  # type: ignore[arg-type]


@pytest.fixture(name="make_run")
def make_run_fixture() -> Callable[..., RunRecord]:
    """The factory ``make_run(**changes) -> RunRecord`` (a fixture: conftest is not importable)."""
    return make_run


@pytest.fixture(name="make_result")
def make_result_fixture() -> Callable[..., ResultRecord]:
    """The factory ``make_result(i, **changes) -> ResultRecord``."""
    return make_result
