"""CLI commands: compare, regressions (registered by harness.cli; no torch).

Both print text (default), JSON (every case, with its verdict and the reason for
``incomparable`` and ``ambiguous``) or Markdown (a table a CI job posts as a PR comment or
appends to ``$GITHUB_STEP_SUMMARY``). ``slower`` exits 1; ``ambiguous`` alone does not.
"""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from harness.formatting import seconds, table
from results.errors import RunNotFound, UsageError

if TYPE_CHECKING:
    from results.compare import CaseComparison
    from results.records import ResultRecord, RunRecord
    from results.regressions import History, LogicalRun, Trend
    from results.verdicts import Change

VERDICTS = ("slower", "faster", "same", "ambiguous", "incomparable")
REF_HELP = "BASE and HEAD: a run id, unique id prefix, latest, latest:LABEL or group:NAME."
MD_SAME_ROWS = 300  # "same" rows a Markdown summary lists (folded) before it counts the rest


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


def load_side(store, ref: str) -> Side:  # store: results.store.Store
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


def output_format(fmt: str | None, as_json: bool) -> str:
    """--format, with --json as its alias for json."""
    if as_json and fmt not in (None, "json"):
        raise UsageError(f"--json and --format {fmt} disagree; pass one of them")
    return "json" if as_json else (fmt or "text")


def register(cli: click.Group) -> None:
    """Add this module's commands to `cli`."""
    from harness.cli.app import db_option, open_store
    from results.regressions import MIN_BASELINE, RECENT, WINDOW

    threshold_option = click.option(
        "--threshold",
        type=Fraction(),
        default=0.05,
        show_default=True,
        help="Smallest relative change that counts (0.05: 5%).",
    )
    format_option = click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json", "markdown"]),
        default=None,
        help="text (default), json (every case) or markdown (for a PR comment or "
        "$GITHUB_STEP_SUMMARY).",
    )
    json_option = click.option("--json", "as_json", is_flag=True, help="Same as --format json.")

    @cli.command("compare", epilog=REF_HELP)
    @click.argument("base")
    @click.argument("head")
    @db_option
    @threshold_option
    @format_option
    @json_option
    @click.option(
        "--allow-env-mismatch", is_flag=True, help="Compare runs made on different machines."
    )
    def compare_cmd(base, head, db, threshold, fmt, as_json, allow_env_mismatch) -> None:
        """Per-case change from BASE to HEAD; exit 1 when a case got slower.

        Units of evidence per case: the runs of each side when both hold the case in
        several runs, else the rounds when both have several, else the samples of the one
        round (drift between runs is then not measured). Verdicts: slower, faster, same
        (the whole 99% interval beyond or inside the threshold), ambiguous (it straddles
        the threshold: too little evidence), incomparable. Exit 2 when the runs have no
        case in common.
        """
        from results.compare import compare_runs

        fmt = output_format(fmt, as_json)
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
        report = CompareReport(b, h, rows, threshold, _mismatch_message(b, h, allow_env_mismatch))
        click.echo({"json": report.json, "markdown": report.markdown}.get(fmt, report.text)())
        if report.mismatch:
            click.echo(f"bench: {report.mismatch}", err=True)
        if report.no_common:
            raise UsageError(report.no_common)
        if report.counts["slower"]:
            sys.exit(1)

    @cli.command("regressions")
    @db_option
    @click.option("--suite", default=None, help="Only this suite (default: every suite).")
    @click.option("--label", default=None, help="Only runs with this label, e.g. nightly.")
    @click.option(
        "--window",
        type=click.IntRange(min=1),
        default=WINDOW,
        show_default=True,
        help="Runs before the recent ones that form the baseline.",
    )
    @click.option(
        "--recent",
        type=click.IntRange(min=1),
        default=RECENT,
        show_default=True,
        help="Latest runs whose level is compared with the baseline.",
    )
    @click.option(
        "--min-baseline",
        type=click.IntRange(min=2),
        default=MIN_BASELINE,
        show_default=True,
        help="Baseline runs with an ok result a case needs before it is judged.",
    )
    @threshold_option
    @format_option
    @json_option
    def regressions_cmd(
        db, suite, label, window, recent, min_baseline, threshold, fmt, as_json
    ) -> None:
        """Cases whose latest runs moved from their history's level.

        Each run's median is one unit of evidence, whatever its sample count; the
        interval (90%) carries the spread between runs. Runs of a group count as one;
        only runs with the fingerprint of each suite's newest run are used. Exit 1 when a
        regression is found; ambiguous cases are listed and counted, and pass.
        """
        from results.regressions import find_regressions

        fmt = output_format(fmt, as_json)
        with open_store(db) as store:
            history = find_regressions(
                store,
                suite=suite,
                label=label,
                window=window,
                recent=recent,
                threshold=threshold,
                min_baseline=min_baseline,
            )
        report = RegressionsReport(history, threshold)
        click.echo({"json": report.json, "markdown": report.markdown}.get(fmt, report.text)())
        if history.with_verdict("slower"):
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


