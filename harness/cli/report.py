"""`bench report`: the static HTML site (no torch)."""

from __future__ import annotations

from pathlib import Path

import click


def register(cli: click.Group) -> None:
    from harness.cli.app import db_option, open_store

    @cli.command("report")
    @click.argument("runs", nargs=-1)
    @db_option
    @click.option("--suite", default=None, help="Only runs of this suite.")
    @click.option("--label", default=None, help="Only runs with this label.")
    @click.option(
        "--out",
        "out",
        type=click.Path(file_okay=False),
        default=None,
        help="Site folder. Default: 'report' beside the SQLite database.",
    )
    def report_cmd(
        runs: tuple[str, ...], db: str | None, suite: str | None, label: str | None, out: str | None
    ) -> None:
        """Write the HTML site for RUNS (default: every run in the database)."""
        from reports.site import build_site
        from results.frames import results_frame, runs_frame

        with open_store(db) as store:
            runs_df = runs_frame(store, suite=suite, label=label)
            if runs:
                wanted = {store.resolve_run(ref).id for ref in runs}
                runs_df = runs_df[runs_df["run_id"].isin(wanted)]
            results_df = results_frame(store, [int(i) for i in runs_df["run_id"]])
            marks = _regression_marks(store, runs_df, label)
            folder = Path(out) if out else default_site_dir(store.url)
        index = build_site(runs_df, results_df, folder, regression_marks=marks)
        click.echo(f"wrote {len(runs_df)} run page(s) to {folder}")
        click.echo(index.resolve().as_uri())


def default_site_dir(url: str) -> Path:
    """'report' beside an SQLite file; ./.bench/report for a server database."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        return Path(u.database).resolve().parent / "report"
    return Path.cwd() / ".bench" / "report"


def _regression_marks(store, runs_df, label: str | None):
    """The verdicts of `bench regressions`, per case and recent run, for the trends pages."""
    import pandas as pd

    from results.regressions import find_regressions

    rows = []
    for suite in sorted(set(runs_df["suite"].dropna())):
        for trend in find_regressions(store, suite=suite, label=label).trends:
            if trend.verdict not in ("slower", "faster"):
                continue
            for logical in trend.recent:
                rows += [
                    {"case_key": trend.case_key, "run_id": run.id, "verdict": trend.verdict}
                    for run in logical.runs
                ]
    return pd.DataFrame(rows, columns=["case_key", "run_id", "verdict"]) if rows else None
