"""Fixtures for tests that run `bench` in real processes: polling and cleanup.

Plain helpers live in fleet_helpers.py (a conftest cannot be imported reliably).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def wait_until() -> Callable[..., Any]:
    """``wait_until(condition, what, timeout=60)``: poll until ``condition()`` is truthy.

    Synchronises on a state, never on a guessed duration; fails with ``what`` at the
    deadline.
    """

    def wait(condition: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(0.05)  # a poll interval, not a synchronisation

    return wait


@pytest.fixture
def start_bench(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """``start_bench(*args, env=...)``: `bench ARGS` in a new session (its own process
    group, as a terminal job); any still running at teardown are killed."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "harness.cli", *args],
            cwd=tmp_path,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
