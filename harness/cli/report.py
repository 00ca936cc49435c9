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
        """Write the HTML site for RUNS (default: every run in the database).

        RUNS: ids, uid prefixes, latest, latest:LABEL or group:NAME. A group also gets a
        page of its own, pairing cases across its shards.
        """
        from reports.site import build_site
        from results.errors import UsageError
        from results.frames import results_frame, runs_frame

        with open_store(db) as store:
            runs_df = runs_frame(store, suite=suite, label=label)
            if runs:
                wanted = {r.id for ref in runs for r in store.resolve_runs(ref)}
                runs_df = runs_df[runs_df["run_id"].isin(wanted)]
            if runs_df.empty:
                which = [f"{k} {v!r}" for k, v in (("suite", suite), ("label", label)) if v]
                chosen = f" among {' '.join(runs)}" if runs else ""
                raise UsageError(
                    f"no run{' with ' + ' and '.join(which) if which else ''}{chosen} in "
                    f"{store.shown_url}: nothing to report (`bench runs` lists them)"
                )
            results_df = results_frame(store, [int(i) for i in runs_df["run_id"]])
            marks = _regression_marks(store, runs_df, label)
            folder = Path(out) if out else default_site_dir(store.url)
        try:
            index = build_site(runs_df, results_df, folder, regression_marks=marks)
        except OSError as e:  # a full disk, a folder gone: each page is replaced whole or not
            raise UsageError(f"cannot write the report to {folder}: {e.strerror or e}") from None
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
    """The verdicts of `bench regressions` for the trends pages: each flagged case's recent
    runs (kind "recent") and the first run at its new level (kind "change")."""
    import pandas as pd

    from results.regressions import find_regressions

    columns = ["case_key", "run_id", "verdict", "kind"]
    rows = []
    for suite in sorted(set(runs_df["suite"].dropna())):
        for trend in find_regressions(store, suite=suite, label=label).trends:
            if trend.verdict not in ("slower", "faster"):
                continue
            marked = [(lr, "recent") for lr in trend.recent]
            if trend.changed_at is not None:
                marked.append((trend.changed_at, "change"))
            rows += [
                dict(zip(columns, (trend.case_key, run.id, trend.verdict, kind), strict=True))
                for logical, kind in marked
                for run in logical.runs
            ]
    return pd.DataFrame(rows, columns=columns) if rows else None
