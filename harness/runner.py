"""Plan a suite's cases and run them, committing each result as it finishes.

A run records how it was planned (suite source, device, filters, shard), so that
``bench run --resume`` can plan it again and run only what is missing.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from harness import system
from harness.cases import Case
from harness.schedule import new_seed, round_order
from harness.shards import assign
from harness.suites import Suite, apply_filters, builtin_names, load_suite
from harness.worker import Executor, Isolation, open_executor, sigint_ignored
from harness.writer import Notify, ResultWriter, replay_journal, retry_budget, retrying
from results import journal
from results.dberrors import StoreDamaged
from results.errors import BenchError, StoreError, UsageError
from results.fingerprint import fingerprint
from results.limits import shown
from results.records import CaseStatus, ResultRecord, RunRecord, RunStatus, stale_after
from results.store import Store

# progress(done, total, case, record, round): before a case (record None) and after it;
# done and total count case-rounds.
Progress = Callable[[int, int, Case, ResultRecord | None, int], None]
HEARTBEAT_S = 30.0  # well under the stale timeout (default 10 min)


class RunInterrupted(BenchError):
    """Ctrl-C: the run is marked interrupted; finished cases are kept."""

    exit_code = 130


@dataclass
class RunOutcome:
    run: RunRecord  # as stored at the end: counts cover every row, resumed or not
    results: list[ResultRecord]  # the cases this invocation ran, as stored (all rounds)

    @property
    def failed(self) -> int:
        return sum(r.status == CaseStatus.FAILED for r in self.results)

    @property
    def contended(self) -> list[ResultRecord]:
        return [r for r in self.results if r.contended]


@dataclass(frozen=True)
class Shard:
    """The ``index``-th of ``count`` shards (1-based); harness.shards decides its cases."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        i, slash, n = text.strip().partition("/")
        digits = re.compile(r"[0-9]{1,6}")  # up to 999,999 shards: stored in VARCHAR(32)
        if not (slash and digits.fullmatch(i) and digits.fullmatch(n)):
            raise UsageError(
                f"--shard {shown(text)}: expected I/N, e.g. 2/4 (the 2nd of 4 shards; "
                "N up to 999,999)"
            )
        shard = cls(int(i), int(n))
        if not 1 <= shard.index <= shard.count:
            raise UsageError(f"--shard {text!r}: I must be between 1 and N")
        return shard

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True)
class PlanSpec:
    """How a run's cases were chosen: stored with the run so --resume can choose again."""

    source: str | None = None  # a built-in suite's name or a suite file's absolute path
    device: str | None = None
    filters: tuple[str, ...] = ()
    shard: Shard | None = None
    timing: dict[str, float] | None = None  # --min-time/--max-time, as [timing] keys

    def options(self) -> dict:
        out: dict = {"device": self.device, "filters": list(self.filters)}
        if self.timing:
            out["timing"] = dict(self.timing)
        return out


def with_timing(suite: Suite, timing: dict[str, float] | None) -> Suite:
    """``suite`` with [timing] keys overridden (the run's --min-time/--max-time)."""
    if not timing:
        return suite
    from dataclasses import replace

    overrides = replace(suite.timing, **timing)
    if problem := overrides.check():
        raise UsageError(f"--min-time/--max-time: {problem}")
    return replace(suite, timing=overrides)


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
            raise UsageError(f"--device {shown(device)}: {problem}")
        # Overriding the device can merge cases that differed only in device.
        cases = list({c.key: c for c in (c.with_params(device=device) for c in cases)}.values())
    if filters:
        cases = apply_filters(cases, filters)
        if not cases:
            raise UsageError(
                f"--filter {' '.join(filters)}: no case of suite '{suite.name}' matches"
            )
    if shard is not None:  # a shard may be empty: a CI matrix can be wider than a suite
        chosen = assign(cases, shard.count, suite.timing)
        cases = [c for c in cases if chosen[c.key] == shard.index - 1]
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
    rounds: int | None = None,
    seed: int | None = None,
    notify: Notify | None = None,
) -> RunOutcome:
    """Run ``cases`` ``rounds`` times (default: the suite's), each round in fresh workers.

    ``notify`` hears what the user should know as it happens (a database that is locked
    or away, and what is done about it)."""
    spec = spec or PlanSpec()
    rounds = rounds if rounds is not None else suite.timing.round_count
    state = system.state()
    with open_executor(isolation) as executor:
        env = executor.environment({c.device for c in cases})
        measured = _peaks(executor, cases) if peaks else None
        record = RunRecord(
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
            rounds=rounds,
            seed=seed if seed is not None else new_seed(),
            warnings=start_warnings(env, state, rounds, executor),
            system=state,
            peaks=measured,
            host=socket.gethostname(),
            pid=os.getpid(),
        )
        # Nothing is measured yet: a database locked past the retry budget is an error.
        run = retrying(lambda: store.start_run(record), budget=retry_budget(), notify=notify)
        try:
            return _run_cases(store, run, suite, cases, executor, progress, heartbeat_s, {}, notify)
        except KeyboardInterrupt:  # Ctrl-C before _run_cases took over: still marked
            with sigint_ignored(), contextlib.suppress(StoreError):
                store.finish_run(run.id, RunStatus.INTERRUPTED)
            raise RunInterrupted(
                f"interrupted: run {run.uid[:8]} is marked interrupted; "
                f"`bench run --resume {run.uid[:8]}` runs it"
            ) from None


