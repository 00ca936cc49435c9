"""Suite loading, validation (every problem at once) and expansion."""

from __future__ import annotations

import hashlib

import pytest

from harness.cases import Case
from harness.suites import apply_filters, builtin_names, load_suite, parse_suite
from results.errors import SuiteError, UsageError


def parse(text: str):
    return parse_suite(text.encode(), source="x.toml", default_name="x")


def problems(text: str) -> list[str]:
    with pytest.raises(SuiteError) as info:
        parse(text)
    return info.value.problems


BAD_SUITES = [
    pytest.param("sweep = [", ["x.toml: invalid TOML"], id="malformed-toml"),
    pytest.param('name = "x"', ["x.toml: sweep: missing"], id="no-sweep"),
    pytest.param(
        '[[sweep]]\nworkload = "convolution"\nchannels = 8',
        ["x.toml: sweep[0].workload: unknown workload 'convolution'"],
        id="unknown-workload",
    ),
    pytest.param(
        '[[sweep]]\nworkload = "conv"\nchannels = 8\ncolour = "red"',
        ["x.toml: sweep[0].colour: unknown key"],
        id="unknown-key",
    ),
    pytest.param(
        'title = "x"\n[[sweep]]\nworkload = "conv"\nchannels = 8',
        ["x.toml: title: unknown key"],
        id="unknown-top-key",
    ),
    pytest.param(
        '[[sweep]]\nworkload = "conv"\nchannels = 8\ndtype = ["float32", "float16", "fp8"]',
        ["x.toml: sweep[0].dtype[2]: bad dtype 'fp8' (expected float32, float16, bfloat16)"],
        id="bad-dtype",
    ),
    pytest.param(
        '[[sweep]]\nworkload = "conv"\nchannels = ["a"]',
        ["x.toml: sweep[0].channels[0]: expected an integer, got 'a'"],
        id="wrong-type",
    ),
    pytest.param(
        '[[sweep]]\nworkload = "conv"\nchannels = 0',
        ["x.toml: sweep[0].channels: bad channels 0 (expected a positive integer up to 65,536)"],
        id="zero-channels",
    ),
    pytest.param(
        '[[sweep]]\nworkload = "conv"\nchannels = 8\nbatch = 99999999999999',
        ["x.toml: sweep[0].batch: bad batch 99999999999999 (expected a positive integer up to"],
        id="huge-int",
    ),
    pytest.param(
        '[timing]\ntimeout_s = inf\n[[sweep]]\nworkload = "conv"\nchannels = 8',
        ["x.toml: timing.timeout_s: bad timeout_s inf (expected a positive number up to 86,400)"],
        id="infinite-timeout",
    ),
    pytest.param(
        '[[sweep]]\nworkload = "conv"\nchannels = []',
        ["x.toml: sweep[0].channels: empty axis"],
        id="empty-axis",
    ),
    pytest.param(
        '[[sweep]]\nworkload = "conv"',
        ["x.toml: sweep[0].channels: missing: required by conv"],
        id="missing-required",
    ),
    pytest.param(
        '[[sweep]]\nworkload = "mobilenet_v1"\nchannels = 8',
        ["x.toml: sweep[0].channels: not a parameter of workload 'mobilenet_v1'"],
        id="param-of-other-workload",
    ),
    pytest.param(
        '[[sweep]]\nworkload = "conv"\nchannels = 8\n[[sweep.exclude]]\nflavour = "x"',
        ["x.toml: sweep[0].exclude[0].flavour: unknown key"],
        id="exclude-unknown-key",
    ),
    pytest.param(
        '[[sweep]]\nworkload = "conv"\nchannels = 8\n[[sweep.exclude]]\nworkload = "convv"',
        ["x.toml: sweep[0].exclude[0].workload: 'convv' is not a workload of this sweep"],
        id="exclude-unknown-workload",
    ),
    pytest.param(
        '[[sweep]]\nworkload = "conv"\nchannels = 8\n[[sweep.exclude]]\n',
        ["x.toml: sweep[0].exclude[0]: empty exclude table"],
        id="exclude-empty",
    ),
    pytest.param(
        '[[sweep]]\nworkload = "conv"\nchannels = 8\ndevice = "cpu"\n'
        '[[sweep.exclude]]\ndevice = "cpu"',
        ["x.toml: sweep: the suite expands to zero cases"],
        id="zero-cases",
    ),
    pytest.param(
        '[timing]\nmin_time_ms = -1\nfoo = 1\n[[sweep]]\nworkload = "conv"\nchannels = 8',
        [
            "x.toml: timing.min_time_ms: bad min_time_ms -1.0 "
            "(expected a positive number up to 3,600,000)",
            "x.toml: timing.foo: unknown key",
        ],
        id="bad-timing",
    ),
    pytest.param(
        '[[sweep]]\nworkload = "depthwise"\nchannels = 8\nchannels_out = 16',
        ["x.toml: sweep[0]: depthwise with"],
        id="depthwise-channels-out",
    ),
    pytest.param(
        '[[sweep]]\nworkload = "conv"\nchannels = 8\nkernel = 2\ndevice = "gpu"',
        [
            "x.toml: sweep[0].kernel: bad kernel 2 (expected an odd kernel size",
            "x.toml: sweep[0].device: bad device 'gpu' "
            "(expected cpu, cuda, cuda:N or mps, N from 0 to 1,023)",
        ],
        id="several-problems-at-once",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD_SUITES)
def test_bad_suites_report_every_problem(text: str, expected: list[str]) -> None:
    got = problems(text)
    assert len(got) == len(expected), got
    for line, prefix in zip(got, expected, strict=True):
        assert line.startswith(prefix), (line, prefix)


def test_problems_in_two_sweeps_are_all_reported() -> None:
    got = problems(
        '[[sweep]]\nworkload = "conv"\nchannels = 8\ndtype = "fp8"\n[[sweep]]\nworkload = "nope"\n'
    )
    assert [p.split(":")[1].strip() for p in got] == ["sweep[0].dtype", "sweep[1].workload"]


def test_expansion_is_a_cartesian_product_minus_excludes() -> None:
    suite = parse(
        '[[sweep]]\nworkload = ["conv", "separable"]\nchannels = [8, 16, 32]\n'
        'dtype = ["float32", "bfloat16"]\ndevice = ["cpu", "cuda"]\n'
        '[[sweep.exclude]]\ndevice = "cpu"\ndtype = "bfloat16"\n'
        '[[sweep.exclude]]\nworkload = "separable"\nchannels = [8, 16]\n'
    )
    combos = {(c.workload, c.params["channels"], c.params["dtype"], c.device) for c in suite.cases}
    expected = {
        (w, ch, dt, dev)
        for w in ("conv", "separable")
        for ch in (8, 16, 32)
        for dt in ("float32", "bfloat16")
        for dev in ("cpu", "cuda")
        if not (dev == "cpu" and dt == "bfloat16") and not (w == "separable" and ch in (8, 16))
    }
    assert combos == expected
    assert len(suite.cases) == len(expected)


def test_exclude_matches_defaults_too() -> None:
    # device is not an axis here but its default (cpu) is still excluded.
    suite = parse(
        '[[sweep]]\nworkload = "conv"\nchannels = [8, 16]\n[[sweep.exclude]]\ndevice = "cpu"\n'
        "channels = 8\n"
    )
    assert [c.params["channels"] for c in suite.cases] == [16]


def test_cases_listed_twice_run_once_and_keys_are_stable() -> None:
    suite = parse(
        '[[sweep]]\nworkload = "conv"\nchannels = [8, 16]\n'
        '[[sweep]]\nworkload = "conv"\nchannels = 16\nsize = 56\n'
    )
    assert len(suite.cases) == 2
    # The key ignores how the case was spelled: defaults filled in, ints coerced.
    assert Case.make("conv", channels=16).key == Case.make("conv", channels=16, size=56).key
    assert Case.make("mobilenet_v1", alpha=1).key == Case.make("mobilenet_v1").key
    assert Case.make("conv", channels=16).key != Case.make("conv", channels=17).key


def test_case_key_is_pinned_across_versions() -> None:
    # The key is the digest of this identity, written out by hand. If a default or the
    # format changes, history and comparisons stop lining up: change it on purpose only.
    identity = (
        '{"params": {"batch": 1, "channels": 64, "channels_out": 64, "cudnn_benchmark": true, '
        '"device": "cpu", "dtype": "float32", "kernel": 3, "memory_format": "contiguous", '
        '"size": 56, "stride": 1, "threads": null}, "workload": "conv"}'
    )
    expected = hashlib.sha256(identity.encode()).hexdigest()[:16]
    assert Case.make("conv", channels=64).key == expected


def test_name_defaults_to_file_stem_and_digest_tracks_content(tmp_path) -> None:
    p = tmp_path / "mine.toml"
    p.write_text('[[sweep]]\nworkload = "conv"\nchannels = 8\n')
    a = load_suite(str(p))
    assert a.name == "mine"
    p.write_text('[[sweep]]\nworkload = "conv"\nchannels = 9\n')
    assert load_suite(str(p)).digest != a.digest


def test_unknown_suite_lists_the_builtins() -> None:
    with pytest.raises(SuiteError) as info:
        load_suite("nosuch")
    for name in ("smoke", "conv", "mobilenet", "nightly"):
        assert name in str(info.value)


def test_missing_file_is_a_suite_error(tmp_path) -> None:
    with pytest.raises(SuiteError, match="cannot read suite file"):
        load_suite(str(tmp_path / "absent.toml"))


def test_builtin_suites_load_and_cover_the_design() -> None:
    assert set(builtin_names()) >= {"smoke", "conv", "mobilenet", "nightly"}
    conv = load_suite("conv")
    assert {c.workload for c in conv.cases} >= {"conv", "separable"}
    assert not any(c.device == "cpu" and c.params["dtype"] == "float16" for c in conv.cases)
    nightly = load_suite("nightly")
    assert {c.params["dtype"] for c in nightly.cases} == {"float32", "float16", "bfloat16"}
    assert {c.params["memory_format"] for c in nightly.cases} == {"contiguous", "channels_last"}
    mobilenet = load_suite("mobilenet")
    assert {c.params.get("conv") for c in mobilenet.cases if c.workload == "mobilenet_v1"} == {
        "standard",
        "separable",
    }


def test_filters_and_or_semantics() -> None:
    cases = load_suite("smoke").cases
    got = apply_filters(cases, ["workload=conv", "channels=32", "channels=64"])
    assert sorted(c.params["channels"] for c in got) == [32, 64]
    assert all(c.workload == "conv" for c in got)
    # A filter on an axis a workload lacks drops that workload's cases.
    assert all(c.workload != "mobilenet_v2" for c in apply_filters(cases, ["channels=64"]))
    assert apply_filters(cases, ["alpha=0.35"])[0].workload == "mobilenet_v2"


@pytest.mark.parametrize(
    "bad",
    [
        "batch",
        "=1",
        "colour=red",
        "batch=",
        "batch=abc",
        "dtype=fp8",
        "alpha=abc",
        "cudnn_benchmark=yes",
        "workload=convv",
    ],
)
def test_bad_filters_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError):
        apply_filters(load_suite("smoke").cases, [bad])