# -- compare -------------------------------------------------------------------------------


@dataclass
class CompareReport:
    base: Side
    head: Side
    rows: list[CaseComparison]
    threshold: float
    mismatch: str | None

    @property
    def counts(self) -> Counter:
        return Counter(c.verdict for c in self.rows)

    @property
    def no_common(self) -> str | None:
        """Why there is nothing to compare, when base and head share no case."""
        b = {r.case_key for r in self.base.results}
        h = {r.case_key for r in self.head.results}
        if b & h:
            return None
        return (
            f"base and head have no case in common (base: {len(b)} case(s), head: {len(h)}); "
            "nothing was compared: are they runs of the same suite?"
        )

    def reasons(self) -> dict[str, dict[str, int]]:
        from results.verdicts import reason_counts

        return reason_counts((c.verdict, c.reason_kind) for c in self.rows)

    def units(self) -> dict[str, int]:
        """How many cases each kind of unit judged ("3+3 rounds": 12, ...)."""
        return dict(Counter(_unit(c.change) for c in self.rows if c.change))

    def summary_line(self) -> str:
        counts = self.counts
        parts = ", ".join(f"{counts[v]} {v}" for v in VERDICTS)
        return (
            f"{len(self.rows)} cases: {parts} (threshold {self.threshold:.0%}, 99% interval "
            "of the ratio of medians)"
        )

    def notes(self) -> list[str]:
        """Units, flags, and the reasons of ambiguous and incomparable cases, counted."""
        from results.compare import unit_note

        out = []
        kinds = Counter(unit_note(c.change) for c in self.rows if c.change)
        out += [f"{n} case(s) by {what}" for what, n in kinds.most_common()]
        for verdict, kinds_ in self.reasons().items():
            out.append(f"{verdict}: " + ", ".join(f"{n} {k}" for k, n in kinds_.items()))
        noisy = sum(c.noisy for c in self.rows)
        contended = sum(c.contended for c in self.rows)
        if noisy:
            out.append(
                f"{noisy} case(s) noisy (IQR/median > 10%, or rounds that disagree): rerun "
                "on a quiet machine before trusting them"
            )
        if contended:
            out.append(
                f"{contended} case(s) contended: other processes competed for the CPU "
                "while they were timed"
            )
        if self.no_common:
            out.append(self.no_common)
        return out

    def text(self) -> str:
        body = [
            [
                c.case_id,
                seconds(c.base_median),
                seconds(c.head_median),
                _change(c.change),
                _unit(c.change),
                c.verdict + (f": {c.reason}" if c.reason else "") + _flags(c.noisy, c.contended),
            ]
            for c in self.rows
        ]
        headers = ["case", "base", "head", "change [99% CI]", "units", "verdict"]
        out = [f"base: {self.base.describe()}", f"head: {self.head.describe()}", ""]
        out.append(table(headers, body, right={1, 2}) if body else "no cases on either side")
        out += ["", self.summary_line(), *(f"note: {n}" for n in self.notes())]
        return "\n".join(out)

    def json(self) -> str:
        counts = self.counts
        summary: dict[str, Any] = {v: counts[v] for v in VERDICTS}
        summary.update(
            cases=len(self.rows),
            noisy=sum(c.noisy for c in self.rows),
            contended=sum(c.contended for c in self.rows),
            threshold=self.threshold,
            confidence=0.99,
            units=self.units(),
            reasons=self.reasons(),
            environment_mismatch=self.mismatch,
            no_common_case=self.no_common,
        )
        out = {
            "base": self.base.json(),
            "head": self.head.json(),
            "cases": [_case_json(c) for c in self.rows],
            "summary": summary,
        }
        return json.dumps(out, indent=1)

    def markdown(self) -> str:
        counts = self.counts
        lines = [
            f"### bench compare: {'**' if counts['slower'] else ''}"
            + ", ".join(f"{counts[v]} {v}" for v in VERDICTS)
            + ("**" if counts["slower"] else ""),
            "",
            f"- base: {_md(self.base.describe())}",
            f"- head: {_md(self.head.describe())}",
            f"- threshold {self.threshold:.0%}, 99% interval of the ratio of medians",
            *(f"- {_md(n)}" for n in self.notes()),
        ]
        if self.mismatch:
            lines.append(f"- {_md(self.mismatch)}")
        headers = ["case", "base", "head", "change [99% CI]", "units", "verdict"]

        def row(c: CaseComparison) -> list[str]:
            verdict = f"**{c.verdict}**" if c.verdict in ("slower", "faster") else c.verdict
            reason = f": {_md(c.reason)}" if c.reason else ""
            return [
                _code(c.case_id),
                seconds(c.base_median),
                seconds(c.head_median),
                _change(c.change),
                _unit(c.change),
                verdict + reason + _flags(c.noisy, c.contended),
            ]

        order = {"slower": 0, "faster": 1, "ambiguous": 2, "incomparable": 3}
        shown = sorted(
            (c for c in self.rows if c.verdict != "same"), key=lambda c: order[c.verdict]
        )
        same = [c for c in self.rows if c.verdict == "same"]
        if shown:
            lines += ["", *_md_table(headers, [row(c) for c in shown], right={1, 2})]
        lines += _md_folded(f"{len(same)} same", headers, [row(c) for c in same], {1, 2})
        return "\n".join(lines)


