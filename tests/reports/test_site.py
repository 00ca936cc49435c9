"""The static site: its files, offline plotly.js, escaping, empty and degenerate inputs,
re-running in place."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import plotly
import pytest

from reports.site import build_site, run_file, trend_file

# pyproject's pythonpath puts the repository root first on sys.path.
from tests.reports.synthetic import (
    empty_frames,
    make_frames,
    result,
    results_frame,
    runs_for,
)

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def frames():
    return make_frames(4, suites=("nightly", "smoke"))


@pytest.fixture(scope="module")
def site(frames, tmp_path_factory):
    runs, results = frames
    out = tmp_path_factory.mktemp("site")
    index = build_site(runs, results, out)
    return out, index


def html_files(out: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in out.glob("*.html")}


def test_reports_does_not_load_torch_sqlalchemy_or_harness():
    code = textwrap.dedent(
        """
        import sys
        import reports, reports.site, reports.figures, reports.pairs, reports.html
        bad = [m for m in ("torch", "sqlalchemy", "harness") if m in sys.modules]
        assert not bad, bad
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr


def test_files_written(site, frames):
    out, index = site
    runs, results = frames
    assert index == out / "index.html"
    names = {p.name for p in out.iterdir()}
    expected = {".bench-report", ".bench-manifest.json", "index.html", "plotly.min.js", "data"}
    expected |= {"trend-nightly.html", "trend-smoke.html"}
    expected |= {f"run-{uid[:12]}.html" for uid in runs["uid"]}
    assert names == expected
    # one detail file per suite and workload; two runs a suite: no weekly points, no .full
    workloads = sorted(set(results["workload"]))
    assert {p.name for p in (out / "data").iterdir()} == {
        f"trend-{suite}.{w}.js" for suite in ("nightly", "smoke") for w in workloads
    }
    assert run_file({"uid": runs["uid"].iloc[0]}) == f"run-{runs['uid'].iloc[0][:12]}.html"


def test_plotly_js_written_once_and_referenced_relatively(site):
    out, _ = site
    package_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    assert (out / "plotly.min.js").read_bytes() == package_js.read_bytes()
    assert len(list(out.rglob("plotly*.js"))) == 1
    for name, text in html_files(out).items():
        srcs = re.findall(r'<script[^>]*\bsrc="([^"]*)"', text)
        if 'class="bench-figure"' in text:
            assert srcs == ["plotly.min.js"], name
        assert all("://" not in s for s in srcs), name
        assert "cdn.plot.ly" not in text, name
        assert len(text) < 1_000_000, name  # plotly.js is not inlined


def test_index_lists_runs_by_suite_newest_first(site, frames):
    out, index = site
    runs, _ = frames
    text = index.read_text()
    for i, suite in enumerate(("nightly", "smoke")):  # sections in suite order
        start = text.index(f'id="runs-table-{i}"')
        end = text.index("</table>", start)
        table = text[start:end]
        assert f"Runs of {suite}" in text[text.rindex("<h2>", 0, start) : start]
        uids = list(runs.loc[runs["suite"] == suite, "uid"])
        positions = [table.index(f"run-{uid[:12]}.html") for uid in uids]
        assert positions == sorted(positions, reverse=True)  # the factory makes oldest first
        others = runs.loc[runs["suite"] != suite, "uid"]
        assert not any(f"run-{uid[:12]}.html" in table for uid in others)
    for needle in ("nightly", "smoke", "NVIDIA H100 80GB HBM3", "2.5.1", "interrupted"):
        assert needle in text
    assert 'href="trend-nightly.html"' in text
    assert 'id="groups"' not in text  # no group among these runs


def test_run_page_sections(site, frames):
    out, _ = site
    runs, _ = frames
    page = (out / run_file(runs.iloc[3].to_dict())).read_text()
    for fid in ("fig-speedup", "fig-roofline", "fig-batch", "fig-networks"):
        assert f'id="{fid}"' in page
    for heading in ("Speedup vs theory", "Roofline", "Latency and throughput", "Networks"):
        assert heading in page
    assert 'id="results-table"' in page
    assert "noisy" in page
    assert "1/C_out + 1/k²" in page  # the theory, in words


