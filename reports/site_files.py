"""Writing the report's folder: claiming it, taking turns on it, atomic file writes.

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
from pathlib import Path

from reports.html import PLOTLY_JS
from reports.trends_data import DATA_DIR
from results.errors import UsageError

PAGE_GLOBS = ("run-*.html", "trend-*.html", "group-*.html")

MARKER = ".bench-report"  # marks a folder as a site of ours: only then may we replace pages


def claim(out: Path) -> None:
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
def exclusive(out: Path) -> Iterator[bool]:
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


# A temporary file: ".<name>.<16 hex digits>.tmp" beside the file it will replace.
_TEMPORARY = re.compile(r"\.(.+)\.[0-9a-f]{16}\.tmp|\.(.+)\.tmp")
_OURS = re.compile(
    r"index\.html|plotly\.min\.js|\.bench-manifest\.json|(run|trend|group)-.+\.html|trend-.+\.js"
)


def write(path: Path, data: str | bytes) -> None:
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


def write_plotly_js(out: Path) -> None:
    src = plotly_js_source()
    dest = out / PLOTLY_JS
    with contextlib.suppress(OSError):  # unreadable or gone: write it
        if dest.stat().st_size == len(src) and dest.read_bytes() == src:
            return
    write(dest, src)


def plotly_js_source() -> bytes:
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if path.is_file():
        return path.read_bytes()
    from plotly.offline import get_plotlyjs

    return get_plotlyjs().encode("utf-8")


def remove_stale(out: Path, written: set[str]) -> None:
    """Our pages and detail files that this site no longer has (``written``: relative paths)."""
    for pattern in (*PAGE_GLOBS, f"{DATA_DIR}/trend-*.js"):
        for p in out.glob(pattern):
            if p.relative_to(out).as_posix() not in written and p.is_file():
                p.unlink(missing_ok=True)  # another writer may have removed it first


def remove_orphaned_temporaries(out: Path) -> None:
    """Temporary files of writers that died (killed mid-write). Called only while the
    folder is held: then no live writer has a temporary file here."""
    for folder in (out, out / DATA_DIR):
        for p in folder.glob(".*.tmp"):
            m = _TEMPORARY.fullmatch(p.name)
            if m and _OURS.fullmatch(m.group(1) or m.group(2)) and p.is_file():
                p.unlink(missing_ok=True)
