"""The tables of a run page: speedup summary, networks, every result."""

from __future__ import annotations

import numpy as np
import pandas as pd

from reports import html as h
from reports.cols import Cols, records
from reports.figures_memory import MEMORY_COLUMNS, fmt_bytes, memory_rows
from reports.names import workload_rank
from reports.text import as_float, as_int, as_text, fmt_count, fmt_ms, num_text


def speedup_summary(p: Cols) -> str:
    """The headline per device and dtype, from clean pairs only (neither side noisy nor
    contended): how many pairs, the best speedup with its interval, the median efficiency.
    Says how many pairs were left out, and why, rather than letting them set the headline."""
    c = Cols.of(
        p,
        (
            "device",
            "dtype",
            "speedup",
            "theory_speedup",
            "efficiency",
            "channels_out",
            "batch",
            "pair",
            "ci_low",
            "ci_high",
            "interval",
            "noisy",
            "contended",
        ),
    )
    rows = []
    left_out = {"noisy": 0, "contended": 0}
    for (device, dtype), idx in c.groups(["device", "dtype"]):
        noisy = np.array([_flag(v) for v in c["noisy"][idx]], dtype=bool)
        busy = np.array([_flag(v) for v in c["contended"][idx]], dtype=bool)
        left_out["noisy"] += int((noisy & ~busy).sum())
        left_out["contended"] += int(busy.sum())
        clean = idx[~(noisy | busy)]
        if len(clean) == 0:
            rows.append(
                [
                    h.cell(as_text(device)),
                    h.cell(as_text(dtype)),
                    h.cell(f"0 of {len(idx)}", sort=0, cls="num"),
                    h.cell("no clean pair", cls="noisy"),
                    h.cell(""),
                    h.cell(""),
                    h.cell(""),
                ]
            )
            continue
        speedup = c["speedup"][clean].astype(float)
        best = int(clean[int(np.nanargmax(speedup))])
        eff = float(np.nanmedian(c["efficiency"][clean].astype(float)))
        lo, hi = as_float(c["ci_low"][best]), as_float(c["ci_high"][best])
        interval = f" [{1 / hi:.2f}, {1 / lo:.2f}]" if lo and hi else ""
        theory = float(c["theory_speedup"][best])
        rows.append(
            [
                h.cell(as_text(device)),
                h.cell(as_text(dtype)),
                h.cell(f"{len(clean)} of {len(idx)}", sort=len(clean), cls="num"),
                h.cell(
                    f"{c['speedup'][best]:.2f}×{interval} (theory {theory:.2f}×)",
                    sort=float(c["speedup"][best]),
                    cls="num",
                    title=f"95% interval from {as_text(c['interval'][best])}",
                ),
                h.cell(
                    f"C_out {num_text(c['channels_out'][best])}, "
                    f"batch {num_text(c['batch'][best])}, {c['pair'][best]}"
                ),
                h.cell(f"{eff:.0%}", sort=eff, cls="num"),
                h.cell(int((speedup < 1).sum()), cls="num"),
            ]
        )
    table = h.table(
        [
            "device",
            "dtype",
            "clean pairs",
            "best speedup [95% interval]",
            "at",
            "median efficiency",
            "slower than conv",
        ],
        rows,
        table_id="speedup-summary",
        numeric=("clean pairs", "best speedup [95% interval]", "median efficiency"),
    )
    dropped = left_out["noisy"] + left_out["contended"]
    if not dropped:
        return table
    why = ", ".join(f"{n} {k}" for k, n in left_out.items() if n)
    note = h.message(
        f"{dropped} pair(s) left out of this summary ({why}): a noisy side (IQR over 10% of "
        "the median, or rounds further apart than the target) or a contended one (other "
        "processes used its CPUs while it was timed) would make the headline the machine's, "
        "not the convolution's. They are drawn hollow in the figure.",
        kind="warn",
    )
    return table + note


def _flag(v: object) -> bool:
    return v is True or (
        isinstance(v, int | float | np.bool_) and not isinstance(v, str) and bool(v) and v == v
    )


