"""The sections of a run or group page: speedup, roofline, batch size, networks, memory, modes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reports import html as h
from reports.cols import Cols
from reports.figures import (
    batch_scaling_spec,
    headline_pairs,
    scaling_workloads,
    speedup_vs_theory_spec,
)
from reports.figures_memory import counts, memory_rows, memory_spec
from reports.figures_modes import mode_rows, modes_spec
from reports.figures_networks import networks_spec, reference_point
from reports.figures_roofline import peak_for, points_above_roof, roofline_spec
from reports.tables import (
    memory_table,
    network_memory_table,
    networks_table,
    speedup_summary,
)

_SPEEDUP_INTRO = (
    "Each point is a pair of cases that are identical in every parameter except the "
    "convolution, with the same normalisation and activations on both sides: a bare "
    "standard conv against a bare depthwise-separable one (round markers), or conv → BN → "
    "ReLU against the MobileNet v1 block (square markers); each line has its own colour and "
    "dash. Theory (Howard et al. 2017, MobileNets, "
    "section 3.1): cost(separable) / cost(standard) = 1/C_out + 1/k², about 1/9, i.e. a "
    "speedup of k²·C_out / (C_out + k²), 9× in the limit. Efficiency is the measured "
    "speedup divided by the theoretical one (MACs from the cost model). Error bars are 95% "
    "intervals of the time ratio (from the rounds when there are several); hollow markers "
    "are pairs with a noisy or contended side. The buttons switch between the time ratio "
    "and the speedup; the dash-dot line is break-even."
)


def speedup_section(pairs: Cols, nothing: str) -> str:
    p = headline_pairs(pairs)
    if nothing:
        body = h.message(nothing)
    elif len(p) == 0:
        body = h.message(
            "No conv ↔ separable pair here, so there is no speedup to set against the theory. "
            "The figure needs cases that differ only in the convolution (conv and separable, "
            "or conv_block and separable_block, with the same channels, batch, device and "
            "dtype), both timed successfully."
        )
    else:
        body = speedup_summary(p) + h.figure_block(speedup_vs_theory_spec(p), "fig-speedup")
    return h.section("speedup", "Speedup vs theory", body, intro=_SPEEDUP_INTRO)


def roofline_section(pts: Cols, peaks: Mapping[str, Any] | None, nothing: str) -> str:
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
        above = {d: n for d, n in sorted(points_above_roof(pts, peaks).items()) if n}
        if above:
            warn += h.message(
                "Points above the measured roof: "
                + ", ".join(f"{n} on {d}" for d, n in above.items())
                + ". No case can beat the device's real peak: either that roof was "
                "under-measured (the peak matmul did not reach the best kernel), or the "
                "convolution did fewer multiplications than the direct method the MACs count "
                "(Winograd or FFT algorithms do). They are ringed in black.",
                kind="warn",
            )
        body = warn + h.figure_block(roofline_spec(pts, peaks), "fig-roofline")
    return h.section("roofline", "Roofline", body, intro=intro)


def scaling_section(ok: Cols, nothing: str) -> str:
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


def networks_section(ok: Cols, pairs: Cols, rows: Cols, nothing: str) -> str:
    intro = (
        "MobileNet v1 against Conv MobileNet (v1 with every separable block replaced by a "
        "standard 3x3 conv) and MobileNet v2: images per second, MACs and parameters, and "
        "the measured time ratio of v1 to Conv MobileNet against the ratio of their MACs. "
        "The first table sets the three side by side in memory too (Sandler et al. 2018, "
        "MobileNetV2, section 5.1 and table 3): their weights, their activation memory as "
        "the cost model counts it, eager (the largest set of tensors alive at one layer, "
        "input and output) and efficient (an inverted residual streams its expanded tensor, "
        "so only its thin bottleneck tensors are materialised), and the peak one call "
        "allocated, measured. The efficient figure is the paper's argument: v2 needs less "
        "than v1. Eager PyTorch materialises every expanded tensor, so the eager model ranks "
        "them the other way; the measured peak says which of the two this device followed."
    )
    if nothing:
        body = h.message(nothing)
    elif len(rows) == 0:
        body = h.message("This run timed no MobileNet.")
    else:
        spec = networks_spec(ok, pairs, rows=rows)
        alpha, resolution = reference_point(rows)
        body = (
            f"<h3>Memory at α = {alpha:g}, resolution {resolution:g}</h3>"
            + network_memory_table(rows, alpha, resolution)
            + h.figure_block(spec, "fig-networks")
            + networks_table(rows)
        )
    return h.section("networks", "Networks", body, intro=intro)


_MEMORY_INTRO = (
    "Each case's measured peak memory against the activation memory the cost model gives "
    "it, log-log; the dashed line is y = x. Measured: the bytes one call allocated above "
    "what was allocated before it, in an untimed pass after the sampling (CPU: c10's "
    "allocator events, exact for tensor storage, blind to the few kilobytes oneDNN and MKL "
    "allocate themselves; CUDA: the caching allocator's peak). The input is allocated "
    "before the call, so it is not in the measurement; the output and every transient are: "
    "oneDNN's reordered copies of input, weights and output, im2col columns, cuDNN "
    "workspaces. Modelled (eager): the largest set of activations alive at one layer, "
    "input included, weights excluded. A layer that only writes its output sits near "
    "half the model, one that also reorders its input and output near the model or above."
)


def memory_section(ok: Cols, nothing: str) -> str:
    if nothing:
        return h.section("memory", "Memory", h.message(nothing), intro=_MEMORY_INTRO)
    rows = memory_rows(ok)
    n_ok, measured, both = counts(rows)
    if not measured:
        body = h.message(
            "No peak memory was measured in this run: it was stored before bench measured "
            "peaks, or its devices' allocators keep no peak statistics (e.g. MPS)."
        )
    elif not both:
        body = h.message(
            f"{measured} of {n_ok} timed cases have a measured peak, but they are not "
            "modelled: this run's results carry no modelled activation memory, so there is "
            "nothing to set the measurements against. The table lists what was measured."
        ) + memory_table(ok)
    else:
        left = n_ok - both
        note = (
            h.message(
                f"{left} of {n_ok} timed cases are left out of the figure: no measured peak "
                "or no model (the table marks which).",
                kind="info",
            )
            if left
            else ""
        )
        body = (
            note
            + h.figure_block(memory_spec(ok), "fig-memory")
            + "<details><summary>every case</summary>"
            + memory_table(ok)
            + "</details>"
        )
    return h.section("memory", "Memory", body, intro=_MEMORY_INTRO)


def modes_section(ok: Cols) -> str:
    """Eager, torch.compile and CUDA graphs side by side, where a case ran in several."""
    rows = mode_rows(ok.frame()) if len(ok) else None
    if rows is None or rows.empty:
        return ""
    intro = (
        "The same case run eagerly, compiled with torch.compile, and captured once in a CUDA "
        "graph and replayed: time per call (log scale), speedup over eager in the hover. "
        "Compile time is paid once and kept apart from the samples (compile_s)."
    )
    return h.section(
        "modes", "Execution modes", h.figure_block(modes_spec(rows), "fig-modes"), intro=intro
    )
