"""One page per run: speedup vs theory, roofline, batch scaling, networks, results."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import Any, NamedTuple

from reports import html as h
from reports.cols import Cols
from reports.names import trend_file
from reports.sections import (
    memory_section,
    modes_section,
    networks_section,
    roofline_section,
    scaling_section,
    speedup_section,
)
from reports.tables import results_table
from reports.text import as_int, as_text, fmt_duration, fmt_time, missing, shown_status
from results.records import worst_status


class RunData(NamedTuple):
    """One run's slices of the site-wide frames, as numpy columns."""

    res: Cols  # every result of the run
    ok: Cols  # the timed ones
    pairs: Cols  # find_pairs
    pts: Cols  # roofline_points
    nets: Cols  # network_rows


def environment(run: Mapping[str, Any]) -> dict[str, Any]:
    env = run.get("environment")
    if isinstance(env, str):
        try:
            env = json.loads(env)
        except ValueError:
            return {}
    return env if isinstance(env, dict) else {}


def run_page(
    run: Mapping[str, Any], d: RunData, ctx: Mapping[str, str], *, group_page: str | None = None
) -> str:
    """One run's page. ``group_page``: the page of the run's group (its shards together)."""
    uid12 = as_text(run.get("uid"))[:12] or str(run["run_id"])
    suite = run["suite"]
    env = environment(run)
    counts = _counts(d.res)
    label = as_text(run.get("label"))
    group = as_text(run.get("group"))
    head = (
        f"<h1>{h.esc(suite)} · run {h.esc(uid12)}"
        + (f'<span class="badge">{h.esc(label)}</span>' if label else "")
        + "</h1>"
        + (
            h.message(
                f"Shard {h.esc(as_text(run.get('shard')) or '?')} of group {h.esc(group)}: "
                "pairs whose two sides ran in different shards are on "
                f'<a href="{h.esc(group_page)}">the group\'s page</a>.',
                kind="info",
                raw=True,
            )
            if group and group_page
            else ""
        )
        + h.definition_list(
            [
                ("status", shown_status(run)),
                ("started", fmt_time(run.get("started_at"))),
                ("finished", fmt_time(run.get("finished_at"))),
                ("duration", fmt_duration(run.get("duration_s"))),
                ("cases", _cases_text(counts, run.get("planned"))),
                ("rounds", _rounds_text(run.get("rounds"))),
                ("devices", ", ".join(_devices(d.res))),
                ("GPU", as_text(run.get("gpu_name"))),
                ("CPU", as_text(run.get("cpu_model"))),
                ("torch", as_text(run.get("torch_version"))),
                ("commit", as_text(run.get("commit"))),
                ("fingerprint", as_text(run.get("fingerprint"))),
                ("shard", " ".join(x for x in (group, as_text(run.get("shard"))) if x)),
            ]
        )
        + _warnings(run.get("warnings"))
        + "<details><summary>environment</summary><pre>"
        + h.esc(json.dumps(env, indent=2, sort_keys=True, default=str))
        + "</pre></details>"
    )
    nothing = _nothing(d, counts, running=shown_status(run) == "running")
    return h.page(
        title=f"{suite} run {uid12}",
        site_title=ctx["title"],
        body=head + _sections(d, run_peaks(run), nothing),
        nav=_nav(suite, group_page),
        plotly=True,
        generated=ctx["generated"],
    )


