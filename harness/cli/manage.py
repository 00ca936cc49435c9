"""CLI commands that remove runs: delete, prune (no torch)."""

from __future__ import annotations

import sys

import click

from harness.formatting import table
from results.errors import UsageError


def register(cli: click.Group) -> None:
    """Add this module's commands to `cli`."""
    from harness.cli.app import db_option, open_store

    yes_option = click.option(
        "--yes", "-y", is_flag=True, help="Do not ask for confirmation on a terminal."
    )

    @cli.command("delete")
    @click.argument("refs", metavar="RUN...", nargs=-1, required=True)
    @db_option
    @yes_option
    def delete_cmd(refs: tuple[str, ...], db: str | None, yes: bool) -> None:
        """Delete runs and their results. RUN: id, uid prefix, latest, latest:LABEL or
        group:NAME (every run of the group). A run still running is never deleted."""
        from results.retention import refuse_running

        with open_store(db) as store:
            chosen = {r.id: r for ref in refs for r in store.resolve_runs(ref)}
            runs = sorted(chosen.values(), key=lambda r: r.id or 0)
            if alive := refuse_running(runs):
                names = ", ".join(f"{r.uid[:8]} (id {r.id})" for r in alive)  # type: ignore[index]
                raise UsageError(
                    f"not deleting: {names} still running (its heartbeat is fresh); wait for "
                    "it to finish, or until `bench runs` shows it stale"
                )
            _confirm(runs, yes, "delete")
            n = store.delete_runs(r.id for r in runs if r.id is not None)
        click.echo(f"deleted {n} run(s) and their results")

    @cli.command("prune")
    @db_option
    @click.option(
        "--keep",
        type=click.IntRange(min=1),
        required=True,
        help="Keep the newest N runs of each suite and label (a group counts as one).",
    )
    @click.option("--suite", default=None, help="Only runs of this suite.")
    @click.option("--label", default=None, help="Only runs with this label.")
    @click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
    @yes_option
    def prune_cmd(
        db: str | None,
        keep: int,
        suite: str | None,
        label: str | None,
        dry_run: bool,
        yes: bool,
    ) -> None:
        """Delete all but the newest N runs per suite and label. Running runs, and groups
        holding one, are never touched; a group (the shards of one nightly) goes whole."""
        from results.retention import to_prune

        with open_store(db) as store:
            runs = to_prune(store.runs(suite=suite, label=label), keep)
            if not runs:
                click.echo(f"nothing to prune: no suite and label has more than {keep} run(s)")
                return
            if dry_run:
                click.echo(_listing(runs))
                click.echo(f"{len(runs)} run(s) would be deleted; nothing was deleted.")
                return
            _confirm(runs, yes, "delete")
            n = store.delete_runs(r.id for r in runs if r.id is not None)
        click.echo(f"deleted {n} run(s) and their results (kept the newest {keep} per series)")


def _listing(runs) -> str:
    rows = [
        [
            str(r.id),
            r.uid[:8],
            r.suite,
            r.label or "",
            r.group or "",
            str(r.status),
            f"{r.started_at:%Y-%m-%d %H:%M}",
        ]
        for r in runs
    ]
    return table(["id", "uid", "suite", "label", "group", "status", "started (UTC)"], rows)


def _confirm(runs, yes: bool, verb: str) -> None:
    """On a terminal, show the runs and ask; scripts (no terminal) and --yes go on."""
    if yes or not sys.stdin.isatty():
        return
    click.echo(_listing(runs))
    if not click.confirm(f"{verb} these {len(runs)} run(s) and all their results?"):
        raise UsageError("nothing deleted")