def networks_table(rows: Cols) -> str:
    order = {"MobileNet v1": 0, "Conv MobileNet": 1, "MobileNet v2": 2}
    cols = [
        "network",
        "device",
        "dtype",
        "batch",
        "alpha",
        "resolution",
        "macs_per_image",
        "parameters",
        "median",
        "images_per_s",
    ]
    recs = sorted(
        records(rows, cols),
        key=lambda r: (
            order.get(r["network"], 9),
            str(r["device"]),
            str(r["dtype"]),
            as_float(r["batch"]) or 0,
            -(r["alpha"] or 0),
            -(r["resolution"] or 0),
        ),
    )
    out = []
    for r in recs:
        out.append(
            [
                h.cell(r["network"]),
                h.cell(as_text(r["device"])),
                h.cell(as_text(r["dtype"])),
                h.cell(num_text(r["batch"]), cls="num"),
                h.cell(num_text(r["alpha"]), cls="num"),
                h.cell(num_text(r["resolution"]), cls="num"),
                h.cell(
                    fmt_count(r["macs_per_image"]), sort=as_float(r["macs_per_image"]), cls="num"
                ),
                h.cell(fmt_count(r["parameters"]), sort=as_float(r["parameters"]), cls="num"),
                h.cell(fmt_ms(r["median"]), sort=as_float(r["median"]), cls="num"),
                h.cell(f"{r['images_per_s']:.4g}", sort=as_float(r["images_per_s"]), cls="num"),
            ]
        )
    headers = [
        "network",
        "device",
        "dtype",
        "batch",
        "α",
        "resolution",
        "MACs / image",
        "parameters",
        "median (ms)",
        "images / s",
    ]
    return h.table(headers, out, table_id="networks-table", numeric=headers[3:])


NOT_MODELLED = "not modelled"
NOT_MEASURED = "not measured"


def _bytes_cell(v: object, absent: str) -> str:
    f = as_float(v)
    if f is None:
        return h.cell(absent, sort=-1, cls="num missing")
    return h.cell(fmt_bytes(f), sort=f, cls="num", title=f"{int(f):,} bytes")


def _columns(rows: pd.DataFrame | Cols, names: list[str]) -> Cols:
    """``rows`` with every column named, those it lacks all None (a run stored before the
    memory columns were)."""
    if not isinstance(rows, Cols):
        return Cols.of(rows, names)
    missing = np.full(len(rows), None, dtype=object)
    return Cols({c: rows.a.get(c, missing) for c in names}, len(rows))


def network_memory_table(rows: pd.DataFrame | Cols, alpha: float, resolution: float) -> str:
    """MobileNet v1, Conv MobileNet and v2 side by side at one (α, resolution), per device,
    dtype and batch: MACs, parameters, weights, activation memory (eager, and the v2
    paper's efficient accounting) and the measured peak. Per call: the batch included."""
    order = {"MobileNet v1": 0, "Conv MobileNet": 1, "MobileNet v2": 2}
    cols = [
        "network",
        "setting",
        "alpha",
        "resolution",
        "macs_per_image",
        "parameters",
        "weight_bytes",
        "activation_bytes",
        "activation_bytes_efficient",
        "peak_memory",
    ]
    recs = [
        r
        for r in records(_columns(rows, cols), cols)
        if as_float(r["alpha"]) == alpha and as_float(r["resolution"]) == resolution
    ]
    recs.sort(key=lambda r: (str(r["setting"]), order.get(r["network"], 9)))
    out = []
    for r in recs:
        eager, peak = as_float(r["activation_bytes"]), as_float(r["peak_memory"])
        ratio = peak / eager if peak and eager else None
        out.append(
            [
                h.cell(r["network"]),
                h.cell(as_text(r["setting"])),
                h.cell(
                    fmt_count(r["macs_per_image"]), sort=as_float(r["macs_per_image"]), cls="num"
                ),
                h.cell(fmt_count(r["parameters"]), sort=as_float(r["parameters"]), cls="num"),
                _bytes_cell(r["weight_bytes"], NOT_MODELLED),
                _bytes_cell(r["activation_bytes"], NOT_MODELLED),
                _bytes_cell(r["activation_bytes_efficient"], NOT_MODELLED),
                _bytes_cell(r["peak_memory"], NOT_MEASURED),
                h.cell(f"{ratio:.2f}" if ratio else "", sort=ratio, cls="num"),
            ]
        )
    headers = [
        "network",
        "device · dtype · batch",
        "MACs / image",
        "parameters",
        "weights",
        "activations, eager",
        "activations, efficient",
        "measured peak",
        "measured / eager",
    ]
    return h.table(headers, out, table_id="network-memory-table", numeric=headers[2:])


