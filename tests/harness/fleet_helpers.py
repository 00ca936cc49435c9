"""Helpers for tests that run `bench` in real processes: tiny suites, rows, processes."""

from __future__ import annotations

import contextlib
from pathlib import Path

from results.errors import StoreError
from results.records import ResultRecord, RunRecord
from results.store import Store


def suite_text(channels: list[int], *, min_time_ms: float = 2, max_time_ms: float = 10) -> str:
    """A suite of 2 x len(channels) tiny CPU cases (conv and separable)."""
    return (
        f"[timing]\nmin_time_ms = {min_time_ms}\nmax_time_ms = {max_time_ms}\nwarmup_ms = 1\n\n"
        f'[[sweep]]\nworkload = ["conv", "separable"]\nchannels = {channels}\nsize = 8\n'
    )


def run_rows(url: str) -> tuple[list[RunRecord], dict[int, list[ResultRecord]]]:
    """Every run and its results, or nothing while the database does not exist yet."""
    try:
        with Store.open(url) as store:
            runs = store.runs()
            return runs, {r.id: store.results(r.id) for r in runs if r.id is not None}
    except StoreError:
        return [], {}


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def gone(pid: int) -> bool:
    """The process has exited (reaped, or a zombie nobody reaps in a container)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")