def group_page(name: str, runs: list[Mapping[str, Any]], d: RunData, ctx: Mapping[str, str]) -> str:
    """A group's page: the results of all its runs (the shards of one nightly), paired
    across shards, with the same sections as a run page."""
    suites = sorted({str(r["suite"]) for r in runs})
    counts = _counts(d.res)
    shards = sorted({as_text(r.get("shard")) for r in runs if as_text(r.get("shard"))})
    rows = [
        [
            h.cell(f"run {as_text(r.get('uid'))[:12]}", href=r.get("_file")),
            h.cell(as_text(r.get("shard"))),
            h.cell(shown_status(r), cls=f"status-{shown_status(r)}"),
            h.cell(fmt_time(r.get("started_at"))),
            h.cell(fmt_duration(r.get("duration_s"))),
            h.cell(as_text(r.get("gpu_name")) or as_text(r.get("cpu_model"))),
        ]
        for r in runs
    ]
    worst = worst_status(shown_status(r) for r in runs) or "finished"
    head = (
        f"<h1>group {h.esc(name)}</h1>"
        + h.definition_list(
            [
                ("suite", ", ".join(suites)),
                ("runs", f"{len(runs)}" + (f" (shards {', '.join(shards)})" if shards else "")),
                ("status", worst),
                ("started", fmt_time(min(r["started_at"] for r in runs))),
                ("cases", _cases_text(counts, None)),
                ("devices", ", ".join(_devices(d.res))),
            ]
        )
        + h.table(
            ["run", "shard", "status", "started", "duration", "machine"],
            rows,
            table_id="group-runs",
        )
        + "".join(_warnings(r.get("warnings")) for r in runs)
    )
    nothing = _nothing(d, counts, running=worst == "running")
    peaks: dict[str, Any] = {}
    for r in runs:  # each shard measured its own devices' peaks: the first one per device
        for device, value in (run_peaks(r) or {}).items():
            peaks.setdefault(device, value)
    return h.page(
        title=f"group {name}",
        site_title=ctx["title"],
        body=head + _sections(d, peaks or None, nothing),
        nav=_nav(suites[0], None) if suites else [("index.html", "all runs")],
        plotly=True,
        generated=ctx["generated"],
    )


def _counts(res: Cols) -> dict[str, int]:
    counts: dict[str, int] = {}
    for st in res["status"]:
        counts[st] = counts.get(st, 0) + 1
    return counts


def _devices(res: Cols) -> list[str]:
    return sorted({str(x) for x in res["device"] if not missing(x)})


def _cases_text(counts: dict[str, int], planned: Any) -> str:
    text = (
        f"{counts.get('ok', 0)} ok, {counts.get('failed', 0)} failed, "
        f"{counts.get('skipped', 0)} skipped"
    )
    return text + (f" of {as_int(planned)} planned" if not missing(planned) else "")


def _rounds_text(rounds: Any) -> str:
    n = as_int(rounds) if not missing(rounds) else 1
    if n <= 1:
        return "1 (drift between processes not sampled)"
    return f"{n}, each in fresh worker processes, partners side by side"


def _warnings(warnings: Any) -> str:
    if isinstance(warnings, str):
        with contextlib.suppress(ValueError):
            warnings = json.loads(warnings)
    if not isinstance(warnings, list | tuple) or not warnings:
        return ""
    return "".join(h.message(f"Warning: {w}", kind="warn") for w in warnings)


def _nothing(d: RunData, counts: dict[str, int], *, running: bool) -> str:
    if len(d.res) == 0:
        return "No results yet" + (" (still running)." if running else ".")
    if len(d.ok) == 0:
        return (
            f"No case produced a timing: {counts.get('failed', 0)} failed, "
            f"{counts.get('skipped', 0)} skipped. The table below lists them with their errors."
        )
    return ""


def _sections(d: RunData, peaks: Mapping[str, Any] | None, nothing: str) -> str:
    return "\n".join(
        [
            speedup_section(d.pairs, nothing),
            roofline_section(d.pts, peaks, nothing),
            scaling_section(d.ok, nothing),
            networks_section(d.ok, d.pairs, d.nets, nothing),
            memory_section(d.ok, nothing),
            modes_section(d.ok),
            h.section("results", "Results", results_table(d.res)),
        ]
    )


def _nav(suite: str, group_page: str | None) -> list[tuple[str, str]]:
    nav = [("index.html", "all runs"), (trend_file(suite), f"trends of {suite}")]
    if group_page:
        nav.append((group_page, "group"))
    return nav + [
        ("#speedup", "speedup vs theory"),
        ("#roofline", "roofline"),
        ("#batch", "batch size"),
        ("#networks", "networks"),
        ("#memory", "memory"),
        ("#modes", "modes"),
        ("#results", "results"),
    ]


def run_peaks(run: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The run's measured peaks (older runs kept them in the environment)."""
    peaks = run.get("peaks")
    if isinstance(peaks, str):
        with contextlib.suppress(ValueError):
            peaks = json.loads(peaks)
    if not isinstance(peaks, Mapping):
        peaks = environment(run).get("peaks")
    return peaks if isinstance(peaks, Mapping) else None
