"""Figures, tested on their data: traces, their x and y, theory values, facets."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from reports.figures import (
    batch_scaling,
    headline_pairs,
    networks,
    roofline,
    speedup_vs_theory,
    trends,
)
from reports.pairs import find_pairs

# pyproject's pythonpath puts the repository root first on sys.path.
from tests.reports.synthetic import PEAKS, make_frames, result, results_frame


@pytest.fixture(scope="module")
def frames():
    return make_frames(4)


@pytest.fixture(scope="module")
def run3(frames):
    _, results = frames
    return results[results["run_id"] == 3]


def traces(fig: go.Figure, **meta) -> list:
    return [t for t in fig.data if all((t.meta or {}).get(k) == v for k, v in meta.items())]


def validated(fig: go.Figure) -> go.Figure:
    """The builders skip plotly's validation for speed; check every property here."""
    go.Figure(fig.to_dict())  # raises on any invalid property or value
    return fig


# ---------------------------------------------------------------- speedup vs theory


def test_speedup_theory_curve_and_limit(run3):
    fig = validated(speedup_vs_theory(find_pairs(run3)))
    for facet in ("cpu · float32", "cuda · float16"):
        (curve,) = traces(fig, view="ratio", role="theory", facet=facet)
        x, y = np.asarray(curve.x), np.asarray(curve.y)
        for c in (32, 64, 128, 256, 512):
            assert c in x
            assert y[list(x).index(c)] == pytest.approx(1 / c + 1 / 9)
        (limit,) = traces(fig, view="ratio", role="limit", facet=facet)
        assert list(limit.y) == pytest.approx([1 / 9, 1 / 9])
        (s_curve,) = traces(fig, view="speedup", role="theory", facet=facet)
        xs, ys = list(s_curve.x), np.asarray(s_curve.y)
        assert ys[xs.index(64)] == pytest.approx(9 * 64 / 73)
        (s_limit,) = traces(fig, view="speedup", role="limit", facet=facet)
        assert list(s_limit.y) == pytest.approx([9, 9])
    assert curve.name == "theory 1/C_out + 1/3²"
    assert limit.name == "limit 1/3² = 1/9"


def test_speedup_measured_lines_per_batch_and_facet(run3):
    pairs = find_pairs(run3)
    fig = validated(speedup_vs_theory(pairs))
    titles = {a.text for a in fig.layout.annotations}
    assert {"<b>cpu · float32</b>", "<b>cuda · float16</b>"} <= titles
    measured = traces(fig, view="ratio", role="measured")
    names = {(t.meta["facet"], t.name) for t in measured}
    assert names == {
        ("cpu · float32", "batch 1"),
        ("cpu · float32", "batch 8"),
        ("cuda · float16", "batch 1"),
        ("cuda · float16", "batch 8"),
        ("cuda · float16", "batch 8 · separable_block"),
    }
    (line,) = [t for t in measured if t.meta["facet"] == "cpu · float32" and t.name == "batch 8"]
    assert list(line.x) == [32, 64, 128, 256, 512]
    expected = pairs[
        (pairs["device"] == "cpu") & (pairs["batch"] == 8) & (pairs["pair"] == "conv ↔ separable")
    ].sort_values("channels_out")
    np.testing.assert_allclose(line.y, expected["ratio"])
    np.testing.assert_allclose(line.y, expected["sep_median"] / expected["std_median"])
    # hover: medians and IQRs in ms, theory ratio and efficiency = measured / theoretical speedup
    custom = np.asarray(line.customdata, dtype=object)
    np.testing.assert_allclose(custom[:, 1].astype(float), expected["std_median"] * 1e3)
    np.testing.assert_allclose(custom[:, 3].astype(float), expected["sep_median"] * 1e3)
    np.testing.assert_allclose(custom[:, 4].astype(float), expected["sep_iqr"] * 1e3)
    np.testing.assert_allclose(
        custom[:, 8].astype(float), expected["theory_ratio"] / expected["ratio"]
    )
    # the speedup view plots the inverse; only one view is visible at a time
    (s_line,) = [
        t
        for t in traces(fig, view="speedup", role="measured")
        if t.meta["facet"] == "cpu · float32" and t.name == "batch 8"
    ]
    np.testing.assert_allclose(s_line.y, 1 / expected["ratio"])
    assert all(t.visible for t in traces(fig, view="ratio"))
    assert not any(t.visible for t in traces(fig, view="speedup"))
    ratio_button, speedup_button = fig.layout.updatemenus[0].buttons
    assert speedup_button.args[0]["visible"] == [t.meta["view"] == "speedup" for t in fig.data]


