"""Statistics derived from raw samples (numpy only).

Raw samples are what the store keeps; everything here is recomputed from them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

NOISY_REL_IQR = 0.10  # DESIGN.md 4: flag a result as noisy above this IQR/median


@dataclass(frozen=True)
class Stats:
    n: int
    median: float
    q1: float
    q3: float
    mean: float
    stdev: float
    min: float
    max: float

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    @property
    def rel_iqr(self) -> float:
        return self.iqr / self.median if self.median > 0 else math.inf

    @property
    def noisy(self) -> bool:
        return self.rel_iqr > NOISY_REL_IQR


def summarize(samples: Sequence[float]) -> Stats:
    a = np.asarray(samples, dtype=float)
    if a.size == 0:
        raise ValueError("no samples")
    q1, med, q3 = np.percentile(a, [25, 50, 75])
    return Stats(
        n=int(a.size),
        median=float(med),
        q1=float(q1),
        q3=float(q3),
        mean=float(a.mean()),
        stdev=float(a.std(ddof=1)) if a.size > 1 else 0.0,
        min=float(a.min()),
        max=float(a.max()),
    )


def median_ci(samples: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Distribution-free confidence interval of the median from order statistics.

    The ranks come from the binomial(n, 1/2) distribution (normal approximation), the
    textbook method that needs no assumption about the shape of timing noise.
    """
    a = np.sort(np.asarray(samples, dtype=float))
    n = a.size
    if n == 0:
        raise ValueError("no samples")
    if n < 3:
        return float(a[0]), float(a[-1])
    z = _z(confidence)
    half = z * math.sqrt(n) / 2
    lo = max(0, math.floor(n / 2 - half))
    hi = min(n - 1, math.ceil(n / 2 + half) - 1)
    return float(a[lo]), float(a[hi])


def rel_ci_halfwidth(samples: Sequence[float], confidence: float = 0.95) -> float:
    """Half the width of the median's CI, relative to the median."""
    lo, hi = median_ci(samples, confidence)
    med = float(np.median(samples))
    return (hi - lo) / 2 / med if med > 0 else math.inf


def _z(confidence: float) -> float:
    # statistics.NormalDist is in the standard library; no scipy needed for one quantile.
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + confidence / 2)
