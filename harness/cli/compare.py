"""CLI commands: compare, regressions (registered by harness.cli; no torch)."""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from harness.formatting import seconds, table
from results.errors import RunNotFound

if TYPE_CHECKING:
    from results.compare import CaseComparison, Change
    from results.records import ResultRecord, RunRecord
    from results.regressions import LogicalRun, Trend
    from results.store import Store

VERDICTS = ("slower", "faster", "same", "incomparable")
REF_HELP = "BASE and HEAD: a run id, unique id prefix, latest, latest:LABEL or group:NAME."


@dataclass
class Side:
    """BASE or HEAD: one run, or every run of a group, with their results merged."""

    ref: str
    runs: list[RunRecord]
    results: list[ResultRecord]

    @property
    def fingerprint(self) -> str:
        # The shards of a group on two kinds of machine compare with neither kind.
        return "+".join(sorted({r.fingerprint for r in self.runs}))

    @property
    def environment(self) -> dict[str, Any]:
        return self.runs[0].environment

    def describe(self) -> str:
        first = self.runs[0]
        if self.ref.startswith("group:"):
            what = f"group {first.group} ({len(self.runs)} runs)"
        else:
            what = f"run {first.uid[:8]} (id {first.id})"
        return f"{what}, suite {first.suite}, started {first.started_at:%Y-%m-%d %H:%M} UTC"

    def json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "runs": [{"id": r.id, "uid": r.uid} for r in self.runs],
            "suite": self.runs[0].suite,
            "label": self.runs[0].label,
            "fingerprint": self.fingerprint,
        }


def load_side(store: Store, ref: str) -> Side:
    ref = ref.strip()
    if ref.startswith("group:"):
        name = ref.partition(":")[2]
        runs = sorted(store.runs(group=name), key=lambda r: r.id)
        if not name or not runs:
            raise RunNotFound(f"no run in group {name!r}")
    else:
        runs = [store.resolve_run(ref)]
    return Side(ref, runs, [x for r in runs for x in store.results(r.id)])


class Fraction(click.FloatRange):
    """A threshold in [0, 1); NaN would compare false everywhere and silence every verdict."""

    def __init__(self) -> None:
        super().__init__(0, 1, max_open=True)

    def convert(self, value, param, ctx):  # type: ignore[no-untyped-def]
        number = super().convert(value, param, ctx)
        if math.isnan(number):
            self.fail(f"{value!r} is not a number between 0 and 1", param, ctx)
        return number


def register(cli: click.Group) -> None:
    """Add this module's commands to `cli`."""
    from harness.cli.app import db_option, open_store

    threshold_option = click.option(
        "--threshold",
        type=Fraction(),
        default=0.05,
        show_default=True,
        help="Smallest relative change that counts (0.05: 5%).",
    )

    @cli.command("compare", epilog=REF_HELP)
    @click.argument("base")
    @click.argument("head")
    @db_option
    @threshold_option
    @click.option("--json", "as_json", is_flag=True, help="One object per case, and a summary.")
    @click.option(
        "--allow-env-mismatch", is_flag=True, help="Compare runs made on different machines."
    )
    def compare_cmd(base, head, db, threshold, as_json, allow_env_mismatch) -> None:
        """Per-case change from BASE to HEAD; exit 1 when a case got slower."""
        from results.compare import compare_runs

        with open_store(db) as store:
            b, h = load_side(store, base), load_side(store, head)
        rows = compare_runs(
            b.results,
            h.results,
            base_fingerprint=b.fingerprint,
            head_fingerprint=h.fingerprint,
            threshold=threshold,
            allow_env_mismatch=allow_env_mismatch,
        )
        mismatch = _mismatch_message(b, h, allow_env_mismatch)
        counts = Counter(c.verdict for c in rows)
        noisy = sum(c.noisy for c in rows)
        if as_json:
            summary = {v: counts[v] for v in VERDICTS}
            summary.update(cases=len(rows), noisy=noisy, threshold=threshold)
            out = {"base": b.json(), "head": h.json(), "cases": [_case_json(c) for c in rows]}
            summary["environment_mismatch"] = mismatch
            click.echo(json.dumps({**out, "summary": summary}, indent=1))
        else:
            click.echo(f"base: {b.describe()}\nhead: {h.describe()}\n")
            click.echo(_compare_table(rows) if rows else "no cases on either side")
            click.echo("\n" + _summary(counts, len(rows), threshold))
            if noisy:
                click.echo(
                    f"{noisy} case(s) noisy (IQR/median > 10%): a disturbed machine shifts whole "
                    "runs, which no interval sees; rerun on a quiet machine before trusting them"
                )
        if mismatch:
            click.echo(f"bench: {mismatch}", err=True)
        if counts["slower"]:
            sys.exit(1)

    @cli.command("regressions")
    @db_option
    @click.option("--suite", default=None, help="Only this suite (default: every suite).")
    @click.option("--label", default=None, help="Only runs with this label, e.g. nightly.")
    @click.option(
        "--window",
        type=click.IntRange(min=1),
        default=5,
        show_default=True,
        help="Runs before the recent ones that form the baseline.",
    )
    @click.option(
        "--recent",
        type=click.IntRange(min=1),
        default=2,
        show_default=True,
        help="Latest runs that must all differ from the baseline.",
    )
    @threshold_option
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    def regressions_cmd(db, suite, label, window, recent, threshold, as_json) -> None:
        """Cases whose latest runs all got slower (or faster) than their history.

        Runs of a group count as one; only runs with the fingerprint of each suite's
        newest run are used. Exit 1 when a regression is found.
        """
        from results.regressions import find_regressions

        with open_store(db) as store:
            history = find_regressions(
                store,
                suite=suite,
                label=label,
                window=window,
                recent=recent,
                threshold=threshold,
            )
        slower, faster = history.with_verdict("slower"), history.with_verdict("faster")
        counts = Counter(t.verdict for t in history.trends)
        if as_json:
            summary = {v: counts[v] for v in VERDICTS}
            summary.update(cases=len(history.trends), threshold=threshold)
            out = {
                "regressions": [_trend_json(t) for t in slower],
                "improvements": [_trend_json(t) for t in faster],
                "summary": summary,
                "notes": history.notes,
            }
            click.echo(json.dumps(out, indent=1))
        else:
            for note in history.notes:
                click.echo(f"note: {note}")
            if slower or faster:
                click.echo(_trend_table(slower + faster))
            click.echo(
                f"{len(slower)} regression(s), {len(faster)} improvement(s) in "
                f"{len(history.trends)} case(s); {counts['incomparable']} incomparable "
                f"(window {window}, recent {recent}, threshold {threshold:.0%})"
            )
        if slower:
            sys.exit(1)


