"""index.html: every run, newest first, and the suites with their trends pages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from reports import html as h
from reports.names import trend_file
from reports.text import as_int, as_text, fmt_duration, fmt_time, missing, plural, sort_time


def hardware(run: Mapping[str, Any], devices: list[str]) -> str:
    gpu, cpu = as_text(run.get("gpu_name")), as_text(run.get("cpu_model"))
    if gpu and any(not d.startswith("cpu") for d in devices):
        return f"{gpu} / {cpu}" if cpu else gpu
    return cpu or gpu


def index_page(
    runs: pd.DataFrame, devices: dict[Any, list[str]], suites: list[str], ctx: Mapping[str, str]
) -> str:
    if runs.empty:
        body = "<h1>Benchmark runs</h1>" + h.message(
            "No runs in the database yet. Record one with `bench run SUITE` "
            "(for example `bench run smoke`), then run `bench report` again."
        )
        return h.page(title="runs", site_title=ctx["title"], body=body, generated=ctx["generated"])
    suite_rows = []
    for suite in suites:
        sr = runs[runs["suite"] == suite]
        latest = sr.iloc[0]
        suite_rows.append(
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
    rows = []
    for run in runs.to_dict("records"):
        dev = devices.get(run["run_id"], [])
        status = as_text(run["status"])
        counts = [as_int(run.get(c)) for c in ("n_ok", "n_failed", "n_skipped")]
        rows.append(
            [
                h.cell(
                    fmt_time(run["started_at"]), sort=sort_time(run["started_at"]), cls="nowrap"
                ),
                h.cell(run["suite"], href=trend_file(run["suite"])),
                h.cell(as_text(run["label"])),
                h.cell(status, cls=f"status-{status}"),
                h.cell(
                    fmt_duration(run["duration_s"]) or ("running" if status == "running" else ""),
                    sort=None if missing(run["duration_s"]) else float(run["duration_s"]),
                    cls="num",
                ),
                h.cell(", ".join(dev)),
                h.cell(hardware(run, dev)),
                h.cell(as_text(run.get("torch_version"))),
                h.cell(counts[0], cls="num"),
                h.cell(counts[1], cls="num status-failed" if counts[1] else "num"),
                h.cell(counts[2], cls="num"),
                h.cell(as_text(run.get("commit"))[:10]),
                h.cell(f"run {as_text(run['uid'])[:12] or run['run_id']}", href=run["_file"]),
            ]
        )
    headers = [
        "started",
        "suite",
        "label",
        "status",
        "duration",
        "devices",
        "GPU / CPU",
        "torch",
        "ok",
        "failed",
        "skipped",
        "commit",
        "page",
    ]
    body = (
        f"<h1>Benchmark runs</h1><p class='intro'>{plural(len(runs), 'run')} in "
        f"{plural(len(suites), 'suite')}, "
        "newest first. Click a column to sort; a suite opens its trends page.</p>"
        + h.section(
            "suites",
            "Suites",
            h.table(["suite", "runs", "latest run", "page"], suite_rows, table_id="suites-table"),
        )
        + h.section(
            "runs",
            "Runs",
            h.table(
                headers,
                rows,
                table_id="runs-table",
                numeric=("duration", "ok", "failed", "skipped"),
            ),
        )
    )
    return h.page(title="runs", site_title=ctx["title"], body=body, generated=ctx["generated"])
