"""Plan a suite's cases and run them, committing each result as it finishes.

A run records how it was planned (suite source, device, filters, shard), so that
``bench run --resume`` can plan it again and run only what is missing.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from harness.cases import Case
from harness.suites import Suite, apply_filters, builtin_names, load_suite
from harness.worker import Executor, Isolation, open_executor
from results.errors import BenchError, UsageError
from results.fingerprint import fingerprint
from results.records import CaseStatus, ResultRecord, RunRecord, RunStatus, stale_after
from results.store import Store

Progress = Callable[[int, int, Case, ResultRecord | None], None]
HEARTBEAT_S = 30.0  # well under the stale timeout (default 10 min)


class RunInterrupted(BenchError):
    """Ctrl-C: the run is marked interrupted; finished cases are kept."""

    exit_code = 130


@dataclass
class RunOutcome:
    run: RunRecord  # as stored at the end: counts cover every row, resumed or not
    results: list[ResultRecord]  # the cases this invocation ran

    @property
    def failed(self) -> int:
        return sum(r.status == CaseStatus.FAILED for r in self.results)


@dataclass(frozen=True)
class Shard:
    """Case ``index`` of every ``count`` (1-based), chosen by case key: stable everywhere."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        i, slash, n = text.strip().partition("/")
        if not (slash and i.isascii() and i.isdecimal() and n.isascii() and n.isdecimal()):
            raise UsageError(f"--shard {text!r}: expected I/N, e.g. 2/4 (the 2nd of 4 shards)")
        shard = cls(int(i), int(n))
        if not 1 <= shard.index <= shard.count:
            raise UsageError(f"--shard {text!r}: I must be between 1 and N")
        return shard

    def holds(self, case: Case) -> bool:
        return int(case.key, 16) % self.count == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True)
class PlanSpec:
    """How a run's cases were chosen: stored with the run so --resume can choose again."""

    source: str | None = None  # a built-in suite's name or a suite file's absolute path
    device: str | None = None
    filters: tuple[str, ...] = ()
    shard: Shard | None = None

    def options(self) -> dict:
        return {"device": self.device, "filters": list(self.filters)}


def suite_source(ref: str) -> str:
    """What to store for SUITE: a built-in name as is, a path made absolute."""
    return ref if ref in builtin_names() else str(Path(ref).resolve())


def plan(
    suite: Suite,
    *,
    device: str | None = None,
    filters: list[str] | None = None,
    shard: Shard | None = None,
) -> list[Case]:
    """The cases to run: the suite's, moved to `device` if given, filtered, then sharded."""
    cases = suite.cases
    if device is not None:
        from harness.params import WORKLOADS

        _, problem = WORKLOADS["conv"]["device"].validate(device)
        if problem:
            raise UsageError(f"--device {device!r}: {problem}")
        # Overriding the device can merge cases that differed only in device.
        cases = list({c.key: c for c in (c.with_params(device=device) for c in cases)}.values())
    if filters:
        cases = apply_filters(cases, filters)
        if not cases:
            raise UsageError(
                f"--filter {' '.join(filters)}: no case of suite '{suite.name}' matches"
            )
    if shard is not None:  # a shard may be empty: a CI matrix can be wider than a suite
        cases = [c for c in cases if shard.holds(c)]
    return cases


def run_suite(
    suite: Suite,
    cases: list[Case],
    store: Store,
    *,
    label: str | None = None,
    group: str | None = None,
    spec: PlanSpec | None = None,
    peaks: bool = True,
    progress: Progress | None = None,
    isolation: Isolation = "process",
    heartbeat_s: float = HEARTBEAT_S,
) -> RunOutcome:
    spec = spec or PlanSpec()
    with open_executor(isolation) as executor:
        env = executor.environment({c.device for c in cases})
        if peaks:
            env["peaks"] = _peaks(executor, cases)
        run = store.start_run(
            RunRecord(
                suite=suite.name,
                suite_digest=suite.digest,
                environment=env,
                fingerprint=fingerprint(env),
                started_at=datetime.now(UTC),
                label=label,
                commit=env.get("bench_commit"),
                group=group,
                shard=str(spec.shard) if spec.shard else None,
                heartbeat_at=datetime.now(UTC),
                planned=len(cases),
                suite_source=spec.source,
                plan=spec.options() if spec.source else None,
            )
        )
        return _run_cases(store, run, suite, cases, executor, progress, heartbeat_s)


@dataclass
class Resumption:
    """A run to resume and what it still lacks; planned without torch."""

    run: RunRecord
    suite: Suite
    cases: list[Case] = field(default_factory=list)


