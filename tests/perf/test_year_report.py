"""A year of nightlies: what `bench report` costs once the history is long.

With benchmarks enabled (``nox -s perf``) the history is the issue's: 365 nights of the
`nightly` suite's 684 cases, 30 samples each (250,000 results, ~200 MB of SQLite), written
through the store API (``tests.reports.synthetic.store_nights``, seeded). Targets on a
2-core machine, asserted here:

- a full rebuild (every page drawn) within ``FULL_S`` = 60 s;
- the nightly case, one more night on that history, within ``INCREMENTAL_S`` = 10 s;
- no page over ``PAGE_BYTES`` = 5 MB (nor any detail file the trends page loads);
- at most ``MEMORY_MB`` = 500 MB of peak memory in either build.

Each build runs ``harness.cli.report.write_report`` (what `bench report` runs, the
regression check included) in a fresh Python process, which reports its own time and its
peak resident memory (``VmHWM``: that process alone, imports included). Under the
project's default ``--benchmark-disable`` the same code runs once on 30 nights of 29
cases, as a smoke test, with the same assertions.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from results.store import Store

# pyproject's pythonpath puts the repository root first on sys.path.
from tests.reports.synthetic import nightly_cases, store_nights

FULL_S = 60.0
INCREMENTAL_S = 10.0
PAGE_BYTES = 5_000_000
MEMORY_MB = 500.0
ROOT = Path(__file__).resolve().parents[2]

# One `bench report` in a fresh process: its time, CPU time and peak memory as JSON.
BUILD = """
import json, sys, time
from pathlib import Path
from harness.cli.report import write_report
from results.store import Store
started, cpu = time.perf_counter(), time.process_time()
with Store.open(sys.argv[1]) as store:
    write_report(store, Path(sys.argv[2]), rebuild=sys.argv[3] == "1")
print(json.dumps({
    "seconds": time.perf_counter() - started,
    "cpu_s": time.process_time() - cpu,
    "maxrss_mb": peak_mb(),
}))
"""
# The process's own high-water mark (VmHWM: reset by exec). Not ru_maxrss, which Linux
# carries over from the parent through fork and exec: after a test that built MobileNets
# in the pytest process, a fresh child reported the parent's 584 MB.
PEAK = """
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""
BUILD = PEAK + BUILD


@dataclass(frozen=True)
class Year:
    nights: int
    stride: int  # every stride-th case of the suite

    @property
    def cases(self) -> list[Any]:
        return nightly_cases()[:: self.stride]


@pytest.fixture(scope="module")
def year(request: pytest.FixtureRequest) -> Year:
    config = request.config
    if not config.getoption("benchmark_disable") or config.getoption("benchmark_enable"):
        return Year(365, 1)
    return Year(30, 24)


@dataclass
class History:
    url: str
    site: Path
    year: Year
    generated_s: float
    nights: int


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory, year: Year) -> History:
    """The year in a store, generated once (seconds recorded), and the site's folder."""
    folder = tmp_path_factory.mktemp("year")
    url = f"sqlite:///{folder / 'bench.db'}"
    started = time.perf_counter()
    with Store.open(url, create=True) as store:
        store_nights(store, year.cases, range(year.nights), year=year.nights)
    return History(url, folder / "site", year, time.perf_counter() - started, year.nights)


def build(url: str, site: Path, *, rebuild: bool) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-c", BUILD, url, str(site), "1" if rebuild else "0"]
    out = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def site_files(site: Path) -> dict[str, int]:
    return {
        p.relative_to(site).as_posix(): p.stat().st_size for p in site.rglob("*") if p.is_file()
    }


def full_site(h: History) -> Path:
    """The site of the year, built in full if no test has built it yet."""
    if not (h.site / ".bench-manifest.json").exists():
        build(h.url, h.site, rebuild=True)
    return h.site


def test_year_full_rebuild(benchmark, history: History) -> None:
    stats = benchmark.pedantic(
        build, args=(history.url, history.site), kwargs={"rebuild": True}, rounds=1
    )
    files = site_files(history.site)
    pages = [n for n in files if n.startswith(("run-", "group-"))]
    assert len(pages) == history.nights
    benchmark.extra_info.update(
        stats | {"generate_s": history.generated_s, "site_mb": sum(files.values()) / 1e6}
    )
    assert stats["seconds"] <= FULL_S, f"full rebuild took {stats['seconds']:.1f} s"
    assert stats["maxrss_mb"] <= MEMORY_MB, f"peak memory {stats['maxrss_mb']:.0f} MB"


