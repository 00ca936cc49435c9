"""Where cases run: in this process (``inline``) or in worker processes (``process``).

With process isolation a case that kills its process (a segfault, an abort, a sticky
CUDA error) costs one failed row, not the run. There is one worker per device, reused
while healthy and started again after a crash. Workers are *spawned*, never forked:
CUDA cannot be initialised again in a forked child. The parent imports no torch and so
never initialises CUDA: environment capture and peak measurement run in a worker too.

A case still running after its timeout (``[timing] timeout_s``, by default derived from
max_time) is taken for a hang: its worker is killed and the case becomes a failed row.

Test hooks: a worker that is about to run a case whose key is in ``$BENCH_WORKER_CRASH``
(comma-separated) kills itself with SIGSEGV instead; one whose key is in
``$BENCH_WORKER_HANG`` blocks forever. Only workers read them; inline execution ignores
them.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from datetime import UTC, datetime
from multiprocessing.connection import Connection, wait
from typing import Any, Literal, Protocol

from harness.cases import Case, described
from harness.timing_config import TimingConfig
from results.errors import BenchError
from results.records import CaseStatus, ResultRecord

Isolation = Literal["process", "inline"]
ISOLATIONS: tuple[Isolation, ...] = ("process", "inline")
CRASH_ENV = "BENCH_WORKER_CRASH"
HANG_ENV = "BENCH_WORKER_HANG"
STOP_TIMEOUT_S = 10.0  # an idle worker exits at once; a busy one is terminated


class WorkerError(BenchError):
    """A worker died while doing what the run cannot go on without (e.g. the environment)."""

    exit_code = 1


class Executor(Protocol):
    #: Whether recycle() gives every later case a fresh process (rounds need it).
    fresh_rounds: bool

    def environment(self, devices: set[str]) -> dict[str, Any]: ...
    def peaks(self, device: str, dtypes: list[str]) -> dict[str, Any]: ...
    def run_case(self, case: Case, config: TimingConfig) -> ResultRecord: ...
    def recycle(self) -> None: ...
    def close(self) -> None: ...


@contextmanager
def open_executor(isolation: Isolation) -> Iterator[Executor]:
    executor: Executor = ProcessExecutor() if isolation == "process" else InlineExecutor()
    try:
        yield executor
    finally:
        executor.close()


# -- tasks: the same functions run inline or in a worker ----------------------------------


def capture_environment(devices: set[str]) -> dict[str, Any]:
    from harness.environment import capture

    # Through JSON: torch.__version__ is a str subclass whose unpickling imports torch.
    return json.loads(json.dumps(capture(devices), default=str))


def device_peaks(device: str, dtypes: list[str]) -> dict[str, Any]:
    from harness.devices import unavailable
    from harness.peaks import measure_peaks

    usable = [d for d in dtypes if unavailable(device, d) is None]
    if not usable:
        return {}
    try:
        return json.loads(json.dumps(measure_peaks(device, usable), default=str))
    except Exception as e:  # noqa: BLE001 - a failed peak measurement is not fatal
        return {"error": f"{type(e).__name__}: {e}"}


def time_case(case: Case, config: TimingConfig) -> ResultRecord:
    from harness import execute  # looked up per call, so tests can monkeypatch it

    return execute.run_case(case, config)


class InlineExecutor:
    """Everything in this process: fastest to start, but a crashing case ends the run.

    Rounds share this process (``fresh_rounds`` is False): process-level effects are not
    sampled, and the run says so in its warnings.
    """

    fresh_rounds = False

    def __init__(self) -> None:
        from harness import allocator

        allocator.hold_steady()  # from now on; what this process allocated before stays

    def recycle(self) -> None:
        pass

    def environment(self, devices: set[str]) -> dict[str, Any]:
        return capture_environment(devices)

    def peaks(self, device: str, dtypes: list[str]) -> dict[str, Any]:
        return device_peaks(device, dtypes)

    def run_case(self, case: Case, config: TimingConfig) -> ResultRecord:
        return time_case(case, config)

    def close(self) -> None:
        pass


# -- process isolation ------------------------------------------------------------------


class WorkerCrashed(Exception):
    """The worker process died (or stopped answering) during a request."""


class WorkerTimedOut(WorkerCrashed):
    """The request outlived its timeout; the worker was killed."""


class ProcessExecutor:
    """One spawned worker per device, started on first use and after each crash."""

    fresh_rounds = True

    def __init__(self) -> None:
        self._workers: dict[str, Worker] = {}
        self._used = False  # a worker did more than capture the environment

    def recycle(self) -> None:
        """Make the next case start in a fresh process (a new round)."""
        if self._used:
            self.close()
            self._used = False

    def environment(self, devices: set[str]) -> dict[str, Any]:
        # In a worker of its own, stopped after: describing every GPU initialises CUDA,
        # which a CPU case's worker should not carry.
        worker = Worker("environment")
        try:
            return worker.call("environment", devices)
        except WorkerCrashed as e:
            raise WorkerError(f"worker crashed: {e} while capturing the environment") from None
        finally:
            worker.stop()

    def peaks(self, device: str, dtypes: list[str]) -> dict[str, Any]:
        self._used = True
        try:
            return self._worker(device).call("peaks", device, dtypes)
        except WorkerCrashed as e:
            self._drop(device)
            return {"error": f"worker crashed: {e} while measuring peaks"}

    def run_case(self, case: Case, config: TimingConfig) -> ResultRecord:
        self._used = True
        worker = self._worker(case.device)
        try:
            record = worker.call("case", case, config, timeout=case_timeout(case, config))
        except WorkerTimedOut as e:
            self._drop(case.device)
            return crashed_record(case, f"case {e}; its worker was killed")
        except WorkerCrashed as e:
            self._drop(case.device)
            return crashed_record(case, f"worker crashed: {e} while running this case")
        if not worker.healthy:  # e.g. a sticky CUDA error: every later case would fail
            self._drop(case.device)
        return record

    def close(self) -> None:
        for device in list(self._workers):
            self._drop(device)

    def pids(self) -> dict[str, int]:
        """The live workers' process ids, by device (for tests and diagnostics)."""
        return {d: w.pid for d, w in self._workers.items() if w.alive}

    def _worker(self, device: str) -> Worker:
        worker = self._workers.get(device)
        if worker is None or not worker.alive:
            if worker is not None:
                worker.stop()
            worker = self._workers[device] = Worker(device)
        return worker

    def _drop(self, device: str) -> None:
        worker = self._workers.pop(device, None)
        if worker is not None:
            worker.stop()


