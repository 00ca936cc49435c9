"""Compare two sets of timings: is head faster, slower or the same as base? (numpy only)

The statistic is the ratio of medians (head / base; > 1 means head is slower), with a
percentile-bootstrap confidence interval computed from the raw samples. The median is the
headline number of every result (DESIGN.md 4) and is robust to the long right tail of
timing noise; the bootstrap needs no assumption about the shape of that noise.

A change is reported only when the *whole* interval lies beyond the threshold:
``slower`` when ``ci_low > 1 + threshold``, ``faster`` when ``ci_high < 1 / (1 + threshold)``.
That tests "the change is larger than the threshold" directly. The weaker rule, "the CI
excludes 1 and the point estimate is past the threshold", calls a true +2% change
"slower" about 2% of the time (n = 10..100, lognormal noise, threshold 5%), and pure noise
up to 0.7%; this rule does neither in 1,000 trials. The price is power near the threshold:
a true +10% change is flagged 12-60% of the time (the weaker rule: 63-100%), +20% 95-100%
(both). To catch changes just past the threshold, take more samples (a narrower
interval; the default confidence is 99%) rather than loosen the rule. ``1 / (1 + t)``
for speed-ups makes the rule symmetric: comparing A with B says ``slower`` exactly when
B with A would say ``faster`` (for the point estimate; the interval is redrawn).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from results.records import CaseStatus, ResultRecord
from results.stats import NOISY_REL_IQR

Verdict = Literal["faster", "slower", "same"]
CaseVerdict = Literal["faster", "slower", "same", "incomparable"]

RESAMPLES = 2000
MIN_SAMPLES = 5  # below this a bootstrap interval of the median means little


@dataclass(frozen=True)
class Change:
    ratio: float  # median(head) / median(base)
    ci_low: float  # confidence interval of the ratio
    ci_high: float
    verdict: Verdict
    significant: bool  # the interval excludes 1 (a change, perhaps under the threshold)


def compare_samples(
    base: Sequence[float],
    head: Sequence[float],
    *,
    threshold: float = 0.05,
    confidence: float = 0.99,
    seed: int = 0,
    resamples: int = RESAMPLES,
) -> Change:
    """The ratio of medians of ``head`` over ``base``, its bootstrap CI, and a verdict."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if threshold < 0:
        raise ValueError(f"threshold must be >= 0, got {threshold}")
    b, h = np.sort(np.asarray(base, dtype=float)), np.sort(np.asarray(head, dtype=float))
    for side, a in (("base", b), ("head", h)):
        if (problem := sample_problem(a)) is not None:
            raise ValueError(f"{side}: {problem}")
    return _compare_sorted(b, h, threshold, confidence, seed, resamples)


def _compare_sorted(
    b: np.ndarray, h: np.ndarray, threshold: float, confidence: float, seed: int, resamples: int
) -> Change:
    rng = np.random.default_rng(seed)
    ratios = np.sort(bootstrap_medians(h, rng, resamples) / bootstrap_medians(b, rng, resamples))
    alpha = 1 - confidence
    lo, hi = _quantile(ratios, alpha / 2), _quantile(ratios, 1 - alpha / 2)
    return Change(
        ratio=_quantile(h, 0.5) / _quantile(b, 0.5),
        ci_low=lo,
        ci_high=hi,
        verdict=verdict(lo, hi, threshold),
        significant=lo > 1 or hi < 1,
    )


def verdict(ci_low: float, ci_high: float, threshold: float) -> Verdict:
    """The decision rule of the module docstring, on an interval of the ratio."""
    if ci_low > 1 + threshold:
        return "slower"
    if ci_high < 1 / (1 + threshold):
        return "faster"
    return "same"


def bootstrap_medians(
    sorted_samples: np.ndarray, rng: np.random.Generator, draws: int
) -> np.ndarray:
    """``draws`` medians of bootstrap resamples of ``sorted_samples``.

    Exact, and O(draws) whatever the sample size: a resample is ``x[floor(len * U_i)]`` for
    uniform U_i, so its k-th order statistic is ``x[floor(len * U_(k))]`` and
    ``U_(k) ~ Beta(k, len + 1 - k)``. For an even length the next order statistic, given
    U_(k), is the minimum of the len - k uniforms above it. Brute force (resample, then
    np.median) costs ~len times more: seconds for a suite of a thousand cases.
    """
    m = sorted_samples.size
    k = (m + 1) // 2
    u = rng.beta(k, m + 1 - k, size=draws)
    low = sorted_samples[np.minimum((u * m).astype(np.intp), m - 1)]
    if m % 2:
        return low
    # The minimum of m - k uniforms is Beta(1, m - k): 1 - V ** (1 / (m - k)), cheaper.
    u_next = u + (1 - u) * (1 - rng.random(draws) ** (1 / (m - k)))
    return (low + sorted_samples[np.minimum((u_next * m).astype(np.intp), m - 1)]) / 2


def sample_problem(sorted_samples: np.ndarray) -> str | None:
    """Why these samples (sorted ascending) cannot be compared, or None."""
    n = sorted_samples.size
    if n < MIN_SAMPLES:
        return f"{n} samples; at least {MIN_SAMPLES} are needed"
    if not (sorted_samples[0] > 0 and np.isfinite(sorted_samples[-1])):  # NaN sorts last
        return "samples must be finite and positive"
    return None


