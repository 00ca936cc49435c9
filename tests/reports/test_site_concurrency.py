"""Writing one site from several processes at once: every writer succeeds, each file is
replaced whole, no temporary file is left, and the folder ends up as one writer's site."""

from __future__ import annotations

import multiprocessing
import os
import re
import threading
import traceback
from pathlib import Path

import pandas as pd
import pytest

from reports import site_files
from reports.site import build_site, run_file

# pyproject's pythonpath puts the repository root first on sys.path.
from tests.reports.synthetic import make_frames

WRITERS = 4


def _writer(
    runs: pd.DataFrame,
    results: pd.DataFrame,
    out: str,
    barrier: multiprocessing.synchronize.Barrier,
    done: multiprocessing.Queue,
) -> None:
    """One `bench report`: wait for the others, then build the site (in a child process)."""
    try:
        barrier.wait(timeout=120)
        index = build_site(runs, results, Path(out))
        done.put(("ok", str(index)))
    except BaseException:
        done.put(("error", traceback.format_exc()))


def _site_of(runs: pd.DataFrame) -> set[str]:
    return {run_file(r) for r in runs[["uid", "run_id"]].to_dict("records")}


def test_four_processes_write_one_site(tmp_path: Path) -> None:
    runs, results = make_frames(6, suites=("nightly", "smoke"))
    out = tmp_path / "site"
    # Different inputs per writer, so that each one's stale-page removal would delete
    # pages another just wrote if they overlapped.
    inputs = []
    for i in range(WRITERS):
        keep = runs.iloc[i : i + 3]
        inputs.append((keep, results[results["run_id"].isin(keep["run_id"])]))

    ctx = multiprocessing.get_context("spawn")  # no fork of a process with threads
    barrier = ctx.Barrier(WRITERS)
    done = ctx.Queue()
    procs = [
        ctx.Process(target=_writer, args=(r, res, str(out), barrier, done)) for r, res in inputs
    ]
    for p in procs:
        p.start()
    outcomes = [done.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0

    errors = [text for kind, text in outcomes if kind != "ok"]
    assert not errors, errors[0]
    assert {text for _, text in outcomes} == {str(out / "index.html")}

    names = {p.name for p in out.iterdir()}
    assert not [n for n in names if n.endswith(".tmp")], names
    pages = {n for n in names if n.startswith("run-")}
    # the folder is exactly one writer's site: its pages, and its index linking them
    assert pages in [_site_of(r) for r, _ in inputs], pages
    index = (out / "index.html").read_text(encoding="utf-8")
    linked = set(re.findall(r'href="(run-[^"]+\.html)"', index))
    assert linked == pages
    for name in names:
        if name.endswith(".html"):
            assert (out / name).read_text(encoding="utf-8").rstrip().endswith("</html>"), name


def test_threads_writing_one_file_all_succeed(tmp_path: Path) -> None:
    target = tmp_path / "index.html"
    n = 8
    barrier = threading.Barrier(n)
    failures: list[BaseException] = []
    texts = [f"<html>{i}" + "x" * 100_000 + "</html>" for i in range(n)]

    def write(text: str) -> None:
        try:
            barrier.wait(timeout=60)
            site_files.write(target, text)
        except BaseException as e:  # collected: an assertion in a thread is lost
            failures.append(e)

    threads = [threading.Thread(target=write, args=(t,)) for t in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not failures, failures
    assert target.read_text() in texts  # one writer's whole file, never a mix
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.html"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "index.html"
    target.write_text("old")

    def broken(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(site_files.os, "replace", broken)
    with pytest.raises(OSError, match="No space left"):
        site_files.write(target, "new")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.html"]


def test_pages_get_the_usual_permissions(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    runs, results = make_frames(1)
    build_site(runs, results, tmp_path)
    for name in ("index.html", "plotly.min.js"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask, name


def test_temporaries_of_dead_writers_are_cleaned_up(tmp_path: Path) -> None:
    runs, results = make_frames(1)
    build_site(runs, results, tmp_path)
    orphans = [".index.html.0123456789abcdef.tmp", ".index.html.tmp", ".run-abc.html.tmp"]
    for name in orphans:
        (tmp_path / name).write_text("half a page")
    (tmp_path / ".notes.tmp").write_text("mine")  # not a name of ours: it stays
    build_site(runs, results, tmp_path)
    left = {p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")}
    assert left == {".notes.tmp"}


def test_a_second_writer_into_a_new_folder_sees_it_as_ours(tmp_path: Path) -> None:
    """The marker is created first and never rewritten: a writer that finds a folder with
    the marker and another writer's files in it goes ahead."""
    out = tmp_path / "new"
    out.mkdir()
    (out / site_files.MARKER).write_text("already claimed\n")
    (out / ".index.html.0123456789abcdef.tmp").write_text("a writer mid-way")
    runs, results = make_frames(1)
    build_site(runs, results, out)
    assert (out / site_files.MARKER).read_text() == "already claimed\n"
    assert (out / "index.html").exists()
