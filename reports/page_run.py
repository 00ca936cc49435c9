"""One page per run: speedup vs theory, roofline, batch scaling, networks, results."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import Any, NamedTuple

from reports import html as h
from reports._plot import Cols
from reports.figures import (
    batch_scaling_spec,
    headline_pairs,
    scaling_workloads,
    speedup_vs_theory_spec,
)
from reports.figures_networks import networks_spec
from reports.figures_roofline import peak_for, roofline_spec
from reports.names import trend_file
from reports.tables import networks_table, results_table, speedup_summary
from reports.text import as_int, as_text, fmt_duration, fmt_time, missing


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


def run_page(run: Mapping[str, Any], d: RunData, ctx: Mapping[str, str]) -> str:
    uid12 = as_text(run.get("uid"))[:12] or str(run["run_id"])
    suite = run["suite"]
    env = environment(run)
    res, ok = d.res, d.ok
    counts: dict[str, int] = {}
    for st in res["status"]:
        counts[st] = counts.get(st, 0) + 1
    n_failed, n_skipped = counts.get("failed", 0), counts.get("skipped", 0)
    devices = sorted({str(x) for x in res["device"] if not missing(x)})
    label = as_text(run.get("label"))
    head = (
        f"<h1>{h.esc(suite)} · run {h.esc(uid12)}"
        + (f'<span class="badge">{h.esc(label)}</span>' if label else "")
        + "</h1>"
        + h.definition_list(
            [
                ("status", as_text(run.get("status"))),
                ("started", fmt_time(run.get("started_at"))),
                ("finished", fmt_time(run.get("finished_at"))),
                ("duration", fmt_duration(run.get("duration_s"))),
                (
                    "cases",
                    f"{counts.get('ok', 0)} ok, {n_failed} failed, {n_skipped} skipped"
                    + (
                        f" of {as_int(run.get('planned'))} planned"
                        if not missing(run.get("planned"))
                        else ""
                    ),
                ),
                ("devices", ", ".join(devices)),
                ("GPU", as_text(run.get("gpu_name"))),
                ("CPU", as_text(run.get("cpu_model"))),
                ("torch", as_text(run.get("torch_version"))),
                ("commit", as_text(run.get("commit"))),
                ("fingerprint", as_text(run.get("fingerprint"))),
                (
                    "shard",
                    " ".join(
                        x for x in (as_text(run.get("group")), as_text(run.get("shard"))) if x
                    ),
                ),
            ]
        )
        + "<details><summary>environment</summary><pre>"
        + h.esc(json.dumps(env, indent=2, sort_keys=True, default=str))
        + "</pre></details>"
    )
    if len(res) == 0:
        nothing = "This run has no results yet" + (
            " (it is still running)." if run.get("status") == "running" else "."
        )
    elif len(ok) == 0:
        nothing = (
            f"No case of this run produced a timing: {n_failed} failed, {n_skipped} skipped. "
            "The table below lists them with their errors."
        )
    else:
        nothing = ""
    sections = [
        _speedup_section(d.pairs, nothing),
        _roofline_section(d.pts, run_peaks(run), nothing),
        _scaling_section(ok, nothing),
        _networks_section(ok, d.pairs, d.nets, nothing),
        h.section("results", "Results", results_table(res)),
    ]
    nav = [
        ("index.html", "all runs"),
        (trend_file(suite), f"trends of {suite}"),
        ("#speedup", "speedup vs theory"),
        ("#roofline", "roofline"),
        ("#batch", "batch size"),
        ("#networks", "networks"),
        ("#results", "results"),
    ]
    return h.page(
        title=f"{suite} run {uid12}",
        site_title=ctx["title"],
        body=head + "\n".join(sections),
        nav=nav,
        plotly=True,
        generated=ctx["generated"],
    )


_SPEEDUP_INTRO = (
    "Each point is a pair of cases of this run that are identical in every parameter except "
    "the convolution: standard conv vs depthwise-separable (solid) or the v1 separable block "
    "(dotted). Theory (DESIGN.md 1): cost(separable) / cost(standard) = 1/C_out + 1/k², "
    "about 1/9, i.e. a speedup of k²·C_out / (C_out + k²), 9× in the limit. Efficiency is "
    "the measured speedup divided by the theoretical one (MACs from the cost model). The "
    "buttons switch between the time ratio and the speedup; the dash-dot line is break-even."
)


def _speedup_section(pairs: Cols, nothing: str) -> str:
    p = headline_pairs(pairs)
    if nothing:
        body = h.message(nothing)
    elif len(p) == 0:
        body = h.message(
            "This run has no conv ↔ separable pairs, so there is no speedup to set against the "
            "theory. The figure needs cases that differ only in workload (conv and separable, "
            "or conv and separable_block, with the same channels, batch, device and dtype), "
            "both timed successfully."
        )
    else:
        body = speedup_summary(p) + h.figure_block(speedup_vs_theory_spec(p), "fig-speedup")
    return h.section("speedup", "Speedup vs theory", body, intro=_SPEEDUP_INTRO)


def run_peaks(run: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The run's measured peaks (older runs kept them in the environment)."""
    peaks = run.get("peaks")
    if isinstance(peaks, str):
        with contextlib.suppress(ValueError):
            peaks = json.loads(peaks)
    if not isinstance(peaks, Mapping):
        peaks = environment(run).get("peaks")
    return peaks if isinstance(peaks, Mapping) else None