def test_speedup_without_pairs_says_so():
    fig = speedup_vs_theory(find_pairs(results_frame([result("depthwise")])))
    assert len(fig.data) == 0
    assert "No conv ↔ separable pairs" in fig.layout.annotations[0].text
    assert headline_pairs(find_pairs(results_frame([result("depthwise")]))).empty


def test_speedup_splits_lines_on_other_varying_parameters():
    rows = []
    for fmt in ("contiguous", "channels_last"):
        for c in (32, 64):
            rows += [
                result("conv", channels=c, memory_format=fmt, median=2e-3),
                result("separable", channels=c, memory_format=fmt, median=1e-3),
            ]
    fig = speedup_vs_theory(find_pairs(results_frame(rows)))
    names = sorted(t.name for t in traces(fig, view="ratio", role="measured"))
    assert names == [
        "batch 1, memory_format=channels_last",
        "batch 1, memory_format=contiguous",
    ]


# ---------------------------------------------------------------- roofline


def test_roofline_points_and_roof(run3):
    fig = validated(roofline(run3, PEAKS))
    ok = run3[run3["status"] == "ok"]
    (dw,) = traces(fig, role="case", device="cuda", workload="depthwise")
    g = ok[(ok["workload"] == "depthwise") & (ok["device"] == "cuda")]
    np.testing.assert_allclose(dw.x, g["macs"] / g["bytes"])
    np.testing.assert_allclose(dw.y, g["macs"] / g["median"])
    (roof,) = traces(fig, role="roof", device="cuda")
    x = np.asarray(roof.x)
    # the cuda cases are float16: the roof is that dtype's measured matmul peak
    peak, bw = PEAKS["cuda"]["macs_per_s_by_dtype"]["float16"], PEAKS["cuda"]["bytes_per_s"]
    np.testing.assert_allclose(roof.y, np.minimum(peak, bw * x))
    assert peak / bw in x  # the ridge point is on the line
    # depthwise is memory-bound: left of the ridge
    assert max(dw.x) < peak / bw
    assert {t.meta["device"] for t in traces(fig, role="case")} == {"cpu", "cuda"}


def test_roofline_without_peaks_says_not_measured(run3):
    fig = roofline(run3, {"cpu": PEAKS["cpu"]})
    assert traces(fig, role="roof", device="cuda") == []
    assert len(traces(fig, role="roof", device="cpu")) == 1
    texts = [a.text for a in fig.layout.annotations]
    assert "peak not measured for cuda" in texts
    fig = roofline(run3, None)
    assert sum("peak not measured" in t for t in (a.text for a in fig.layout.annotations)) == 2


def test_roofline_draws_a_roof_per_dtype_peak():
    frame = results_frame(
        [result("conv", device="cuda", dtype=t) for t in ("float32", "float16", "bfloat16")]
    )
    fig = roofline(frame, PEAKS)
    roofs = traces(fig, role="roof", device="cuda")
    by_dtypes = {tuple(t.meta["dtypes"]): t.meta["peak"] for t in roofs}
    # bfloat16 was not measured: it falls back to the float32 peak
    assert by_dtypes == {("float16",): 4.0e14, ("bfloat16", "float32"): 2.5e13}
    (case,) = traces(fig, role="case")
    x = np.asarray(case.x)
    expected = [4.0e14 if t == "float16" else 2.5e13 for t in ("float32", "float16", "bfloat16")]
    fractions = np.asarray(case.customdata, dtype=object)[:, 3].astype(float)
    np.testing.assert_allclose(fractions, np.asarray(case.y) / np.minimum(expected, 3.0e12 * x))


def test_roofline_device_index_falls_back_to_its_kind():
    frame = results_frame([result("conv", device="cuda:0")])
    fig = roofline(frame, {"cuda": PEAKS["cuda"]})
    assert len(traces(fig, role="roof", device="cuda:0")) == 1


# ---------------------------------------------------------------- batch scaling


