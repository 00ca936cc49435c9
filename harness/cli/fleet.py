"""CLI commands for a fleet of runners: groups (registered by harness.cli; no torch).

The shards of one nightly are separate runs that share a ``--group``; `bench groups`
shows each group as the one logical run it is, and names the previous one for CI.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import click

from harness.formatting import table
from results.records import RunRecord, worst_status


@dataclass
class Group:
    name: str
    runs: list[RunRecord]  # newest first

    @property
    def started_at(self) -> datetime:
        return min(r.started_at for r in self.runs)

    def shards(self) -> tuple[list[int], int | None]:
        """The shard indexes present, and N (None when the runs were not sharded)."""
        parsed = [tuple(map(int, r.shard.split("/"))) for r in self.runs if r.shard]
        total = max((n for _, n in parsed), default=None)
        return sorted({i for i, _ in parsed}), total

    def status(self, now: datetime) -> str:
        worst = worst_status(r.shown_status(now) for r in self.runs)
        if worst is not None:
            return worst
        have, total = self.shards()
        return "partial" if total and len(have) < total else "finished"

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.runs:
            for status, n in r.counts.items():
                out[status] = out.get(status, 0) + n
        return out

    def json(self, now: datetime) -> dict[str, Any]:
        have, total = self.shards()
        return {
            "group": self.name,
            "suites": sorted({r.suite for r in self.runs}),
            "labels": sorted({r.label for r in self.runs if r.label}),
            "status": self.status(now),
            "started_at": self.started_at.isoformat(),
            "shards": {"present": have, "of": total},
            "runs": [{"id": r.id, "uid": r.uid, "shard": r.shard} for r in self.runs],
            "counts": self.counts(),
        }


def groups_of(runs: list[RunRecord]) -> list[Group]:
    """Runs with a group, gathered by it; the newest group (by first start) first."""
    by_name: dict[str, list[RunRecord]] = {}
    for r in runs:
        if r.group:
            by_name.setdefault(r.group, []).append(r)
    groups = [Group(name, members) for name, members in by_name.items()]
    return sorted(groups, key=lambda g: g.started_at, reverse=True)


def register(cli: click.Group) -> None:
    """Add this module's commands to `cli`."""
    from harness.cli.app import db_option, open_store

    @cli.command("groups")
    @db_option
    @click.option("--suite", default=None, help="Only runs of this suite.")
    @click.option("--label", default=None, help="Only runs with this label, e.g. nightly.")
    @click.option("--names", is_flag=True, help="Print only the names, newest first (scripts).")
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    def groups_cmd(db, suite, label, names, as_json) -> None:
        """Groups of runs (the shards of one nightly), newest first.

        Status: stale, running or interrupted if any shard is; partial if shards are
        missing; else finished. Compare two groups with `bench compare group:A group:B`.
        """
        with open_store(db) as store:
            groups = groups_of(store.runs(suite=suite, label=label))
        now = datetime.now(UTC)
        if names:
            for g in groups:
                click.echo(g.name)
        elif as_json:
            click.echo(json.dumps([g.json(now) for g in groups], indent=1))
        elif not groups:
            click.echo("no groups yet (`bench run ... --group NAME` makes one)")
        else:
            click.echo(table(GROUP_COLUMNS, [_row(g, now) for g in groups], right={2}))


GROUP_COLUMNS = ["group", "suite", "runs", "shards", "status", "started (UTC)", "ok/failed/skipped"]


def _row(g: Group, now: datetime) -> list[str]:
    have, total = g.shards()
    c = g.counts()
    return [
        g.name,
        ",".join(sorted({r.suite for r in g.runs})),
        str(len(g.runs)),
        f"{len(have)}/{total}" if total else "-",
        g.status(now),
        g.started_at.strftime("%Y-%m-%d %H:%M:%S"),
        f"{c.get('ok', 0)}/{c.get('failed', 0)}/{c.get('skipped', 0)}",
    ]
