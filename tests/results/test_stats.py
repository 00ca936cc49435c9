"""Statistics from raw samples: the row-wise summaries equal plain 1-D numpy."""

from __future__ import annotations

import numpy as np

from results.stats import summarize, summarize_many


def test_summarize_many_matches_one_dimensional_numpy() -> None:
    rng = np.random.default_rng(7)
    lists = [[]] + [
        list(rng.lognormal(0, rng.uniform(0.01, 1), int(n)) * 10 ** rng.uniform(-9, 0))
        for n in rng.integers(1, 300, size=500)
    ]
    got = summarize_many(lists)
    assert got[0] is None
    for samples, s in zip(lists[1:], got[1:], strict=True):
        a = np.asarray(samples)
        assert s.n == a.size
        assert s.median == np.median(a)
        assert (s.q1, s.q3) == tuple(np.percentile(a, [25, 75]))
        assert (s.min, s.max) == (a.min(), a.max())
        assert np.isclose(s.mean, a.mean(), rtol=1e-12)
        assert s.stdev == (np.std(a, ddof=1) if a.size > 1 else 0.0) or np.isclose(
            s.stdev, np.std(a, ddof=1), rtol=1e-12
        )


def test_summarize_single_sample() -> None:
    s = summarize([2e-3])
    assert (s.n, s.median, s.iqr, s.stdev) == (1, 2e-3, 0.0, 0.0)