def test_failed_rows_show_escaped_errors(site, frames):
    out, _ = site
    runs, _ = frames
    page = (out / run_file(runs.iloc[1].to_dict())).read_text()  # run 2 has a failure
    assert "CUDA out of memory. Tried to allocate &lt;2.00 GiB&gt; &amp; more" in page
    assert "<2.00 GiB>" not in page


def test_roofline_without_peaks_says_not_measured(site, frames):
    out, _ = site
    runs, _ = frames
    page = (out / run_file(runs.iloc[2].to_dict())).read_text()  # run 3 has no peaks
    assert "Peak compute and bandwidth not measured for: cpu, cuda" in page


def test_user_strings_are_escaped(tmp_path):
    rows = [
        result("conv", channels=64, device="cpu", error=None),
        result("separable", channels=64, device="cpu"),
        result("conv", channels=32, status="failed", median=None, error=f"boom {HOSTILE}"),
    ]
    results = results_frame(rows)
    results["case_id"] = results["case_id"] + "</script>"
    results["device"] = results["device"].astype(object)
    results.loc[0:1, "memory_format"] = HOSTILE  # a parameter value
    runs = runs_for(results, label=HOSTILE, suite=f"suite {HOSTILE}")
    results["suite"] = runs["suite"].iloc[0]
    build_site(runs, results, tmp_path, title=f"bench {HOSTILE}")
    pages = html_files(tmp_path)
    assert len(pages) == 3
    for name, text in pages.items():
        assert HOSTILE not in text, name
        assert "alert(1)</script>" not in text, name
        assert text.count("<script") == text.count("</script>"), name
    run_page = pages[run_file(runs.iloc[0].to_dict())]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in run_page  # label, error, param in HTML
    assert "\\u0026lt;/script\\u0026gt;" in run_page  # ... and inside the figures' JSON
    trend = trend_file(f"suite {HOSTILE}")
    assert trend in pages and re.fullmatch(r"trend-[A-Za-z0-9_.-]+\.html", trend)


def test_empty_database(tmp_path):
    runs, results = empty_frames()
    index = build_site(runs, results, tmp_path)
    assert "No runs in the database yet" in index.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".bench-manifest.json",
        ".bench-report",
        "index.html",
        "plotly.min.js",
    ]
    index = build_site(None, None, tmp_path / "none")
    assert "No runs" in index.read_text()
    index = build_site(pd.DataFrame(), pd.DataFrame(), tmp_path / "bare")
    assert "No runs" in index.read_text()


def test_a_stale_run_is_shown_stale_on_the_index_and_its_pages(tmp_path):
    results = results_frame([result("conv"), result("separable")])
    runs = runs_for(results, status="running", group="night")
    runs["shown_status"] = "stale"
    build_site(runs, results, tmp_path)
    index = (tmp_path / "index.html").read_text()
    assert index.count('class="status-stale">stale<') == 2  # the run's row and its group's
    assert 'class="status-running"' not in index
    page = (tmp_path / run_file(runs.iloc[0].to_dict())).read_text()
    assert "<dd>stale</dd>" in page and "still running" not in page


def test_run_with_only_failed_and_skipped_cases(tmp_path):
    results = results_frame(
        [
            result("conv", status="failed", median=None, error="RuntimeError: <oops>"),
            result("separable", status="skipped", median=None, error="no cuda"),
        ]
    )
    runs = runs_for(results)
    build_site(runs, results, tmp_path)
    page = (tmp_path / run_file(runs.iloc[0].to_dict())).read_text()
    assert "No case produced a timing: 1 failed, 1 skipped" in page
    assert 'class="bench-figure"' not in page
    assert "RuntimeError: &lt;oops&gt;" in page
    trend = (tmp_path / "trend-hand.html").read_text()
    assert "No successful results for this suite yet" in trend


