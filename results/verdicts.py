"""The decision rule of every verdict, and the interval of a shift between units (numpy).

**Units of evidence.** A verdict weighs medians, one per unit, never raw samples pooled
across units: a run's median (``bench regressions``, and ``bench compare`` of groups of
repeated runs) or a round's median (``bench compare`` of runs with several rounds). Every
unit weighs the same whatever its sample count, and the spread *between* units, which is
what moves from night to night or process to process, sets the width of the interval.
(``bench compare`` of single-round runs has one unit a side; it falls back to a bootstrap
of the samples within the run, see :mod:`results.compare`.)

**Interval.** On log medians, the shift between the two groups' levels with a Student-t
interval (Yuen's trimmed-mean form): each group's level is its 20%-trimmed mean (no trim
under 5 units; one of 5 to 9 trimmed from each end, two of 10 to 14, ...), so one odd run
does not move the baseline; the spread is the pooled winsorized variance of both groups,
with ``h_a + h_b - 2`` degrees of freedom (``h``: units left after trimming). Pooling
assumes a change moves the level, not the noise, and lets the recent runs' disagreement
widen the interval: two recent nights at +0% and +40% are no sustained +20%. With few
units the t-quantile is wide, which is the point: thin evidence gives ``ambiguous``.

**Decision rule** on the interval ``[lo, hi]`` of the ratio head/base, threshold ``t``:

- ``slower``: ``lo > 1 + t`` (the whole interval above the threshold);
- ``faster``: ``hi < 1 / (1 + t)``;
- ``same``: ``1 / (1 + t) <= lo`` and ``hi <= 1 + t`` (the whole interval inside);
- ``ambiguous``: anything else, where the interval straddles a threshold.

``1 / (1 + t)`` makes the rule symmetric: A against B is ``slower`` exactly when B
against A is ``faster``. The simulated rates of the rule are in tests/verdict_sim.py's
tests and the README.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np

Verdict = Literal["faster", "slower", "same", "ambiguous"]
CaseVerdict = Literal["faster", "slower", "same", "ambiguous", "incomparable"]
VERDICTS: tuple[CaseVerdict, ...] = ("slower", "faster", "same", "ambiguous", "incomparable")
Unit = Literal["run", "round", "sample"]

TRIM = 0.2  # fraction trimmed from each end of a group of units (Yuen's usual 20%)

# Why a verdict is ambiguous: reasons group by these words (the CLI counts them).
TOO_WIDE = "interval wider than the threshold band"
STRADDLES = "interval straddles the threshold"


@dataclass(frozen=True)
class Change:
    """A shift from base to head: the ratio of levels, its interval, and the verdict."""

    ratio: float  # head level / base level (> 1: head is slower)
    ci_low: float  # confidence interval of the ratio
    ci_high: float
    verdict: Verdict
    significant: bool  # the interval excludes 1 (a change, perhaps under the threshold)
    unit: Unit = "sample"  # what one value of evidence is
    n_base: int = 1  # units on each side (1 each for the sample bootstrap)
    n_head: int = 1
    confidence: float = 0.99
    spread: float | None = None  # sd of log unit medians (~ relative sd); None: bootstrap
    # Each side's level: the median of its samples, or the geometric (trimmed) mean of its
    # units' medians; ratio = head_level / base_level.
    base_level: float | None = None
    head_level: float | None = None


def decide(ci_low: float, ci_high: float, threshold: float) -> Verdict:
    """The decision rule of the module docstring, on an interval of the ratio."""
    up, down = 1 + threshold, 1 / (1 + threshold)
    if ci_low > up:
        return "slower"
    if ci_high < down:
        return "faster"
    if down <= ci_low and ci_high <= up:
        return "same"
    return "ambiguous"


def decide_many(ci_low: np.ndarray, ci_high: np.ndarray, threshold: float) -> np.ndarray:
    """:func:`decide` over arrays: an array of verdict strings."""
    up, down = 1 + threshold, 1 / (1 + threshold)
    return np.select(
        [ci_low > up, ci_high < down, (ci_low >= down) & (ci_high <= up)],
        ["slower", "faster", "same"],
        "ambiguous",
    )


def ambiguity(ci_low: float, ci_high: float, threshold: float) -> str:
    """Why an ambiguous interval decides nothing: too wide for the band, or just off-centre."""
    too_wide = ci_high / ci_low > (1 + threshold) ** 2
    return TOO_WIDE if too_wide else STRADDLES


def reason_counts(items: Iterable[tuple[str, str | None]]) -> dict[str, dict[str, int]]:
    """``{verdict: {reason kind: count}}`` of (verdict, reason kind) pairs, for the
    ambiguous and incomparable verdicts, most frequent kind first."""
    counts: dict[str, dict[str, int]] = {}
    for verdict, kind in items:
        if verdict in ("ambiguous", "incomparable"):
            d = counts.setdefault(verdict, {})
            d[kind or "unknown"] = d.get(kind or "unknown", 0) + 1
    return {v: dict(sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))) for v, d in counts.items()}


def ambiguity_reason(change: Change, threshold: float) -> tuple[str, str]:
    """Why ``change`` (ambiguous) decides nothing: the reason to show, and its kind."""
    kind = ambiguity(change.ci_low, change.ci_high, threshold)
    units = f"{change.n_base}+{change.n_head} {change.unit}s"
    if change.spread is not None:
        units = f"{change.unit}s vary by {change.spread:.1%} (sd), {units}"
    elif change.unit == "sample":
        units = "1 round: samples of one process"
    return f"{kind} ({units})", kind


@dataclass(frozen=True)
class Shift:
    """:func:`level_shift` of each row: log shift, half-width, pooled sd, degrees of freedom."""

    estimate: np.ndarray  # head level - base level, on logs
    base_level: np.ndarray  # each group's level (trimmed mean of its log medians)
    head_level: np.ndarray
    half_width: np.ndarray  # of the interval; inf where there are no degrees of freedom
    spread: np.ndarray  # pooled sd of log unit medians (the between-unit spread)
    df: int


def trimmed_count(n: int, trim: float = TRIM) -> int:
    """Units trimmed from each end of a group of ``n``."""
    return int(math.floor(trim * n + 1e-9))


def level_shift(base: np.ndarray, head: np.ndarray, confidence: float, trim: float = TRIM) -> Shift:
    """The shift of ``head``'s level over ``base``'s, per row (units along the last axis).

    ``base`` (rows x n_base) and ``head`` (rows x n_head) hold log medians; every row is
    one case, so a simulation judges thousands of cases in one call.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    base, head = np.atleast_2d(base), np.atleast_2d(head)
    levels, sums, hs = [], [], []
    for a in (base, head):
        n = a.shape[1]
        if n < 1:
            raise ValueError("a group needs at least one unit")
        g = trimmed_count(n, trim)
        s = np.sort(a, axis=1)
        levels.append(s[:, g : n - g].mean(axis=1))
        # Winsorized: the trimmed units count at the nearest kept value, so one odd run
        # neither moves the level nor blows up the spread.
        w = np.clip(s, s[:, [g]], s[:, [n - 1 - g]])
        sums.append(((w - w.mean(axis=1, keepdims=True)) ** 2).sum(axis=1))
        hs.append(n - 2 * g)
    df = hs[0] + hs[1] - 2
    estimate = levels[1] - levels[0]
    if df < 1:
        inf = np.full_like(estimate, np.inf)
        return Shift(estimate, *levels, inf, np.full_like(estimate, np.nan), 0)
    spread = np.sqrt((sums[0] + sums[1]) / df)
    half = t_quantile(confidence, df) * spread * math.sqrt(1 / hs[0] + 1 / hs[1])
    return Shift(estimate, *levels, half, spread, df)