def _unit(c: Change | None) -> str:
    if c is None:
        return "-"
    if c.unit == "sample":
        return "1 round"
    return f"{c.n_base}+{c.n_head} {c.unit}s"


def _case_json(c: CaseComparison) -> dict[str, Any]:
    keys = ("case_key", "case_id", "verdict", "reason", "reason_kind", "base_median")
    keys += ("head_median", "noisy", "contended")
    return {**{k: getattr(c, k) for k in keys}, **_change_json(c.change)}


# -- regressions ---------------------------------------------------------------------------


@dataclass
class RegressionsReport:
    history: History
    threshold: float

    def settings(self) -> str:
        h = self.history
        return (
            f"window {h.window}, recent {h.recent}, min baseline {h.min_baseline}, threshold "
            f"{self.threshold:.0%}, {h.confidence:.0%} interval over run medians"
        )

    def summary_line(self) -> str:
        trends = self.history.trends
        c = Counter(t.verdict for t in trends)
        return (
            f"{c['slower']} regression(s), {c['faster']} improvement(s), {c['ambiguous']} "
            f"ambiguous, {c['incomparable']} incomparable, {c['same']} same in {len(trends)} "
            f"case(s) ({self.settings()})"
        )

    def reasons(self) -> dict[str, dict[str, int]]:
        from results.verdicts import reason_counts

        return reason_counts((t.verdict, t.reason_kind) for t in self.history.trends)

    def reason_lines(self) -> list[str]:
        return [
            f"{verdict}: " + ", ".join(f"{n} {kind}" for kind, n in kinds.items())
            for verdict, kinds in self.reasons().items()
        ]

    def by_verdict(self, *verdicts: str) -> list[Trend]:
        return [t for v in verdicts for t in self.history.with_verdict(v)]  # type: ignore[arg-type]

    def text(self) -> str:
        conf = self.history.confidence
        out = [f"note: {n}" for n in self.history.notes]
        if flagged := self.by_verdict("slower", "faster"):
            out += [table(_flagged_headers(conf), _flagged_rows(flagged, False), right={5}), ""]
        if ambiguous := self.by_verdict("ambiguous"):
            out += ["ambiguous (too little evidence for a verdict; they pass):"]
            out += [table(_ambiguous_headers(conf), _ambiguous_rows(ambiguous, False)), ""]
        out.append(self.summary_line())
        out += [f"note: {line}" for line in self.reason_lines()]
        return "\n".join(out)

    def json(self) -> str:
        trends = self.history.trends
        c = Counter(t.verdict for t in trends)
        h = self.history
        summary: dict[str, Any] = {v: c[v] for v in VERDICTS}
        summary.update(
            cases=len(trends),
            threshold=self.threshold,
            window=h.window,
            recent=h.recent,
            min_baseline=h.min_baseline,
            confidence=h.confidence,
            unit="run",
            reasons=self.reasons(),
            noisy=sum(bool(t.noisy_runs) for t in trends),
            contended=sum(bool(t.contended_runs) for t in trends),
        )
        out = {
            "regressions": [_trend_json(t) for t in self.by_verdict("slower")],
            "improvements": [_trend_json(t) for t in self.by_verdict("faster")],
            "cases": [_trend_json(t) for t in trends],
            "summary": summary,
            "notes": h.notes,
        }
        return json.dumps(out, indent=1)

    def markdown(self) -> str:
        c = Counter(t.verdict for t in self.history.trends)
        title = f"{c['slower']} regression(s), {c['faster']} improvement(s)"
        lines = [
            f"### bench regressions: {'**' + title + '**' if c['slower'] else title}",
            "",
            f"- {_md(self.summary_line())}",
            *(f"- {_md(line)}" for line in self.reason_lines()),
            *(f"- note: {_md(n)}" for n in self.history.notes),
        ]
        conf = self.history.confidence
        if flagged := self.by_verdict("slower", "faster"):
            lines += ["", *_md_table(_flagged_headers(conf), _flagged_rows(flagged, True), {5})]
        if ambiguous := self.by_verdict("ambiguous"):
            rows = _ambiguous_rows(ambiguous, True)
            lines += _md_folded(
                f"{len(ambiguous)} ambiguous", _ambiguous_headers(conf), rows, set()
            )
        return "\n".join(lines)


