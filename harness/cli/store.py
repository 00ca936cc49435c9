"""CLI commands that read the result store: runs, show, export (no torch)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from harness.formatting import results_table, seconds, table


def register(cli: click.Group) -> None:
    from harness.cli.app import db_option, open_store

    @cli.command("runs")
    @db_option
    @click.option("--suite", default=None, help="Only runs of this suite.")
    @click.option("--label", default=None, help="Only runs with this label.")
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    def runs_cmd(db, suite, label, as_json) -> None:
        """List the runs in the database, newest first.

        A run shown as `stale` is stored as running but has sent no heartbeat for
        $BENCH_STALE_AFTER seconds (default 600): its process most likely died; finish
        it with `bench run --resume RUN`.
        """
        with open_store(db) as store:
            runs = store.runs(suite=suite, label=label)
        now = datetime.now(UTC)  # one clock for every row: "stale" is derived, not stored
        if as_json:
            click.echo(json.dumps([_run_json(r, now) for r in runs], indent=1))
            return
        rows = []
        for r in runs:
            dur = (r.finished_at - r.started_at).total_seconds() if r.finished_at else None
            c = r.counts
            rows.append(
                [
                    str(r.id),
                    r.uid[:8],
                    r.suite,
                    r.label or "",
                    r.shown_status(now),
                    r.started_at.strftime("%Y-%m-%d %H:%M:%S"),
                    seconds(dur) if dur else "-",  # imports have no duration
                    f"{c.get('ok', 0)}/{c.get('failed', 0)}/{c.get('skipped', 0)}",
                    _machine(r.environment),
                ]
            )
        if not rows:
            click.echo("no runs match" if suite or label else "no runs yet")
            return
        click.echo(
            table(
                [
                    "id",
                    "uid",
                    "suite",
                    "label",
                    "status",
                    "started (UTC)",
                    "took",
                    "ok/failed/skipped",
                    "machine",
                ],
                rows,
                right={0, 6},
            )
        )

    @cli.command("show")
    @click.argument("run")
    @db_option
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    def show_cmd(run, db, as_json) -> None:
        """One run's results. RUN: id, uid prefix, latest, latest:LABEL or group:NAME (the
        runs of a group, merged: one row per case)."""
        from results.compare import merge_results

        with open_store(db) as store:
            runs = store.resolve_runs(run)
            results = [x for r in runs for x in store.results(r.id)]
        if len(runs) > 1 or run.strip().startswith("group:"):
            results = list(merge_results(results).values())
        now = datetime.now(UTC)
        if as_json:
            if run.strip().startswith("group:"):
                out = {"group": runs[0].group, "runs": [_run_json(r, now) for r in runs]}
            else:
                out = _run_json(runs[0], now)
            out["results"] = [_result_json(x) for x in results]
            click.echo(json.dumps(out, indent=1))
            return
        for r in runs:
            rounds = f" rounds {r.rounds}" if r.rounds > 1 else ""
            where = f" group {r.group} shard {r.shard or '-'}" if r.group else ""
            click.echo(
                f"run {r.uid[:8]} (id {r.id}) suite {r.suite} label {r.label or '-'} "
                f"status {r.shown_status(now)} started {r.started_at:%Y-%m-%d %H:%M:%S} UTC"
                f"{rounds}{where}"
            )
        click.echo(results_table(results) if results else "no results")
        for r in runs:
            for warning in r.warnings:
                click.echo(f"warning: {warning}")

    @cli.command("export")
    @click.argument("refs", metavar="RUN...", nargs=-1, required=True)
    @db_option
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(["csv", "json", "parquet"]),
        default="csv",
        show_default=True,
        help="File format; parquet needs -o.",
    )
    @click.option(
        "-o",
        "--output",
        "out",
        type=click.Path(dir_okay=False, allow_dash=True),
        default=None,
        help="Output file (default, or '-': standard output).",
    )
    def export_cmd(refs, db, fmt, out) -> None:
        """Write the results of RUN... (ids, uid prefixes, latest, latest:LABEL, group:NAME),
        with raw samples, as csv, json or parquet: one row per result."""
        from results.export import export_runs

        if out == "-":
            out = None
        with open_store(db) as store:
            ids = sorted({r.id for ref in refs for r in store.resolve_runs(ref)})
            data = export_runs(store, ids, fmt, out)
        if out is None:
            click.echo(data if isinstance(data, str) else data.decode())
        else:
            click.echo(f"wrote {out}", err=True)


def _machine(env: dict) -> str:
    """The GPU for a run that used one (every GPU is recorded, used or not), else the CPU."""
    used_gpu = any(str(d).startswith("cuda") for d in env.get("devices") or ())
    return (env.get("gpu_name") if used_gpu else None) or env.get("cpu_model") or ""


def _run_json(r, now: datetime) -> dict:
    return {
        "id": r.id,
        "uid": r.uid,
        "suite": r.suite,
        "suite_digest": r.suite_digest,
        "label": r.label,
        "status": r.shown_status(now),  # "stale": running, but its heartbeat stopped
        "started_at": r.started_at.isoformat(),
        "finished_at": r.finished_at.isoformat() if r.finished_at else None,
        "heartbeat_at": r.heartbeat_at.isoformat() if r.heartbeat_at else None,
        "commit": r.commit,
        "fingerprint": r.fingerprint,
        "group": r.group,
        "shard": r.shard,
        "planned": r.planned,
        "counts": r.counts,
        "rounds": r.rounds,
        "seed": r.seed,
        "warnings": r.warnings,
        "host": r.host,
        "pid": r.pid,
        "system": r.system,
        "peaks": r.peaks,
        "environment": r.environment,
    }


def _result_json(x) -> dict:
    s = x.stats
    return {
        "case_key": x.case_key,
        "case_id": x.case_id,
        "workload": x.workload,
        "params": x.params,
        "status": str(x.status),
        "error": x.error,
        "macs": x.macs,
        "parameters": x.parameters,
        "bytes": x.bytes,
        **_memory_model(x),
        "peak_memory": x.peak_memory,  # measured, untimed pass; None: not measured
        "median": s.median if s else None,
        "iqr": s.iqr if s else None,
        "mean": s.mean if s else None,
        "stdev": s.stdev if s else None,
        "min": s.min if s else None,
        "max": s.max if s else None,
        "n_samples": s.n if s else 0,
        "noisy": s.noisy if s else None,
        "contended": x.contended,
        "others_cpu": x.others_cpu,
        "rounds": x.rounds if s else 0,
        "round_medians": list(s.round_medians) if s else [],
        "round_spread": s.round_spread if s else None,
        "round_sizes": x.round_sizes or ([s.n] if s and x.samples else []),
        "target": x.target,
        "calls_per_sample": x.calls_per_sample,
        "target_met": x.target_met,
        "samples": x.samples,
    }


_MODELLED = ("activation_bytes", "activation_bytes_efficient", "weight_bytes")


def _memory_model(x) -> dict[str, int | None]:
    """The cost model's memory figures of a result: as stored with it, or, for a row stored
    before they were, from its workload and parameters (no torch); None for a workload the
    model does not know (an imported benchmark)."""
    from harness.costmodel import cost

    stored = {k: getattr(x, k, None) for k in _MODELLED}
    if all(v is not None for v in stored.values()):
        return stored
    try:
        c = cost(x.workload, x.params or {})
    except (ValueError, KeyError, TypeError, ArithmeticError):
        return stored
    return {k: getattr(c, k) if stored[k] is None else stored[k] for k in _MODELLED}