def test_batch_scaling_latency_and_throughput(run3):
    fig = validated(batch_scaling(run3))
    labels = [b.label for b in fig.layout.updatemenus[0].buttons]
    assert labels[:4] == ["conv", "separable", "depthwise", "pointwise"]
    assert "mobilenet_v1" not in labels  # one batch size only
    lat = [t for t in traces(fig, workload="conv", metric="latency")]
    assert len(lat) == 10  # 5 channel counts x 2 devices
    (t,) = [t for t in lat if t.name == "channels=64, device=cpu, dtype=float32"]
    g = run3[(run3["workload"] == "conv") & (run3["channels"] == 64) & (run3["device"] == "cpu")]
    g = g.sort_values("batch")
    assert list(t.x) == [1, 8]
    np.testing.assert_allclose(t.y, g["median"] * 1e3)
    np.testing.assert_allclose(t.error_y.array, (g["q3"] - g["median"]) * 1e3)
    np.testing.assert_allclose(t.error_y.arrayminus, (g["median"] - g["q1"]) * 1e3)
    (thr,) = [
        t
        for t in traces(fig, workload="conv", metric="throughput")
        if t.name == "channels=64, device=cpu, dtype=float32"
    ]
    np.testing.assert_allclose(thr.y, g["batch"] / g["median"])
    assert all(t.visible for t in traces(fig, workload="conv"))
    assert not any(t.visible for t in traces(fig, workload="depthwise"))


def test_batch_scaling_with_one_batch_size_says_so():
    fig = batch_scaling(
        results_frame([result("conv", batch=1), result("conv", batch=1, channels=32)])
    )
    assert len(fig.data) == 0
    assert "more than one batch size" in fig.layout.annotations[0].text


# ---------------------------------------------------------------- networks


def test_networks_panels(run3):
    fig = validated(networks(run3, find_pairs(run3)))
    bars = traces(fig, panel="images")
    assert [t.name for t in bars] == ["MobileNet v1", "Conv MobileNet", "MobileNet v2"]
    v1 = run3[
        (run3["workload"] == "mobilenet_v1")
        & (run3["conv"] == "separable")
        & (run3["alpha"] == 1.0)
        & (run3["resolution"] == 224)
    ].sort_values("device")
    np.testing.assert_allclose(bars[0].y, v1["batch"] / v1["median"])
    measured, theory = traces(fig, panel="ratio")
    assert measured.meta["role"] == "measured" and theory.meta["role"] == "theory"
    np.testing.assert_allclose(theory.y, 569 / 4866)
    alpha = traces(fig, panel="alpha")
    assert {t.name for t in alpha} == {"MobileNet v1", "Conv MobileNet", "MobileNet v2"}
    assert list(alpha[0].x) == [0.5, 0.75, 1.0]
    assert list(traces(fig, panel="resolution")[0].x) == [160, 192, 224]


def test_networks_without_mobilenets_says_so():
    fig = networks(results_frame([result("conv")]))
    assert len(fig.data) == 0
    assert "No MobileNet" in fig.layout.annotations[0].text


# ---------------------------------------------------------------- trends


def test_trends_lines_bands_and_marks(frames):
    runs, results = frames
    marks = (
        results[results["status"] == "ok"]
        .iloc[[5]][["case_key", "run_id"]]
        .assign(verdict="regression")
    )
    fig = validated(trends(results, marks))
    medians = traces(fig, role="median")
    ok = results[results["status"] == "ok"]
    assert len(medians) == ok["case_key"].nunique() == 100
    key = marks["case_key"].iloc[0]
    (line,) = [t for t in medians if t.meta["case"] == key]
    g = ok[ok["case_key"] == key].sort_values("run_started_at")
    np.testing.assert_allclose(line.y, g["median"] * 1e3)
    assert list(line.x) == sorted(line.x)
    (band,) = [t for t in traces(fig, role="band") if t.meta["case"] == key]
    assert len(band.x) == 2 * len(g)
    (mark,) = traces(fig, role="mark")
    assert mark.meta["case"] == key and list(mark.customdata) == ["regression"]
    assert line.meta["params"]["workload"] == g["workload"].iloc[0]
    assert "threads" not in line.meta["params"]  # NA parameters are left out


def test_trends_without_results_says_so(frames):
    _, results = frames
    fig = trends(results[results["status"] == "failed"])
    assert len(fig.data) == 0
    assert "No timed case" in fig.layout.annotations[0].text


def test_user_strings_are_escaped_in_figures():
    rows = [
        result("conv", channels=64, device="cuda<b>x</b>"),
        result("separable", channels=64, device="cuda<b>x</b>"),
    ]
    fig = speedup_vs_theory(find_pairs(results_frame(rows)))
    assert "<b>cuda&lt;b&gt;x&lt;/b&gt; · float32</b>" in {a.text for a in fig.layout.annotations}
