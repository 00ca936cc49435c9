"""Figures, tested on their data: traces, their x and y, theory values, facets."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from reports import html
from reports._plot import esc, log_ticks, tick_label
from reports.figures import (
    batch_scaling,
    headline_pairs,
    networks,
    roofline,
    speedup_vs_theory,
    trends,
)
from reports.figures_networks import networks_notes
from reports.figures_roofline import ABOVE_ROOF, points_above_roof, roofline_points
from reports.pairs import find_pairs

# pyproject's pythonpath puts the repository root first on sys.path.
from tests.reports.synthetic import (
    PEAKS,
    UNDER_MEASURED_PEAKS,
    edge_frames,
    make_frames,
    result,
    results_frame,
)


@pytest.fixture(scope="module")
def frames():
    return make_frames(4)


@pytest.fixture(scope="module")
def run3(frames):
    _, results = frames
    return results[results["run_id"] == 3]


@pytest.fixture(scope="module")
def edge():
    """The two runs of edge_frames: (single channel count, noisy/contended pairs,
    under-measured cpu roof, no α sweep) and (one MobileNet setting, no pair)."""
    runs, results = edge_frames()
    first, second = sorted(runs["run_id"])
    return results[results["run_id"] == first], results[results["run_id"] == second]


def traces(fig: go.Figure, **meta) -> list:
    return [t for t in fig.data if all((t.meta or {}).get(k) == v for k, v in meta.items())]


def validated(fig: go.Figure) -> go.Figure:
    """The builders skip plotly's validation for speed; check every property here."""
    go.Figure(fig.to_dict())  # raises on any invalid property or value
    return fig


def plot_areas(fig: go.Figure) -> list[tuple[list[float], list[float]]]:
    """(x domain, y domain) of every subplot, in paper coordinates."""
    out = []
    for name in fig.layout:
        if name.startswith("xaxis"):
            x = fig.layout[name]
            y = fig.layout[f"yaxis{name[5:]}"]
            out.append((list(x.domain), list(y.domain)))
    return out


def annotations_inside(fig: go.Figure) -> list[str]:
    """Annotations that sit inside a plot area (where they can cover data)."""
    inside = []
    for a in fig.layout.annotations:
        if a.xref != "paper" or a.yref != "paper":
            inside.append(a.text)  # placed on an axis or its domain: in a plot area
            continue
        for (x0, x1), (y0, y1) in plot_areas(fig):
            # a subplot title sits on its domain's top edge, drawn upwards: outside
            if x0 < a.x < x1 and y0 < a.y < y1 - 1e-9:
                inside.append(a.text)
    return inside


def log_axes(fig: go.Figure) -> dict[str, object]:
    return {
        n: fig.layout[n] for n in fig.layout if n[1:5] == "axis" and fig.layout[n].type == "log"
    }


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


def test_speedup_series_of_a_facet_differ_in_colour_and_dash(run3):
    rows = []
    for fmt in ("contiguous", "channels_last"):
        rows += [
            result("conv", memory_format=fmt, median=2e-3),
            result("separable", memory_format=fmt, median=1e-3),
        ]
    for pairs in (find_pairs(results_frame(rows)), find_pairs(run3)):
        fig = speedup_vs_theory(pairs)
        by_facet: dict[str, list] = {}
        for t in traces(fig, view="ratio", role="measured"):
            by_facet.setdefault(t.meta["facet"], []).append(t)
        for facet, lines in by_facet.items():
            assert len({t.line.color for t in lines}) == len(lines), facet
            assert len({t.line.dash for t in lines}) == len(lines), facet
            assert all(t.marker.color == t.line.color for t in lines)
        # one style per series name, in every facet (one legend entry stands for all)
        style = {}
        for t in traces(fig, role="measured"):
            assert style.setdefault(t.name, (t.line.color, t.line.dash)) == (
                t.line.color,
                t.line.dash,
            )
    # theory lines keep their black style
    assert {t.line.color for t in traces(fig, role="theory")} == {"#222222"}


def test_speedup_with_one_channel_count_draws_theory_and_limit(edge):
    run, _ = edge
    fig = validated(speedup_vs_theory(find_pairs(run)))
    for facet in ("cpu · float32", "cuda · float16"):
        for view in ("ratio", "speedup"):
            (curve,) = traces(fig, view=view, role="theory", facet=facet)
            (limit,) = traces(fig, view=view, role="limit", facet=facet)
            for line in (curve, limit):  # a line, not a point: x spans 32..128 around 64
                assert min(line.x) == pytest.approx(32) and max(line.x) == pytest.approx(128)
            assert 64 in list(curve.x)
            for t in traces(fig, view=view, role="measured", facet=facet):
                assert list(t.x) == [64] and "markers" in t.mode
    (cpu_curve,) = traces(fig, view="ratio", role="theory", facet="cpu · float32")
    np.testing.assert_allclose(cpu_curve.y, 1 / np.asarray(cpu_curve.x) + 1 / 9)


