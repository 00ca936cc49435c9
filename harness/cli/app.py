"""The `bench` command group, its shared options, and error-to-exit-code mapping.

Imports no torch at module level: `bench --help` stays instant.
"""

from __future__ import annotations

from typing import Any

import click

from harness.timing_config import MAX_CASE_MS
from results.errors import BenchError

DB_HELP = "Database URL (SQLAlchemy). Default: $BENCH_DB, else sqlite file .bench/results.db"


class BenchGroup(click.Group):
    """Maps the project's errors to exit codes and one-paragraph messages."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BenchError as e:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"bench: error: {e}", err=True)
            ctx.exit(e.exit_code)
        except KeyboardInterrupt:
            # Not click's "Aborted!" with exit 1: 1 means a failed case or a regression.
            click.echo("bench: interrupted", err=True)
            ctx.exit(130)


def db_option(f):
    return click.option("--db", "db", envvar="BENCH_DB", default=None, help=DB_HELP)(f)


def case_selection(f):
    """--device and --filter, which `list` and `run` read alike (harness.runner.plan)."""
    f = click.option(
        "--filter",
        "filters",
        multiple=True,
        metavar="AXIS=VALUE",
        help="Keep cases whose AXIS equals VALUE; repeat an axis for any of its values.",
    )(f)
    return click.option(
        "--device", default=None, help="Move every case to this device (cpu, cuda, cuda:1)."
    )(f)


class Seconds(click.ParamType):
    """A positive, finite number of seconds."""

    name = "seconds"

    def convert(self, value, param, ctx):  # type: ignore[no-untyped-def]
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not 0 < number <= MAX_CASE_MS / 1000:
            self.fail(f"{value!r}: expected seconds from 0 to {MAX_CASE_MS // 1000}", param, ctx)
        return number


def open_store(db: str | None, *, create: bool = False):
    from results.store import Store

    return Store.open(db, create=create)


@click.group(
    cls=BenchGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(package_name="bench")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Time declarative benchmark suites, store every sample, report against theory."""
    ctx.obj = {"debug": debug}
