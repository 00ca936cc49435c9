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

Writers of one folder may run at once (two `bench report` jobs, say): every file is
written to a temporary file of a unique name in the same folder and moved over the old
one with ``os.replace``, so a reader sees the old page or the new one, never half of one;
and the writers take turns on the folder (an exclusive ``flock`` of its ``.bench-report``
marker, released by the kernel if a writer dies), so one writer never deletes the pages
another has just written and the folder ends up as exactly one writer's site.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from reports import html as h
from reports import site_files
from reports._plot import Cols
from reports.figures import ok_results
from reports.figures_networks import network_rows
from reports.figures_roofline import roofline_points
from reports.manifest import NAME as MANIFEST
from reports.manifest import Manifest, digest, report_version
from reports.names import group_file, run_file, safe_name, trend_file
from reports.page_index import index_page
from reports.page_run import RunData, group_page, run_page
from reports.page_trends import trend_page
from reports.pairs import PARAM_COLUMNS, find_pairs, with_param_columns
from reports.text import missing
from reports.trends_data import DATA_DIR
from results.schema import RUN_COLUMNS

__all__ = ["FrameSource", "ResultSource", "build_site", "run_file", "trend_file"]

# verdicts that are not worth a mark (results.compare says "same" and "incomparable")
_NEUTRAL_VERDICTS = {"same", "incomparable", "unchanged", "no change", "ok", "none"}


BATCH_ROWS = 25_000  # results read and drawn at once: bounds memory, keeps pandas efficient


class ResultSource(Protocol):
    """Where ``build_site`` reads results, as it needs them (``harness.cli.report`` reads
    the store with ``results.frames``; ``FrameSource`` serves a frame held in memory)."""

    def results(self, run_ids: Sequence[int], columns: Sequence[str]) -> pd.DataFrame:
        """Rows of results_frame for ``run_ids``: at least ``columns`` and the parameters."""
        ...

    def trend_points(self, run_ids: Sequence[int]) -> pd.DataFrame:
        """Per ok result with a positive median: run_id, case_key, median, q1, q3."""
        ...

    def cases(self, run_ids: Sequence[int]) -> pd.DataFrame:
        """One row per case key: case_key, case_id, workload and the parameters."""
        ...

    def signatures(self, run_ids: Sequence[int]) -> Mapping[int, str]:
        """Per run, a text that changes whenever the run's results do."""
        ...


class FrameSource:
    """A ``ResultSource`` over a results frame in memory (tests, users' own frames)."""

    def __init__(self, results: pd.DataFrame | None):
        frame = pd.DataFrame() if results is None else results
        if "run_id" not in frame.columns:
            frame = frame.assign(run_id=pd.Series(dtype="int64"))
        self.frame = with_param_columns(frame).reset_index(drop=True)
        self._rows = _split(self.frame)

    def _of(self, run_ids: Sequence[int]) -> pd.DataFrame:
        idx = [self._rows[r] for r in run_ids if r in self._rows]
        return self.frame.iloc[np.sort(np.concatenate(idx))] if idx else self.frame.iloc[0:0]

    def results(self, run_ids: Sequence[int], columns: Sequence[str]) -> pd.DataFrame:
        return self._of(run_ids)

    def trend_points(self, run_ids: Sequence[int]) -> pd.DataFrame:
        r = self._of(run_ids)
        blank = pd.Series(None, index=r.index, dtype=object)
        nums = {
            c: pd.to_numeric(r[c] if c in r.columns else blank, errors="coerce").astype(float)
            for c in ("median", "q1", "q3")
        }
        status = r["status"] if "status" in r.columns else blank
        keep = (status == "ok").to_numpy(dtype=bool) & (nums["median"] > 0).to_numpy()
        key = r["case_key"] if "case_key" in r.columns else blank
        out = pd.DataFrame({"run_id": r["run_id"], "case_key": key, **nums})[keep]
        return out.reset_index(drop=True).astype({"case_key": "category"})  # as trend_frame

    def cases(self, run_ids: Sequence[int]) -> pd.DataFrame:
        r = self._of(run_ids)
        fields = ["case_key", "case_id", "workload", *PARAM_COLUMNS]
        r = r.assign(**{c: None for c in fields if c not in r.columns})
        return r.drop_duplicates("case_key", keep="last")[fields].reset_index(drop=True)

    def signatures(self, run_ids: Sequence[int]) -> Mapping[int, str]:
        r = self._of(run_ids)
        hashes = pd.Series(_row_hashes(r), index=r.index).groupby(r["run_id"].to_numpy())
        sums = hashes.sum()  # uint64 arithmetic wraps: an order-free digest of the rows
        counts = hashes.size()
        return {int(k): f"{counts[k]}:{int(sums[k])}" for k in sums.index}


def _row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """A 64-bit hash of each row's values (list and dict values by their repr)."""
    out = np.zeros(len(frame), dtype=np.uint64)
    for name in sorted(frame.columns, key=str):
        col = frame[name]
        try:
            v = pd.util.hash_pandas_object(col, index=False).to_numpy()
        except TypeError:
            v = pd.util.hash_pandas_object(col.map(repr), index=False).to_numpy()
        with np.errstate(over="ignore"):
            out = out * np.uint64(1_000_003) ^ v
    return out


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
    runs = _prepare_runs(runs)
    source = (
        FrameSource(results) if results is None or isinstance(results, pd.DataFrame) else results
    )
    marks = _prepare_marks(regression_marks)
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
            row = {c: run.get(c) for c in (*_RUN_COLUMNS, "_file")}
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
    results = _prepare_results(source.results([int(i) for i in batch], _RESULT_COLUMNS), runs)
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
    by_run = {k: _split(f) for k, f in frames.items()}
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