def test_speedup_error_bars_are_the_ratio_interval(edge):
    run, _ = edge
    pairs = headline_pairs(find_pairs(run))
    fig = validated(speedup_vs_theory(pairs))
    for _, p in pairs.iterrows():
        facet = f"{p['device']} · {p['dtype']}"
        name = f"batch 1, memory_format={p['memory_format']}"  # it varies in the figure
        (ratio,) = [
            t for t in traces(fig, view="ratio", role="measured", facet=facet) if t.name == name
        ]
        (speed,) = [
            t for t in traces(fig, view="speedup", role="measured", facet=facet) if t.name == name
        ]
        if np.isnan(p["ci_low"]):  # unknown: no bar, and the hover says so
            assert ratio.error_y.array == (None,) and ratio.error_y.arrayminus == (None,)
            assert speed.error_y.array == (None,)
            assert "95% interval unknown" in ratio.customdata[0][9]
            continue
        assert ratio.y[0] + ratio.error_y.array[0] == pytest.approx(p["ci_high"])
        assert ratio.y[0] - ratio.error_y.arrayminus[0] == pytest.approx(p["ci_low"])
        assert speed.y[0] + speed.error_y.array[0] == pytest.approx(1 / p["ci_low"])
        assert speed.y[0] - speed.error_y.arrayminus[0] == pytest.approx(1 / p["ci_high"])
        assert f"{p['ci_low']:.3f} – {p['ci_high']:.3f} from samples" in ratio.customdata[0][9]
    # the y range shows the bars
    for axis in log_axes(fig).values():
        if axis.range is not None and axis.tickvals:
            assert 10 ** axis.range[1] > pairs["ci_high"].max()


def test_speedup_unclean_pairs_are_hollow_and_say_why(edge):
    run, _ = edge
    pairs = headline_pairs(find_pairs(run))
    assert sorted(zip(pairs["noisy"], pairs["contended"], strict=True)) == [
        (False, False),
        (False, True),
        (True, False),
    ]
    fig = validated(speedup_vs_theory(pairs))
    for view in ("ratio", "speedup"):
        hollow = traces(fig, view=view, role="unclean")
        assert sorted((t.meta["facet"], t.name) for t in hollow) == [
            ("cpu · float32", "batch 1, memory_format=channels_last"),
            ("cuda · float16", "batch 1, memory_format=contiguous"),
        ]
        for t in hollow:  # white over the measured marker, outlined in the series colour
            (line,) = [
                m
                for m in traces(fig, view=view, role="measured", facet=t.meta["facet"])
                if m.name == t.name
            ]
            assert list(t.x) == list(line.x) and list(t.y) == list(line.y)
            assert t.marker.color == "white" and t.marker.line.color == line.line.color
            assert t.marker.line.width >= 1.5 and t.marker.symbol == line.marker.symbol
            assert not t.showlegend and t.legendgroup == line.legendgroup
            assert "%{customdata[11]}" in t.hovertemplate
        flags = {t.meta["facet"]: t.customdata[0][11] for t in hollow}
        assert "noisy" in flags["cpu · float32"] and "contended" not in flags["cpu · float32"]
        assert "contended" in flags["cuda · float16"] and "noisy" not in flags["cuda · float16"]
        (clean,) = [
            t
            for t in traces(fig, view=view, role="measured", facet="cpu · float32")
            if t.name == "batch 1, memory_format=contiguous"
        ]
        assert clean.customdata[0][11] == ""
        (key,) = traces(fig, view=view, role="key")
        assert key.name == "hollow marker: noisy or contended pair"
        assert key.showlegend == (view == "ratio") and key.visible == (view == "ratio")
    # the meta contract holds for every trace, and the buttons switch whole views
    assert all({"view", "role", "facet"} <= set(t.meta) for t in fig.data)
    for view, button in zip(("ratio", "speedup"), fig.layout.updatemenus[0].buttons, strict=True):
        assert button.args[0]["visible"] == [t.meta["view"] == view for t in fig.data]
    # a run whose pairs are all clean has no hollow markers and no key
    clean_fig = speedup_vs_theory(find_pairs(run[run["device"] == "cpu"].iloc[:2]))
    assert traces(clean_fig, role="unclean") == [] and traces(clean_fig, role="key") == []


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
    # in the subplot's title, above its plot area
    assert '<b>cuda</b><br><span style="font-size:12px">peak not measured</span>' in texts
    assert any(
        t.startswith("<b>cpu</b>") and "peak 200 GMAC/s · bandwidth 40 GB/s" in t for t in texts
    )
    assert annotations_inside(fig) == []
    fig = roofline(run3, None)
    assert sum("peak not measured" in t for t in (a.text for a in fig.layout.annotations)) == 2