@dataclass(frozen=True)
class Judged:
    """:func:`judge` of each row: the ratio of levels, its interval, and the verdict."""

    ratio: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    verdict: np.ndarray  # of strings
    shift: Shift


def judge(
    base: np.ndarray, head: np.ndarray, *, threshold: float, confidence: float, trim: float = TRIM
) -> Judged:
    """Verdicts of many cases at once from their units' medians (rows x units, not logs).

    What :func:`shift_change` does for one case; the simulations call it for thousands.
    """
    s = level_shift(np.log(base), np.log(head), confidence, trim)
    lo, hi = np.exp(s.estimate - s.half_width), np.exp(s.estimate + s.half_width)
    return Judged(np.exp(s.estimate), lo, hi, decide_many(lo, hi, threshold), s)


def shift_change(
    base: Sequence[float],
    head: Sequence[float],
    *,
    unit: Unit,
    threshold: float,
    confidence: float,
    trim: float = TRIM,
) -> Change:
    """One case's :class:`Change` from its units' medians (not logs), base and head."""
    b = np.asarray(base, dtype=float)[None, :]
    h = np.asarray(head, dtype=float)[None, :]
    j = judge(b, h, threshold=threshold, confidence=confidence, trim=trim)
    lo, hi, spread = float(j.ci_low[0]), float(j.ci_high[0]), float(j.shift.spread[0])
    return Change(
        ratio=float(j.ratio[0]),
        ci_low=lo,
        ci_high=hi,
        verdict=j.verdict[0].item(),
        significant=lo > 1 or hi < 1,
        unit=unit,
        n_base=b.shape[1],
        n_head=h.shape[1],
        confidence=confidence,
        spread=None if math.isnan(spread) else spread,
        base_level=math.exp(float(j.shift.base_level[0])),
        head_level=math.exp(float(j.shift.head_level[0])),
    )


# -- Student's t without scipy ------------------------------------------------------------


def t_two_sided_cdf(t: float, df: int) -> float:
    """P(|T| <= t) for Student's T with integer ``df`` (Abramowitz & Stegun 26.7.3-4)."""
    theta = math.atan(t / math.sqrt(df))
    s, c = math.sin(theta), math.cos(theta)
    term = c if df % 2 else 1.0
    total = term
    for k in range(3 if df % 2 else 2, df - 1, 2):
        term *= c * c * (k - 1) / k
        total += term
    if df % 2:
        return 2 / math.pi * (theta + (s * total if df > 1 else 0.0))
    return s * total


@lru_cache(maxsize=256)
def t_quantile(confidence: float, df: int) -> float:
    """The t such that P(|T| <= t) = ``confidence``: the multiplier of a two-sided interval.

    Bisection on the exact CDF (df is an integer here); scipy would be a dependency for
    one function.
    """
    if df < 1:
        return math.inf
    lo, hi = 0.0, 1.0
    while t_two_sided_cdf(hi, df) < confidence:
        lo, hi = hi, hi * 2
    for _ in range(80):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if t_two_sided_cdf(mid, df) < confidence else (lo, mid)
    return (lo + hi) / 2