def start_warnings(env: dict, state: dict, rounds: int, executor: Executor) -> list[str]:
    """What is already known, before any case runs, to make the numbers less believable."""
    out = []
    if (busy := system.busy_warning(state)) is not None:
        out.append(busy)
    if "NOT steady" in str(env.get("allocator", "")):
        out.append(
            f"CPU allocator not held steady ({env['allocator']}): CPU times may "
            "depend on what ran before"
        )
    if rounds > 1 and not executor.fresh_rounds:
        out.append(
            f"{rounds} rounds in one process (--isolation inline): rounds do not "
            "sample process-level effects"
        )
    return out


@dataclass
class Resumption:
    """A run to resume and what it still lacks; planned without torch."""

    run: RunRecord
    suite: Suite
    cases: list[Case] = field(default_factory=list)  # every case still lacking a round
    done: dict[str, int] = field(default_factory=dict)  # case key -> rounds it has
    runner_gone: bool = False  # it says running, but its process on this host is gone


def plan_resume(store: Store, ref: str, *, force: bool = False) -> Resumption:
    """Plan RUN again as it was planned and keep the cases with no ok or failed row."""
    run = store.resolve_run(ref)
    name = f"run {run.uid[:8]} (id {run.id})"
    if run.suite_source is None:
        raise UsageError(f"{name} cannot be resumed: it does not record how it was planned")
    gone = runner_gone(run)
    if run.status == RunStatus.RUNNING and not run.is_stale() and not gone and not force:
        last = run.heartbeat_at or run.started_at
        raise UsageError(
            f"{name} is still running (last heartbeat {last:%Y-%m-%d %H:%M:%S} "
            f"UTC, process {run.pid} on {run.host}); resume it once it is stale (after "
            f"{stale_after().total_seconds():.0f} s without a heartbeat), or pass --force "
            "if its process is gone"
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
    # Timed as it was first timed; its shard chosen from the suite's own [timing], as then.
    suite = with_timing(suite, options.get("timing"))
    have = store.case_rounds(run.id)
    # Rounds measured while the database was away count as done: resume_run writes them.
    for number, record in journal.read(journal.journal_path(store.url, run.uid)):
        if record.status == CaseStatus.SKIPPED:
            continue  # a skipped case may run now, as a skipped row would
        status, n = have.get(record.case_key, (record.status, 0))
        failed = CaseStatus.FAILED if record.status == CaseStatus.FAILED else status
        have[record.case_key] = (failed, max(n, number))
    rounds = {key: n for key, (status, n) in have.items() if status == CaseStatus.OK}
    todo = [
        c for c in cases if c.key not in have or (c.key in rounds and rounds[c.key] < run.rounds)
    ]
    return Resumption(run, suite, todo, {k: rounds[k] for k in rounds}, runner_gone=gone)


def resume_run(
    resumption: Resumption,
    store: Store,
    *,
    force: bool = False,
    progress: Progress | None = None,
    isolation: Isolation = "process",
    heartbeat_s: float = HEARTBEAT_S,
    notify: Notify | None = None,
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
        owner = (run.host, run.pid) if resumption.runner_gone and not force else None
        me = (socket.gethostname(), os.getpid())
        if not store.reopen_run(run.id, quiet_since=quiet_since, owner=owner, new_owner=me):
            raise UsageError(f"{name} came back to life: another process is running it")
        replay_journal(store, run)  # rounds measured while the database was away
        return _run_cases(
            store,
            run,
            resumption.suite,
            cases,
            executor,
            progress,
            heartbeat_s,
            resumption.done,
        )


def _run_cases(
    store: Store,
    run: RunRecord,
    suite: Suite,
    cases: list[Case],
    executor: Executor,
    progress: Progress | None,
    heartbeat_s: float,
    done: dict[str, int],
    notify: Notify | None = None,
) -> RunOutcome:
    """Run each case until it has ``run.rounds`` rounds (``done``: rounds it has already).

    Each pass is a round in fresh worker processes, in its own shuffled order; a case
    that failed or was skipped is not run again. A resumed run first brings the cases
    with fewer rounds level with the others, so that partners stay side by side.
    """
    assert run.id is not None and run.uid is not None
    have = {c.key: done.get(c.key, 0) for c in cases}
    passes = max((run.rounds - n for n in have.values()), default=0)
    total = sum(run.rounds - n for n in have.values())
    stopped: set[str] = set()  # failed or skipped: no further rounds
    finished: dict[str, ResultRecord] = {}
    writer = ResultWriter(store, run, notify=notify)
    count = 0
    try:
        with _interrupt_once(), Heartbeat(store, run.id, heartbeat_s):
            for p in range(1, passes + 1):
                round_no = run.rounds - passes + p
                todo = [
                    c
                    for c in round_order(cases, run.seed or 0, round_no)
                    if c.key not in stopped and run.rounds - have[c.key] >= passes - p + 1
                ]
                executor.recycle()  # each round in fresh processes (ProcessExecutor)
                for case in todo:
                    if progress:
                        progress(count, total, case, None, round_no)
                    record = executor.run_case(case, suite.timing.for_device(case.device))
                    stored = writer.write(have[case.key] + 1, record)
                    with contextlib.suppress(StoreError):  # the heartbeat thread beats too
                        store.heartbeat(run.id)
                    have[case.key] += 1
                    if stored.status != CaseStatus.OK:
                        stopped.add(case.key)
                        total -= run.rounds - have[case.key]
                    finished[case.key] = stored
                    count += 1
                    if progress:
                        progress(count, total, case, stored, round_no)
    except KeyboardInterrupt:
        # A second Ctrl-C while marking the run would leave it "running": ignore it here
        # (_interrupt_once already ignores every SIGINT after the first).
        with sigint_ignored(), contextlib.suppress(StoreError):
            store.finish_run(
                run.id, RunStatus.INTERRUPTED, warnings=_warnings(store, run, finished)
            )
        kept = f"; {writer.pending} more in {writer.path}" if writer.pending else ""
        raise RunInterrupted(
            f"interrupted: run {run.uid[:8]} kept {count - writer.pending} of {total} "
            f"case-rounds{kept} and is marked interrupted; `bench run --resume "
            f"{run.uid[:8]}` runs the rest"
        ) from None
    except StoreDamaged:
        raise  # write nothing more to a damaged file
    except BaseException:
        # Anything else (a lost database, a bug): not "running" for ever.
        with contextlib.suppress(Exception):
            store.finish_run(run.id, RunStatus.INTERRUPTED)
        raise
    writer.outcome(run)  # rounds left in the journal: the run stays running (stale later)
    writer.call(
        lambda: store.finish_run(
            run.id, RunStatus.FINISHED, warnings=_warnings(store, run, finished)
        )
    )
    return RunOutcome(store.get_run(run.id), list(finished.values()))


def _warnings(
    store: Store, run: RunRecord, finished: dict[str, ResultRecord] | None = None
) -> list[str]:
    """The run's warnings from its start, and what its cases said (contention: all of
    the run's cases; throttling: the cases this invocation ran)."""
    assert run.id is not None
    out = [w for w in run.warnings if not w.startswith((CONTENDED_PREFIX, THROTTLED_PREFIX))]
    contended, measured, worst = store.contention(run.id)
    if contended:
        out.append(
            f"{CONTENDED_PREFIX} {contended} of {measured} case(s) contended (other "
            f"processes took CPU time while they were timed, up to {worst:.1f} cores); "
            "rerun on an idle machine"
        )
    throttled = [
        r for r in (finished or {}).values() if r.clocks and r.clocks.get("dropped_batches")
    ]
    if throttled:
        lowest = min(r.clocks["sm_mhz_min"] for r in throttled if r.clocks)  # type: ignore[index]
        out.append(
            f"{THROTTLED_PREFIX} {len(throttled)} case(s) had batches of samples taken below "
            f"min_clock_ratio of the default SM clock (down to {lowest} MHz); those samples "
            "were dropped. Check cooling and power limits (`nvidia-smi -q -d PERFORMANCE`)"
        )
    return out


CONTENDED_PREFIX = "the machine was busy:"
THROTTLED_PREFIX = "the GPU was throttled:"


@contextlib.contextmanager
def _interrupt_once() -> Iterator[None]:
    """The first SIGINT interrupts the run (KeyboardInterrupt); any after it is ignored,
    so that two quick Ctrl-Cs cannot cut short the marking of the run as interrupted."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = False

    def handler(signum: int, frame: object) -> None:
        nonlocal fired
        if not fired:
            fired = True
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def runner_gone(run: RunRecord) -> bool:
    """The run says running, was run on this host, and its process is gone (killed): it
    can be resumed at once, without waiting for it to go stale. A pid that is alive but
    is no bench process (pids are reused) counts as gone too."""
    if run.status != RunStatus.RUNNING or run.pid is None or run.host != socket.gethostname():
        return False
    if run.pid == os.getpid():
        return False  # this very process
    try:
        os.kill(run.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, someone else's
    try:
        cmdline = Path(f"/proc/{run.pid}/cmdline").read_bytes()
    except OSError:
        return False  # alive, and nothing tells it is not a runner
    return not any(word in cmdline for word in (b"bench", b"harness"))


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
