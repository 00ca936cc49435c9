"""The execution-modes comparison: rows per case across modes, and its figure."""

from __future__ import annotations

import pytest

from reports.figures_modes import mode_rows, modes_spec
from tests.reports.synthetic import result, results_frame


def test_cases_in_several_modes_line_up_with_their_speedups():
    rows = [
        result("conv", channels=64, median=4e-3, mode="eager"),
        result("conv", channels=64, median=2e-3, mode="compile", compile_s=12.5),
        result("conv", channels=64, median=1e-3, mode="cuda_graph"),
        result("separable", channels=64, median=1e-3, mode="eager"),  # one mode: no row
        result("conv", channels=128, median=8e-3, mode="eager"),
        result("conv", channels=128, median=8e-3, mode="compile"),
    ]
    frame = results_frame(rows)
    modes = mode_rows(frame).sort_values("case").reset_index(drop=True)
    assert len(modes) == 2
    first = modes.iloc[1] if "128" in modes.iloc[0]["case"] else modes.iloc[0]
    assert first["speedup_compile"] == pytest.approx(2.0)
    assert first["speedup_cuda_graph"] == pytest.approx(4.0)
    assert first["compile_s_compile"] == pytest.approx(12.5)
    spec = modes_spec(modes)
    assert [t["meta"]["mode"] for t in spec["data"]] == ["eager", "compile", "cuda_graph"]
    # 1 to 8 ms: bars from zero, so that a bar's length is its time
    assert spec["layout"]["yaxis"]["type"] == "linear"
    assert spec["layout"]["yaxis"]["rangemode"] == "tozero"
    assert all(len(t["x"]) == 2 for t in spec["data"])


def test_bars_spanning_more_than_tenfold_get_a_log_axis_with_readable_ticks():
    rows = [
        result("conv", channels=64, median=40e-3, mode="eager"),
        result("conv", channels=64, median=1e-3, mode="compile", compile_s=3.0),
    ]
    spec = modes_spec(mode_rows(results_frame(rows)))
    yaxis = spec["layout"]["yaxis"]
    assert yaxis["type"] == "log"
    assert set(yaxis["ticktext"]) >= {"1", "10"}  # 1-2-5 ticks, not plotly's "2, 5, 2"


def test_no_mode_column_or_one_mode_gives_no_rows():
    assert mode_rows(results_frame([result("conv", channels=64)])).empty


def test_a_run_page_compares_modes_only_when_a_case_ran_in_several(tmp_path):
    from reports.site import build_site, run_file
    from tests.reports.synthetic import runs_for

    rows = [
        result("conv", channels=64, median=4e-3, mode="eager"),
        result("conv", channels=64, median=2e-3, mode="compile"),
    ]
    frame = results_frame(rows)
    runs = runs_for(frame)
    build_site(runs, frame, tmp_path)
    page = (tmp_path / run_file(runs.iloc[0].to_dict())).read_text()
    assert 'id="fig-modes"' in page and "Execution modes" in page
    one = results_frame([result("conv", channels=64, median=4e-3, mode="eager")])
    build_site(runs_for(one), one, tmp_path / "one")
    page = (tmp_path / "one" / run_file(runs_for(one).iloc[0].to_dict())).read_text()
    assert 'id="fig-modes"' not in page
