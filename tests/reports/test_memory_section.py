"""The Memory section of a run page, and memory in the networks section: measured peak
against the cost model's activation memory, and how both degrade when a run has neither.

The site reads its columns through ``reports.site_inputs.RESULT_COLUMNS``; the fixtures add the
memory columns there, as the site does once it carries them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from reports import html as h
from reports import site_inputs
from reports.figures_memory import MEMORY_COLUMNS, fmt_bytes, memory, memory_rows
from reports.figures_networks import network_rows
from reports.names import run_file
from reports.site import build_site
from reports.tables import network_memory_table

# pyproject's pythonpath puts the repository root first on sys.path.
from tests.reports.synthetic import PEAK_OVER_MODEL, make_frames, with_memory


@pytest.fixture(autouse=True)
def memory_columns(monkeypatch):
    columns = tuple(dict.fromkeys((*site_inputs.RESULT_COLUMNS, *MEMORY_COLUMNS)))
    monkeypatch.setattr(site_inputs, "RESULT_COLUMNS", columns)


@pytest.fixture(scope="module")
def frames():
    runs, results = make_frames(4)
    return runs, with_memory(results)


@pytest.fixture(scope="module")
def run3(frames):
    _, results = frames
    return results[results["run_id"] == 3]


def traces(fig: go.Figure, **meta) -> list:
    return [t for t in fig.data if all((t.meta or {}).get(k) == v for k, v in meta.items())]


def section(html: str, anchor: str) -> str:
    start = html.index(f'<section id="{anchor}">')
    return html[start : html.index("</section>", start)]


def text(fragment: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment))


def page_of(frames, run_id: int, tmp_path: Path) -> str:
    runs, results = frames
    build_site(runs, results, tmp_path)
    run = runs[runs["run_id"] == run_id].iloc[0].to_dict()
    return (tmp_path / run_file(run)).read_text(encoding="utf-8")


def test_fmt_bytes():
    assert fmt_bytes(12_845_056) == "12.8 MB"
    assert fmt_bytes(840_000) == "840 kB"
    assert fmt_bytes(512) == "512 B"
    assert fmt_bytes(None) == fmt_bytes(float("nan")) == fmt_bytes(pd.NA) == ""


def test_memory_rows_keep_the_ok_results_with_their_ratio(frames):
    run2 = frames[1][frames[1]["run_id"] == 2]
    rows = memory_rows(run2)
    ok = run2[run2["status"] == "ok"]
    assert len(rows) == len(ok) < len(run2)  # run 2 has failed rows
    np.testing.assert_allclose(rows["peak_memory"], ok["peak_memory"].astype(float))
    np.testing.assert_allclose(
        rows["ratio"], ok["peak_memory"].astype(float) / ok["activation_bytes"].astype(float)
    )
    bare = memory_rows(run2.drop(columns=list(MEMORY_COLUMNS)))  # a run stored before them
    assert len(bare) == len(ok) and np.isnan(bare["ratio"]).all()


def test_memory_figure_sets_each_measured_peak_against_its_model(run3):
    fig = memory(run3)
    go.Figure(fig.to_dict())  # every property valid
    ok = run3[run3["status"] == "ok"]
    cases = traces(fig, role="case")
    assert sum(len(t.x) for t in cases) == len(ok)
    for t in cases:
        custom = np.asarray(t.customdata, dtype=object)
        g = ok.set_index("case_id").loc[list(custom[:, 0])]
        np.testing.assert_allclose(t.x, g["activation_bytes"].astype(float))
        np.testing.assert_allclose(t.y, g["peak_memory"].astype(float))
        assert (g["device"] == t.meta["device"]).all()
        np.testing.assert_allclose(custom[:, 2].astype(float), np.asarray(t.y) / np.asarray(t.x))
    # the networks by name: Conv MobileNet is not MobileNet v1, and sits far above y = x
    names = {t.meta["label"] for t in cases}
    assert {"MobileNet v1", "Conv MobileNet", "MobileNet v2", "conv", "depthwise"} <= names
    for t in traces(fig, role="case", label="Conv MobileNet"):
        assert (np.asarray(t.y) > 4 * np.asarray(t.x)).all()
    # one legend entry per label, whatever its devices
    assert sorted(t.name for t in cases if t.showlegend) == sorted(names)
    # y = x spans every point, on equal log axes
    (line,) = traces(fig, role="model")
    np.testing.assert_allclose(line.x, line.y)
    every = np.concatenate([np.asarray(t.x) for t in cases] + [np.asarray(t.y) for t in cases])
    assert min(line.x) < every.min() and max(line.x) > every.max()
    assert fig.layout.xaxis.type == fig.layout.yaxis.type == "log"
    assert tuple(fig.layout.xaxis.range) == tuple(fig.layout.yaxis.range)


def test_memory_figure_without_a_model_draws_nothing(run3):
    fig = memory(with_memory(run3, modelled=False))
    assert traces(fig, role="case") == [] and traces(fig, role="model") == []
    assert "No case has a measured peak and a model" in fig.layout.annotations[0].text


def test_run_page_has_a_memory_section(frames, tmp_path):
    html = page_of(frames, 3, tmp_path)
    memory_html = section(html, "memory")
    assert 'id="fig-memory"' in memory_html and 'id="memory-table"' in memory_html
    assert '<a href="#memory">' in html
    spec = json.loads(re.search(r"var f=(\{.*?\});window", memory_html).group(1))
    labels = {t["meta"].get("label") for t in spec["data"] if t["meta"]["role"] == "case"}
    assert "MobileNet v2" in labels
    # every measured ok case is a row of the table, with its bytes
    ok = frames[1][(frames[1]["run_id"] == 3) & (frames[1]["status"] == "ok")]
    assert memory_html.count("<tr>") == len(ok) + 1  # and the header
    assert fmt_bytes(ok["peak_memory"].iloc[0]) in memory_html


def test_a_run_without_memory_says_so(tmp_path):
    runs, results = make_frames(2)  # stored before peaks were measured: no memory columns
    memory_html = text(section(page_of((runs, results), 2, tmp_path), "memory"))
    assert "No peak memory was measured in this run" in memory_html
    assert "fig-memory" not in memory_html


def test_measured_but_not_modelled_lists_the_measurements(tmp_path):
    runs, results = make_frames(2)
    frames = (runs, with_memory(results, modelled=False))
    html = section(page_of(frames, 2, tmp_path), "memory")
    assert "are not modelled" in text(html) and 'id="fig-memory"' not in html
    assert html.count("not modelled</td>") == 3 * (html.count("<tr>") - 1)  # 3 model columns


def test_cases_without_a_peak_are_counted_out_of_the_figure(tmp_path):
    runs, results = make_frames(2)
    results = with_memory(results)
    dropped = results.index[(results["run_id"] == 2) & (results["workload"] == "pointwise")]
    results.loc[dropped, "peak_memory"] = pd.NA
    ok = (results["run_id"] == 2) & (results["status"] == "ok")
    html = section(page_of((runs, results), 2, tmp_path), "memory")
    n_ok = int(ok.sum())
    n_out = int((ok & (results["workload"] == "pointwise")).sum())
    assert f"{n_out} of {n_ok} timed cases are left out of the figure" in text(html)
    assert html.count("not measured</td>") == n_out


def test_networks_side_by_side_in_memory(run3):
    rows = network_rows(run3)
    table = network_memory_table(rows, 1.0, 224.0)
    rows_html = [text(r) for r in table.split("<tr>")[2:]]
    assert sum("cpu · float32" in r for r in rows_html) == 1  # v1 ran on cpu too: its own row
    body = [r for r in rows_html if "cuda · float16 · batch 1" in r]
    assert [r.split(" cuda")[0].strip() for r in body] == [
        "MobileNet v1",
        "Conv MobileNet",
        "MobileNet v2",
    ]
    ref = run3[(run3["alpha"] == 1.0) & (run3["resolution"] == 224)].set_index("case_id")
    for name, workload, conv in (
        ("MobileNet v1", "mobilenet_v1", "separable"),
        ("Conv MobileNet", "mobilenet_v1", "standard"),
        ("MobileNet v2", "mobilenet_v2", None),
    ):
        r = ref[(ref["workload"] == workload) & ((ref["conv"] == conv) if conv else True)]
        (row,) = [b for b in body if b.strip().startswith(name)]
        for column in MEMORY_COLUMNS:
            assert fmt_bytes(r[column].iloc[0]) in row, (name, column)
        ratio = r["peak_memory"].iloc[0] / r["activation_bytes"].iloc[0]
        assert row.split()[-1] == f"{ratio:.2f}"  # measured / eager
    # the paper's claim in the efficient column, and eager PyTorch ranking them the other way
    v1, v2 = (ref[ref["workload"] == w].iloc[0] for w in ("mobilenet_v1", "mobilenet_v2"))
    assert v2["activation_bytes_efficient"] < v1["activation_bytes_efficient"]
    assert v2["activation_bytes"] > v1["activation_bytes"]
    assert float(body[1].split()[-1]) > PEAK_OVER_MODEL["conv_mobilenet"] * 0.9


def test_networks_table_without_memory_says_not_modelled(run3):
    bare = network_rows(run3.drop(columns=list(MEMORY_COLUMNS)))
    table = network_memory_table(bare, 1.0, 224.0)
    n = table.count("<tr>") - 1
    assert n == 4  # v1, Conv MobileNet, v2 on cuda and v1 on cpu
    assert table.count("not modelled") == 3 * n and table.count("not measured") == n


@pytest.mark.browser
def test_memory_figure_renders_with_ink(frames, tmp_path):
    from tests.reports.test_browser import MIN_INK, RENDERED, Chromium, find_chromium

    binary = find_chromium()
    if binary is None:
        pytest.skip("headless Chromium not found")
    html = page_of(frames, 3, tmp_path)
    page = tmp_path / "memory.html"
    body = section(html, "memory") + section(html, "networks")
    page.write_text(h.page(title="t", site_title="s", body=body, plotly=True))
    browser = Chromium(binary)
    try:
        browser.open_page()
        browser.load(page.as_uri())
        rendered = dict(json.loads(browser.evaluate(RENDERED)))
        assert rendered.get("fig-memory", 0) > 0 and rendered.get("fig-networks", 0) > 0
        ink = [n for _, n in browser.ink("fig-memory")]
        assert len(ink) == 1 and ink[0] >= 50 * MIN_INK  # one plot area, dozens of points
        assert browser.empty_subplots("fig-networks") == []
        assert browser.errors() == []
    finally:
        browser.close()
