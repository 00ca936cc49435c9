"""What the site holds and what each page was written from: what makes a rebuild incremental.

``.bench-manifest.json`` in the site folder::

    {"format": 1,
     "report": "<the report's version>",
     "pages": {"run-0123456789ab.html": {"kind": "run", "runs": ["<uid>"],
                                         "inputs": "<sha256>", "bytes": 1318905,
                                         "devices": ["cuda"]},
               "group-nightly-7.html": {"kind": "group", "runs": [...], ...}}}

Only *final* pages are recorded: a run page once its run is no longer running (a stale run
is still ``running`` in the store, so it is never frozen), a group page once all of its
runs are. A recorded page is kept as it is while its ``inputs`` digest (the run's row, its
results' signature, the title, the page it links to) is the same, the report's version is
the same and its file is still there with the recorded size; anything else rewrites it.
``devices`` is what the index needs from a page it does not rewrite.

The report's version is a digest of the ``reports`` package's source, of the ``results``
modules it imports, and of plotly's version:
a change to how any page is drawn rewrites every page once, with no number to remember to
bump.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NAME = ".bench-manifest.json"
FORMAT = 1


@functools.cache
def report_version() -> str:
    """A digest of what draws the pages: this package's modules, the `results` modules
    they import (directly or through each other), and plotly's version."""
    import plotly

    h = hashlib.sha256(f"manifest {FORMAT} plotly {plotly.__version__}".encode())
    here = sorted(Path(__file__).parent.glob("*.py"))
    for path in here + _results_used(here):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:20]


def _results_used(sources: list[Path]) -> list[Path]:
    """The files of the `results` modules that ``sources`` import, followed through their
    own imports: found in the code, not in a list to keep up to date by hand."""
    import results

    root = Path(results.__file__).parent
    seen: set[Path] = set()
    todo = list(sources)
    while todo:
        tree = ast.parse(todo.pop().read_bytes())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] != "results" or len(parts) != 2:
                    continue
                path = root / f"{parts[1]}.py"
                if path.is_file() and path not in seen:
                    seen.add(path)
                    todo.append(path)
    return sorted(seen)


def digest(*parts: Any) -> str:
    """sha256 of the canonical JSON of ``parts`` (anything else as ``str``)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Manifest:
    report: str
    pages: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def read(cls, out: Path, report: str) -> Manifest:
        """The manifest of the site in ``out``; an empty one if there is none, it cannot be
        read, or it was written by another version of the report (then nothing is kept)."""
        try:
            data = json.loads((out / NAME).read_bytes())
        except (OSError, ValueError):
            return cls(report)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return cls(report)
        pages = data.get("pages")
        if data.get("report") != report or not isinstance(pages, dict):
            return cls(report)
        return cls(report, {k: v for k, v in pages.items() if isinstance(v, dict)})

    def kept(self, out: Path, name: str, inputs: str) -> Mapping[str, Any] | None:
        """The entry of page ``name`` if the page on disk was written from ``inputs``."""
        entry = self.pages.get(name)
        if entry is None or entry.get("inputs") != inputs:
            return None
        try:
            size = (out / name).stat().st_size
        except OSError:
            return None
        return entry if size == entry.get("bytes") else None

    def record(self, name: str, entry: Mapping[str, Any]) -> None:
        self.pages[name] = dict(entry)

    def to_json(self) -> bytes:
        data = {"format": FORMAT, "report": self.report, "pages": dict(sorted(self.pages.items()))}
        return json.dumps(data, indent=1, sort_keys=True).encode()
