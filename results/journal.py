"""A run's journal: case-rounds measured while the database was unavailable.

One JSON object per line, appended and flushed (fsync) as each case-round finishes, so a
crash loses at most the line being written. ``bench run --resume RUN`` (or the run itself,
at its next successful write) replays the journal into the run with ``Store.replay``,
which skips rounds the database already has: replaying twice writes nothing twice. The
file is removed once replayed.

Where: ``journal/<run uid>.jsonl`` beside an SQLite database, under ``./.bench/`` for a
server database, or in ``$BENCH_JOURNAL_DIR``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from results.errors import StoreError
from results.records import CaseStatus, ResultRecord

JOURNAL_ENV = "BENCH_JOURNAL_DIR"
_FIELDS = {f.name for f in fields(ResultRecord)} - {"id", "run_id", "summary"}


def journal_dir(url: str) -> Path:
    """Where journals of runs stored at ``url`` go."""
    if os.environ.get(JOURNAL_ENV):
        return Path(os.environ[JOURNAL_ENV])
    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        return Path(u.database.removeprefix("file:").partition("?")[0]).resolve().parent / (
            "journal"
        )
    return Path.cwd() / ".bench" / "journal"


def journal_path(url: str, run_uid: str) -> Path:
    return journal_dir(url) / f"{run_uid}.jsonl"


def append(path: Path, round_no: int, record: ResultRecord) -> None:
    """Append one case-round to the journal, durably."""
    line = json.dumps({"round": round_no, "record": _encode(record)}, allow_nan=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


def read(path: Path) -> Iterator[tuple[int, ResultRecord]]:
    """The journal's case-rounds in order; a last line cut short by a crash is ignored."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return
    except OSError as e:
        raise StoreError(f"cannot read the journal {path}: {e.strerror or e}") from None
    for i, line in enumerate(lines, start=1):
        try:
            entry = json.loads(line)
            yield int(entry["round"]), _decode(entry["record"])
        except (ValueError, KeyError, TypeError) as e:
            if i == len(lines):
                return  # the line being written when the process died
            raise StoreError(f"{path}: line {i} is not a journal entry ({e})") from None


def _encode(record: ResultRecord) -> dict[str, Any]:
    out = {k: v for k, v in asdict(record).items() if k in _FIELDS}
    out["status"] = str(record.status)
    out["samples"] = [float(x) for x in record.samples]
    if record.started_at is not None:
        out["started_at"] = record.started_at.isoformat()
    return out


def _decode(data: dict[str, Any]) -> ResultRecord:
    values = {k: v for k, v in data.items() if k in _FIELDS}
    values["status"] = CaseStatus(values["status"])
    if values.get("started_at"):
        values["started_at"] = datetime.fromisoformat(values["started_at"])
    return ResultRecord(**values)