def _mismatch_message(b: Side, h: Side, allowed: bool) -> str | None:
    if b.fingerprint == h.fingerprint:
        return None
    from results.compare import environment_diff
    from results.fingerprint import COMPARABLE

    diff = environment_diff(b.environment, h.environment, COMPARABLE)
    keys = {k for k, _, _ in diff}
    others = [k for k, _, _ in environment_diff(b.environment, h.environment) if k not in keys]
    what = "; ".join(f"{k}: {x!r} vs {y!r}" for k, x, y in diff) or "no comparable key differs"
    also = f" (also differ: {', '.join(others)})" if others else ""
    head = (
        f"base and head ran on different machines: fingerprint {b.fingerprint} vs {h.fingerprint}"
    )
    tail = (
        "Compared anyway (--allow-env-mismatch)"
        if allowed
        else "Every case is incomparable; pass --allow-env-mismatch to compare anyway"
    )
    return f"{head}; {what}{also}. {tail}"


def _pct(x: float) -> str:
    return f"{100 * (x - 1):+.1f}%"


def _change(c: Change | None) -> str:
    if c is None:
        return "-"
    return f"{_pct(c.ratio)} [{_pct(c.ci_low)}, {_pct(c.ci_high)}]"


def _compare_table(rows: list[CaseComparison]) -> str:
    body = [
        [
            c.case_id,
            seconds(c.base_median),
            seconds(c.head_median),
            _change(c.change),
            c.verdict + (f": {c.reason}" if c.reason else "") + (" (noisy)" if c.noisy else ""),
        ]
        for c in rows
    ]
    return table(["case", "base", "head", "change [99% CI]", "verdict"], body, right={1, 2})


def _summary(counts: Counter, n: int, threshold: float) -> str:
    parts = ", ".join(f"{counts[v]} {v}" for v in VERDICTS)
    return f"{n} cases: {parts} (threshold {threshold:.0%}, 99% bootstrap CI of the median ratio)"


def _trend_table(trends: list[Trend]) -> str:
    body = [
        [
            t.suite,
            t.case_id,
            t.verdict,
            _change(t.change),
            ", ".join(_pct(c.ratio) for c in t.recent_changes),
            ", ".join(lr.name for lr in t.recent),
            str(len(t.baseline)),
        ]
        for t in trends
    ]
    headers = ["suite", "case", "verdict", "change [99% CI]", "each recent", "recent runs", "base"]
    return table(headers, body, right={6})


def _change_json(c: Change | None) -> dict[str, Any]:
    keys = ("ratio", "ci_low", "ci_high", "significant")
    return {k: getattr(c, k) if c else None for k in keys}


def _case_json(c: CaseComparison) -> dict[str, Any]:
    keys = ("case_key", "case_id", "verdict", "reason", "base_median", "head_median", "noisy")
    return {**{k: getattr(c, k) for k in keys}, **_change_json(c.change)}


def _runs_json(runs: tuple[LogicalRun, ...]) -> list[dict[str, Any]]:
    return [
        dict(
            name=lr.name, ids=list(lr.ids), uids=list(lr.uids), started_at=lr.started_at.isoformat()
        )
        for lr in runs
    ]


def _trend_json(t: Trend) -> dict[str, Any]:
    return {
        "suite": t.suite,
        "case_key": t.case_key,
        "case_id": t.case_id,
        "verdict": t.verdict,
        **_change_json(t.change),
        "recent_ratios": [c.ratio for c in t.recent_changes],
        "baseline_runs": _runs_json(t.baseline),
        "recent_runs": _runs_json(t.recent),
    }