def test_run_with_results_but_no_pairs(tmp_path):
    results = results_frame(
        [result("depthwise", channels=c, batch=b) for c in (32, 64) for b in (1, 8)]
    )
    runs = runs_for(results)
    build_site(runs, results, tmp_path)
    page = (tmp_path / run_file(runs.iloc[0].to_dict())).read_text()
    assert "No conv ↔ separable pair here" in page
    assert "This run timed no MobileNet" in page
    assert 'id="fig-speedup"' not in page
    assert 'id="fig-batch"' in page and 'id="fig-roofline"' in page


def test_runs_whose_uids_share_a_prefix_get_their_own_pages(tmp_path):
    results = results_frame([result("conv", run_id=1), result("conv", run_id=2)])
    runs = runs_for(results)
    runs["uid"] = ["abcdef012345" + "0" * 20, "abcdef012345" + "1" * 20]
    build_site(runs, results, tmp_path)
    assert len(list(tmp_path.glob("run-*.html"))) == 2


def test_run_without_results(tmp_path):
    results = results_frame([result("conv", run_id=1)])
    runs = pd.concat([runs_for(results), runs_for(results.assign(run_id=2))])
    runs.loc[runs["run_id"] == 2, "status"] = "running"
    build_site(runs, results, tmp_path)
    page = (tmp_path / run_file(runs.iloc[1].to_dict())).read_text()
    assert "No results yet (still running)." in page


def test_rerun_updates_in_place(tmp_path):
    runs, results = make_frames(3)
    build_site(runs, results, tmp_path)
    js = tmp_path / "plotly.min.js"
    stamp = js.stat().st_mtime_ns
    (tmp_path / "notes.txt").write_text("mine")
    first = {p.name for p in tmp_path.iterdir()}
    keep = runs.iloc[1:]
    build_site(keep, results[results["run_id"].isin(keep["run_id"])], tmp_path)
    second = {p.name for p in tmp_path.iterdir()}
    gone = run_file(runs.iloc[0].to_dict())
    assert gone in first and gone not in second
    assert first - second == {gone}
    assert "notes.txt" in second  # files that are not ours stay
    assert js.stat().st_mtime_ns == stamp  # unchanged plotly.js is not rewritten
    assert not list(tmp_path.glob(".*.tmp"))
    assert gone not in (tmp_path / "index.html").read_text()


def test_regression_marks_on_trends(tmp_path, frames):
    runs, results = frames
    ok = results[(results["status"] == "ok") & (results["suite"] == "nightly")]
    marks = pd.DataFrame(
        {
            "case_key": [ok["case_key"].iloc[0], ok["case_key"].iloc[1]],
            "run_id": [ok["run_id"].iloc[0], ok["run_id"].iloc[1]],
            "verdict": ["slower", "same"],  # results.compare's words
        }
    )
    build_site(runs, results, tmp_path, regression_marks=marks)
    trend = (tmp_path / "trend-nightly.html").read_text()
    assert trend.count('"role":"mark"') == 1  # "same" is not marked
    assert "Crosses mark the verdicts" in trend
    build_site(runs, results, tmp_path, regression_marks=None)
    assert '"role":"mark"' not in (tmp_path / "trend-nightly.html").read_text()


def test_trend_page_filters(site):
    out, _ = site
    trend = (out / "trend-nightly.html").read_text()
    for axis in ("workload", "channels", "batch", "device", "dtype"):
        assert f'data-axis="{axis}"' in trend
    assert '<option value="depthwise">depthwise</option>' in trend


def test_suite_file_names_stay_apart():
    assert trend_file("nightly") == "trend-nightly.html"
    names = {trend_file(s) for s in ("a/b", "a-b", "a b", "a:b")}
    assert len(names) == 4
    assert all(re.fullmatch(r"trend-[A-Za-z0-9_.-]+\.html", n) for n in names)