def _flagged_headers(confidence: float) -> list[str]:
    ci = f"change [{confidence:.0%} CI]"
    return ["suite", "case", "verdict", ci, "each recent", "runs", "changed at", "flags"]


def _ambiguous_headers(confidence: float) -> list[str]:
    return ["suite", "case", f"change [{confidence:.0%} CI]", "why", "flags"]


def _flagged_rows(trends: list[Trend], md: bool) -> list[list[str]]:
    esc = _md if md else str
    rows = []
    for t in trends:
        c = t.change
        rows.append(
            [
                esc(t.suite),
                _code(t.case_id) if md else t.case_id,
                f"**{t.verdict}**" if md else t.verdict,
                _change(c),
                ", ".join(_pct(r) for r in t.recent_ratios),
                f"{c.n_base}+{c.n_head}" if c else "-",
                esc(_changed_at(t)),
                esc(_run_flags(t)) or "-",
            ]
        )
    return rows


def _changed_at(t: Trend) -> str:
    if t.changed_at is None:
        return "-"
    step = f" ({_pct(t.step_ratio)})" if t.step_ratio else ""
    return f"{t.changed_at.name} {t.changed_at.started_at:%Y-%m-%d}{step}"


def _ambiguous_rows(trends: list[Trend], md: bool) -> list[list[str]]:
    esc = _md if md else str
    return [
        [
            esc(t.suite),
            _code(t.case_id) if md else t.case_id,
            _change(t.change),
            esc(t.reason or ""),
            esc(_run_flags(t)) or "-",
        ]
        for t in trends
    ]


