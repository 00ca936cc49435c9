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

The report's version is a digest of the ``reports`` package's source and plotly's version:
a change to how any page is drawn rewrites every page once, with no number to remember to
bump.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NAME = ".bench-manifest.json"
FORMAT = 1


# The modules of `results` whose code changes what a page shows (pairing and theory,
# pair intervals, the t quantile, the frames' columns): a change to them redraws too.
_RESULTS_MODULES = ("pairs.py", "speedup.py", "verdicts.py", "schema.py", "stats.py")


@functools.cache
def report_version() -> str:
    """A digest of what draws the pages: this package's modules, the `results` modules
    they compute with, and plotly's version."""
    import plotly

    import results

    h = hashlib.sha256(f"manifest {FORMAT} plotly {plotly.__version__}".encode())
    here = sorted(Path(__file__).parent.glob("*.py"))
    used = [Path(results.__file__).parent / name for name in _RESULTS_MODULES]
    for path in here + used:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:20]


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
