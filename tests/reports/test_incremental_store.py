"""`bench report` over a store, at a small scale of the nightly job (30 nights of a twelfth
of the `nightly` suite, written through the store API): after one more night it reads the
results of that night only, draws its page, the index and the trends; the regression
check's flags reach the trends page; `--rebuild` draws everything."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import cli
from harness.cli.report import StoreSource, write_report
from reports import manifest, page_trends, site, site_files
from results.store import Store

# pyproject's pythonpath puts the repository root first on sys.path.
from tests.reports.synthetic import nightly_cases, store_nights

NIGHTS = 30


@pytest.fixture(scope="module")
def cases():
    return nightly_cases()[::12]  # 57 cases, of every workload


@pytest.fixture
def store(tmp_path: Path, cases) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'bench.db'}", create=True) as s:
        store_nights(s, cases, range(NIGHTS), year=NIGHTS, shards=2)
        yield s


class Spy:
    """Which files the site writes and which runs' results it reads."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, out: Path):
        self.written: set[str] = set()
        self.read: list[list[int]] = []
        write, results = site_files.write, StoreSource.results

        def spy_write(path: Path, data: str | bytes) -> None:
            self.written.add(Path(path).relative_to(out).as_posix())
            write(path, data)

        def spy_results(src: StoreSource, ids: Sequence[int], columns: Sequence[str]):
            self.read.append(sorted(ids))
            return results(src, ids, columns)

        monkeypatch.setattr(site_files, "write", spy_write)
        monkeypatch.setattr(StoreSource, "results", spy_results)

    def reset(self) -> None:
        self.written, self.read = set(), []


def test_one_more_night_reads_and_draws_only_that_night(store, cases, tmp_path, monkeypatch):
    monkeypatch.setattr(page_trends, "RECENT_RUNS", 10)  # 30 nights: weeks before the last 10
    monkeypatch.setattr(site, "BATCH_ROWS", 500)  # 57 results a night: 8 nights a batch
    out = tmp_path / "site"
    spy = Spy(monkeypatch, out)
    index, n = write_report(store, out)
    assert n == 2 * NIGHTS and index == out / "index.html"
    assert len([p for p in spy.written if p.startswith("run-")]) == 2 * NIGHTS
    assert len([p for p in spy.written if p.startswith("group-")]) == NIGHTS
    assert [len(ids) for ids in spy.read] == [16] * 3 + [12]  # in batches of whole nights
    assert sorted(i for ids in spy.read for i in ids) == list(range(1, 2 * NIGHTS + 1))

    spy.reset()
    new_ids = store_nights(store, cases, range(NIGHTS, NIGHTS + 1), year=NIGHTS, shards=2)
    write_report(store, out)
    night = store.get_run(new_ids[0]).group
    assert spy.read == [sorted(new_ids)]
    pages = {p for p in spy.written if p.startswith(("run-", "group-"))}
    assert pages == {f"group-{night}.html"} | {
        f"run-{store.get_run(i).uid[:12]}.html" for i in new_ids
    }
    others = spy.written - pages
    assert others == {"index.html", manifest.NAME, "trend-nightly.html"} | {
        p for p in others if p.startswith("data/trend-nightly.")
    }
    workloads = {c.workload for c in cases}
    assert len([p for p in others if p.endswith(".full.js")]) == len(workloads)

    # the regression check flagged the six cases made 30% slower two nights before the end
    trend = (out / "trend-nightly.html").read_text()
    assert 'id="flagged-table"' in trend and '"role":"change"' in trend
    table = trend[trend.index('id="flagged-table"') :]
    rows = [
        [re.sub("<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", table[: table.index("</table>")])
    ]
    slower = [float(r[4].rstrip("×")) for r in rows if r and r[2] == "slower"]
    assert len(slower) >= 4 and sum(1.2 <= x <= 1.4 for x in slower) >= 4


def test_rebuild_draws_every_page(store, tmp_path, monkeypatch):
    out = tmp_path / "site"
    db = str(store.url)
    first = CliRunner().invoke(cli, ["report", "--db", db, "--out", str(out)])
    assert first.exit_code == 0, first.output
    assert f"the report of {2 * NIGHTS} run(s)" in first.output
    spy = Spy(monkeypatch, out)
    again = CliRunner().invoke(cli, ["report", "--db", db, "--out", str(out)])
    assert again.exit_code == 0, again.output
    assert not [p for p in spy.written if p.startswith(("run-", "group-"))]
    spy.reset()
    rebuilt = CliRunner().invoke(cli, ["report", "--db", db, "--out", str(out), "--rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert len([p for p in spy.written if p.startswith(("run-", "group-"))]) == 3 * NIGHTS
    pages = json.loads((out / manifest.NAME).read_text())["pages"]
    assert len(pages) == 3 * NIGHTS


def test_a_night_in_progress_is_never_frozen(store, cases, tmp_path, monkeypatch):
    out = tmp_path / "site"
    running = store_nights(store, cases, range(NIGHTS, NIGHTS + 1), finished=False, shards=2)
    write_report(store, out)
    spy = Spy(monkeypatch, out)
    write_report(store, out)
    assert spy.read == [sorted(running)]  # drawn again: its results may still change
    pages = json.loads((out / manifest.NAME).read_text())["pages"]
    assert not any(store.get_run(i).uid[:12] in name for i in running for name in pages)
