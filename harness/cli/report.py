"""`bench report`: the static HTML site (no torch)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    import pandas as pd

    from results.store import Store


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
    @click.option(
        "--rebuild",
        is_flag=True,
        help="Draw every page again, also those of finished runs the site already has.",
    )
    def report_cmd(
        runs: tuple[str, ...],
        db: str | None,
        suite: str | None,
        label: str | None,
        out: str | None,
        rebuild: bool,
    ) -> None:
        """Write the HTML site for RUNS (default: every run in the database).

        RUNS: ids, uid prefixes, latest, latest:LABEL or group:NAME. A group also gets a
        page of its own, pairing cases across its shards. The site is updated in place:
        pages of finished runs are drawn once and kept while their results stay the same
        (--rebuild draws them again); the index and the trends are drawn every time.
        """
        with open_store(db) as store:
            folder = Path(out) if out else default_site_dir(store.url)
            index, n = write_report(
                store, folder, refs=runs, suite=suite, label=label, rebuild=rebuild
            )
        click.echo(f"wrote the report of {n} run(s) to {folder}")
        click.echo(index.resolve().as_uri())


def write_report(
    store: Store,
    folder: Path,
    *,
    refs: Sequence[str] = (),
    suite: str | None = None,
    label: str | None = None,
    rebuild: bool = False,
) -> tuple[Path, int]:
    """Build the site of the chosen runs into ``folder``: (index.html, number of runs).

    The runs frame is read whole (one row a run); results are read as the site needs them
    (``StoreSource``): those of runs whose pages are drawn, in batches, and for the trends
    only medians and quartiles.
    """
    from reports.site import build_site
    from results.errors import UsageError
    from results.frames import runs_frame

    runs_df = runs_frame(store, suite=suite, label=label)
    if refs:
        wanted = {r.id for ref in refs for r in store.resolve_runs(ref)}
        runs_df = runs_df[runs_df["run_id"].isin(wanted)]
    if runs_df.empty:
        which = [f"{k} {v!r}" for k, v in (("suite", suite), ("label", label)) if v]
        chosen = f" among {' '.join(refs)}" if refs else ""
        raise UsageError(
            f"no run{' with ' + ' and '.join(which) if which else ''}{chosen} in "
            f"{store.shown_url}: nothing to report (`bench runs` lists them)"
        )
    marks = _regression_marks(store, runs_df, label)
    try:
        index = build_site(
            runs_df, StoreSource(store), folder, regression_marks=marks, rebuild=rebuild
        )
    except OSError as e:  # a full disk, a folder gone: each page is replaced whole or not
        raise UsageError(f"cannot write the report to {folder}: {e.strerror or e}") from None
    return index, len(runs_df)


class StoreSource:
    """``reports.sources.ResultSource`` over a store: each read is one query of
    ``results.frames`` that selects only what the site draws."""

    def __init__(self, store: Store):
        self.store = store

    def results(self, run_ids: Sequence[int], columns: Sequence[str]) -> pd.DataFrame:
        from results.frames import results_frame
        from results.schema import RESULT_COLUMNS

        stored = [c for c in columns if c in RESULT_COLUMNS]
        return results_frame(self.store, list(run_ids), columns=stored)

    def trend_points(self, run_ids: Sequence[int]) -> pd.DataFrame:
        from results.frames import trend_frame

        return trend_frame(self.store, run_ids)

    def cases(self, run_ids: Sequence[int]) -> pd.DataFrame:
        from results.frames import case_frame

        return case_frame(self.store, run_ids)

    def signatures(self, run_ids: Sequence[int]) -> Mapping[int, str]:
        from results.frames import run_signatures

        return run_signatures(self.store, run_ids)


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