def test_roofline_marks_points_above_the_roof(edge):
    run, _ = edge
    assert points_above_roof(run, UNDER_MEASURED_PEAKS) == {"cpu": 2, "cuda": 0}
    assert points_above_roof(run, PEAKS) == {"cpu": 0, "cuda": 0}
    assert points_above_roof(run, {"cuda": PEAKS["cuda"]}) == {"cuda": 0}  # no cpu roof
    fig = validated(roofline(run, UNDER_MEASURED_PEAKS))
    (ring,) = traces(fig, role="above")
    assert ring.meta["device"] == "cpu" and ring.showlegend
    pts = roofline_points(run)
    conv = pts[(pts["workload"] == "conv") & (pts["device"] == "cpu")]
    np.testing.assert_allclose(sorted(ring.x), sorted(conv["intensity"]))
    np.testing.assert_allclose(sorted(ring.y), sorted(conv["achieved"]))
    assert (conv["achieved"] > UNDER_MEASURED_PEAKS["cpu"]["macs_per_s"]).all()
    # the hover of exactly those points says why
    for t in traces(fig, role="case"):
        custom = np.asarray(t.customdata, dtype=object)
        above = [ABOVE_ROOF in text for text in custom[:, 4]]
        assert above == [t.meta["workload"] == "conv" and t.meta["device"] == "cpu"] * len(above)
        assert "%{customdata[4]}" in t.hovertemplate
    titles = [a.text for a in fig.layout.annotations]
    assert any(t.startswith("<b>cpu</b>") and "2 above the roof" in t for t in titles)
    assert annotations_inside(fig) == []
    assert traces(roofline(run, PEAKS), role="above") == []


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


def test_networks_lays_out_only_panels_with_data(run3, edge):
    fig = networks(run3, find_pairs(run3))
    assert len(plot_areas(fig)) == 4
    assert networks_notes(run3, find_pairs(run3)) == []
    assert annotations_inside(fig) == []

    no_alpha, one_setting = edge
    fig = validated(networks(no_alpha, find_pairs(no_alpha)))
    assert {t.meta["panel"] for t in fig.data} == {"images", "ratio", "resolution"}
    assert len(plot_areas(fig)) == 3
    # every laid-out subplot holds a trace
    used = {(t.xaxis, t.yaxis) for t in fig.data}
    assert used == {("x", "y"), ("x2", "y2"), ("x3", "y3")}
    notes = networks_notes(no_alpha, find_pairs(no_alpha))
    assert notes == ["No α sweep: no network ran at two or more α at resolution 224."]
    assert annotations_inside(fig) == []
    assert any(notes[0] in a.text for a in fig.layout.annotations)

    fig = validated(networks(one_setting, find_pairs(one_setting)))
    assert {t.meta["panel"] for t in fig.data} == {"images"}
    assert len(plot_areas(fig)) == 1
    notes = networks_notes(one_setting, find_pairs(one_setting))
    assert [n.split(":")[0] for n in notes] == [
        "No MobileNet v1 / Conv MobileNet pair (same α, resolution, device, dtype, batch)",
        "No α sweep",
        "No resolution sweep",
    ]
    (margin,) = [a for a in fig.layout.annotations if notes[0] in a.text]
    assert margin.text == "<br>".join(notes)
    assert margin.y == 1 and margin.yanchor == "bottom" and margin.yshift > 0
    assert annotations_inside(fig) == []


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


