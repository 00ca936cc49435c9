"""The interval of a pair's time ratio (separable / standard), from rounds or from samples.

One function for ``bench speedup`` and the report (numpy only, no pandas):

- **rounds** (both sides timed in the same k ≥ 2 rounds, side by side in each): each round
  gives one ratio measured under the same conditions, ``r_i = sep_i / std_i``; the
  interval is a t-interval on ``log r_i`` (k - 1 degrees of freedom). It carries the
  process-to-process spread that rounds exist to sample, and with 2 or 3 rounds it is
  honestly wide.
- **samples** (one round, or rounds that do not line up): the medians' standard errors
  from each side's IQR and sample count (normal approximation: ``SE(median) ≈ 1.2533 ·
  σ / √n`` with ``σ ≈ IQR / 1.349``), combined on the log scale. Drift between processes
  is not in it; the ``unit`` says so.

The headline ``ratio`` is always the ratio of the two medians (each the median of its
rounds' medians), as every table shows it; the interval is widened to contain it if a
skewed set of rounds put it outside.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

from results.verdicts import t_quantile

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Side:
    """What the interval needs of one result (all from the frames, no raw samples)."""

    median: float
    q1: float | None = None
    q3: float | None = None
    n: int = 0  # samples
    round_medians: Sequence[float] = ()


@dataclass(frozen=True)
class RatioInterval:
    ratio: float  # sep median / std median
    low: float | None  # None: not enough to say (e.g. an imported summary without IQR)
    high: float | None
    unit: str  # "rounds" or "samples"
    n: int  # rounds, or the smaller side's sample count


def pair_interval(std: Side, sep: Side, confidence: float = CONFIDENCE) -> RatioInterval:
    ratio = sep.median / std.median
    k = len(std.round_medians)
    if k >= 2 and len(sep.round_medians) == k:
        logs = [math.log(b / a) for a, b in zip(std.round_medians, sep.round_medians, strict=True)]
        mean = sum(logs) / k
        sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / (k - 1))
        half = t_quantile(confidence, k - 1) * sd / math.sqrt(k)
        return _around(ratio, mean - half, mean + half, "rounds", k)
    se = [_log_median_se(s) for s in (std, sep)]
    if se[0] is None or se[1] is None:
        return RatioInterval(ratio, None, None, "samples", min(std.n, sep.n))
    half = NormalDist().inv_cdf(1 - (1 - confidence) / 2) * math.hypot(se[0], se[1])
    centre = math.log(ratio)
    return _around(ratio, centre - half, centre + half, "samples", min(std.n, sep.n))


def _around(ratio: float, lo: float, hi: float, unit: str, n: int) -> RatioInterval:
    low, high = math.exp(lo), math.exp(hi)
    return RatioInterval(ratio, min(low, ratio), max(high, ratio), unit, n)


def _log_median_se(s: Side) -> float | None:
    if s.q1 is None or s.q3 is None or s.n < 2 or not s.median > 0:
        return None
    if not (math.isfinite(s.q1) and math.isfinite(s.q3)):
        return None
    sigma = (s.q3 - s.q1) / 1.349
    return 1.2533 * sigma / math.sqrt(s.n) / s.median
