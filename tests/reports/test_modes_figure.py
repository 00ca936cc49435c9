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
    assert spec["layout"]["yaxis"]["type"] == "log"
    assert all(len(t["x"]) == 2 for t in spec["data"])


def test_no_mode_column_or_one_mode_gives_no_rows():
    assert mode_rows(results_frame([result("conv", channels=64)])).empty
