"""An incremental site: a final run's page (a final group's) is drawn once and kept while
what it was drawn from stays the same; the index and the trends are drawn every time."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pytest

from reports import manifest, site, site_files
from reports.site import build_site, run_file
from reports.sources import FrameSource

# pyproject's pythonpath puts the repository root first on sys.path.
from tests.reports.synthetic import make_frames, result, results_frame, runs_for

ALWAYS = {"index.html", ".bench-manifest.json"}


@pytest.fixture(scope="module")
def frames():
    return make_frames(6, suites=("nightly", "smoke"))


class Recorder:
    """Which files ``build_site`` writes, and which runs' results it reads."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, out: Path):
        self.out = out
        self.written: set[str] = set()
        self.read: list[list[int]] = []
        real = site_files.write

        def write(path: Path, data: str | bytes) -> None:
            self.written.add(Path(path).relative_to(out).as_posix())
            real(path, data)

        monkeypatch.setattr(site_files, "write", write)

    def build(self, runs: pd.DataFrame, results: pd.DataFrame, **kw) -> set[str]:
        self.written = set()
        self.read = []
        recorder = self

        class Spy(FrameSource):
            def results(self, run_ids: Sequence[int], columns: Sequence[str]) -> pd.DataFrame:
                recorder.read.append(sorted(run_ids))
                return super().results(run_ids, columns)

        build_site(runs, Spy(results), self.out, **kw)
        return self.written

    def pages(self) -> set[str]:
        return {n for n in self.written if n.startswith(("run-", "group-"))}


def trends_of(written: set[str]) -> set[str]:
    return {n for n in written if n.startswith(("trend-", "data/"))}


def page_of(runs: pd.DataFrame, i: int) -> str:
    return run_file(runs.iloc[i].to_dict())


def test_a_second_build_draws_no_run_page_again(frames, tmp_path, monkeypatch):
    runs, results = frames
    rec = Recorder(monkeypatch, tmp_path)
    first = rec.build(runs, results)
    assert rec.pages() == {page_of(runs, i) for i in range(6)}
    drawn_index = _without_footer((tmp_path / "index.html").read_text())
    second = rec.build(runs, results)
    assert rec.pages() == set() and rec.read == []  # no page drawn, no result read
    assert second == ALWAYS | trends_of(first)  # the index and the trends, every time
    assert {"trend-nightly.html", "trend-smoke.html"} <= second
    entries = json.loads((tmp_path / manifest.NAME).read_text())["pages"]
    assert set(entries) == {page_of(runs, i) for i in range(6)}
    entry = entries[page_of(runs, 5)]
    assert entry["kind"] == "run" and entry["runs"] == [runs["uid"].iloc[5]]
    assert entry["bytes"] == (tmp_path / page_of(runs, 5)).stat().st_size
    assert entry["devices"] == ["cpu", "cuda"]
    # the index lists the devices of kept pages from the manifest: the same index
    assert _without_footer((tmp_path / "index.html").read_text()) == drawn_index
    assert drawn_index.count("<td>cpu, cuda</td>") == 6


def test_a_new_run_draws_its_page_and_reads_only_its_results(frames, tmp_path, monkeypatch):
    runs, results = frames
    rec = Recorder(monkeypatch, tmp_path)
    older = runs[runs["run_id"] <= 5]
    rec.build(older, results[results["run_id"] <= 5])
    rec.build(runs, results)
    assert rec.pages() == {page_of(runs, 5)}
    assert rec.read == [[6]]
    assert page_of(runs, 5) in (tmp_path / "index.html").read_text()


def test_a_running_run_is_drawn_every_time_until_it_is_final(frames, tmp_path, monkeypatch):
    runs, results = frames
    runs = runs.copy()
    runs.loc[runs["run_id"] == 6, "status"] = "running"
    rec = Recorder(monkeypatch, tmp_path)
    rec.build(runs, results)
    assert rec.build(runs, results) and rec.pages() == {page_of(runs, 5)}
    assert page_of(runs, 5) not in json.loads((tmp_path / manifest.NAME).read_text())["pages"]
    runs.loc[runs["run_id"] == 6, "status"] = "finished"
    rec.build(runs, results)
    assert rec.pages() == {page_of(runs, 5)}  # final now: drawn once more, then kept
    rec.build(runs, results)
    assert rec.pages() == set()


def test_changed_results_or_run_draw_that_page_again(frames, tmp_path, monkeypatch):
    runs, results = frames
    rec = Recorder(monkeypatch, tmp_path)
    rec.build(runs, results)
    changed = results.copy()
    row = changed.index[(changed["run_id"] == 3) & (changed["status"] == "ok")][0]
    changed.loc[row, "median"] *= 1.5  # a result of run 3 (a round merged in, say)
    relabelled = runs.copy()
    relabelled.loc[relabelled["run_id"] == 4, "label"] = "rerun"
    rec.build(relabelled, changed)
    assert rec.pages() == {page_of(runs, 2), page_of(runs, 3)}
    assert rec.read == [[3, 4]]
    fewer = changed[changed.index != row]  # a result deleted
    rec.build(relabelled, fewer)
    assert rec.pages() == {page_of(runs, 2)}


def test_a_new_report_version_title_or_rebuild_draws_everything(frames, tmp_path, monkeypatch):
    runs, results = frames
    rec = Recorder(monkeypatch, tmp_path)
    rec.build(runs, results)
    everything = {page_of(runs, i) for i in range(6)}
    rec.build(runs, results, rebuild=True)
    assert rec.pages() == everything
    rec.build(runs, results, title="another title")
    assert rec.pages() == everything
    rec.build(runs, results, title="another title")
    assert rec.pages() == set()
    monkeypatch.setattr(site, "report_version", lambda: "a newer report")
    rec.build(runs, results, title="another title")
    assert rec.pages() == everything
    assert json.loads((tmp_path / manifest.NAME).read_text())["report"] == "a newer report"