COMPILE_ALLOWANCE_S = 900.0  # a cold torch.compile of a network, on a busy machine


def case_timeout(case: Case, config: TimingConfig) -> float:
    """The case's wall-clock limit in its worker: the timing's, plus room to compile."""
    extra = COMPILE_ALLOWANCE_S if case.params.get("mode") == "compile" else 0.0
    return config.case_timeout() + extra


def crashed_record(case: Case, error: str) -> ResultRecord:
    return ResultRecord(
        **described(case), status=CaseStatus.FAILED, error=error, started_at=datetime.now(UTC)
    )


class Worker:
    """One spawned process and the pipe to it; requests are answered one at a time."""

    def __init__(self, device: str) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(
            target=serve, args=(child,), name=f"bench-worker[{device}]", daemon=True
        )
        with sigint_ignored():  # inherited: a Ctrl-C while it imports is the parent's
            self._process.start()
        child.close()  # only the child holds its end: its death reads as EOF here
        self.busy = False
        self.healthy = True

    @property
    def alive(self) -> bool:
        return self.healthy and self._process.is_alive()

    @property
    def pid(self) -> int:
        assert self._process.pid is not None
        return self._process.pid

    def call(self, kind: str, *args: Any, timeout: float | None = None) -> Any:
        self.busy = True
        try:
            self._conn.send((kind, args))
            if not wait([self._conn, self._process.sentinel], timeout):
                self._process.kill()
                self._process.join(STOP_TIMEOUT_S)
                raise WorkerTimedOut(f"timed out after {timeout:g} s")
            if not self._conn.poll():
                raise WorkerCrashed(self._death())
            status, value, self.healthy = self._conn.recv()
        except (EOFError, OSError):
            raise WorkerCrashed(self._death()) from None
        self.busy = False
        if status == "error":
            raise WorkerError(f"worker failed: {value}")
        return value

    def _death(self) -> str:
        self._process.join(STOP_TIMEOUT_S)
        code = self._process.exitcode
        if code is None:
            self._process.kill()
            return "stopped answering"
        if code < 0:
            try:
                return f"signal {signal.Signals(-code).name}"
            except ValueError:
                return f"signal {-code}"
        return f"exit code {code}"

    def stop(self) -> None:
        """Ask an idle worker to exit; terminate a busy (interrupted) or deaf one."""
        if self._process.is_alive() and not self.busy:
            with suppress(OSError):
                self._conn.send(None)
            self._process.join(STOP_TIMEOUT_S)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(STOP_TIMEOUT_S)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._conn.close()


@contextmanager
def sigint_ignored() -> Iterator[None]:
    """SIGINT ignored for the block (main thread only: elsewhere signals cannot be set).

    Around starting a worker, the child inherits the disposition, so a Ctrl-C that
    reaches the process group while it starts up (before ``serve`` sets it itself)
    prints no traceback from it; the parent handles the Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# -- the worker's side ------------------------------------------------------------------

TASKS = {"environment": capture_environment, "peaks": device_peaks, "case": time_case}


def serve(conn: Connection) -> None:
    """The worker's loop: answer ``(kind, args)`` requests until ``None`` or EOF."""
    # Ctrl-C reaches the whole process group: the parent handles it and stops us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent()
    from harness import allocator

    allocator.hold_steady()  # before torch allocates anything (harness.allocator)
    crash_keys = set(filter(None, os.environ.get(CRASH_ENV, "").split(",")))
    hang_keys = set(filter(None, os.environ.get(HANG_ENV, "").split(",")))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        kind, args = request
        if kind == "case" and args[0].key in crash_keys:
            os.kill(os.getpid(), signal.SIGSEGV)  # the test hooks (module docstring)
        if kind == "case" and args[0].key in hang_keys:
            threading.Event().wait()
        try:
            value = TASKS[kind](*args)
        except Exception as e:  # noqa: BLE001 - reported to the parent, which decides
            conn.send(("error", f"{type(e).__name__}: {e}", True))
            continue
        healthy = True
        if kind == "case":
            value = replace(value, samples=[float(s) for s in value.samples])
            healthy = value.status != CaseStatus.FAILED or _device_usable(value.params["device"])
        conn.send(("ok", value, healthy))


def _device_usable(device: str) -> bool:
    """After a failed case: can this process still use the device (no sticky CUDA error)?"""
    if not device.startswith("cuda"):
        return True
    import torch

    try:
        torch.cuda.synchronize(device)
        return torch.ones(1, device=device).add_(1).item() == 2.0
    except Exception:  # noqa: BLE001 - any error here means the context is gone
        return False


def _exit_with_parent() -> None:
    """A parent killed with SIGKILL cannot stop us: leave when its sentinel closes."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
