"""pytest plugin: a bench suite's cases as pytest-benchmark tests, and a ``bench_case`` fixture.

Registered through the ``pytest11`` entry point, so every pytest run in an environment with
bench installed loads it: importing this module must stay cheap (no torch; harness modules
are imported inside the hooks), and without ``--bench-suite`` it adds nothing.

``pytest --bench-suite smoke [--bench-filter AXIS=VALUE ...] --benchmark-json out.json``
turns each case of the suite into one test item named by its case id, e.g.
``bench[smoke]::conv[channels=32,size=28]``, timed by ``benchmark.pedantic`` with the
harness's prepared call under ``torch.inference_mode()`` and the case's thread/cuDNN
settings. Cases this machine cannot run (absent device, unsupported dtype) are skipped
with the reason. ``extra_info`` carries the case's key, params and cost, which
``bench import pytest-benchmark`` reads back. Given no test paths, only the suite runs;
benchmarks are enabled unless ``--benchmark-disable`` is on the command line itself.

Why ``bench run`` is the more accurate path on CUDA: pytest-benchmark times each round
with a host clock, so the timed call must end in ``torch.cuda.synchronize()``. Every
round then includes the synchronisation's own overhead and the kernel launch latency,
and the GPU idles while Python returns from the sync and launches the next round, so
short kernels read slower than they run. ``bench run`` records CUDA events on the stream
and synchronises once per batch of samples: the queue stays full and the events measure
GPU time only. On CPU both are host timers over blocks of calls and agree.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pathlib import Path

    from harness.cases import Case
    from harness.timing_config import TimingConfig, TimingOverrides

Call = Callable[[], object]


@dataclass
class _Planned:
    """The suites named on the command line, loaded and filtered at configure time."""

    suites: list[tuple[str, list[Case], TimingOverrides]]  # (suite name, its cases, timing)


_PLAN = pytest.StashKey[_Planned]()
_USED = pytest.StashKey[set[str]]()  # devices used by bench_case (for machine_info)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("bench", "bench: time a suite's cases with pytest-benchmark")
    group.addoption(
        "--bench-suite",
        action="append",
        default=[],
        dest="bench_suites",
        metavar="SUITE",
        help="Run each case of SUITE (a built-in name or a .toml path) as a benchmark "
        "test. Repeatable.",
    )
    group.addoption(
        "--bench-filter",
        action="append",
        default=[],
        dest="bench_filters",
        metavar="AXIS=VALUE",
        help="Keep the suite cases whose AXIS equals VALUE. Repeatable.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_USED] = set()
    suites: list[str] = config.getoption("bench_suites") or []
    filters: list[str] = config.getoption("bench_filters") or []
    if not suites:
        if filters:
            raise pytest.UsageError("--bench-filter needs --bench-suite")
        return
    if not config.pluginmanager.hasplugin("benchmark"):
        raise pytest.UsageError(
            "--bench-suite needs pytest-benchmark (pip install pytest-benchmark)"
        )
    config.stash[_PLAN] = _load(suites, filters)
    _hold_allocator_steady()
    # --bench-suite asks for timings: `addopts = --benchmark-disable` (this project's, to
    # keep unit tests fast) must not silence them; given on the command line, it does.
    if "--benchmark-disable" not in config.invocation_params.args:
        config.option.benchmark_enable = True


def _hold_allocator_steady() -> None:
    """As bench's workers do (harness.allocator), so that the plugin's timings are steady
    too and its environment (and fingerprint) matches a `bench run` on this machine."""
    from harness import allocator

    allocator.hold_steady()


def _load(refs: list[str], filters: list[str]) -> _Planned:
    from harness.suites import apply_filters, load_suite
    from results.errors import BenchError

    loaded, seen = [], set()
    try:
        for ref in refs:
            suite = load_suite(ref)
            cases = apply_filters(suite.cases, filters) if filters else suite.cases
            # A case in two suites runs once (under the first), as in one suite's sweeps.
            cases = [c for c in cases if c.key not in seen]
            seen.update(c.key for c in cases)
            loaded.append((suite.name, cases, suite.timing))
    except BenchError as e:
        raise pytest.UsageError(str(e)) from None
    if not any(cases for _, cases, _ in loaded):
        raise pytest.UsageError(
            f"--bench-filter {' '.join(filters)}: no case of {', '.join(refs)} matches"
        )
    return _Planned(loaded)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    # `pytest --bench-suite smoke` means the suite, not also the project's test paths
    # (testpaths or the current folder); test paths given explicitly are still collected.
    if _PLAN in config.stash and config.args_source != pytest.Config.ArgsSource.ARGS:
        return True
    return None


@pytest.hookimpl(tryfirst=True)  # before -k/-m deselection, so they apply to suite cases
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    plan = config.stash.get(_PLAN, None)
    if plan is None:
        return
    for name, cases, timing in plan.suites:
        node = SuiteCollector.from_parent(
            session,
            name=f"bench[{name}]",
            nodeid=f"bench[{name}]",
            suite=name,
            cases=cases,
            timing=timing,
        )
        node.add_marker(pytest.mark.benchmark(group=name))
        items.extend(session.genitems(node))


class SuiteCollector(pytest.Collector):
    """One suite: its cases as test functions that request pytest-benchmark's fixture."""

    def __init__(
        self, *, suite: str, cases: list[Case], timing: TimingOverrides, **kw: Any
    ) -> None:
        super().__init__(**kw)
        self.suite = suite
        self.cases = cases
        self.timing = timing

    def collect(self) -> list[pytest.Item]:
        return [
            pytest.Function.from_parent(self, name=case.id, callobj=self._test(case))
            for case in self.cases
        ]

    def _test(self, case: Case) -> Callable[..., None]:
        suite, timing = self.suite, self.timing

        def bench_suite_case(benchmark: Any) -> None:
            _time_case(benchmark, case, suite, timing.for_device(case.device))

        return bench_suite_case


