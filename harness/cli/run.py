"""CLI command: run (and --resume). Imports torch only in worker processes."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import click

from harness.cli.app import Seconds, case_selection, db_option, open_store
from harness.timing_config import DEFAULT_ROUNDS, MAX_ROUNDS
from harness.worker import ISOLATIONS


def register(cli: click.Group) -> None:
    """Add this module's commands to `cli`."""
    cli.add_command(run_cmd)


@click.command("run")
@click.argument("suite", required=False)
@db_option
@case_selection
@click.option("--label", default=None, help="A label for the run, e.g. nightly or a branch.")
@click.option(
    "--shard",
    default=None,
    metavar="I/N",
    help="Run only the I-th of N disjoint parts of the cases (chosen by case key).",
)
@click.option(
    "--group",
    default=None,
    help="Name shared by the shards of one logical run (compare them as group:NAME).",
)
@click.option(
    "--resume",
    default=None,
    metavar="RUN",
    help="Run the cases RUN lacks (after Ctrl-C or a killed job), adding to it. No SUITE.",
)
@click.option(
    "--force",
    is_flag=True,
    help="With --resume: go on although the suite changed, the machine differs or the "
    "run looks alive.",
)
@click.option(
    "--isolation",
    type=click.Choice(ISOLATIONS),
    default="process",
    show_default=True,
    help="process: cases run in a worker process per device, so a case that crashes is "
    "a failed row; inline: in this process (a crash ends the run).",
)
@click.option("--dry-run", is_flag=True, help="Validate and list the cases; time nothing.")
@click.option(
    "--peaks/--no-peaks",
    default=True,
    help="Measure the devices' peak MAC/s and bandwidth for the roofline.",
)
@click.option(
    "--rounds",
    type=click.IntRange(1, MAX_ROUNDS),
    default=None,
    help="Run the plan N times, each round in fresh worker processes and its own "
    "shuffled order (default: the suite's [timing] rounds, else "
    f"{DEFAULT_ROUNDS}).",
)
@click.option(
    "--min-time",
    type=Seconds(),
    default=None,
    metavar="S",
    help="Sample each case at least S seconds per round (overrides the suite).",
)
@click.option(
    "--max-time",
    type=Seconds(),
    default=None,
    metavar="S",
    help="Stop sampling a case after S seconds per round if its target is not met.",
)
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=None, hidden=True)
def run_cmd(
    suite: str | None,
    db: str | None,
    device: str | None,
    filters: tuple[str, ...],
    label: str | None,
    shard: str | None,
    group: str | None,
    resume: str | None,
    force: bool,
    isolation: str,
    dry_run: bool,
    peaks: bool,
    rounds: int | None,
    min_time: float | None,
    max_time: float | None,
    seed: int | None,
) -> None:
    """Time every case of SUITE (a built-in name or a .toml path) and store the results.

    Each case is committed as it finishes. With several rounds, every round runs the
    cases again in fresh worker processes, in a new shuffled order (speedup partners
    side by side); a case's median is the median of its rounds' medians.
    """
    from harness.runner import PlanSpec, Shard, plan, run_suite, suite_source, with_timing
    from harness.suites import load_suite
    from results.errors import UsageError

    if resume is not None:
        given = {"SUITE": suite, "--device": device, "--filter": filters, "--label": label}
        given.update({"--shard": shard, "--group": group, "--rounds": rounds, "--seed": seed})
        given.update({"--min-time": min_time, "--max-time": max_time})
        if extra := [name for name, value in given.items() if value]:
            raise UsageError(
                f"--resume plans the run as it was first planned; drop {', '.join(extra)}"
            )
        _resume(resume, db, force=force, isolation=isolation, dry_run=dry_run)
        return
    if suite is None:
        raise UsageError("give a SUITE to run, or --resume RUN")
    from results.limits import check_option_name

    check_option_name("--label", label)
    check_option_name("--group", group)
    if force:
        raise UsageError("--force goes with --resume")
    timing = {
        key: seconds * 1000
        for key, seconds in (("min_time_ms", min_time), ("max_time_ms", max_time))
        if seconds is not None
    }
    spec = PlanSpec(
        source=suite_source(suite),
        device=device,
        filters=filters,
        shard=Shard.parse(shard) if shard is not None else None,
        timing=timing or None,
    )
    loaded = load_suite(suite)
    # Shards are chosen from the suite's own [timing]: every runner of a group, and any
    # --resume later, choose alike whatever --min-time/--max-time each was given.
    cases = plan(loaded, device=device, filters=list(filters), shard=spec.shard)
    s = with_timing(loaded, spec.timing)
    if dry_run:
        _list_dry(cases)
        return
    store = open_store(db, create=True)
    try:
        n_rounds = rounds or s.timing.round_count
        outcome = _with_progress(
            s.name if n_rounds == 1 else f"{s.name} ({n_rounds} rounds)",
            len(cases) * n_rounds,
            lambda progress: run_suite(
                s,
                cases,
                store,
                label=label,
                group=group,
                spec=spec,
                peaks=peaks,
                progress=progress,
                isolation=isolation,
                rounds=rounds,
                seed=seed,
                notify=notice,
            ),
        )
    finally:
        store.close()
    _report(outcome, store.shown_url)