def test_refuses_a_folder_that_is_not_a_bench_site(tmp_path) -> None:
    from results.errors import UsageError

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "index.html").write_text("my own page")
    (mine / "run-notes.html").write_text("my notes")
    runs, results = make_frames(2)
    with pytest.raises(UsageError, match="not a bench report"):
        build_site(runs, results, mine)
    assert (mine / "index.html").read_text() == "my own page"
    assert (mine / "run-notes.html").read_text() == "my notes"
    with pytest.raises(UsageError, match="is a file"):
        build_site(runs, results, mine / "index.html")


def _sharded(tmp_path: Path):
    """Two shards of one nightly: each pair's sides in different shards."""
    rows = [
        result("conv", channels=64, run_id=1, median=4e-3),
        result("separable", channels=64, run_id=2, median=1e-3),
        result("conv", channels=128, run_id=2, median=8e-3),
        result("separable", channels=128, run_id=1, median=2e-3),
    ]
    results = results_frame(rows)
    runs = runs_for(results, group="nightly-7")
    runs["shard"] = ["1/2", "2/2"]
    return runs, results


def test_a_group_gets_a_page_that_pairs_across_its_shards(tmp_path):
    runs, results = _sharded(tmp_path)
    out = tmp_path / "site"
    index = build_site(runs, results, out)
    group_page = out / "group-nightly-7.html"
    text = group_page.read_text()
    assert "group nightly-7" in text and 'id="fig-speedup"' in text
    assert "2 of 2" in text  # both pairs clean, in the summary
    assert "(shards 1/2, 2/2)" in text
    for uid in runs["uid"]:  # the group page lists its runs, each run page links back
        assert f"run-{uid[:12]}.html" in text
        run_text = (out / f"run-{uid[:12]}.html").read_text()
        assert 'href="group-nightly-7.html"' in run_text
        assert 'id="fig-speedup"' not in run_text  # no pair within one shard
    index_text = index.read_text()
    assert 'id="groups"' in index_text and 'href="group-nightly-7.html"' in index_text


def test_the_summary_uses_only_clean_pairs_and_says_what_it_left_out(tmp_path):
    rows = [
        result("conv", channels=64, median=4e-3),
        result("separable", channels=64, median=1e-3),
        result("conv", channels=128, median=8e-3),
        result("separable", channels=128, median=8e-5),  # a 100x "speedup": a busy machine
    ]
    results = results_frame(rows)
    results.loc[3, "contended"] = True
    runs = runs_for(results)
    build_site(runs, results, tmp_path)
    text = (tmp_path / run_file(runs.iloc[0].to_dict())).read_text()
    summary = text[text.index('id="speedup-summary"') :]
    summary = summary[: summary.index("</table>")]
    assert "1 of 2" in summary and "4.00×" in summary and "100.00×" not in summary
    assert "1 pair(s) left out of this summary (1 contended)" in text


def test_an_imported_run_has_no_duration(tmp_path):
    results = results_frame([result("conv", channels=64)])
    runs = runs_for(results, duration_s=0.0)
    build_site(runs, results, tmp_path)
    page = (tmp_path / run_file(runs.iloc[0].to_dict())).read_text()
    assert "0.0 s" not in page


def test_pair_intervals_on_pages_come_from_the_rounds(tmp_path):
    conv = result("conv", channels=64, median=2e-3)
    sep = result("separable", channels=64, median=1e-3)
    conv["round_medians"], sep["round_medians"] = [2e-3, 2.1e-3, 1.9e-3], [1e-3, 1.1e-3, 9e-4]
    conv["rounds"] = sep["rounds"] = 3
    results = results_frame([conv, sep])
    runs = runs_for(results)
    build_site(runs, results, tmp_path)
    page = (tmp_path / run_file(runs.iloc[0].to_dict())).read_text()
    assert "95% interval from rounds" in page and "interval from samples" not in page
