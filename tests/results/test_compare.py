"""compare_samples and compare_runs on synthetic samples: detection power, false positives."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from results.compare import (
    bootstrap_medians,
    compare_runs,
    compare_samples,
    environment_diff,
    merge_results,
)
from results.records import CaseStatus
from results.verdicts import TOO_WIDE, decide, t_quantile

SEEDS = range(200)


def lognormal(rng: np.random.Generator, n: int, sigma: float, scale: float = 1.0) -> list[float]:
    """Timing-like noise: positive, right-skewed, median ``scale`` milliseconds."""
    return list(rng.lognormal(0.0, sigma, n) * scale * 1e-3)


def verdict_rate(shift: float, *, n: int, sigma: float, verdict: str, threshold=0.05) -> float:
    hits = 0
    for seed in SEEDS:
        rng = np.random.default_rng(10_000 + seed)
        base, head = lognormal(rng, n, sigma), lognormal(rng, n, sigma, 1 + shift)
        hits += compare_samples(base, head, threshold=threshold, seed=seed).verdict == verdict
    return hits / len(SEEDS)


@pytest.mark.parametrize("n", [7, 8])  # odd and even: one and two middle order statistics
def test_bootstrap_medians_match_brute_force(n: int) -> None:
    x = np.sort(np.random.default_rng(1).lognormal(0, 0.3, n))
    draws = 200_000
    fast = bootstrap_medians(x, np.random.default_rng(2), draws)
    idx = np.random.default_rng(3).integers(0, n, size=(draws, n))
    brute = np.median(x[idx], axis=1)
    # Same discrete distribution: every attainable median has the same probability.
    values = np.union1d(fast, brute)
    p_fast = np.array([np.mean(fast == v) for v in values])
    p_brute = np.array([np.mean(brute == v) for v in values])
    assert np.abs(p_fast - p_brute).max() < 0.005
    assert (set(values) <= set(x)) == (n % 2 == 1)  # even n averages two order statistics


@pytest.mark.parametrize(("n", "sigma"), [(10, 0.05), (30, 0.05), (30, 0.1), (100, 0.1)])
def test_pure_noise_rarely_flags(n: int, sigma: float) -> None:
    flagged = verdict_rate(0.0, n=n, sigma=sigma, verdict="slower") + verdict_rate(
        0.0, n=n, sigma=sigma, verdict="faster"
    )
    assert flagged <= 0.02


def test_tight_samples_say_same_loose_ones_ambiguous() -> None:
    assert verdict_rate(0.0, n=100, sigma=0.01, verdict="same") >= 0.99
    # 10 samples at 10%: the interval is wider than the +-5% band, so no "same" is claimed.
    assert verdict_rate(0.0, n=10, sigma=0.1, verdict="ambiguous") >= 0.95


def test_pure_noise_with_outliers_rarely_flags() -> None:
    flagged = 0
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        base, head = (lognormal(rng, 20, 0.05) for _ in range(2))
        head[::7] = [x * 5 for x in head[::7]]  # preemptions: a few samples 5x slower
        flagged += compare_samples(base, head, seed=seed).verdict in ("slower", "faster")
    assert flagged / len(SEEDS) <= 0.02


@pytest.mark.parametrize(
    ("n", "sigma", "power"), [(10, 0.05, 0.95), (30, 0.05, 1.0), (50, 0.1, 0.95)]
)
def test_clear_regression_is_detected(n: int, sigma: float, power: float) -> None:
    assert verdict_rate(0.20, n=n, sigma=sigma, verdict="slower") >= power


def test_clear_improvement_is_detected() -> None:
    assert verdict_rate(-0.20, n=30, sigma=0.05, verdict="faster") >= 0.99


def test_tiny_shift_under_threshold_is_same_though_significant() -> None:
    rng = np.random.default_rng(0)
    changes = [
        compare_samples(lognormal(rng, 50, 0.01), lognormal(rng, 50, 0.01, 1.02), seed=s)
        for s in range(50)
    ]
    assert all(c.verdict == "same" for c in changes)
    # The interval sees the 2% shift; the threshold is what calls it "same".
    assert sum(c.significant for c in changes) >= 45
    assert all(1.0 < c.ratio < 1.04 for c in changes)
    # With loose noise the point estimate often lands past 5%; the whole interval does not
    # (the rule "CI excludes 1 and ratio > 1.05" flags ~2% of these).
    assert verdict_rate(0.02, n=10, sigma=0.05, verdict="slower") <= 0.005


def test_change_fields_and_mirror_symmetry() -> None:
    rng = np.random.default_rng(5)
    base, head = lognormal(rng, 40, 0.03), lognormal(rng, 40, 0.03, 1.3)
    up = compare_samples(base, head)
    down = compare_samples(head, base)
    assert (up.verdict, down.verdict) == ("slower", "faster")
    assert up.ci_low < up.ratio < up.ci_high and up.significant
    assert up.ratio == pytest.approx(1 / down.ratio)
    assert 1.2 < up.ratio < 1.4
    assert compare_samples(base, head) == up  # seeded: reproducible


def test_interval_covers_the_true_ratio() -> None:
    covered = 0
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        c = compare_samples(lognormal(rng, 50, 0.1), lognormal(rng, 50, 0.1, 1.1), seed=seed)
        covered += c.ci_low <= 1.1 <= c.ci_high
    assert covered / len(SEEDS) >= 0.95  # nominal 99%; the percentile bootstrap runs short


def test_threshold_and_confidence_matter() -> None:
    rng = np.random.default_rng(3)
    base, head = lognormal(rng, 50, 0.02), lognormal(rng, 50, 0.02, 1.08)
    assert compare_samples(base, head, threshold=0.05).verdict == "slower"
    assert compare_samples(base, head, threshold=0.10).verdict == "same"
    narrow = compare_samples(base, head, confidence=0.5)
    wide = compare_samples(base, head, confidence=0.999)
    assert wide.ci_low < narrow.ci_low < narrow.ci_high < wide.ci_high


@pytest.mark.parametrize(
    ("base", "head", "match"),
    [
        ([1.0] * 4, [1.0] * 10, "base: 4 samples"),
        ([1.0] * 10, [1.0] * 9 + [0.0], "head: samples must be finite and positive"),
        ([1.0] * 9 + [float("nan")], [1.0] * 10, "base: samples must be finite"),
    ],
)
def test_bad_samples_are_refused(base, head, match) -> None:
    with pytest.raises(ValueError, match=match):
        compare_samples(base, head)


# -- compare_runs --------------------------------------------------------------------------


def noisy(make_result, i: int, scale: float = 1.0, seed: int = 0, **changes):
    rng = np.random.default_rng([i, seed])
    changes.setdefault("samples", lognormal(rng, 30, 0.03, scale))
    return make_result(i, **changes)


def test_compare_runs_verdicts_and_reasons(make_result) -> None:
    base = [
        noisy(make_result, 0),
        noisy(make_result, 1),
        noisy(make_result, 2),
        noisy(make_result, 3),
        noisy(make_result, 4, status=CaseStatus.FAILED, error="RuntimeError: boom\ntrace"),
        noisy(make_result, 5, samples=[]),
        noisy(make_result, 6),
    ]
    head = [
        noisy(make_result, 0, 1.25, seed=1),  # slower
        noisy(make_result, 1, 0.75, seed=1),  # faster
        noisy(make_result, 2, 1.0, seed=1),  # same
        noisy(make_result, 4),
        noisy(make_result, 5),
        make_result(6, status=CaseStatus.SKIPPED, error="no CUDA device", samples=[]),
        noisy(make_result, 7),
    ]
    rows = compare_runs(base, head, base_fingerprint="a", head_fingerprint="a")
    got = {r.case_id: (r.verdict, r.reason) for r in rows}
    assert [r.case_key for r in rows] == [f"{i:016x}" for i in range(8)]  # base first
    assert got == {
        "conv[batch=0]": ("slower", None),
        "conv[batch=1]": ("faster", None),
        "conv[batch=2]": ("same", None),
        "conv[batch=3]": ("incomparable", "missing in head"),
        "conv[batch=4]": ("incomparable", "failed in base: RuntimeError: boom"),
        "conv[batch=5]": ("incomparable", "no samples in base"),
        "conv[batch=6]": ("incomparable", "skipped in head: no CUDA device"),
        "conv[batch=7]": ("incomparable", "missing in base"),
    }
    slow = rows[0]
    assert slow.change is not None and slow.change.ratio == pytest.approx(
        slow.head_median / slow.base_median
    )
    assert rows[3].base_median is not None and rows[3].head_median is None
    assert not any(r.noisy for r in rows)
    assert [r.reason_kind for r in rows[3:]] == [
        "missing in head",
        "failed in base",
        "no samples in base",
        "skipped in head",
        "missing in base",
    ]
    assert {r.change.unit for r in rows[:3] if r.change} == {"sample"}


def test_noisy_cases_are_marked_not_judged_differently(make_result) -> None:
    tight = noisy(make_result, 0)
    wide = make_result(0, samples=lognormal(np.random.default_rng(1), 30, 0.3))
    (row,) = compare_runs([tight], [wide], base_fingerprint="a", head_fingerprint="a")
    assert row.noisy and row.verdict == "ambiguous"  # wide samples, thin evidence
    assert row.reason_kind == TOO_WIDE and not row.contended
    (row,) = compare_runs([tight], [tight], base_fingerprint="a", head_fingerprint="a")
    assert not row.noisy


def test_environment_mismatch_makes_every_case_incomparable(make_result) -> None:
    base = [noisy(make_result, i) for i in range(3)]
    head = [noisy(make_result, i, 1.5, seed=1) for i in range(3)]
    rows = compare_runs(base, head, base_fingerprint="aaaa", head_fingerprint="bbbb")
    assert {r.verdict for r in rows} == {"incomparable"}
    assert all("fingerprint aaaa vs bbbb" in (r.reason or "") for r in rows)
    assert all(r.base_median and r.head_median for r in rows)  # still shown
    allowed = compare_runs(
        base, head, base_fingerprint="aaaa", head_fingerprint="bbbb", allow_env_mismatch=True
    )
    assert {r.verdict for r in allowed} == {"slower"}


def test_merge_prefers_ok_then_the_later_row(make_result) -> None:
    skipped = make_result(0, status=CaseStatus.SKIPPED, samples=[])
    failed = make_result(0, status=CaseStatus.FAILED, samples=[])
    ok1, ok2 = make_result(0), make_result(0, samples=[2e-3] * 10)
    assert merge_results([ok1, skipped, failed])[ok1.case_key] is ok1
    assert merge_results([skipped, failed])[ok1.case_key] is failed
    assert merge_results([ok1, ok2])[ok1.case_key] is ok2
    other = replace(ok1, case_key="k2")
    assert list(merge_results([skipped, other, ok1])) == [ok1.case_key, "k2"]


def test_environment_diff() -> None:
    a = {"cpu_model": "Xeon", "torch": "2.3", "hostname": "a"}
    b = {"cpu_model": "EPYC", "torch": "2.3", "hostname": "b", "cuda": "12.1"}
    assert environment_diff(a, b, ["cpu_model", "torch", "cuda"]) == [
        ("cpu_model", "Xeon", "EPYC"),
        ("cuda", None, "12.1"),
    ]
    assert [k for k, _, _ in environment_diff(a, b)] == ["cpu_model", "cuda", "hostname"]


# -- units: rounds and runs ----------------------------------------------------------------


def rounds(make_result, i: int, medians: list[float], run_id: int = 1, **changes):
    """A result of len(medians) rounds of 10 samples each, round j at ``medians[j]`` ms."""
    rng = np.random.default_rng([i, run_id, len(medians)])
    data = [x for m in medians for x in lognormal(rng, 10, 0.002, m)]
    return make_result(i, samples=data, round_sizes=[10] * len(medians), run_id=run_id, **changes)


def test_rounds_are_the_units_when_both_sides_have_several(make_result) -> None:
    base = [rounds(make_result, 0, [1.0, 1.01, 0.99]), rounds(make_result, 1, [1.0, 1.06, 0.94])]
    head = [rounds(make_result, 0, [1.3, 1.31, 1.29]), rounds(make_result, 1, [1.0, 1.05, 0.95])]
    fast, wide = compare_runs(base, head, base_fingerprint="a", head_fingerprint="a")
    assert fast.verdict == "slower" and fast.change is not None
    assert (fast.change.unit, fast.change.n_base, fast.change.n_head) == ("round", 3, 3)
    assert fast.change.ratio == pytest.approx(1.3, rel=0.01)
    assert fast.change.ratio == pytest.approx(fast.head_median / fast.base_median)
    # Rounds 6% apart: 3+3 units give 4 degrees of freedom and a wide interval.
    assert wide.verdict == "ambiguous" and wide.reason_kind == TOO_WIDE
    assert wide.change is not None and wide.change.spread == pytest.approx(0.05, rel=0.2)
    # The pooled samples' bootstrap cannot see the rounds: a much narrower interval.
    pooled = compare_samples(base[1].samples, head[1].samples)
    width = np.log(wide.change.ci_high / wide.change.ci_low)
    assert width > 2 * np.log(pooled.ci_high / pooled.ci_low)


def test_round_interval_is_a_t_interval_and_symmetric(make_result) -> None:
    b = rounds(make_result, 0, [1.0, 1.02, 0.98])
    h = rounds(make_result, 0, [1.2, 1.22, 1.18], run_id=2)
    (up,) = compare_runs([b], [h], base_fingerprint="a", head_fingerprint="a")
    (down,) = compare_runs([h], [b], base_fingerprint="a", head_fingerprint="a")
    assert (up.verdict, down.verdict) == ("slower", "faster")
    assert up.change.ratio == pytest.approx(1 / down.change.ratio)
    assert up.change.ci_low == pytest.approx(1 / down.change.ci_high)
    logs_b, logs_h = np.log(b.round_medians), np.log(h.round_medians)
    sd = np.sqrt((logs_b.var(ddof=1) + logs_h.var(ddof=1)) / 2)
    half = t_quantile(0.99, 4) * sd * np.sqrt(2 / 3)
    shift = logs_h.mean() - logs_b.mean()
    assert np.log(up.change.ci_low) == pytest.approx(shift - half, rel=1e-9)
    assert up.change.confidence == 0.99 and up.change.spread == pytest.approx(sd)


def test_one_round_on_a_side_is_one_unit_against_the_others_rounds(make_result) -> None:
    b = rounds(make_result, 0, [1.0, 1.0, 1.0])
    h = noisy(make_result, 0, 1.3, run_id=2)
    (row,) = compare_runs([b], [h], base_fingerprint="a", head_fingerprint="a")
    assert row.change is not None and row.change.unit == "round"
    assert (row.change.n_base, row.change.n_head) == (3, 1)
    assert row.verdict == "slower"


def test_a_heavy_round_does_not_outweigh_the_others(make_result) -> None:
    """Three rounds at 1.0, 1.0 and 1.3 ms, the slow one with 4x the samples (adaptive
    stopping on a disturbed process): pooled samples would say the base is 1.3 ms and
    an unchanged 1.0 ms head 'faster'; rounds weigh alike."""
    rng = np.random.default_rng(7)
    data = [
        *lognormal(rng, 10, 0.002, 1.0),
        *lognormal(rng, 10, 0.002, 1.0),
        *lognormal(rng, 40, 0.002, 1.3),
    ]
    b = make_result(0, samples=data, round_sizes=[10, 10, 40])
    h = noisy(make_result, 0, 1.0, run_id=2)
    (row,) = compare_runs([b], [h], base_fingerprint="a", head_fingerprint="a")
    assert row.verdict != "faster" and row.change.unit == "round"
    # the level of its three rounds alike (their mean, under 5 units), not the 1.3 ms of
    # the pooled samples' median
    assert row.base_median == pytest.approx(1.1e-3, rel=0.01)


def test_repeated_runs_are_the_units_of_a_group(make_result) -> None:
    """Both sides hold each case in several runs: each run's median is a unit."""
    rng = np.random.default_rng(4)
    base = [noisy(make_result, 0, 1 + rng.normal(0, 0.02), seed=k, run_id=k) for k in (1, 2, 3)]
    head = [noisy(make_result, 0, 1.25 + rng.normal(0, 0.02), seed=k, run_id=k) for k in (4, 5, 6)]
    (row,) = compare_runs(base, head, base_fingerprint="a", head_fingerprint="a")
    assert row.change is not None and row.change.unit == "run"
    assert (row.change.n_base, row.change.n_head) == (3, 3)
    assert row.verdict == "slower"
    # Runs far apart: the drift between them is measured, and nothing is claimed.
    drifting = [noisy(make_result, 0, s, seed=k, run_id=k) for k, s in ((7, 0.9), (8, 1.15))]
    (row,) = compare_runs(base, drifting, base_fingerprint="a", head_fingerprint="a")
    assert row.verdict == "ambiguous" and row.change.unit == "run"


def test_contended_results_are_marked(make_result) -> None:
    b = noisy(make_result, 0)
    h = noisy(make_result, 0, 1.0, seed=1, contended=True)
    (row,) = compare_runs([b], [h], base_fingerprint="a", head_fingerprint="a")
    assert row.contended and not row.noisy and row.verdict == "same"
    (row,) = compare_runs([b], [b], base_fingerprint="a", head_fingerprint="a")
    assert not row.contended


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (1.06, 1.2, "slower"),
        (0.8, 0.95, "faster"),
        (0.96, 1.04, "same"),
        (1 / 1.05, 1.05, "same"),  # the band's edges are inside
        (1.0, 1.1, "ambiguous"),
        (0.9, 1.0, "ambiguous"),
        (0.5, 2.0, "ambiguous"),
    ],
)
def test_decision_rule(low: float, high: float, expected: str) -> None:
    assert decide(low, high, 0.05) == expected
