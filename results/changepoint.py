"""Where a case's level changed: the best single step over its run medians (numpy only).

The fit splits the series of log run medians (oldest first) in two segments of at least
``min_segment`` runs each and keeps the split with the least total absolute deviation
from each segment's median. Absolute deviations and medians, as asv's step detection
uses, so that one odd night neither creates a step nor moves one; a single split because
a flagged case asks one question: since which run is it at its new level? The answer is
the first run of the later segment. Ties go to the earliest split.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MIN_SEGMENT = 2  # one run alone is an outlier, not a level


@dataclass(frozen=True)
class Step:
    index: int  # position of the first value at the new level
    before: float  # median of the earlier segment (same scale as the input)
    after: float  # median of the later segment

    @property
    def ratio(self) -> float:
        return self.after / self.before


def step_fit(values: Sequence[float], min_segment: int = MIN_SEGMENT) -> Step | None:
    """The best single step of positive ``values`` (run medians, oldest first), or None.

    None when there are fewer than ``2 * min_segment`` values.
    """
    x = np.log(np.asarray(values, dtype=float))
    n = x.size
    if min_segment < 1:
        raise ValueError("min_segment must be at least 1")
    if n < 2 * min_segment:
        return None
    best: tuple[float, int] = (math.inf, -1)
    for k in range(min_segment, n - min_segment + 1):
        left, right = x[:k], x[k:]
        cost = np.abs(left - np.median(left)).sum() + np.abs(right - np.median(right)).sum()
        if cost < best[0] - 1e-12:  # strictly better: ties keep the earlier split
            best = (float(cost), k)
    k = best[1]
    return Step(k, float(np.exp(np.median(x[:k]))), float(np.exp(np.median(x[k:]))))
