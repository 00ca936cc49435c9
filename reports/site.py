"""The static report site: index, one page per run and per group, one trends page per suite.

``build_site(runs, results, out_dir)`` takes the runs frame of ``results.frames`` and the
results, either as a frame or as a ``ResultSource`` that reads them on demand, and writes
``index.html``, ``run-<uid[:12]>.html`` per run, ``group-<name>.html`` per group of runs,
``trend-<suite>.html`` per suite with its detail files under ``data/``, and
``plotly.min.js`` (once, copied from the installed plotly package; pages load it by a
relative path, so the site works from ``file://`` with no network). Running it again over
the same folder updates the site in place and removes the pages of runs and suites that
are no longer in the frames.

**Incremental.** The cost of a night's report follows what changed, not the history: a
run page (a group page) whose run is final (all of whose runs are) is recorded in the
site's manifest (``reports.manifest``) with a digest of what it was drawn from, and is not
drawn again, nor its results read, while that digest and the report's version stay the
same. The index and the trends pages change every night (new runs, new verdicts) and are
always written. ``rebuild=True`` draws everything. Results are read in batches of runs
(``BATCH_ROWS`` results at most, a group never split), so memory does not grow with the
history either.

Writers of one folder may run at once (two `bench report` jobs, say): ``reports.site_files``
says how they share it (atomic replaces, one writer at a time).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reports import html as h
from reports import site_files, site_inputs
from reports.cols import Cols, ok_results
from reports.figures_networks import network_rows
from reports.figures_roofline import roofline_points
from reports.manifest import NAME as MANIFEST
from reports.manifest import Manifest, digest, report_version
from reports.names import group_file, run_file, trend_file
from reports.page_index import index_page
from reports.page_run import RunData, group_page, run_page
from reports.page_trends import trend_page
from reports.pairs import find_pairs
from reports.sources import FrameSource, ResultSource, rows_by_run
from reports.text import missing
from reports.trends_data import DATA_DIR
from results.schema import RUN_COLUMNS

__all__ = ["build_site", "run_file", "trend_file"]


BATCH_ROWS = 25_000  # results read and drawn at once: bounds memory, keeps pandas efficient


def build_site(
    runs: pd.DataFrame,
    results: pd.DataFrame | ResultSource | None,
    out_dir: Path,
    *,
    title: str = "bench",
    regression_marks: pd.DataFrame | None = None,
    rebuild: bool = False,
) -> Path:
    """Write the site into ``out_dir`` (created if needed); return the path of index.html.

    ``results``: every result of ``runs`` as a frame, or a ``ResultSource`` to read them
    from as needed. ``regression_marks``, when given, is a frame of (case_key, run_id,
    verdict[, kind]); the trends pages mark those points (red "slower", green "faster";
    "same" and "incomparable" are not marked). ``rebuild``: draw every page, even those
    the manifest says are current.
    """
    out = Path(out_dir)
    site_files.claim(out)
    runs = site_inputs.prepare_runs(runs)
    source = (
        FrameSource(results) if results is None or isinstance(results, pd.DataFrame) else results
    )
    marks = site_inputs.prepare_marks(regression_marks)
    with site_files.exclusive(out) as alone:
        index = _write_site(out, runs, source, marks, title, rebuild)
        if alone:
            site_files.remove_orphaned_temporaries(out)
    return index


@dataclass
class _Page:
    """A run or group page: which runs it shows, the digest of its inputs (None: not
    final, so drawn every time) and, if the page on disk is current, its manifest entry."""

    name: str
    kind: str
    run_ids: list[Any]
    inputs: str | None
    kept: Mapping[str, Any] | None = None


def _write_site(
    out: Path,
    runs: pd.DataFrame,
    source: ResultSource,
    marks: pd.DataFrame | None,
    title: str,
    rebuild: bool,
) -> Path:
    site_files.write_plotly_js(out)
    ctx = {
        "title": title,
        "generated": f"generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by bench",
    }
    version = report_version()
    before = Manifest(version) if rebuild else Manifest.read(out, version)
    after = Manifest(version)
    groups = _groups(runs)
    ids = [int(i) for i in runs["run_id"]]
    signatures = dict(source.signatures(ids)) if ids else {}
    pages = _plan(out, runs, groups, signatures, before, title)
    devices: dict[Any, list[str]] = {}
    for page in pages.values():
        if page.kept is not None:
            after.record(page.name, page.kept)
            if page.kind == "run":
                devices[page.run_ids[0]] = list(page.kept["devices"])
    for batch, drawn_groups in _batches(pages, runs, groups):
        _draw_batch(out, runs, source, batch, drawn_groups, pages, groups, ctx, after, devices)

    suites = sorted({str(s) for s in runs["suite"]})
    written = {"index.html", h.PLOTLY_JS, *pages}
    for suite in suites:
        suite_runs = runs[runs["suite"].astype(str) == suite]
        suite_ids = [int(i) for i in suite_runs["run_id"]]
        page, files = trend_page(
            suite,
            suite_runs,
            source.trend_points(suite_ids),
            source.cases(suite_ids),
            marks,
            ctx,
        )
        name = trend_file(suite)
        site_files.write(out / name, page)
        written.add(name)
        if files:
            (out / DATA_DIR).mkdir(exist_ok=True)
        for path, text in files.items():
            site_files.write(out / path, text)
            written.add(path)

    site_files.write(out / "index.html", index_page(runs, devices, suites, ctx, groups=groups))
    site_files.remove_stale(out, written)
    site_files.write(out / MANIFEST, after.to_json())
    return out / "index.html"


def _plan(
    out: Path,
    runs: pd.DataFrame,
    groups: Mapping[str, Mapping[str, Any]],
    signatures: Mapping[int, str],
    before: Manifest,
    title: str,
) -> dict[str, _Page]:
    """Every run and group page of the site, and whether the one on disk is current."""
    pages: dict[str, _Page] = {}
    run_inputs: dict[Any, str | None] = {}
    for run in runs.to_dict("records"):
        rid = run["run_id"]
        group = None if missing(run.get("group")) else str(run["group"])
        link = groups[group]["_file"] if group in groups else None
        inputs = None
        if not missing(run.get("status")) and str(run["status"]) != "running":
            row = {c: run.get(c) for c in (*RUN_COLUMNS, "_file")}
            inputs = digest("run", title, row, signatures.get(int(rid), "0"), link)
        run_inputs[rid] = inputs
        pages[run["_file"]] = _Page(run["_file"], "run", [rid], inputs)
    for name, info in groups.items():
        members = [run_inputs[r] for r in info["run_ids"]]
        final = all(m is not None for m in members)
        inputs = digest("group", title, name, members) if final else None
        pages[info["_file"]] = _Page(info["_file"], "group", list(info["run_ids"]), inputs)
    for page in pages.values():
        if page.inputs is not None:
            entry = before.kept(out, page.name, page.inputs)
            if entry is not None and (page.kind != "run" or "devices" in entry):
                page.kept = entry
    return pages


def _batches(
    pages: Mapping[str, _Page], runs: pd.DataFrame, groups: Mapping[str, Mapping[str, Any]]
) -> Iterator[tuple[list[Any], list[str]]]:
    """(run ids, groups whose page to draw) to read and draw together: a group's runs in
    one batch (its page pairs cases across them), about ``BATCH_ROWS`` results a batch."""
    size = _result_counts(runs)
    files = dict(zip(runs["run_id"], runs["_file"], strict=True))
    units: list[tuple[list[Any], list[str]]] = []
    grouped: set[Any] = set()
    for name, info in groups.items():
        grouped.update(info["run_ids"])
        draw_group = pages[info["_file"]].kept is None
        need = [r for r in info["run_ids"] if draw_group or pages[files[r]].kept is None]
        if need:
            units.append((need, [name] if draw_group else []))
    units += [
        ([r], []) for r in runs["run_id"] if r not in grouped and pages[files[r]].kept is None
    ]
    batch: list[Any] = []
    drawn: list[str] = []
    rows = 0
    for ids, names in units:
        n = sum(size.get(r, 0) for r in ids)
        if batch and rows + n > BATCH_ROWS:
            yield batch, drawn
            batch, drawn, rows = [], [], 0
        batch += ids
        drawn += names
        rows += n
    if batch:
        yield batch, drawn


def _result_counts(runs: pd.DataFrame) -> dict[Any, int]:
    """Results per run, as the runs frame counts them (planned cases where it does not)."""
    out = {}
    for run in runs.to_dict("records"):
        n = sum(int(run[c]) for c in ("n_ok", "n_failed", "n_skipped") if not missing(run.get(c)))
        out[run["run_id"]] = n or (0 if missing(run.get("planned")) else int(run["planned"]))
    return out


def _draw_batch(
    out: Path,
    runs: pd.DataFrame,
    source: ResultSource,
    batch: list[Any],
    drawn_groups: list[str],
    pages: Mapping[str, _Page],
    groups: Mapping[str, Mapping[str, Any]],
    ctx: Mapping[str, str],
    after: Manifest,
    devices: dict[Any, list[str]],
) -> None:
    """Read the results of ``batch`` once and draw its run pages that are not current and
    the pages of ``drawn_groups``."""
    results = site_inputs.prepare_results(
        source.results([int(i) for i in batch], site_inputs.RESULT_COLUMNS), runs
    )
    # Derived frames are computed once for the batch, then sliced per run: a pandas
    # operation costs the same on 100 rows as on 10,000.
    ok = ok_results(results)
    frames = {
        "res": results,
        "ok": ok,
        "pairs": find_pairs(results),
        "pts": roofline_points(ok),
        "nets": network_rows(ok),
    }
    by_run = {k: rows_by_run(f) for k, f in frames.items()}
    arrays_ = {k: Cols.of(f) for k, f in frames.items()}
    chosen = set(batch)
    for run in runs[runs["run_id"].isin(chosen)].to_dict("records"):
        rid = run["run_id"]
        page = pages[run["_file"]]
        if page.kept is not None:
            continue
        data = RunData(**{k: _slice(arrays_[k], by_run[k], rid) for k in frames})
        devices[rid] = sorted({str(d) for d in data.res["device"] if not missing(d)})
        group = None if missing(run.get("group")) else str(run["group"])
        link = groups[group]["_file"] if group in groups else None
        text = run_page(run, data, ctx, group_page=link).encode("utf-8")
        site_files.write(out / page.name, text)
        if page.inputs is not None:
            entry = {"kind": "run", "runs": [str(run.get("uid"))], "devices": devices[rid]}
            after.record(page.name, {**entry, "inputs": page.inputs, "bytes": len(text)})

    for group in drawn_groups:
        info = groups[group]
        members = results[results["run_id"].isin(info["run_ids"])]
        ok_members = ok_results(members)
        data = RunData(
            res=Cols.of(members),
            ok=Cols.of(ok_members),
            pairs=Cols.of(find_pairs(members.assign(_group=group), by="_group")),
            pts=Cols.of(roofline_points(ok_members)),
            nets=Cols.of(network_rows(ok_members)),
        )
        page = pages[info["_file"]]
        text = group_page(group, info["runs"], data, ctx).encode("utf-8")
        site_files.write(out / page.name, text)
        if page.inputs is not None:
            uids = [str(r.get("uid")) for r in info["runs"]]
            after.record(
                page.name,
                {"kind": "group", "runs": uids, "inputs": page.inputs, "bytes": len(text)},
            )


def _groups(runs: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """The groups among ``runs`` (shards of one logical run): their runs, oldest first,
    and their page's file name; newest group first."""
    found: dict[str, list[dict[str, Any]]] = {}
    for run in runs.to_dict("records"):
        if not missing(run.get("group")):
            found.setdefault(str(run["group"]), []).append(run)
    out = {}
    for name, members in found.items():
        members.sort(key=lambda r: (r["started_at"], r["run_id"]))
        out[name] = {
            "runs": members,
            "run_ids": [r["run_id"] for r in members],
            "_file": group_file(name),
            "started_at": members[0]["started_at"],
        }
    return dict(sorted(out.items(), key=lambda kv: kv[1]["started_at"], reverse=True))


def _slice(cols: Cols, index: dict[Any, np.ndarray], run_id: Any) -> Cols:
    idx = index.get(run_id)
    return cols.take(idx if idx is not None else np.empty(0, dtype=np.intp))
