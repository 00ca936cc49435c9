"""The pytest plugin: suite cases as pytest-benchmark items, and the bench_case fixture.

Each test runs an inner pytest session with `pytester` on a tiny suite with very short
timing; the plugin is loaded there through its pytest11 entry point, as for users.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from harness.cases import Case
from harness.costmodel import cost
from harness.devices import unavailable
from harness.pytest_plugin import case_from, pedantic_plan
from harness.timing_config import TimingConfig
from results.errors import UsageError

pytest_plugins = ["pytester"]

TINY = """
name = "tiny"
[timing]
min_time_ms = 2
max_time_ms = 20
warmup_ms = 1

[[sweep]]
workload = ["conv", "separable"]
channels = 8
size = 8
device = ["cpu", "cuda"]
"""
CUDA_SKIP = unavailable("cuda", "float32")  # None on a CUDA machine: the case runs there


@pytest.fixture
def tiny(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".toml", tiny=TINY)
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:cacheprovider", *args)


def test_each_case_is_an_item_named_by_its_case_id(tiny) -> None:
    r = run(tiny, "--bench-suite", "tiny.toml", "-v", "-rs", "--benchmark-json", "out.json")
    out = r.stdout.str()
    for case_id in ("conv[channels=8,size=8]", "separable[channels=8,size=8]"):
        assert f"bench[tiny]::{case_id} PASSED" in out
    cuda = "bench[tiny]::conv[channels=8,device=cuda,size=8]"
    if CUDA_SKIP:
        assert f"{cuda} SKIPPED" in out
        r.stdout.fnmatch_lines([f"SKIPPED [[]2[]] *: {CUDA_SKIP}"])  # the reason, in -rs
        r.assert_outcomes(passed=2, skipped=2)
    else:
        r.assert_outcomes(passed=4)


def test_benchmark_json_carries_case_identity_and_cost(tiny) -> None:
    run(tiny, "--bench-suite", "tiny.toml", "--benchmark-json", "out.json").assert_outcomes(
        passed=4 if CUDA_SKIP is None else 2, skipped=0 if CUDA_SKIP is None else 2
    )
    doc = json.loads((tiny.path / "out.json").read_text())
    by_name = {b["name"]: b for b in doc["benchmarks"]}
    b = by_name["separable[channels=8,size=8]"]
    case = Case.make("separable", channels=8, size=8)
    c = cost(case.workload, case.params)
    assert b["fullname"] == "bench[tiny]::separable[channels=8,size=8]"
    assert b["group"] == "tiny"
    assert b["extra_info"] == {
        "case_key": case.key,
        "case_id": case.id,
        "workload": "separable",
        "params": json.loads(json.dumps(case.params)),
        "macs": c.macs,
        "parameters": c.parameters,
        "bytes": c.bytes,
        "activation_bytes": c.activation_bytes,
        "activation_bytes_efficient": c.activation_bytes_efficient,
        "weight_bytes": c.weight_bytes,
        "suite": "tiny",
    }
    stats = b["stats"]
    assert stats["rounds"] >= TimingConfig().min_samples and len(stats["data"]) == stats["rounds"]
    # bench's own environment capture rides along in machine_info
    assert (
        doc["machine_info"]["bench"]["torch"] and "cpu" in doc["machine_info"]["bench"]["devices"]
    )


def test_filter_and_keyword_select_cases(tiny) -> None:
    r = run(tiny, "--bench-suite", "tiny.toml", "--bench-filter", "device=cpu", "--co", "-q")
    items = [line for line in r.stdout.lines if line.startswith("bench[")]
    assert items == [
        "bench[tiny]::conv[channels=8,size=8]",
        "bench[tiny]::separable[channels=8,size=8]",
    ]
    r = run(tiny, "--bench-suite", "tiny.toml", "-k", "separable and not cuda", "--co", "-q")
    assert [x for x in r.stdout.lines if x.startswith("bench[")] == [
        "bench[tiny]::separable[channels=8,size=8]"
    ]


def test_built_in_suite_by_name_and_a_case_in_two_suites_runs_once(tiny) -> None:
    r = run(tiny, "--bench-suite", "smoke", "--bench-suite", "tiny.toml", "--co", "-q")
    items = [x for x in r.stdout.lines if x.startswith("bench[")]
    assert "bench[smoke]::conv[channels=32,size=28]" in items
    assert len(items) == len(set(items)) and any(x.startswith("bench[tiny]::") for x in items)


def test_benchmark_disable_calls_each_case_once(tiny) -> None:
    args = ("--bench-suite", "tiny.toml", "--bench-filter", "device=cpu")
    r = run(tiny, *args, "--benchmark-disable", "--benchmark-json", "out.json")
    r.assert_outcomes(passed=2)
    assert not (tiny.path / "out.json").exists()  # nothing timed, nothing saved


def test_addopts_benchmark_disable_does_not_silence_a_suite(tiny) -> None:
    tiny.makeini("[pytest]\naddopts = --benchmark-disable\n")  # as in bench's pyproject
    args = ("--bench-suite", "tiny.toml", "--bench-filter", "device=cpu")
    run(tiny, *args, "--benchmark-json", "out.json").assert_outcomes(passed=2)
    doc = json.loads((tiny.path / "out.json").read_text())
    assert all(b["stats"]["rounds"] >= 10 for b in doc["benchmarks"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bench-suite", "missing.toml"], "missing.toml: cannot read suite file"),
        (["--bench-suite", "nosuch"], "unknown suite 'nosuch'"),
        (["--bench-suite", "tiny.toml", "--bench-filter", "colour=red"], "unknown axis 'colour'"),
        (["--bench-suite", "tiny.toml", "--bench-filter", "batch=64"], "no case of tiny.toml"),
        (["--bench-filter", "batch=1"], "--bench-filter needs --bench-suite"),
    ],
)
def test_bad_options_are_usage_errors(tiny, args: list[str], message: str) -> None:
    r = run(tiny, *args)
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    assert message in r.stderr.str()


def test_without_bench_suite_the_plugin_adds_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_a="def test_x():\n    pass\n")
    r = run(pytester, "--co", "-q")
    assert [x for x in r.stdout.lines if "::" in x] == ["test_a.py::test_x"]


def test_suite_alone_unless_test_paths_are_given(tiny) -> None:
    tiny.makepyfile(test_a="def test_x():\n    pass\n")
    alone = run(tiny, "--bench-suite", "tiny.toml", "--co", "-q").stdout.lines
    assert not any("test_a.py" in x for x in alone)
    both = run(tiny, "--bench-suite", "tiny.toml", "test_a.py", "--co", "-q").stdout.lines
    assert "test_a.py::test_x" in both and "bench[tiny]::conv[channels=8,size=8]" in both


def test_bench_case_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_mine="""
        import torch

        def test_timed(benchmark, bench_case):
            call = bench_case("separable", channels=8, size=8)
            out = benchmark(call)
            assert tuple(out.shape) == (1, 8, 8, 8)

        def test_untimed(bench_case):
            call = bench_case("conv", channels=4, size=6, threads=1)
            assert torch.is_inference_mode_enabled() and torch.get_num_threads() == 1
            assert tuple(call().shape) == (1, 4, 6, 6)

        def test_cuda(bench_case):
            bench_case("conv", channels=4, size=6, device="cuda")

        def test_bad(bench_case):
            bench_case("separable", channels=8, sizes=8)
        """
    )
    threads = __import__("torch").get_num_threads()
    r = run(
        pytester,
        "-rs",
        "--benchmark-json",
        "out.json",
        "--benchmark-min-rounds=2",
        "--benchmark-max-time=0.005",
    )
    if CUDA_SKIP:
        r.assert_outcomes(passed=2, skipped=1, failed=1)
    else:
        r.assert_outcomes(passed=3, failed=1)
    assert "sizes: not a parameter of separable" in r.stdout.str()
    assert __import__("torch").get_num_threads() == threads  # settings restored after
    (b,) = json.loads((pytester.path / "out.json").read_text())["benchmarks"]
    case = Case.make("separable", channels=8, size=8)
    assert b["extra_info"]["case_key"] == case.key
    assert b["extra_info"]["params"]["channels"] == 8 and b["extra_info"]["suite"] is None
    assert b["extra_info"]["macs"] == cost("separable", case.params).macs


def test_case_from_validates_every_parameter() -> None:
    assert case_from("conv", {"channels": 8}) == Case.make("conv", channels=8)
    with pytest.raises(UsageError) as e:
        case_from("conv", {"channels": -1, "colour": "red", "dtype": "fp8"})
    message = str(e.value)
    assert "channels: bad channels -1" in message
    assert "colour: not a parameter of conv" in message and "dtype: bad dtype 'fp8'" in message
    with pytest.raises(UsageError, match="channels: missing"):
        case_from("separable", {})
    with pytest.raises(UsageError, match="unknown workload 'mobilenet_v3'"):
        case_from("mobilenet_v3", {})
    with pytest.raises(UsageError, match="depthwise needs channels_out == channels"):
        case_from("depthwise", {"channels": 8, "channels_out": 16})


@pytest.mark.parametrize(
    ("per_call", "rounds", "iterations"),
    [
        (1e-6, 10, 1000),  # short calls: 1 ms blocks; min_time covered by the min rounds
        (1e-3, 10, 1),  # 10 rounds of 1 ms = min_samples, under min_time: min_samples wins
        (2e-4, 10, 5),
        (5.0, 10, 1),  # longer than max_time: still min_samples rounds
    ],
)
def test_pedantic_plan(per_call: float, rounds: int, iterations: int) -> None:
    config = TimingConfig(min_time=0.005, max_time=0.05, min_samples=10, block_time=1e-3)
    assert pedantic_plan(per_call, config) == (rounds, iterations)


def test_pedantic_plan_covers_min_time_within_max_time() -> None:
    config = TimingConfig(min_time=0.5, max_time=2.0, min_samples=10, block_time=1e-3)
    rounds, iterations = pedantic_plan(1e-4, config)
    assert iterations == 10 and rounds == 500  # 500 rounds of 1 ms = min_time
    assert pedantic_plan(0.1, config) == (10, 1)  # 10 x 0.1 s: min_samples over min_time


def test_importing_the_plugin_loads_no_torch() -> None:
    code = "import sys, harness.pytest_plugin; assert 'torch' not in sys.modules, 'torch'"
    subprocess.run([sys.executable, "-c", code], check=True)