def test_log_ticks_read_1_2_5_with_si_prefixes():
    ticks = log_ticks(0.8, 1300)
    assert ticks["tickvals"] == [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
    assert ticks["ticktext"] == ["1", "2", "5", "10", "20", "50", "100", "200", "500", "1 k"]
    assert log_ticks(3e9, 2.5e11)["ticktext"] == ["5 G", "10 G", "20 G", "50 G", "100 G", "200 G"]
    assert log_ticks(0.04, 0.6)["ticktext"] == ["0.05", "0.1", "0.2", "0.5"]
    assert log_ticks(900, 3000, si=False)["ticktext"] == ["1,000", "1,500", "2,000", "3,000"]
    # past four decades, powers of ten only; within one, at least three finer ticks
    assert log_ticks(1e-3, 1e3)["tickvals"] == [1e-3, 1e-2, 0.1, 1, 10, 100, 1000]
    assert log_ticks(320, 630)["tickvals"] == [400, 500, 600]
    assert tick_label(4.23e10) == "42.3 G"


def test_every_log_axis_has_readable_ticks(run3, edge):
    """No plotly "D2" ticks: every log axis carries 1-2-5 ticks (or the batch sizes)."""
    run, _ = edge
    figs = [
        speedup_vs_theory(find_pairs(run3)),
        speedup_vs_theory(find_pairs(run)),
        roofline(run3, PEAKS),
        roofline(run, UNDER_MEASURED_PEAKS),
        batch_scaling(run3),
        networks(run3, find_pairs(run3)),
        networks(run, find_pairs(run)),
    ]
    seen = 0
    for fig in figs:
        for name, axis in log_axes(fig).items():
            seen += 1
            assert axis.dtick is None, name
            assert axis.tickvals and len(axis.ticktext) == len(axis.tickvals), name
            if name.startswith("yaxis") or fig is figs[2]:  # not C_out or batch ticks
                mantissas = {float(f"{v:e}".split("e")[0]) for v in axis.tickvals}
                assert mantissas <= {1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0}, name
                lo, hi = (10**r for r in axis.range)
                assert all(lo <= v <= hi for v in axis.tickvals), name
    assert seen >= 14


def test_one_html_escape_for_pages_and_plotly():
    text = "a \"b\" <c> & 'd'"
    assert html.esc(text) == "a &quot;b&quot; &lt;c&gt; &amp; &#x27;d&#x27;"
    # plotly.js decodes &amp; &lt; &gt; but not &quot;: quotes stay as they are
    assert esc(text) == html.esc(text, quote=False) == "a \"b\" &lt;c&gt; &amp; 'd'"
    assert esc(None) == html.esc(None) == ""


def test_user_strings_are_escaped_in_figures():
    rows = [
        result("conv", channels=64, device="cuda<b>x</b>"),
        result("separable", channels=64, device="cuda<b>x</b>"),
    ]
    fig = speedup_vs_theory(find_pairs(results_frame(rows)))
    assert "<b>cuda&lt;b&gt;x&lt;/b&gt; · float32</b>" in {a.text for a in fig.layout.annotations}


def test_roofline_hover_gives_the_bytes_moved_per_call(run3):
    """Each point's hover names its minimum bytes per call (the cost model's ``bytes``),
    in the same order as its points."""
    fig = roofline(run3, PEAKS)
    ok = run3[run3["status"] == "ok"]
    for t in traces(fig, role="case"):
        g = ok[(ok["workload"] == t.meta["workload"]) & (ok["device"] == t.meta["device"])]
        moved = np.asarray(t.customdata, dtype=object)[:, 5].astype(float)
        np.testing.assert_allclose(np.asarray(t.x) * moved, g["macs"].astype(float))
        assert "%{customdata[5]:.3s}B moved per call" in t.hovertemplate


def test_each_point_is_held_to_the_roof_of_its_math_mode():
    """float32 convolutions on TF32 tensor cores sit under the TF32 roof, not the strict
    float32 one: drawn under the wrong roof they would read as 'above the roof'."""
    from reports.figures_roofline import peak_for, points_above_roof

    peaks = {
        "cuda": {
            "macs_per_s": 30e12,
            "macs_per_s_by_dtype": {"float32": 30e12},
            "macs_per_s_by_mode": {"float32": 30e12, "float32+tf32": 300e12},
            "bytes_per_s": 3e12,
        }
    }
    assert peak_for(peaks, "cuda:0", "float32+tf32") == (300e12, 3e12)
    assert peak_for(peaks, "cuda", "float32") == (30e12, 3e12)
    old = {"cuda": {"macs_per_s": 30e12, "macs_per_s_by_dtype": {"float16": 500e12},
                    "bytes_per_s": 3e12}}  # fmt: skip
    assert peak_for(old, "cuda", "float16") == (500e12, 3e12)  # before roofs per mode
    frame = results_frame(
        [result("conv", channels=512, batch=32, device="cuda", median=2e-3)]
    )  # ~116 TMAC/s: above strict float32, under TF32
    assert points_above_roof(frame, peaks) == {"cuda": 1}
    frame["math_mode"] = "float32+tf32"
    assert points_above_roof(frame, peaks) == {"cuda": 0}
