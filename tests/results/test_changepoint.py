"""step_fit: the first run at a case's new level."""

from __future__ import annotations

import numpy as np
import pytest

from results.changepoint import step_fit


def test_a_clean_step_is_found_where_it_starts() -> None:
    values = [1.0, 1.01, 0.99, 1.0, 1.02, 1.2, 1.21, 1.19]
    step = step_fit(values)
    assert step is not None
    assert step.index == 5
    assert step.before == pytest.approx(1.0, abs=0.011)
    assert step.ratio == pytest.approx(1.2, rel=0.02)


def test_one_odd_night_neither_makes_nor_moves_a_step() -> None:
    # A +30% night in the baseline; the real step is 2 runs from the end.
    values = [1.0, 1.0, 1.3, 1.0, 1.01, 0.99, 1.0, 1.15, 1.16]
    step = step_fit(values)
    assert step is not None and step.index == 7
    assert step.ratio == pytest.approx(1.155, rel=0.01)


def test_noisy_steps_are_located_within_a_run_mostly() -> None:
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(200):
        values = np.exp(rng.normal(0, 0.03, 18)) * np.r_[[1.0] * 12, [1.2] * 6]
        step = step_fit(list(values))
        hits += step is not None and abs(step.index - 12) <= 1
    assert hits >= 195


def test_segments_need_two_runs_and_short_series_have_no_step() -> None:
    # The last run alone is an outlier, not a level: the split keeps two runs on each side.
    step = step_fit([1.0, 1.0, 1.0, 1.0, 1.5])
    assert step is not None and 2 <= step.index <= 3
    assert step_fit([1.0, 1.0, 2.0]) is None
    assert step_fit([1.0, 2.0], min_segment=1) is not None
    with pytest.raises(ValueError):
        step_fit([1.0] * 4, min_segment=0)


def test_ties_go_to_the_earliest_split() -> None:
    assert step_fit([1.0] * 6).index == 2  # type: ignore[union-attr]