def _quantile(sorted_samples: np.ndarray, q: float) -> float:
    """np.quantile's default (linear) on a sorted array, without its per-call overhead."""
    a = sorted_samples
    if a.size == 1:
        return float(a[0])
    pos = q * (a.size - 1)
    i = min(int(pos), a.size - 2)
    return float(a[i] + (pos - i) * (a[i + 1] - a[i]))


# -- runs: match cases by key ------------------------------------------------------------

_PREFERENCE = {CaseStatus.OK: 2, CaseStatus.FAILED: 1, CaseStatus.SKIPPED: 0}


@dataclass(frozen=True)
class CaseComparison:
    case_key: str
    case_id: str
    verdict: CaseVerdict
    reason: str | None = None  # why the case is incomparable
    base_median: float | None = None
    head_median: float | None = None
    change: Change | None = None  # None when incomparable
    # IQR/median > 10% on a side (DESIGN.md 4): the interval is honest about the samples,
    # but a disturbed machine also shifts runs as a whole, which no interval can see.
    noisy: bool = False


def merge_results(records: Iterable[ResultRecord]) -> dict[str, ResultRecord]:
    """One result per case key, in first-seen order: the shards of a group, or a resumed run.

    A resumed run may hold a key twice (skipped, then retried); the shards of a group hold
    each key once. Where a key repeats, ok beats failed beats skipped, then the later row.
    """
    merged: dict[str, ResultRecord] = {}
    for r in records:
        old = merged.get(r.case_key)
        if old is None or _PREFERENCE[r.status] >= _PREFERENCE[old.status]:
            merged[r.case_key] = r
    return merged


def compare_runs(
    base: Iterable[ResultRecord],
    head: Iterable[ResultRecord],
    *,
    base_fingerprint: str,
    head_fingerprint: str,
    threshold: float = 0.05,
    allow_env_mismatch: bool = False,
    confidence: float = 0.99,
) -> list[CaseComparison]:
    """Every case of either side, base's order first, with a verdict.

    Runs from different environments (fingerprints) make every case incomparable unless
    ``allow_env_mismatch``: a faster machine is not a faster commit.
    """
    b, h = merge_results(base), merge_results(head)
    env_reason = None
    if base_fingerprint != head_fingerprint and not allow_env_mismatch:
        env_reason = f"environment differs (fingerprint {base_fingerprint} vs {head_fingerprint})"
    out = []
    for key in [*b, *(k for k in h if k not in b)]:
        rb, rh = b.get(key), h.get(key)
        case_id = (rh if rh is not None else b[key]).case_id
        ab, ah = _sorted(rb), _sorted(rh)
        med_b, med_h = _median(ab), _median(ah)
        noisy = _noisy(ab) or _noisy(ah)
        reason = env_reason or _incomparable(rb, ab, "base") or _incomparable(rh, ah, "head")
        if reason is not None:
            out.append(
                CaseComparison(key, case_id, "incomparable", reason, med_b, med_h, None, noisy)
            )
            continue
        assert ab is not None and ah is not None  # _incomparable said so
        change = _compare_sorted(ab, ah, threshold, confidence, stable_seed(key), RESAMPLES)
        out.append(CaseComparison(key, case_id, change.verdict, None, med_b, med_h, change, noisy))
    return out


def stable_seed(case_key: str) -> int:
    """A bootstrap seed per case: verdicts reproduce, and cases draw independently."""
    return zlib.crc32(case_key.encode())


def _incomparable(r: ResultRecord | None, a: np.ndarray | None, side: str) -> str | None:
    if r is None:
        return f"missing in {side}"
    if r.status != CaseStatus.OK:
        why = (r.error or "").strip().splitlines()
        return f"{r.status} in {side}" + (f": {why[0]}" if why else "")
    if a is None:
        # Imported summaries only: a median without samples has no interval, and a
        # verdict without one would be the noise-blind comparison this module avoids.
        return f"no samples in {side}"
    problem = sample_problem(a)
    return f"{side}: {problem}" if problem else None


def _sorted(r: ResultRecord | None) -> np.ndarray | None:
    return np.sort(np.asarray(r.samples, dtype=float)) if r is not None and r.samples else None


def _median(a: np.ndarray | None) -> float | None:
    return _quantile(a, 0.5) if a is not None else None


def _noisy(a: np.ndarray | None) -> bool:
    """IQR/median above the threshold at which a result is flagged noisy (DESIGN.md 4)."""
    if a is None:
        return False
    median = _quantile(a, 0.5)
    return median <= 0 or (_quantile(a, 0.75) - _quantile(a, 0.25)) / median > NOISY_REL_IQR


def environment_diff(
    base: dict[str, Any], head: dict[str, Any], keys: Iterable[str] | None = None
) -> list[tuple[str, Any, Any]]:
    """``(key, base value, head value)`` for the keys (default: all) whose values differ."""
    names = sorted(set(base) | set(head)) if keys is None else list(keys)
    return [(k, base.get(k), head.get(k)) for k in names if base.get(k) != head.get(k)]