def memory_table(results: pd.DataFrame | Cols) -> str:
    """Every ok case with its measured peak and modelled memory, and their ratio."""
    rows = memory_rows(results)
    names = ["case_id", "workload", "device", "dtype", "batch", "ratio", *MEMORY_COLUMNS]
    recs = sorted(
        records(rows, names),
        key=lambda r: (workload_rank(str(r["workload"])), str(r["case_id"])),
    )
    out = [
        [
            h.cell(as_text(r["case_id"])),
            h.cell(as_text(r["device"])),
            h.cell(as_text(r["dtype"])),
            h.cell(num_text(r["batch"]), cls="num"),
            _bytes_cell(r["peak_memory"], NOT_MEASURED),
            _bytes_cell(r["activation_bytes"], NOT_MODELLED),
            _bytes_cell(r["activation_bytes_efficient"], NOT_MODELLED),
            _bytes_cell(r["weight_bytes"], NOT_MODELLED),
            h.cell(
                f"{r['ratio']:.2f}" if as_float(r["ratio"]) else "",
                sort=as_float(r["ratio"]),
                cls="num",
            ),
        ]
        for r in recs
    ]
    headers = [
        "case",
        "device",
        "dtype",
        "batch",
        "measured peak",
        "activations, eager",
        "activations, efficient",
        "weights",
        "measured / eager",
    ]
    return h.table(headers, out, table_id="memory-table", numeric=headers[3:])


_TABLE_COLUMNS = (
    "case_id",
    "case_key",
    "workload",
    "device",
    "dtype",
    "batch",
    "status",
    "median",
    "iqr",
    "macs",
    "noisy",
    "contended",
    "rounds",
    "round_spread",
    "n_samples",
    "calls_per_sample",
    "error",
)


def _flags(r: dict) -> tuple[str, str | None]:
    """The flags of a result, and what they mean (for the cell's title)."""
    words, why = [], []
    if _flag(r.get("noisy")):
        words.append("noisy")
        why.append("IQR / median above 10%, or round medians further apart than its target")
    if _flag(r.get("contended")):
        words.append("contended")
        why.append("other processes used its CPUs (or GPU) while it was timed")
    return " ".join(words), "; ".join(why) or None


def results_table(res: Cols) -> str:
    if len(res) == 0:
        return h.message("No results.")
    order = {"failed": 0, "ok": 1, "skipped": 2}
    recs = sorted(
        records(res, _TABLE_COLUMNS),
        key=lambda r: (order.get(r["status"], 3), str(r["workload"]), str(r["case_id"])),
    )
    rows = []
    for r in recs:
        status = as_text(r["status"])
        med = as_float(r.get("median"))
        iqr = as_float(r.get("iqr"))
        macs = as_float(r.get("macs"))
        rel = iqr / med if iqr is not None and med else None
        achieved = macs / med if status == "ok" and macs and med else None
        flags, why = _flags(r)
        rounds = as_int(r.get("rounds")) or 1
        spread = as_float(r.get("round_spread"))
        n = as_float(r.get("n_samples"))
        calls = as_int(r.get("calls_per_sample"))
        rows.append(
            [
                h.cell(as_text(r["case_id"]), title=as_text(r.get("case_key"))),
                h.cell(as_text(r["workload"])),
                h.cell(as_text(r.get("device"))),
                h.cell(as_text(r.get("dtype"))),
                h.cell(num_text(r.get("batch")), cls="num"),
                h.cell(status, cls=f"status-{status}"),
                h.cell(fmt_ms(med), sort=med, cls="num"),
                h.cell(f"{rel:.1%}" if rel is not None else "", sort=rel, cls="num"),
                h.cell(
                    f"{rounds} (±{spread:.1%})" if spread is not None else str(rounds),
                    sort=spread,
                    cls="num",
                    title="rounds, and half the range of their medians / median",
                ),
                h.cell(flags, cls="noisy" if flags else None, title=why),
                h.cell(fmt_count(achieved) if achieved else "", sort=achieved, cls="num"),
                h.cell(fmt_count(macs), sort=macs, cls="num"),
                h.cell(f"{int(n)} × {calls}" if n else "", sort=n, cls="num"),
                h.cell(as_text(r.get("error")), cls="error"),
            ]
        )
    headers = [
        "case",
        "workload",
        "device",
        "dtype",
        "batch",
        "status",
        "median (ms)",
        "IQR / median",
        "rounds",
        "flags",
        "MAC/s",
        "MACs",
        "samples × calls",
        "error",
    ]
    numeric = ("batch", "median (ms)", "IQR / median", "MAC/s", "MACs", "samples × calls")
    return h.table(headers, rows, table_id="results-table", numeric=numeric)
