"""Execution modes side by side: the same case eager, compiled and as a CUDA graph.

Rows are cases of one run identical in every parameter but ``mode``; each gets its time
per call in every mode it ran in and the speedup over eager. The figure: one group of
bars per case (a bar per mode), log time axis; compile time goes in the hover, not in
the bars (it is paid once, not per call).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from reports._plot import COLORWAY, Spec, axis_style, bar_axis, describe, esc, figure, ms
from reports.cols import ok_results, varying
from reports.pairs import PARAM_COLUMNS, plain_value

MODES = ("eager", "compile", "cuda_graph")
MODE_COLORS = dict(zip(MODES, COLORWAY[:3], strict=True))
MODE_COLUMNS = ("run_id", "case_id", "workload", "median", "q1", "q3", "compile_s", "mode")


def mode_rows(results: pd.DataFrame) -> pd.DataFrame:
    """One row per (run, case without its mode) that ran in two or more modes: the median
    (seconds) and compile time per mode, and ``speedup_<mode>`` = eager / mode."""
    ok = ok_results(results)
    if ok is None or len(ok) == 0 or "mode" not in ok.columns:
        return pd.DataFrame()
    modes = {plain_value(m) or "eager" for m in ok["mode"].tolist()}
    if len(modes) < 2:  # the common case: nothing to set side by side
        return pd.DataFrame()
    ok = ok.reset_index(drop=True)
    others = [c for c in PARAM_COLUMNS if c != "mode" and c in ok.columns]
    groups: dict[tuple, dict[str, Any]] = {}
    for i in range(len(ok)):
        row = ok.iloc[i]
        mode = plain_value(row["mode"]) or "eager"
        key = (
            plain_value(row["run_id"]),
            str(row["workload"]),
            *(plain_value(row[c]) for c in others),
        )
        g = groups.setdefault(key, {"run_id": key[0], "workload": key[1], "_row": row})
        g[f"median_{mode}"] = float(row["median"])
        g[f"compile_s_{mode}"] = plain_value(row.get("compile_s"))
        g.setdefault("_modes", set()).add(mode)
    out = []
    for g in groups.values():
        if len(g["_modes"]) < 2:
            continue
        row = g.pop("_row")
        g.pop("_modes")
        g["case"] = f"{row['workload']}[{describe(row, [c for c in others if c != 'device'])}]"
        eager = g.get("median_eager")
        for mode in MODES:
            if eager and g.get(f"median_{mode}"):
                g[f"speedup_{mode}"] = eager / g[f"median_{mode}"]
        out.append(g)
    return pd.DataFrame(out)


def modes_spec(rows: pd.DataFrame) -> Spec:
    """Grouped bars: time per call per mode, one group per case; hover: speedup, compile."""
    if rows.empty:
        return figure([], {})
    labels = [esc(c) for c in rows["case"]]
    data = []
    times = []
    for mode in MODES:
        col = f"median_{mode}"
        if col not in rows.columns:
            continue
        y = ms(rows[col].to_numpy(dtype=float))
        times.append(y)
        speed = rows.get(f"speedup_{mode}", pd.Series(np.nan, index=rows.index))
        comp = rows.get(f"compile_s_{mode}", pd.Series(np.nan, index=rows.index))
        custom = np.column_stack(
            [speed.to_numpy(dtype=float), pd.to_numeric(comp, errors="coerce").to_numpy(float)]
        )
        data.append(
            {
                "type": "bar",
                "name": mode,
                "x": labels,
                "y": y,
                "marker": {"color": MODE_COLORS[mode]},
                "customdata": custom,
                "hovertemplate": (
                    f"<b>%{{x}}</b><br>{mode}: %{{y:.4g}} ms per call<br>"
                    "speedup over eager %{customdata[0]:.2f}×"
                    + ("<br>compiled in %{customdata[1]:.1f} s" if mode == "compile" else "")
                    + "<extra></extra>"
                ),
                "meta": {"mode": mode},
            }
        )
    layout = {
        "barmode": "group",
        "height": 420,
        "xaxis": axis_style(tickangle=-20, automargin=True),
        "yaxis": axis_style(title={"text": "time per call (ms)"}, **bar_axis(*times)),
        "legend": {"title": {"text": "mode"}},
        "margin": {"l": 80, "r": 30, "t": 30, "b": 120},
    }
    return figure(data, layout)


def varying_modes(results: pd.DataFrame) -> bool:
    """Whether any case of ``results`` ran in more than one mode."""
    return "mode" in results.columns and bool(varying(results, ["mode"]))
