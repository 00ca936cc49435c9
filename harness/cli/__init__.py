"""The `bench` command: one module per family of commands, each adding its own.

Kept apart so that modules stay small and commands that never need torch never import it
(`bench --help` does not load torch; a test checks it).
"""

from __future__ import annotations

from harness.cli import compare, fleet, imports, manage, report, run, speedup, store, suites
from harness.cli.app import cli

for _module in (suites, run, store, speedup, report, compare, imports, fleet, manage):
    _module.register(cli)


def main() -> None:
    cli(prog_name="bench")


__all__ = ["cli", "main"]
