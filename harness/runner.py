"""Run a suite's cases in order, committing each result as it finishes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from results.store import Store

from harness.cases import Case
from harness.suites import Suite, apply_filters
from results.errors import BenchError, UsageError
from results.records import CaseStatus, ResultRecord, RunRecord, RunStatus

Progress = Callable[[int, int, Case, ResultRecord | None], None]


class RunInterrupted(BenchError):
    """Ctrl-C: the run is marked interrupted; finished cases are kept."""

    exit_code = 130


@dataclass
class RunOutcome:
    run: RunRecord
    results: list[ResultRecord]

    @property
    def failed(self) -> int:
        return sum(r.status == CaseStatus.FAILED for r in self.results)


def plan(
    suite: Suite, *, device: str | None = None, filters: list[str] | None = None
) -> list[Case]:
    """The cases to run: the suite's, moved to `device` if given, then filtered."""
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
    return cases


def run_suite(
    suite: Suite,
    cases: list[Case],
    store: Store,
    *,
    label: str | None = None,
    peaks: bool = True,
    progress: Progress | None = None,
) -> RunOutcome:
    # torch is imported here, not at module import, so the CLI starts fast.
    from harness.environment import capture, fingerprint
    from harness.execute import run_case

    devices = {c.device for c in cases}
    env = capture(devices)
    if peaks:
        env["peaks"] = _peaks(cases)
    run = store.start_run(
        RunRecord(
            suite=suite.name,
            suite_digest=suite.digest,
            environment=env,
            fingerprint=fingerprint(env),
            started_at=datetime.now(UTC),
            label=label,
            commit=env.get("bench_commit"),
            planned=len(cases),
        )
    )
    results: list[ResultRecord] = []
    try:
        for i, case in enumerate(cases):
            if progress:
                progress(i, len(cases), case, None)
            record = run_case(case, suite.timing.for_device(case.device))
            store.add_result(run.id, record)
            results.append(record)
            if progress:
                progress(i + 1, len(cases), case, record)
    except KeyboardInterrupt:
        store.finish_run(run.id, RunStatus.INTERRUPTED)
        raise RunInterrupted(
            f"interrupted: run {run.uid[:8]} kept {len(results)} of {len(cases)} cases "
            f"and is marked interrupted"
        ) from None
    store.finish_run(run.id, RunStatus.FINISHED)
    return RunOutcome(store.get_run(run.id), results)


def _peaks(cases: list[Case]) -> dict[str, dict]:
    from harness.devices import unavailable
    from harness.peaks import measure_peaks

    out: dict[str, dict] = {}
    for device in sorted({c.device for c in cases}):
        dtypes = sorted({c.params["dtype"] for c in cases if c.device == device})
        dtypes = [d for d in dtypes if unavailable(device, d) is None]
        if not dtypes:
            continue
        try:
            out[device] = measure_peaks(device, dtypes)
        except Exception as e:  # noqa: BLE001 - a failed peak measurement is not fatal
            out[device] = {"error": f"{type(e).__name__}: {e}"}
    return out
