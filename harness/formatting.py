"""Plain-text tables for the terminal (no torch)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from results.records import CaseStatus, ResultRecord


def seconds(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def count(value: float | None) -> str:
    """Engineering notation: 1.23M, 456k."""
    if value is None:
        return "-"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{unit}"
    return f"{value:.3g}"


def table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int] = frozenset()
) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def nbytes(value: int | None) -> str:
    """Bytes in engineering notation: 12.8MB; '-' when unknown."""
    return "-" if value is None else count(value) + "B"


def results_table(results: Sequence[ResultRecord]) -> str:
    """One line per result. ``rounds``: how many, and how far apart their medians were
    (± half their range / median); flags: noisy, contended (the machine was busy);
    ``peak mem``: the bytes one call allocated above the baseline (untimed pass)."""
    rows = []
    for r in results:
        s = r.stats
        busy = " contended" if r.contended else ""
        if r.status == CaseStatus.OK and s is not None:
            rate = count(r.macs / s.median) + "MAC/s" if r.macs and s.median > 0 else "-"
            flag = " noisy" if s.noisy else ""
            spread = s.round_spread
            rounds = f"{s.rounds} ±{100 * spread:.1f}%" if spread is not None else "1"
            rows.append(
                [
                    r.case_id,
                    "ok" + flag + busy,
                    seconds(s.median),
                    f"{100 * s.rel_iqr:.1f}%",
                    rounds,
                    str(s.n),
                    count(r.macs),
                    rate,
                    nbytes(r.peak_memory),
                ]
            )
        else:
            why = (r.error or "").splitlines()[0] if r.error else ""
            status = f"{r.status}{busy}: {why[:60]}"
            rows.append([r.case_id, status, "-", "-", "-", "-", count(r.macs), "-", "-"])
    return table(
        ["case", "status", "median", "IQR", "rounds", "samples", "MACs", "achieved", "peak mem"],
        rows,
        right={2, 3, 4, 5, 6, 7, 8},
    )