def test_year_incremental_after_one_more_night(benchmark, history: History) -> None:
    site = full_site(history)
    cases = history.year.cases
    seen: list[dict[str, float]] = []

    def one_more_night() -> tuple[tuple, dict]:
        with Store.open(history.url) as store:
            night = history.nights
            store_nights(store, cases, range(night, night + 1), year=history.year.nights)
        history.nights += 1
        return (history.url, site), {"rebuild": False}

    def incremental(url: str, folder: Path, rebuild: bool) -> dict[str, float]:
        stats = build(url, folder, rebuild=rebuild)
        seen.append(stats)
        return stats

    rounds = 3 if benchmark.enabled else 1
    benchmark.pedantic(incremental, setup=one_more_night, rounds=rounds)
    worst = {k: max(s[k] for s in seen) for k in seen[0]}
    benchmark.extra_info.update({f"worst_{k}": v for k, v in worst.items()})
    manifest = json.loads((site / ".bench-manifest.json").read_text())
    assert len(manifest["pages"]) == history.nights  # the new nights' pages, recorded
    assert worst["seconds"] <= INCREMENTAL_S, f"incremental build took {worst['seconds']:.1f} s"
    assert worst["maxrss_mb"] <= MEMORY_MB, f"peak memory {worst['maxrss_mb']:.0f} MB"


def test_year_pages_stay_small_and_the_trends_page_renders(benchmark, history: History) -> None:
    """No page (nor detail file) over 5 MB; the trends page and its first detail file drawn
    by headless Chromium (the 48 MB page of before took it 22 s), when there is one."""
    site = full_site(history)
    files = site_files(site)
    biggest = max((n for n in files if n.endswith(".html")), key=files.__getitem__)
    data = [n for n in files if n.startswith("data/")]
    benchmark.extra_info.update(
        {
            "biggest_page": biggest,
            "biggest_page_mb": files[biggest] / 1e6,
            "trends_page_mb": files["trend-nightly.html"] / 1e6,
            "biggest_detail_mb": max(files[n] for n in data) / 1e6,
            "detail_files": len(data),
        }
    )
    assert files[biggest] <= PAGE_BYTES, f"{biggest}: {files[biggest]:,} bytes"
    assert max(files[n] for n in data) <= PAGE_BYTES
    assert len([n for n in data if n.endswith(".full.js")]) == (
        len({c.workload for c in history.year.cases}) if history.nights > 90 else 0
    )

    from tests.reports.test_browser import RENDERED, Chromium, find_chromium

    binary = find_chromium()
    if binary is None:
        pytest.skip("no headless Chromium: sizes checked, rendering not timed")
    browser = Chromium(binary, timeout=120)
    try:
        browser.open_page()

        def render() -> dict[str, int]:
            browser.load((site / "trend-nightly.html").as_uri())
            return dict(json.loads(browser.evaluate(RENDERED)))

        rendered = benchmark.pedantic(render, rounds=3 if benchmark.enabled else 1)
        assert rendered["fig-trends"] > 0 and rendered["fig-overview"] > 0
        assert browser.errors() == []
    finally:
        browser.close()


def test_year_prune_keeps_the_newest_and_the_report_follows(benchmark, history, tmp_path):
    """`bench prune --keep 90` at this scale: one transaction, one DELETE of the results
    of every run it drops; the next report drops their pages."""
    site = full_site(history)
    db = tmp_path / "pruned.db"
    shutil.copyfile(history.url.removeprefix("sqlite:///"), db)
    url = f"sqlite:///{db}"
    keep = min(90, history.nights // 2)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "harness.cli", "prune", "--keep", str(keep), "--db", url, "-y"]

    def prune() -> str:
        out = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr[-3000:]
        return out.stdout

    said = benchmark.pedantic(prune, rounds=1)
    assert f"deleted {history.nights - keep} run(s)" in said
    pruned_site = tmp_path / "site"
    shutil.copytree(site, pruned_site)
    stats = build(url, pruned_site, rebuild=False)
    benchmark.extra_info.update({"report_after_prune_s": stats["seconds"]})
    assert len([n for n in site_files(pruned_site) if n.startswith("run-")]) == keep
    assert stats["seconds"] <= INCREMENTAL_S