def test_report_version_follows_the_package_source():
    version = manifest.report_version()
    assert len(version) == 20 and version == manifest.report_version()
    manifest.report_version.cache_clear()
    assert manifest.report_version() == version  # a digest of files, not of the moment


def test_report_version_covers_the_results_modules_the_pages_import():
    """Found in the code: the pages' `results` imports and theirs, nothing else."""
    used = {
        p.name for p in manifest._results_used(sorted(Path(manifest.__file__).parent.glob("*.py")))
    }
    assert {"pairs.py", "speedup.py", "verdicts.py", "records.py", "schema.py"} <= used
    assert not {"store.py", "frames.py", "models.py", "writes.py"} & used  # no database code


def test_a_page_gone_or_altered_on_disk_is_drawn_again(frames, tmp_path, monkeypatch):
    runs, results = frames
    rec = Recorder(monkeypatch, tmp_path)
    rec.build(runs, results)
    (tmp_path / page_of(runs, 0)).unlink()
    with open(tmp_path / page_of(runs, 1), "a") as f:
        f.write("<!-- edited -->")
    rec.build(runs, results)
    assert rec.pages() == {page_of(runs, 0), page_of(runs, 1)}


@pytest.mark.parametrize("text", ["not json", '{"format": 99, "pages": {}}', "[1, 2]", ""])
def test_an_unreadable_manifest_means_a_full_build(frames, tmp_path, monkeypatch, text):
    runs, results = frames
    rec = Recorder(monkeypatch, tmp_path)
    rec.build(runs, results)
    (tmp_path / manifest.NAME).write_text(text)
    rec.build(runs, results)
    assert rec.pages() == {page_of(runs, i) for i in range(6)}
    assert json.loads((tmp_path / manifest.NAME).read_text())["format"] == manifest.FORMAT


def _sharded() -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = [
        result("conv", channels=64, run_id=1, median=4e-3),
        result("separable", channels=64, run_id=2, median=1e-3),
        result("conv", channels=32, run_id=3, median=2e-3),
    ]
    results = results_frame(rows)
    runs = runs_for(results)
    runs["group"] = ["night-1", "night-1", None]
    runs["shard"] = ["1/2", "2/2", None]
    return runs, results


def test_a_group_page_is_final_when_all_its_runs_are(tmp_path, monkeypatch):
    runs, results = _sharded()
    runs.loc[runs["run_id"] == 2, "status"] = "running"
    rec = Recorder(monkeypatch, tmp_path)
    rec.build(runs, results)
    shard_2 = page_of(runs, 1)
    rec.build(runs, results)
    assert rec.pages() == {"group-night-1.html", shard_2}
    assert rec.read == [[1, 2]]  # the group pairs across its runs: both read
    runs.loc[runs["run_id"] == 2, "status"] = "finished"
    rec.build(runs, results)
    assert rec.pages() == {"group-night-1.html", shard_2}
    rec.build(runs, results)
    assert rec.pages() == set()
    entry = json.loads((tmp_path / manifest.NAME).read_text())["pages"]["group-night-1.html"]
    assert entry["kind"] == "group" and entry["runs"] == list(runs["uid"].iloc[:2])
    assert 'href="group-night-1.html"' in (tmp_path / page_of(runs, 0)).read_text()


def test_a_changed_shard_draws_the_group_page_again(tmp_path, monkeypatch):
    runs, results = _sharded()
    rec = Recorder(monkeypatch, tmp_path)
    rec.build(runs, results)
    changed = results.copy()
    changed.loc[changed["run_id"] == 2, "median"] *= 2
    rec.build(runs, changed)
    assert rec.pages() == {"group-night-1.html", page_of(runs, 1)}
    assert rec.read == [[1, 2]]


def _without_footer(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("<footer>"))


def test_an_incremental_site_is_the_full_site(frames, tmp_path):
    runs, results = frames
    step = tmp_path / "step"
    for n in (2, 4, 6):
        kept = runs[runs["run_id"] <= n]
        build_site(kept, results[results["run_id"] <= n], step)
    whole = tmp_path / "whole"
    build_site(runs, results, whole)

    def files(out: Path) -> dict[str, str]:
        return {
            p.relative_to(out).as_posix(): _without_footer(p.read_text())
            for p in out.rglob("*")
            if p.is_file() and p.suffix in (".html", ".js") and p.name != "plotly.min.js"
        }

    incremental, full = files(step), files(whole)
    assert incremental.keys() == full.keys()
    assert any(n.startswith("data/") for n in full)
    different = [n for n in full if incremental[n] != full[n]]
    assert different == []


def test_pages_and_detail_files_of_what_is_gone_are_removed(frames, tmp_path):
    runs, results = frames
    build_site(runs, results, tmp_path)
    assert list((tmp_path / "data").glob("trend-smoke.*.js"))
    nightly = runs[runs["suite"] == "nightly"]
    build_site(nightly, results[results["run_id"].isin(nightly["run_id"])], tmp_path)
    assert not list((tmp_path / "data").glob("trend-smoke.*.js"))
    assert not (tmp_path / "trend-smoke.html").exists()
    assert list((tmp_path / "data").glob("trend-nightly.*.js"))
    pages = json.loads((tmp_path / manifest.NAME).read_text())["pages"]
    assert set(pages) == {run_file(r) for r in nightly[["uid", "run_id"]].to_dict("records")}