def plan_resume(store: Store, ref: str, *, force: bool = False) -> Resumption:
    """Plan RUN again as it was planned and keep the cases with no ok or failed row."""
    run = store.resolve_run(ref)
    name = f"run {run.uid[:8]} (id {run.id})"
    if run.suite_source is None:
        raise UsageError(f"{name} cannot be resumed: it does not record how it was planned")
    if run.status == RunStatus.RUNNING and not run.is_stale() and not force:
        last = run.heartbeat_at or run.started_at
        raise UsageError(
            f"{name} is still running (last heartbeat {last:%Y-%m-%d %H:%M:%S} "
            f"UTC); resume it once it is stale (after {stale_after().total_seconds():.0f} s "
            "without a heartbeat), or pass --force if its process is gone"
        )
    suite = load_suite(run.suite_source)
    if suite.digest != run.suite_digest and not force:
        raise UsageError(
            f"{name}: suite {run.suite_source} changed since the run started (digest "
            f"{run.suite_digest[:12]} then, {suite.digest[:12]} now); pass --force to resume "
            "with the suite as it is now"
        )
    options = run.plan or {}
    cases = plan(
        suite,
        device=options.get("device"),
        filters=list(options.get("filters") or []),
        shard=Shard.parse(run.shard) if run.shard else None,
    )
    done = store.done_case_keys(run.id)
    return Resumption(run, suite, [c for c in cases if c.key not in done])


def resume_run(
    resumption: Resumption,
    store: Store,
    *,
    force: bool = False,
    progress: Progress | None = None,
    isolation: Isolation = "process",
    heartbeat_s: float = HEARTBEAT_S,
) -> RunOutcome:
    """Run the cases a run lacks, appending to it; it ends finished (or interrupted)."""
    run, cases = resumption.run, resumption.cases
    name = f"run {run.uid[:8]} (id {run.id})"
    if not cases and run.status == RunStatus.FINISHED:
        return RunOutcome(run, [])  # nothing to do, and nothing to rewrite
    with open_executor(isolation) as executor:
        here = fingerprint(executor.environment({c.device for c in cases}))
        if here != run.fingerprint and not force:
            raise UsageError(
                f"{name} was made on another machine or software stack (fingerprint "
                f"{run.fingerprint}, here {here}): its results would not compare; pass "
                "--force to resume here anyway"
            )
        quiet_since = None if force else datetime.now(UTC) - stale_after()
        if not store.reopen_run(run.id, quiet_since=quiet_since):
            raise UsageError(f"{name} came back to life: another process is running it")
        return _run_cases(store, run, resumption.suite, cases, executor, progress, heartbeat_s)


def _run_cases(
    store: Store,
    run: RunRecord,
    suite: Suite,
    cases: list[Case],
    executor: Executor,
    progress: Progress | None,
    heartbeat_s: float,
) -> RunOutcome:
    assert run.id is not None and run.uid is not None
    results: list[ResultRecord] = []
    try:
        with Heartbeat(store, run.id, heartbeat_s):
            for i, case in enumerate(cases):
                if progress:
                    progress(i, len(cases), case, None)
                record = executor.run_case(case, suite.timing.for_device(case.device))
                store.add_result(run.id, record)
                store.heartbeat(run.id)
                results.append(record)
                if progress:
                    progress(i + 1, len(cases), case, record)
    except KeyboardInterrupt:
        store.finish_run(run.id, RunStatus.INTERRUPTED)
        raise RunInterrupted(
            f"interrupted: run {run.uid[:8]} kept {len(results)} of {len(cases)} cases "
            f"and is marked interrupted; `bench run --resume {run.uid[:8]}` runs the rest"
        ) from None
    except BaseException:
        # Anything else (a lost database connection, a bug): not "running" for ever.
        with contextlib.suppress(Exception):
            store.finish_run(run.id, RunStatus.INTERRUPTED)
        raise
    store.finish_run(run.id, RunStatus.FINISHED)
    return RunOutcome(store.get_run(run.id), results)


class Heartbeat:
    """Beats every ``every`` seconds from a thread, so a long case does not look stale.

    The run loop also beats after each case. The thread checks out its own pooled
    connection for each beat (SQLAlchemy engines are thread-safe; sessions are not).
    """

    def __init__(self, store: Store, run_id: int, every: float) -> None:
        self._store, self._run_id, self._every = store, run_id, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="bench-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _beat(self) -> None:
        while not self._stop.wait(self._every):
            # A failed beat (a network blip) is not fatal: the next beat or case retries.
            with contextlib.suppress(Exception):
                self._store.heartbeat(self._run_id)


def _peaks(executor: Executor, cases: list[Case]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for device in sorted({c.device for c in cases}):
        dtypes = sorted({c.params["dtype"] for c in cases if c.device == device})
        measured = executor.peaks(device, dtypes)
        if measured:
            out[device] = measured
    return out