def _roofline_section(pts: Cols, peaks: Mapping[str, Any] | None, nothing: str) -> str:
    intro = (
        "Each case's achieved MAC/s against its arithmetic intensity (MACs per minimum byte "
        "moved, from the cost model), with the roof of the device's measured peak compute and "
        "memory bandwidth. Cases under the sloped part are memory-bound: depthwise "
        "convolution, at about 9 MACs per element read, sits there."
    )
    if nothing:
        body = h.message(nothing)
    elif len(pts) == 0:
        body = h.message(
            "No timed case of this run has MAC and byte counts to place on a roofline."
        )
    else:
        missing = sorted({str(d) for d in pts["device"] if peak_for(peaks, str(d)) is None})
        warn = (
            h.message(
                "Peak compute and bandwidth not measured for: "
                + ", ".join(missing)
                + "; those plots show the cases without a roof.",
                kind="warn",
            )
            if missing
            else ""
        )
        body = warn + h.figure_block(roofline_spec(pts, peaks), "fig-roofline")
    return h.section("roofline", "Roofline", body, intro=intro)


def _scaling_section(ok: Cols, nothing: str) -> str:
    intro = (
        "Median latency per call and throughput against batch size, error bars from the "
        "interquartile range. The menu picks the workload."
    )
    if nothing:
        body = h.message(nothing)
    elif not scaling_workloads(ok):
        body = h.message("No workload of this run ran at more than one batch size.")
    else:
        body = h.figure_block(batch_scaling_spec(ok), "fig-batch")
    return h.section("batch", "Latency and throughput vs batch size", body, intro=intro)


def _networks_section(ok: Cols, pairs: Cols, rows: Cols, nothing: str) -> str:
    intro = (
        "MobileNet v1 against Conv MobileNet (v1 with every separable block replaced by a "
        "standard 3x3 conv) and MobileNet v2: images per second, MACs and parameters, and "
        "the measured time ratio of v1 to Conv MobileNet against the ratio of their MACs."
    )
    if nothing:
        body = h.message(nothing)
    elif len(rows) == 0:
        body = h.message("This run timed no MobileNet.")
    else:
        spec = networks_spec(ok, pairs, rows=rows)
        body = h.figure_block(spec, "fig-networks") + networks_table(rows)
    return h.section("networks", "Networks", body, intro=intro)
