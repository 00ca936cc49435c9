"""The static report site: index, one page per run, one trends page per suite.

``build_site(runs, results, out_dir)`` takes the two frames of ``results.frames`` and
writes ``index.html``, ``run-<uid[:12]>.html`` per run, ``trend-<suite>.html`` per suite
and ``plotly.min.js`` (once, copied from the installed plotly package; pages load it by a
relative path, so the site works from ``file://`` with no network). Running it again
over the same folder updates the site in place and removes the pages of runs and suites
that are no longer in the frames.

Writers of one folder may run at once (two `bench report` jobs, say): every file is
written to a temporary file of a unique name in the same folder and moved over the old
one with ``os.replace``, so a reader sees the old page or the new one, never half of one;
and the writers take turns on the folder (an exclusive ``flock`` of its ``.bench-report``
marker, released by the kernel if a writer dies), so one writer never deletes the pages
another has just written and the folder ends up as exactly one writer's site.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reports import html as h
from reports._plot import Cols
from reports.figures import ok_results
from reports.figures_networks import network_rows
from reports.figures_roofline import roofline_points
from reports.names import group_file, run_file, safe_name, trend_file
from reports.page_index import index_page
from reports.page_run import RunData, group_page, run_page
from reports.page_trends import trend_page
from reports.pairs import PARAM_COLUMNS, find_pairs, with_param_columns
from reports.text import missing
from results.errors import UsageError
from results.schema import RUN_COLUMNS

__all__ = ["build_site", "run_file", "trend_file"]

_PAGE_GLOBS = ("run-*.html", "trend-*.html", "group-*.html")
# verdicts that are not worth a mark (results.compare says "same" and "incomparable")
_NEUTRAL_VERDICTS = {"same", "incomparable", "unchanged", "no change", "ok", "none"}


MARKER = ".bench-report"  # marks a folder as a site of ours: only then may we replace pages


def _claim(out: Path) -> None:
    """Create ``out`` or check it is ours: a site rebuild deletes stale pages in it.

    The marker is the first file a writer creates in a new folder (and is created only if
    absent, never rewritten), so a concurrent writer sees either an empty folder or one
    with the marker: both are ours.
    """
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: is a file, not a folder")
    # List first, then look for the marker: a writer creates the marker before any other
    # file, so anything listed implies a marker by the time it is looked for (checking the
    # marker first races with a writer that creates it in between).
    if (
        out.is_dir()
        and any(p.name != MARKER for p in out.iterdir())
        and not (out / MARKER).exists()
    ):
        raise UsageError(
            f"--out {out}: folder holds files that are not a bench report (no {MARKER} "
            "marker); refusing to overwrite or delete them. Choose a new or empty folder"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError), open(out / MARKER, "x") as f:
            f.write("a site written by `bench report`; it rewrites this folder\n")
    except OSError as e:
        raise UsageError(f"--out {out}: cannot write there ({e.strerror or e})") from None


@contextlib.contextmanager
def _exclusive(out: Path) -> Iterator[bool]:
    """Hold the folder for one writer at a time; yields whether a lock is held.

    An exclusive ``flock`` of the marker: waits while another `bench report` writes the
    same site. Where there is no ``flock`` (Windows, some network file systems) writers
    overlap: each file is still replaced atomically, but stale-page removal may race.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield False
        return
    try:
        fd = os.open(out / MARKER, os.O_RDONLY)
    except OSError as e:
        raise UsageError(f"--out {out}: cannot open {MARKER} ({e.strerror or e})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:  # a file system without locks: go on without
            yield False
            return
        yield True  # closing the descriptor releases the lock
    finally:
        os.close(fd)


def build_site(
    runs: pd.DataFrame,
    results: pd.DataFrame,
    out_dir: Path,
    *,
    title: str = "bench",
    regression_marks: pd.DataFrame | None = None,
) -> Path:
    """Write the site into ``out_dir`` (created if needed); return the path of index.html.

    ``regression_marks``, when given, is a frame of (case_key, run_id, verdict); the
    trends pages mark those points (red "slower", green "faster"; "same" and
    "incomparable" are not marked).
    """
    out = Path(out_dir)
    _claim(out)
    runs = _prepare_runs(runs)
    results = _prepare_results(results, runs)
    marks = _prepare_marks(regression_marks)
    with _exclusive(out) as alone:
        index = _write_site(out, runs, results, marks, title)
        if alone:
            _remove_orphaned_temporaries(out)
    return index


def _write_site(
    out: Path,
    runs: pd.DataFrame,
    results: pd.DataFrame,
    marks: pd.DataFrame | None,
    title: str,
) -> Path:
    _write_plotly_js(out)
    generated = f"generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by bench"

    # Derived frames are computed once for all runs, then sliced per run: a pandas
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
    suites = sorted({str(s) for s in runs["suite"]})
    written = {"index.html", h.PLOTLY_JS}
    ctx = {"title": title, "generated": generated}

    groups = _groups(runs)
    devices_by_run: dict[Any, list[str]] = {}
    for run in runs.to_dict("records"):
        rid = run["run_id"]
        data = RunData(**{k: _slice(arrays_[k], by_run[k], rid) for k in frames})
        devices_by_run[rid] = sorted({str(d) for d in data.res["device"] if not missing(d)})
        name = run["_file"]
        group = None if missing(run.get("group")) else str(run["group"])
        page = groups[group]["_file"] if group in groups else None
        _write(out / name, run_page(run, data, ctx, group_page=page))
        written.add(name)

    for group, info in groups.items():
        members = results[results["run_id"].isin(info["run_ids"])]
        ok_members = ok_results(members)
        data = RunData(
            res=Cols.of(members),
            ok=Cols.of(ok_members),
            pairs=Cols.of(find_pairs(members.assign(_group=group), by="_group")),
            pts=Cols.of(roofline_points(ok_members)),
            nets=Cols.of(network_rows(ok_members)),
        )
        _write(out / info["_file"], group_page(group, info["runs"], data, ctx))
        written.add(info["_file"])

    for suite in suites:
        name = trend_file(suite)
        suite_runs = runs[runs["suite"].astype(str) == suite]
        suite_results = results[results["run_id"].isin(suite_runs["run_id"])]
        _write(out / name, trend_page(suite, suite_runs, suite_results, marks, ctx))
        written.add(name)

    _write(out / "index.html", index_page(runs, devices_by_run, suites, ctx, groups=groups))
    _remove_stale(out, written)
    return out / "index.html"


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


# A temporary file: ".<name>.<16 hex digits>.tmp" beside the file it will replace.
_TEMPORARY = re.compile(r"\.(.+)\.[0-9a-f]{16}\.tmp|\.(.+)\.tmp")
_OURS = re.compile(r"index\.html|plotly\.min\.js|(run|trend|group)-.+\.html")


def _write(path: Path, data: str | bytes) -> None:
    """Write ``path`` atomically: a unique temporary file in the same folder, then
    ``os.replace``. Concurrent writers of one path each replace it whole; a failure leaves
    the old file and no temporary behind."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        try:
            # O_EXCL: a name no other writer holds. Mode 0o666 less the umask, as
            # Path.write_text would give (NamedTemporaryFile's 0o600 would hide the site
            # from a web server).
            fd = os.open(
                tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666
            )
        except FileExistsError:  # pragma: no cover - 64 random bits
            continue
        break
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _write_plotly_js(out: Path) -> None:
    src = _plotly_js_source()
    dest = out / h.PLOTLY_JS
    with contextlib.suppress(OSError):  # unreadable or gone: write it
        if dest.stat().st_size == len(src) and dest.read_bytes() == src:
            return
    _write(dest, src)


def _plotly_js_source() -> bytes:
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if path.is_file():
        return path.read_bytes()
    from plotly.offline import get_plotlyjs

    return get_plotlyjs().encode("utf-8")


def _remove_stale(out: Path, written: set[str]) -> None:
    for pattern in _PAGE_GLOBS:
        for p in out.glob(pattern):
            if p.name not in written and p.is_file():
                p.unlink(missing_ok=True)  # another writer may have removed it first


def _remove_orphaned_temporaries(out: Path) -> None:
    """Temporary files of writers that died (killed mid-write). Called only while the
    folder is held: then no live writer has a temporary file here."""
    for p in out.glob(".*.tmp"):
        m = _TEMPORARY.fullmatch(p.name)
        if m and _OURS.fullmatch(m.group(1) or m.group(2)) and p.is_file():
            p.unlink(missing_ok=True)


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
            nan = c in ("median", "q1", "q3", "iqr", "macs", "parameters", "bytes", "round_spread")
            columns[c] = np.full(n, np.nan) if nan else np.full(n, None, dtype=object)
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