def notice(message: str) -> None:
    """What the run wants the user to know as it happens (on stderr, beside progress)."""
    click.echo(f"\nbench: {message}", err=True)


def _resume(ref: str, db: str | None, *, force: bool, isolation: str, dry_run: bool) -> None:
    from harness.runner import plan_resume, resume_run

    store = open_store(db)
    try:
        todo = plan_resume(store, ref, force=force)
        if not todo.cases:
            click.echo(f"run {todo.run.uid[:8]}: every case has a result; nothing to run", err=True)
        if dry_run:
            _list_dry(todo.cases)
            return
        outcome = _with_progress(
            f"{todo.suite.name} (resuming {todo.run.uid[:8]})",
            sum(todo.run.rounds - todo.done.get(c.key, 0) for c in todo.cases),
            lambda progress: resume_run(
                todo, store, force=force, progress=progress, isolation=isolation, notify=notice
            ),
        )
    finally:
        store.close()
    _report(outcome, store.shown_url)


def _list_dry(cases) -> None:
    for c in cases:
        click.echo(f"{c.key}  {c.id}")
    click.echo(f"{len(cases)} cases would run; nothing was timed or written.")


def _report(outcome, url: str) -> None:
    """The cases run now, then the whole run's counts; exit 1 if any case of it failed."""
    from harness.formatting import results_table

    if outcome.results:
        click.echo(results_table(outcome.results))
    run = outcome.run
    counts = run.counts
    ok, failed, skipped = (counts.get(k, 0) for k in ("ok", "failed", "skipped"))
    rounds = f" in {run.rounds} rounds" if run.rounds > 1 else ""
    click.echo(
        f"\nrun {run.uid[:8]} (id {run.id}): {ok} ok, {failed} failed, "
        f"{skipped} skipped{rounds}; stored in {url}"
    )
    for warning in run.warnings:
        click.echo(f"bench: warning: {warning}", err=True)
    if failed:
        sys.exit(1)


def _with_progress(title: str, total: int, work: Callable[[Any], Any]) -> Any:
    """Call ``work(progress)``, showing progress on stderr.

    On a terminal: a bar of ``total`` case-rounds with the case in flight. Elsewhere (CI
    logs): one line per finished case-round with its median, spread and flags.
    """
    start = time.monotonic()
    if not sys.stderr.isatty():
        click.echo(f"{title}: {total} case-round(s)", err=True)

        def log(i: int, n: int, case, record, round_no: int) -> None:
            if record is not None:
                elapsed = time.monotonic() - start
                click.echo(
                    f"[{i}/{n}] {progress_line(case, record, round_no)}  [{elapsed:.0f}s]", err=True
                )

        return work(log)
    current = {"text": ""}

    def show(_item: object) -> str:
        return current["text"]

    with click.progressbar(
        length=total,
        label=title,
        file=sys.stderr,
        item_show_func=show,
        show_eta=False,
        show_pos=True,
    ) as bar:

        def progress(i: int, n: int, case, record, round_no: int) -> None:
            elapsed = time.monotonic() - start
            current["text"] = f"round {round_no}: {case.id}  [{elapsed:.0f}s]"
            if record is not None:
                bar.length = n  # a failed case skips its later rounds
                bar.update(1)
            else:
                bar.render_progress()

        return work(progress)


def progress_line(case, record, round_no: int) -> str:
    """One finished case-round: where it stands, as a CI log shows it."""
    from harness.formatting import seconds

    what = f"round {round_no} {case.id}: {record.status}"
    s = record.stats
    if s is not None and record.status == "ok":
        what += f" {seconds(s.median)} (IQR {100 * s.rel_iqr:.1f}%)"
        if record.rounds > 1:
            what += f", rounds ±{100 * (s.round_spread or 0):.1f}%"
        if s.noisy:
            what += " noisy"
    elif record.error:
        what += f": {record.error.splitlines()[0][:100]}"
    if record.contended:
        what += f" CONTENDED (others used {record.others_cpu or 0:.1f} cores)"
    return what
