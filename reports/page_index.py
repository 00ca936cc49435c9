"""index.html: the suites (with their trends pages), the groups of runs, and every run,
grouped by suite, newest first."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from reports import html as h
from reports.names import trend_file
from reports.text import (
    as_int,
    as_text,
    fmt_duration,
    fmt_time,
    missing,
    plural,
    shown_status,
    sort_time,
)
from results.records import worst_status


def hardware(run: Mapping[str, Any], devices: list[str]) -> str:
    gpu, cpu = as_text(run.get("gpu_name")), as_text(run.get("cpu_model"))
    if gpu and any(not d.startswith("cpu") for d in devices):
        return f"{gpu} / {cpu}" if cpu else gpu
    return cpu or gpu


RUN_HEADERS = [
    "started",
    "label",
    "status",
    "duration",
    "rounds",
    "devices",
    "GPU / CPU",
    "torch",
    "ok",
    "failed",
    "skipped",
    "group",
    "commit",
    "page",
]


def index_page(
    runs: pd.DataFrame,
    devices: dict[Any, list[str]],
    suites: list[str],
    ctx: Mapping[str, str],
    *,
    groups: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    if runs.empty:
        body = "<h1>Benchmark runs</h1>" + h.message(
            "No runs in the database yet. Record one with `bench run SUITE` "
            "(for example `bench run smoke`), then run `bench report` again."
        )
        return h.page(title="runs", site_title=ctx["title"], body=body, generated=ctx["generated"])
    groups = groups or {}
    sections = [_suites_section(runs, suites)]
    if groups:
        sections.append(_groups_section(groups))
    for suite in suites:
        suite_runs = runs[runs["suite"] == suite]
        rows = [
            _run_row(run, devices.get(run["run_id"], []), groups)
            for run in suite_runs.to_dict("records")
        ]
        link = f'<p><a href="{h.esc(trend_file(suite))}">trends of {h.esc(suite)}</a></p>'
        sections.append(
            h.section(
                f"runs-{suites.index(suite)}",
                f"Runs of {suite}",
                link
                + h.table(
                    RUN_HEADERS,
                    rows,
                    table_id=f"runs-table-{suites.index(suite)}",
                    numeric=("duration", "rounds", "ok", "failed", "skipped"),
                ),
            )
        )
    body = (
        f"<h1>Benchmark runs</h1><p class='intro'>{plural(len(runs), 'run')} in "
        f"{plural(len(suites), 'suite')}"
        + (f" and {plural(len(groups), 'group')}" if groups else "")
        + ", newest first. Click a column to sort; a suite opens its trends page.</p>"
        + "".join(sections)
    )
    return h.page(title="runs", site_title=ctx["title"], body=body, generated=ctx["generated"])


def _suites_section(runs: pd.DataFrame, suites: list[str]) -> str:
    rows = []
    for suite in suites:
        sr = runs[runs["suite"] == suite]
        latest = sr.iloc[0]
        rows.append(
            [
                h.cell(suite, href=trend_file(suite)),
                h.cell(len(sr), cls="num"),
                h.cell(
                    fmt_time(latest["started_at"]),
                    sort=sort_time(latest["started_at"]),
                    cls="nowrap",
                ),
                h.cell(f"run {as_text(latest['uid'])[:12]}", href=latest["_file"]),
            ]
        )
    return h.section(
        "suites",
        "Suites",
        h.table(["suite", "runs", "latest run", "page"], rows, table_id="suites-table"),
    )


def _groups_section(groups: Mapping[str, Mapping[str, Any]]) -> str:
    rows = []
    for name, info in groups.items():
        members = info["runs"]
        status = worst_status(shown_status(r) for r in members) or "finished"
        shards = sorted({as_text(r.get("shard")) for r in members if as_text(r.get("shard"))})
        counts = [sum(as_int(r.get(c)) or 0 for r in members) for c in ("n_ok", "n_failed")]
        rows.append(
            [
                h.cell(name, href=info["_file"]),
                h.cell(", ".join(sorted({str(r["suite"]) for r in members}))),
                h.cell(len(members), cls="num"),
                h.cell(", ".join(shards)),
                h.cell(status, cls=f"status-{status}"),
                h.cell(
                    fmt_time(info["started_at"]), sort=sort_time(info["started_at"]), cls="nowrap"
                ),
                h.cell(counts[0], cls="num"),
                h.cell(counts[1], cls="num status-failed" if counts[1] else "num"),
            ]
        )
    return h.section(
        "groups",
        "Groups",
        h.table(
            ["group", "suite", "runs", "shards", "status", "started", "ok", "failed"],
            rows,
            table_id="groups-table",
            numeric=("runs", "ok", "failed"),
        ),
        intro="Runs that share a group (the shards of one nightly), with a page pairing "
        "cases across them.",
    )


def _run_row(run: dict[str, Any], dev: list[str], groups: Mapping[str, Any]) -> list[str]:
    status = shown_status(run)
    counts = [as_int(run.get(c)) for c in ("n_ok", "n_failed", "n_skipped")]
    group = None if missing(run.get("group")) else str(run["group"])
    rounds = as_int(run.get("rounds")) if not missing(run.get("rounds")) else 1
    return [
        h.cell(fmt_time(run["started_at"]), sort=sort_time(run["started_at"]), cls="nowrap"),
        h.cell(as_text(run["label"])),
        h.cell(status, cls=f"status-{status}"),
        h.cell(
            fmt_duration(run["duration_s"]) or ("running" if status == "running" else "-"),
            sort=None if missing(run["duration_s"]) else float(run["duration_s"]),
            cls="num",
        ),
        h.cell(rounds, cls="num"),
        h.cell(", ".join(dev)),
        h.cell(hardware(run, dev)),
        h.cell(as_text(run.get("torch_version"))),
        h.cell(counts[0], cls="num"),
        h.cell(counts[1], cls="num status-failed" if counts[1] else "num"),
        h.cell(counts[2], cls="num"),
        h.cell(group or "", href=groups[group]["_file"] if group in groups else None),
        h.cell(as_text(run.get("commit"))[:10]),
        h.cell(f"run {as_text(run['uid'])[:12] or run['run_id']}", href=run["_file"]),
    ]