def _split(frame: pd.DataFrame) -> dict[Any, np.ndarray]:
    if frame is None or len(frame) == 0 or "run_id" not in frame.columns:
        return {}
    return frame.groupby("run_id", sort=False).indices


def _slice(cols: Cols, index: dict[Any, np.ndarray], run_id: Any) -> Cols:
    idx = index.get(run_id)
    return cols.take(idx if idx is not None else np.empty(0, dtype=np.intp))


# ---------------------------------------------------------------- writing


# ---------------------------------------------------------------- input frames


_RUN_COLUMNS = tuple(RUN_COLUMNS)


def _prepare_runs(runs: pd.DataFrame | None) -> pd.DataFrame:
    runs = pd.DataFrame(columns=list(_RUN_COLUMNS)) if runs is None else runs.copy()
    for c in _RUN_COLUMNS:
        if c not in runs.columns:
            runs[c] = None
    runs["suite"] = runs["suite"].map(lambda s: "(no suite)" if missing(s) else str(s))
    runs["started_at"] = pd.to_datetime(runs["started_at"], utc=True, errors="coerce")
    runs["finished_at"] = pd.to_datetime(runs["finished_at"], utc=True, errors="coerce")
    runs = runs.sort_values("started_at", ascending=False, na_position="last", kind="stable")
    files = [run_file(r) for r in runs[["uid", "run_id"]].to_dict("records")]
    seen = {f: files.count(f) for f in files}
    runs["_file"] = [  # two uids with one 12-digit prefix: spell them out
        f if seen[f] == 1 else f"run-{safe_name(f'{r[0]}-{r[1]}')}.html"
        for f, r in zip(files, zip(runs["uid"], runs["run_id"], strict=True), strict=True)
    ]
    return runs


_RESULT_COLUMNS = (
    "result_id",
    "run_id",
    "uid",
    "label",
    "run_started_at",
    "case_key",
    "case_id",
    "workload",
    "status",
    "error",
    "macs",
    "parameters",
    "bytes",
    "median",
    "q1",
    "q3",
    "iqr",
    "noisy",
    "contended",
    "rounds",
    "round_spread",
    "n_samples",
    "calls_per_sample",
    "peak_memory",
    "compile_s",
    "math_mode",
    "activation_bytes",
    "activation_bytes_efficient",
    "weight_bytes",
    "round_medians",  # list per row: pair intervals from rounds (results.speedup)
)
_NUMBERS = (  # numeric columns, NaN where a frame lacks them
    "median",
    "q1",
    "q3",
    "iqr",
    "macs",
    "parameters",
    "bytes",
    "round_spread",
    "peak_memory",
    "compile_s",
    "activation_bytes",
    "activation_bytes_efficient",
    "weight_bytes",
)


def _prepare_results(results: pd.DataFrame | None, runs: pd.DataFrame) -> pd.DataFrame:
    """The columns the pages use, in plain numpy dtypes (pandas' Arrow-backed strings and
    masked integers are slow to slice into the hundreds of small groups a site needs)."""
    results = pd.DataFrame() if results is None else results
    results = with_param_columns(results)
    columns: dict[str, Any] = {}
    n = len(results)
    for c in (*_RESULT_COLUMNS, *PARAM_COLUMNS):
        if c not in results.columns:
            columns[c] = np.full(n, np.nan) if c in _NUMBERS else np.full(n, None, dtype=object)
            continue
        col = results[c]
        if c == "run_started_at":
            columns[c] = pd.to_datetime(col, utc=True, errors="coerce")
        elif isinstance(col.dtype, np.dtype) and col.dtype.kind in "iufb":
            columns[c] = col.to_numpy()
        elif c in ("median", "q1", "q3", "iqr", "macs", "parameters", "bytes"):
            columns[c] = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        elif pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
            columns[c] = col.to_numpy(dtype=float, na_value=np.nan)  # nullable Int64
        else:
            values = col.to_numpy(dtype=object, copy=True)
            values[col.isna().to_numpy()] = None
            columns[c] = values
    # one constructor call: columns of one dtype share a block, so slicing stays cheap
    frame = pd.DataFrame(
        {
            c: (
                v.reset_index(drop=True)
                if isinstance(v, pd.Series)
                else pd.Series(v, dtype=object)
                if v.dtype == object
                else v
            )
            for c, v in columns.items()
        }
    )
    frame = frame[frame["run_id"].isin(runs["run_id"])]
    if frame["run_started_at"].isna().any():
        starts = runs.set_index("run_id")["started_at"]
        frame["run_started_at"] = frame["run_id"].map(starts)
    return frame.reset_index(drop=True)


def _prepare_marks(marks: pd.DataFrame | None) -> pd.DataFrame | None:
    """(case_key, run_id, verdict[, kind]) rows worth a mark. ``kind`` is "recent" (a run
    the verdict judged) or "change" (the first run at the new level); default "recent"."""
    if marks is None or len(marks) == 0:
        return None
    m = marks[["case_key", "run_id", "verdict"]].dropna(subset=["verdict"])
    kind = marks["kind"] if "kind" in marks.columns else "recent"
    m = m.assign(kind=pd.Series(kind, index=marks.index).reindex(m.index).fillna("recent"))
    verdict = m["verdict"].astype(str).str.lower()
    keep = ~verdict.isin(_NEUTRAL_VERDICTS) & (verdict != "ambiguous")
    return m[keep] if keep.any() else None
