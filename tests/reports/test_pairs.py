"""Pairing separable cases with their standard conv, and the theory they are held to."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from reports.pairs import (
    BLOCK_PAIR,
    GEOMETRY_PAIR,
    NETWORK_PAIR,
    PAIR_COLUMNS,
    find_pairs,
    theory_ratio,
    theory_speedup,
)

# pyproject's pythonpath puts the repository root first on sys.path.
from tests.reports.synthetic import make_frames, result, results_frame


def test_theory_matches_design_section_1():
    assert theory_ratio(64) == pytest.approx(1 / 64 + 1 / 9)
    assert theory_ratio(512) == pytest.approx(1 / 512 + 1 / 9)
    assert theory_speedup(64) == pytest.approx(9 * 64 / (64 + 9))
    assert round(theory_speedup(64), 1) == 7.9  # DESIGN.md: 7.9x at 64 channels
    assert round(theory_speedup(512), 1) == 8.8  # 8.8x at 512
    assert theory_speedup(1e12) == pytest.approx(9.0)  # 9x in the limit
    assert theory_ratio(64, 5) == pytest.approx(1 / 64 + 1 / 25)
    np.testing.assert_allclose(theory_ratio(np.array([32, 64])), [1 / 32 + 1 / 9, 1 / 64 + 1 / 9])
    c = np.array([32, 64])
    np.testing.assert_allclose(theory_ratio(c) * theory_speedup(c), [1, 1])


def test_conv_and_separable_of_one_geometry_pair_up():
    frame = results_frame(
        [
            result("conv", channels=64, batch=8, median=4e-3),
            result("separable", channels=64, batch=8, median=1e-3),
        ]
    )
    pairs = find_pairs(frame)
    assert len(pairs) == 1
    p = pairs.iloc[0]
    assert p["pair"] == GEOMETRY_PAIR
    assert p["std_workload"] == "conv" and p["sep_workload"] == "separable"
    assert p["channels"] == 64 and p["batch"] == 8
    assert p["ratio"] == pytest.approx(0.25)
    assert p["speedup"] == pytest.approx(4.0)
    # theory from the frames' MACs: the cost model's counts agree with the formula
    assert p["theory_ratio"] == pytest.approx(1 / 64 + 1 / 9)
    assert p["efficiency"] == pytest.approx(4.0 / (1 / (1 / 64 + 1 / 9)))
    assert list(pairs.columns) == list(PAIR_COLUMNS)


def test_theory_comes_from_the_macs_column():
    frame = results_frame(
        [
            result("conv", channels=64, macs=1000),
            result("separable", channels=64, macs=200),
        ]
    )
    assert find_pairs(frame)["theory_ratio"].iloc[0] == pytest.approx(0.2)


def test_cases_that_differ_in_two_parameters_are_not_a_pair():
    frame = results_frame(
        [
            result("conv", channels=64, batch=1),
            result("separable", channels=128, batch=8),  # workload, channels and batch differ
            result("separable", channels=64, batch=1, dtype="float16"),  # and dtype
            result("separable", channels=64, batch=1, memory_format="channels_last"),
            result("depthwise", channels=64, batch=1),  # not a separable workload
        ]
    )
    assert find_pairs(frame).empty


def test_pairs_stay_within_a_run_and_need_both_sides_ok():
    frame = results_frame(
        [
            result("conv", channels=64, run_id=1),
            result("separable", channels=64, run_id=2),
            result("conv", channels=128, run_id=3, status="failed", median=None, error="boom"),
            result("separable", channels=128, run_id=3),
            result("conv", channels=256, run_id=3),
            result("separable", channels=256, run_id=3, status="skipped", median=None),
        ]
    )
    assert find_pairs(frame).empty


def test_block_and_network_pairs():
    frame = results_frame(
        [
            result("conv", channels=64, batch=8, median=2e-3),
            result("separable", channels=64, batch=8, median=1e-3),
            result("conv_block", channels=64, batch=8, median=2e-3),
            result("separable_block", channels=64, batch=8, median=1.5e-3),
            result("mobilenet_v1", conv="standard", median=4e-3),
            result("mobilenet_v1", conv="separable", median=1e-3),
            result("mobilenet_v1", conv="separable", alpha=0.5, median=1e-3),  # no partner
            result("mobilenet_v2"),
        ]
    )
    pairs = find_pairs(frame).set_index("pair")
    assert sorted(pairs.index) == sorted([GEOMETRY_PAIR, BLOCK_PAIR, NETWORK_PAIR])
    assert pairs.loc[BLOCK_PAIR, "ratio"] == pytest.approx(0.75)
    net = pairs.loc[NETWORK_PAIR]
    assert net["ratio"] == pytest.approx(0.25)
    assert net["std_workload"] == net["sep_workload"] == "mobilenet_v1"
    assert net["alpha"] == 1.0 and net["resolution"] == 224
    assert net["theory_ratio"] == pytest.approx(569 / 4866)


def test_missing_values_match_however_they_are_spelled():
    conv = result("conv", channels=64)
    sep = result("separable", channels=64)
    conv["threads"], sep["threads"] = None, float("nan")
    frame = results_frame([conv, sep])
    frame["channels"] = frame["channels"].astype("Int64")
    assert len(find_pairs(frame)) == 1
    frame["channels"] = frame["channels"].astype(float)  # 64 and 64.0 are one value
    assert len(find_pairs(frame)) == 1


def test_a_bare_conv_does_not_pair_with_the_separable_block():
    frame = results_frame(
        [result("conv", channels=64, batch=8), result("separable_block", channels=64, batch=8)]
    )
    assert find_pairs(frame).empty  # unfair: BN and ReLU on one side only


def test_pairs_made_in_a_group_span_its_runs():
    frame = results_frame(
        [result("conv", channels=64, run_id=1), result("separable", channels=64, run_id=2)]
    )
    assert find_pairs(frame).empty  # two shards: no pair within either run
    frame["group"] = "nightly-1"
    pairs = find_pairs(frame, by="group")
    assert len(pairs) == 1 and pairs.loc[0, "run_id"] == "nightly-1"


def test_intervals_from_rounds_and_from_samples():
    conv = result("conv", channels=64, median=2e-3)
    sep = result("separable", channels=64, median=1e-3)
    frame = results_frame([conv, sep])
    one = find_pairs(frame).iloc[0]
    assert one["interval"] == "samples" and one["ci_low"] < 0.5 < one["ci_high"]
    conv["round_medians"], sep["round_medians"] = [2e-3, 2.1e-3, 1.9e-3], [1e-3, 1.1e-3, 0.95e-3]
    conv["rounds"] = sep["rounds"] = 3
    three = find_pairs(results_frame([conv, sep])).iloc[0]
    assert three["interval"] == "rounds"
    assert three["ci_low"] < three["ratio"] < three["ci_high"]
    assert three["clean"]


def test_noisy_or_contended_sides_make_a_pair_unclean():
    conv = result("conv", channels=64)
    sep = result("separable", channels=64)
    sep["contended"] = True
    p = find_pairs(results_frame([conv, sep])).iloc[0]
    assert p["contended"] and not p["noisy"] and not p["clean"]


def test_empty_and_degenerate_inputs():
    assert list(find_pairs(pd.DataFrame()).columns) == list(PAIR_COLUMNS)
    assert find_pairs(None).empty
    frame = results_frame([result("conv", channels=64, status="failed", median=None)])
    assert find_pairs(frame).empty


def test_synthetic_runs_pair_as_expected():
    runs, results = make_frames(4)
    pairs = find_pairs(results)
    by_run = pairs.groupby(["run_id", "pair"]).size().unstack(fill_value=0)
    # run 1 is a laptop: cuda skipped, 10 cpu geometry pairs, no block or network pairs
    assert by_run.loc[1, GEOMETRY_PAIR] == 10
    assert BLOCK_PAIR not in by_run.columns or by_run.loc[1, BLOCK_PAIR] == 0
    # run 2 lost conv 512 batch 8 on cuda to a failure: 19 of 20
    assert by_run.loc[2, GEOMETRY_PAIR] == 19
    assert by_run.loc[3, GEOMETRY_PAIR] == 20
    assert by_run.loc[3, BLOCK_PAIR] == 1
    assert by_run.loc[3, NETWORK_PAIR] == 5
    geo = pairs[pairs["pair"] == GEOMETRY_PAIR]
    np.testing.assert_allclose(
        geo["theory_ratio"], 1 / geo["channels_out"].astype(float) + 1 / 9, rtol=1e-12
    )
    assert not math.isnan(geo["efficiency"].iloc[0])
