"""CLI commands: import (registered by harness.cli). No torch."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click


def register(cli: click.Group) -> None:
    """Add this module's commands to `cli`."""
    from harness.cli.app import db_option, open_store

    @cli.group("import")
    def import_group() -> None:
        """Store other tools' result files as runs."""

    @import_group.command("pytest-benchmark")
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    @db_option
    @click.option("--label", default=None, help="A label for the run, e.g. nightly or a branch.")
    def pytest_benchmark_cmd(file: Path, db: str | None, label: str | None) -> None:
        """Store a pytest-benchmark JSON FILE (--benchmark-json or --benchmark-save) as a run.

        One result per benchmark: its raw per-round times as samples when the file has
        them, otherwise its statistics. A bad file changes nothing in the database.
        """

        from results.importers import load_pytest_benchmark
        from results.records import RunStatus

        run, results = load_pytest_benchmark(file, label=label)  # validated before writing
        with open_store(db, create=True) as store:
            # One transaction: a failure halfway leaves nothing behind.
            stored = store.import_run(replace(run, status=RunStatus.FINISHED), results)
            where = store.shown_url
        no_data = sum(not r.samples for r in results)
        click.echo(
            f"imported {len(results)} results from {file} as run {stored.uid[:8]} "
            f"(id {stored.id}, uid {stored.uid}), suite {stored.suite}; stored in {where}"
        )
        if no_data:
            click.echo(
                f"note: {no_data} of {len(results)} benchmarks have no raw data (saved "
                "without --benchmark-save-data): their statistics are kept, without samples",
                err=True,
            )