def _time_case(benchmark: Any, case: Case, suite: str, config: TimingConfig) -> None:
    _skip_if_unavailable(case)
    import torch

    from harness.execute import case_settings
    from harness.timers import HostSource

    _record(benchmark, case, suite)
    with case_settings(case), torch.inference_mode():
        call = synced(_prepare(case), case.device)
        if benchmark.disabled:  # --benchmark-disable: one call, as a smoke test
            benchmark.pedantic(call)
            return
        _, per_call = HostSource().warmup(call, config.warmup_time, config.min_warmup_calls)
        rounds, iterations = pedantic_plan(per_call, config)
        benchmark.pedantic(call, rounds=rounds, iterations=iterations, warmup_rounds=1)


def pedantic_plan(per_call: float, config: TimingConfig) -> tuple[int, int]:
    """(rounds, iterations) from one call's time, following the suite's timing settings.

    A round is a block of calls lasting at least ``block_time`` (as in ``bench run``);
    rounds cover ``min_time`` but stay within ``max_time``, and number at least
    ``min_samples``. pytest-benchmark's rounds are fixed in advance: there is no
    adaptive stop on the spread as in ``bench run``.
    """
    per_call = max(per_call, 1e-9)
    iterations = max(1, _ceil(config.block_time / per_call))
    round_s = iterations * per_call
    rounds = min(_ceil(config.min_time / round_s), math.floor(config.max_time / round_s))
    return max(config.min_samples, rounds), iterations


def _ceil(x: float) -> int:
    return math.ceil(x - 1e-9)  # 1e-3 / 1e-6 is 1000.0000000000001: that is 1000 calls


def synced(call: Call, device: str) -> Call:
    """The call a host timer may time: it returns only when the device has finished
    (harness.timers.device_sync: the one place that knows how to wait for a device)."""
    from harness.timers import device_sync

    sync = device_sync(device)
    if device == "cpu":
        return call

    def synced_call() -> object:
        out = call()
        sync()
        return out

    return synced_call


def _prepare(case: Case) -> Call:
    """The case's prepared call; a mode this machine cannot run skips the test."""
    from harness.execute import prepare
    from harness.modes import ModeUnavailable

    try:
        return prepare(case).call
    except ModeUnavailable as e:
        pytest.skip(str(e))


def _skip_if_unavailable(case: Case) -> None:
    from harness.devices import unavailable
    from harness.modes import unavailable as mode_unavailable

    reason = unavailable(case.device, case.params["dtype"]) or mode_unavailable(
        case.params["mode"], case.device
    )
    if reason:
        pytest.skip(reason)


def _record(benchmark: Any, case: Case, suite: str | None) -> None:
    """The case's identity and cost in extra_info, for `bench import pytest-benchmark`."""
    from harness.cases import described

    benchmark.extra_info.update(described(case), suite=suite)


@pytest.fixture
def bench_case(request: pytest.FixtureRequest) -> Iterator[Callable[..., Call]]:
    """A factory: ``bench_case("separable", channels=64, size=28)`` returns the case's call.

    The call is ready to time (module and seeded input built and checked, the device
    synchronised at its end); the rest of the test runs under ``torch.inference_mode()``
    and the case's thread/cuDNN settings. When the test uses ``benchmark``, its
    extra_info gets the case's key, params and cost. Unavailable cases skip the test.
    """
    with contextlib.ExitStack() as stack:

        def make(workload: str, **params: Any) -> Call:
            case = case_from(workload, params)
            _skip_if_unavailable(case)
            _hold_allocator_steady()
            import torch

            from harness.execute import case_settings

            request.config.stash[_USED].add(case.device)
            if "benchmark" in request.fixturenames:
                _record(request.getfixturevalue("benchmark"), case, None)
            stack.enter_context(case_settings(case))
            stack.enter_context(torch.inference_mode())
            return synced(_prepare(case), case.device)

        yield make


def case_from(workload: str, params: dict[str, Any]) -> Case:
    """A validated case (bench's UsageError listing every problem), defaults filled in."""
    from harness.cases import Case
    from harness.params import WORKLOADS, cross_check, fill_defaults
    from results.errors import UsageError

    spec = WORKLOADS.get(workload)
    if spec is None:
        raise UsageError(f"unknown workload {workload!r} (expected {', '.join(WORKLOADS)})")
    problems, values = [], {}
    for name, value in params.items():
        p = spec.get(name)
        if p is None:
            problems.append(f"{name}: not a parameter of {workload} ({', '.join(spec)})")
            continue
        values[name], problem = p.validate(value)
        if problem:
            problems.append(f"{name}: {problem}")
    problems += [f"{n}: missing" for n, p in spec.items() if p.required and n not in params]
    if not problems:
        full = fill_defaults(workload, values)
        problem = cross_check(workload, full)
        if problem is None:
            return Case(workload, full)
        problems.append(problem)
    raise UsageError(f"bench_case({workload!r}): " + "; ".join(problems))


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-benchmark, which may be absent
def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    """Add bench's own environment capture (torch, CUDA, GPU...) when bench cases ran."""
    plan = config.stash.get(_PLAN, None)
    devices = set(config.stash.get(_USED, set()))
    if plan is not None:
        devices |= {c.device for _, cases, _ in plan.suites for c in cases}
    if not devices:
        return
    from harness.environment import capture

    machine_info["bench"] = capture(devices)
