"""Runs named on the command line: ids, ``latest[:LABEL]``, uid prefixes, ``group:NAME``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from results.errors import RunNotFound
from results.models import Run
from results.records import RunRecord

if TYPE_CHECKING:
    from results.store import Store

MIN_PREFIX = 4  # shortest uid prefix accepted by resolve_run


def resolve_run(store: Store, ref: str) -> RunRecord:
    """A run from a CLI reference: id, ``latest``, ``latest:LABEL`` or a uid prefix."""
    ref = ref.strip()
    if ref == "latest" or ref.startswith("latest:"):
        label = ref.partition(":")[2] or None
        found = store.runs(label=label)
        if not found:
            what = f"with label {label!r} " if label else ""
            raise RunNotFound(f"no run {what}in {store.where}")
        return found[0]
    if ref.isdecimal() and int(ref) < 2**63:  # beyond: no id, perhaps a uid prefix
        try:
            return store.get_run(int(ref))
        except RunNotFound:
            if len(ref) < MIN_PREFIX:
                raise
    prefix = ref.lower()
    if len(prefix) < MIN_PREFIX or any(c not in "0123456789abcdef" for c in prefix):
        raise RunNotFound(
            f"bad RUN {ref!r}: expected a run id, `latest`, `latest:LABEL` "
            f"or at least {MIN_PREFIX} hex digits of a run's unique id"
        )
    with store.engine.connect() as conn:
        ids = conn.execute(
            select(Run.id, Run.uid).where(Run.uid.startswith(prefix)).order_by(Run.id).limit(6)
        ).all()
    if not ids:
        raise RunNotFound(f"no run id or unique id starting with {ref!r} in {store.where}")
    if len(ids) > 1:
        listed = ", ".join(f"{r.uid} (id {r.id})" for r in ids[:5])
        more = ", ..." if len(ids) > 5 else ""
        raise RunNotFound(f"ambiguous RUN {ref!r}: matches {listed}{more}; give more digits")
    return store.get_run(ids[0].id)


def resolve_runs(store: Store, ref: str) -> list[RunRecord]:
    """A RUN reference (see resolve_run) or ``group:NAME``: every run of the group,
    oldest first (its shards, and any shard run again)."""
    ref = ref.strip()
    if not ref.startswith("group:"):
        return [store.resolve_run(ref)]
    name = ref.partition(":")[2]
    runs = sorted(store.runs(group=name), key=lambda r: (r.started_at, r.id or 0))
    if not name or not runs:
        raise RunNotFound(f"no run in group {name!r} in {store.where}")
    return runs
