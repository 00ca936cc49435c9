"""Writing a run's case-rounds so that none is lost when the database is unavailable.

A write that fails for a transient reason (``StoreUnavailable``: a lock held past
SQLite's busy timeout, a dropped PostgreSQL connection) is retried with exponential
backoff for up to ``$BENCH_DB_RETRY_S`` seconds (default 300). If the database stays
unavailable the case-round goes to the run's journal (``results.journal``) and the run
goes on; each later case-round tries the database once, and the first write that
succeeds replays the journal first, so the rounds of a case stay in order. A run that
ends with rounds still in the journal raises ``ResultsJournaled`` (exit code 3); `bench
run --resume RUN` writes them. Other store errors (damaged file, read-only, disk full)
are not retried: they end the run with their one-line message.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from results import journal
from results.dberrors import StoreUnavailable
from results.errors import BenchError, UsageError
from results.records import ResultRecord, RunRecord
from results.store import Store

RETRY_ENV = "BENCH_DB_RETRY_S"
DEFAULT_RETRY_S = 300.0
MAX_BACKOFF_S = 10.0

T = TypeVar("T")


class ResultsJournaled(BenchError):
    """The run finished, but some of its results are in its journal, not the database."""

    exit_code = 3


def retry_budget() -> float:
    raw = os.environ.get(RETRY_ENV)
    if not raw:
        return DEFAULT_RETRY_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not (0 <= value <= 86_400 and math.isfinite(value)):
        raise UsageError(f"{RETRY_ENV}={raw!r}: expected seconds from 0 to 86,400")
    return value


Notify = Callable[[str], Any]


def retrying(
    fn: Callable[[], T],
    *,
    budget: float,
    notify: Notify | None = None,
    sleep: Callable[[float], Any] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """``fn()``, retried with exponential backoff while the store is unavailable, for up
    to ``budget`` seconds; ``notify`` hears once that it is waiting (and why)."""
    deadline = clock() + budget
    delay, told = 0.2, False
    while True:
        try:
            return fn()
        except StoreUnavailable as e:
            left = deadline - clock()
            if left <= 0:
                raise
            if notify and not told:
                notify(f"{e}; retrying for up to {budget:g} s ({RETRY_ENV})")
                told = True
            sleep(min(delay, left))
            delay = min(delay * 2, MAX_BACKOFF_S)


class ResultWriter:
    def __init__(
        self,
        store: Store,
        run: RunRecord,
        *,
        budget_s: float | None = None,
        notify: Notify | None = None,
        sleep: Callable[[float], Any] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        assert run.id is not None and run.uid is not None
        self.store, self.run_id = store, run.id
        self.path: Path = journal.journal_path(store.url, run.uid)
        self.budget = retry_budget() if budget_s is None else budget_s
        self._notify = notify
        self._sleep, self._clock = sleep, clock
        self.pending = sum(1 for _ in journal.read(self.path))  # left by an earlier attempt
        self.down = False  # the database failed its last retry: try once, then journal
        self.last_error: StoreUnavailable | None = None

    def write(self, round_no: int, record: ResultRecord) -> ResultRecord:
        """Store the case's ``round_no``-th round (1: insert, later: append), or journal it."""
        try:
            if self.pending:
                self._retry(self._replay, once=self.down)
            add = self.store.add_result if round_no == 1 else self.store.add_round
            stored = self._retry(lambda: add(self.run_id, record), once=self.down)
        except StoreUnavailable as e:
            if self._notify and not self.down:
                self._notify(f"{e}: keeping results in {self.path} until it is back")
            self.down, self.last_error = True, e
            journal.append(self.path, round_no, record)
            self.pending += 1
            return record
        self.down = False
        return stored

    def call(self, fn: Callable[[], T]) -> T:
        """Any other write (finishing the run), retried the same way."""
        return self._retry(fn, once=self.down)

    def _replay(self) -> None:
        self.store.replay(self.run_id, journal.read(self.path))
        self.path.unlink(missing_ok=True)
        self.pending = 0

    def _retry(self, fn: Callable[[], T], *, once: bool) -> T:
        return retrying(
            fn,
            budget=0.0 if once else self.budget,
            notify=None if once else self._notify,
            sleep=self._sleep,
            clock=self._clock,
        )

    def outcome(self, run: RunRecord) -> None:
        """Raise ResultsJournaled when case-rounds are still in the journal."""
        if self.pending:
            raise ResultsJournaled(
                f"the database was unavailable ({self.last_error}); {self.pending} "
                f"case-round(s) of run {run.uid[:8]} are kept in {self.path}. "  # type: ignore[index]
                f"`bench run --resume {run.uid[:8]}` writes them into the run once the "  # type: ignore[index]
                "database is back"
            )


def replay_journal(store: Store, run: RunRecord) -> int:
    """Write a run's journal into it (before --resume plans); returns rounds written."""
    assert run.id is not None and run.uid is not None
    path = journal.journal_path(store.url, run.uid)
    if not path.exists():
        return 0
    written = store.replay(run.id, journal.read(path))
    path.unlink(missing_ok=True)
    return written