def _run_flags(t: Trend) -> str:
    """Runs (baseline or recent) where the case was noisy or contended."""
    out = []
    if t.noisy_runs:
        out.append(f"noisy in {', '.join(t.noisy_runs)}")
    if t.contended_runs:
        out.append(f"contended in {', '.join(t.contended_runs)}")
    return "; ".join(out)


def _runs_json(runs: Sequence[LogicalRun]) -> list[dict[str, Any]]:
    return [_run_json(lr) for lr in runs]


def _run_json(lr: LogicalRun) -> dict[str, Any]:
    return dict(
        name=lr.name, ids=list(lr.ids), uids=list(lr.uids), started_at=lr.started_at.isoformat()
    )


def _trend_json(t: Trend) -> dict[str, Any]:
    return {
        "suite": t.suite,
        "case_key": t.case_key,
        "case_id": t.case_id,
        "verdict": t.verdict,
        "reason": t.reason,
        "reason_kind": t.reason_kind,
        **_change_json(t.change),
        "recent_ratios": list(t.recent_ratios),
        "baseline_runs": _runs_json(t.baseline),
        "recent_runs": _runs_json(t.recent),
        "changed_at": _run_json(t.changed_at) if t.changed_at else None,
        "step_ratio": t.step_ratio,
        "noisy": bool(t.noisy_runs),
        "contended": bool(t.contended_runs),
        "noisy_runs": list(t.noisy_runs),
        "contended_runs": list(t.contended_runs),
    }


# -- shared --------------------------------------------------------------------------------


def _pct(x: float) -> str:
    return f"{100 * (x - 1):+.1f}%"


def _change(c: Change | None) -> str:
    if c is None:
        return "-"
    return f"{_pct(c.ratio)} [{_pct(c.ci_low)}, {_pct(c.ci_high)}]"


def _flags(noisy: bool, contended: bool) -> str:
    return (" (noisy)" if noisy else "") + (" (contended)" if contended else "")


def _change_json(c: Change | None) -> dict[str, Any]:
    keys = ("ratio", "ci_low", "ci_high", "significant", "unit", "n_base", "n_head")
    keys += ("confidence", "spread")
    return {k: getattr(c, k) if c else None for k in keys}


def _md(text: str) -> str:
    """Text safe in a Markdown table cell or list item: no table breaks, no HTML."""
    for a, b in (("\\", "\\\\"), ("|", "\\|"), ("<", "&lt;"), (">", "&gt;"), ("\n", " ")):
        text = text.replace(a, b)
    for ch in "*_`[]":
        text = text.replace(ch, "\\" + ch)
    return text


def _code(text: str) -> str:
    """A case id as inline code: brackets and underscores stay literal."""
    return "`" + text.replace("`", "'").replace("|", "\\|").replace("\n", " ") + "`"


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> list[str]:
    rule = ["---:" if i in right else "---" for i in range(len(headers))]
    return ["| " + " | ".join(r) + " |" for r in (headers, rule, *rows)]


def _md_folded(
    title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]
) -> list[str]:
    """A folded table (<details>), at most MD_SAME_ROWS rows: the step summary stays small."""
    if not rows:
        return []
    more = len(rows) - MD_SAME_ROWS
    out = ["", f"<details><summary>{title}</summary>", ""]
    out += _md_table(headers, rows[:MD_SAME_ROWS], right)
    if more > 0:
        out += ["", f"... and {more} more (--format json lists every case)"]
    return [*out, "", "</details>"]
