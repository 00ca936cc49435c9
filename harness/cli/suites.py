"""CLI commands that read suites: suites, list (no torch)."""

from __future__ import annotations

import json

import click


def register(cli: click.Group) -> None:
    """Add this module's commands to `cli`."""
    from harness.cli.app import case_selection

    @cli.command("suites")
    def suites_cmd() -> None:
        """List the built-in suites with their case counts."""
        from harness.formatting import table
        from harness.suites import builtin_names, load_suite

        rows = []
        for name in builtin_names():
            s = load_suite(name)
            rows.append([name, str(len(s.cases)), s.description])
        click.echo(table(["suite", "cases", "description"], rows, right={1}))

    @cli.command("list")
    @click.argument("suite")
    @click.option("--json", "as_json", is_flag=True, help="One JSON object per case.")
    @case_selection
    def list_cmd(suite: str, as_json: bool, device: str | None, filters: tuple[str, ...]) -> None:
        """Show the expanded cases of SUITE (a built-in name or a .toml path)."""
        from harness.costmodel import cost
        from harness.formatting import count, table
        from harness.runner import plan
        from harness.suites import load_suite

        s = load_suite(suite)
        cases = plan(s, device=device, filters=list(filters))
        costs = [cost(c.workload, c.params) for c in cases]
        if as_json:  # JSON Lines: one compact object per case
            lines = [
                json.dumps(
                    {
                        "key": c.key,
                        "id": c.id,
                        "workload": c.workload,
                        "params": c.params,
                        "macs": k.macs,
                        "parameters": k.parameters,
                        "bytes": k.bytes,
                        "activation_bytes": k.activation_bytes,
                        "activation_bytes_efficient": k.activation_bytes_efficient,
                        "weight_bytes": k.weight_bytes,
                    },
                    separators=(",", ":"),
                )
                for c, k in zip(cases, costs, strict=True)
            ]
            if lines:  # no blank line when filters leave nothing
                click.echo("\n".join(lines))
            return
        rows = [
            [c.key, c.id, count(k.macs), count(k.parameters), count(k.activation_bytes) + "B"]
            for c, k in zip(cases, costs, strict=True)
        ]
        click.echo(table(["key", "case", "MACs", "params", "activations"], rows, right={2, 3, 4}))
        click.echo(f"{len(cases)} cases in suite '{s.name}' ({s.source})")
