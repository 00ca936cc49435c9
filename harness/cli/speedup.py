"""`bench speedup`: the headline in the terminal, one line per standard/separable pair."""

from __future__ import annotations

import json
import math
from typing import Any

import click

from harness.formatting import table

JSON_FIELDS = (
    "pair",
    "standard",
    "separable",
    "standard_workload",
    "separable_workload",
    "channels",
    "channels_out",
    "kernel",
    "alpha",
    "resolution",
    "batch",
    "device",
    "dtype",
    "memory_format",
    "measured_ratio",
    "ci_low",
    "ci_high",
    "interval",
    "theory_ratio",
    "speedup",
    "theory_speedup",
    "efficiency",
    "noisy",
    "contended",
)


def register(cli: click.Group) -> None:
    """Add this module's commands to `cli`."""
    from harness.cli.app import db_option, open_store

    @cli.command("speedup")
    @click.argument("ref", metavar="RUN")
    @db_option
    @click.option("--json", "as_json", is_flag=True, help="A list of objects, one per pair.")
    def speedup_cmd(ref: str, db: str | None, as_json: bool) -> None:
        """Each standard/separable pair of RUN (or group:NAME): measured time ratio with
        its 95% interval, against the theory 1/C_out + 1/k².

        The interval comes from the rounds (each round times both sides side by side) when
        there are two or more, else from the samples of the one round.
        """
        from reports.pairs import find_pairs
        from results.errors import UsageError
        from results.frames import results_frame

        with open_store(db) as store:
            runs = store.resolve_runs(ref)
            frame = results_frame(store, [r.id for r in runs if r.id is not None])
        frame["unit"] = 0  # one run, or every run of a group: pairs may span shards
        pairs = find_pairs(frame, by="unit")
        rows = [_row(p) for p in pairs.to_dict("records")]
        rows.sort(key=_order)
        if as_json:
            click.echo(json.dumps(rows, indent=1))
            return
        if not rows:
            raise UsageError(
                f"{ref}: no standard/separable pair with both sides ok (pairs: conv and "
                "separable, conv_block and separable_block, mobilenet_v1 with conv = "
                "standard and separable, equal in every other parameter)"
            )
        click.echo(_table(rows))
        clean = [r for r in rows if not (r["noisy"] or r["contended"])]
        eff = sorted(r["efficiency"] for r in clean if r["efficiency"] is not None)
        summary = f"\n{len(rows)} pair(s), {len(clean)} clean (neither side noisy nor contended)"
        if eff:
            summary += f"; median efficiency of the clean ones {eff[len(eff) // 2]:.0%}"
        click.echo(summary)


def _value(v: Any) -> Any:
    """A frame value as JSON: numpy unwrapped, NaN and NA as None."""
    if hasattr(v, "item"):
        v = v.item()
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    try:
        if v != v:  # pd.NA compares as NA
            return None
    except TypeError:
        return None
    return v


def _row(p: dict[str, Any]) -> dict[str, Any]:
    values = {
        "pair": p["pair"],
        "standard": p["std_case_id"],
        "separable": p["sep_case_id"],
        "standard_workload": p["std_workload"],
        "separable_workload": p["sep_workload"],
        "measured_ratio": p["ratio"],
        "interval": p["interval"],
        **{k: p.get(k) for k in JSON_FIELDS if k in p},
    }
    out = {k: _value(values.get(k)) for k in JSON_FIELDS}
    out["noisy"], out["contended"] = bool(out["noisy"]), bool(out["contended"])
    for k in ("channels", "channels_out", "kernel", "resolution", "batch"):
        if isinstance(out[k], float) and out[k].is_integer():
            out[k] = int(out[k])  # a parameter column with gaps comes back as floats
    return out


def _order(r: dict[str, Any]) -> tuple:
    return tuple(
        (0, "") if r[k] is None else (1, r[k]) if isinstance(r[k], str) else (1, f"{r[k]:012.4f}")
        for k in ("pair", "device", "dtype", "memory_format", "batch", "channels_out", "alpha")
    )


def _table(rows: list[dict[str, Any]]) -> str:
    body = []
    for r in rows:
        shape = (
            f"C_out {r['channels_out']}"
            if r["channels_out"] is not None
            else f"α {r['alpha']} · {r['resolution']}px"
        )
        interval = (
            f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}] {r['interval']}"
            if r["ci_low"] is not None
            else f"- {r['interval']}"
        )
        flags = " ".join(f for f in ("noisy", "contended") if r[f])
        body.append(
            [
                r["pair"],
                shape,
                f"batch {r['batch']}",
                f"{r['device']} · {r['dtype']} · {r['memory_format']}",
                f"{r['measured_ratio']:.3f}",
                interval,
                f"{r['theory_ratio']:.3f}" if r["theory_ratio"] else "-",
                f"{r['speedup']:.2f}× / {r['theory_speedup']:.2f}×"
                if r["theory_speedup"]
                else f"{r['speedup']:.2f}×",
                f"{r['efficiency']:.0%}" if r["efficiency"] is not None else "-",
                flags,
            ]
        )
    headers = [
        "pair",
        "shape",
        "batch",
        "device · dtype · layout",
        "ratio",
        "95% interval",
        "theory",
        "speedup / theory",
        "efficiency",
        "flags",
    ]
    return table(headers, body, right={4, 6, 8})
