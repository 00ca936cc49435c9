"""Synthetic ``runs`` and ``results`` frames shaped like those of ``results.frames``.

Realistic enough for reports and their tests: several runs of a nightly suite over two
devices (cpu float32, cuda float16), conv / separable / depthwise / pointwise over
channels 32..512 at batch 1 and 8, a separable_block, an inverted_residual, MobileNet v1,
Conv MobileNet and v2 over α and resolution, failed and skipped rows, and the devices'
measured peaks in the environment. Timings follow a small roofline model, so depthwise
convolution comes out memory-bound and the separable speedup falls short of theory.

``make_frames()`` makes 100 results per run (``n_runs=100`` gives 10,000 results).
No torch, no harness: only numpy and pandas. ``store_nights()`` writes a history of the
`nightly` suite into a result store instead (its cases from ``nightly_cases()``, which
imports harness's suite expansion and cost model: still no torch).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from results.schema import _TS, PARAM_ORDER, RESULT_COLUMNS, RUN_COLUMNS

CHANNELS = (32, 64, 128, 256, 512)
BATCHES = (1, 8)
DEVICES = {"cpu": "float32", "cuda": "float16"}
DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}
# shaped like harness.peaks.measure_peaks: float32 matmul peak, per-dtype peaks, a copy
PEAKS = {
    "cpu": {
        "macs_per_s": 2.0e11,
        "macs_per_s_by_dtype": {"float32": 2.0e11},
        "bytes_per_s": 4.0e10,
        "method": "synthetic",
    },
    "cuda": {
        "macs_per_s": 2.5e13,
        "macs_per_s_by_dtype": {"float32": 2.5e13, "float16": 4.0e14},
        "bytes_per_s": 3.0e12,
        "method": "synthetic",
    },
}
OVERHEAD_S = {"cpu": 4e-6, "cuda": 9e-6}
# fraction of peak compute / bandwidth each kind of kernel reaches
EFFICIENCY = {"conv": (0.55, 0.6), "pointwise": (0.5, 0.6), "depthwise": (0.05, 0.55)}

GEOMETRY_DEFAULTS = {"size": 56, "kernel": 3, "stride": 1}
COMMON_DEFAULTS = {
    "memory_format": "contiguous",
    "threads": None,
    "cudnn_benchmark": True,
}
NETWORK_MACS = {  # per image at alpha 1, resolution 224
    ("mobilenet_v1", "separable"): 569e6,
    ("mobilenet_v1", "standard"): 4866e6,
    ("mobilenet_v2", None): 300e6,
}
NETWORK_PARAMS = {
    ("mobilenet_v1", "separable"): 4_231_976,
    ("mobilenet_v1", "standard"): 29_300_000,
    ("mobilenet_v2", None): 3_504_872,
}
NETWORK_LAYERS = {"mobilenet_v1": 28, "mobilenet_v2": 53}


def case_list() -> list[tuple[str, dict[str, Any]]]:
    """The 100 cases of one synthetic nightly run: (workload, full params)."""
    cases: list[tuple[str, dict[str, Any]]] = []
    for device, dtype in DEVICES.items():
        for workload in ("conv", "separable", "depthwise", "pointwise"):
            for channels in CHANNELS:
                for batch in BATCHES:
                    cases.append((workload, _geometry(channels, batch, device, dtype)))
    for channels in (64, 256):
        cases.append(("separable_block", _geometry(channels, 8, "cuda", "float16")))
    cases.append(("conv_block", _geometry(64, 8, "cuda", "float16")))  # one block pair
    cases.append(("inverted_residual", {**_geometry(64, 8, "cuda", "float16"), "expand": 6}))
    sweeps = [(1.0, 224), (0.75, 224), (0.5, 224), (1.0, 192), (1.0, 160)]
    for workload, conv in (
        ("mobilenet_v1", "separable"),
        ("mobilenet_v1", "standard"),
        ("mobilenet_v2", None),
    ):
        for alpha, resolution in sweeps:
            params = {
                "alpha": alpha,
                "resolution": resolution,
                "classes": 1000,
                "batch": 1,
                "device": "cuda",
                "dtype": "float16",
                **COMMON_DEFAULTS,
            }
            if conv is not None:
                params["conv"] = conv
            cases.append((workload, params))
    cases.append(
        (
            "mobilenet_v1",
            {
                "alpha": 1.0,
                "resolution": 224,
                "classes": 1000,
                "conv": "separable",
                "batch": 1,
                "device": "cpu",
                "dtype": "float32",
                **COMMON_DEFAULTS,
            },
        )
    )
    assert len(cases) == 100, len(cases)
    return cases


def make_frames(
    n_runs: int = 4,
    *,
    suites: tuple[str, ...] = ("nightly",),
    seed: int = 0,
    start: datetime | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, results) for ``n_runs`` runs, cycling through ``suites``.

    Run 0 is a laptop without a GPU (its cuda cases are skipped); every third run has a
    failed case whose error message contains HTML; run 2 has no peaks in its environment;
    run 1 (when there are at least three runs) was interrupted.
    """
    rng = np.random.default_rng(seed)
    start = start or datetime(2025, 1, 1, 2, 0, tzinfo=UTC)
    cases = case_list()
    runs: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    result_id = 0
    for i in range(n_runs):
        run_id = i + 1
        uid = hashlib.md5(f"run-{seed}-{i}".encode()).hexdigest()
        suite = suites[i % len(suites)]
        laptop = i == 0 and n_runs > 1
        started = start + timedelta(days=i, minutes=int(rng.integers(0, 30)))
        drift = float(rng.normal(1.0, 0.02))
        env: dict[str, Any] = {"python": "3.11.9", "hostname": "laptop" if laptop else "h100-01"}
        peaks = None
        if i != 2:
            peaks = {"cpu": PEAKS["cpu"]} if laptop else dict(PEAKS)
        counts = {"ok": 0, "failed": 0, "skipped": 0}
        t = started
        for workload, params in cases:
            result_id += 1
            status, error = "ok", None
            if laptop and params["device"] == "cuda":
                status, error = "skipped", "device cuda is not available on this machine"
            elif i % 3 == 1 and workload == "conv" and _big_cuda(params):
                status = "failed"
                error = "RuntimeError: CUDA out of memory. Tried to allocate <2.00 GiB> & more"
            macs, n_params, n_bytes = cost(workload, params)
            row: dict[str, Any] = {
                "result_id": result_id,
                "run_id": run_id,
                "uid": uid,
                "suite": suite,
                "label": None,
                "run_started_at": started,
                "fingerprint": "laptop-fp" if laptop else "h100-fp",
                "case_key": case_key(workload, params),
                "case_id": case_id(workload, params),
                "workload": workload,
                "status": status,
                "error": error,
                "macs": macs,
                "parameters": n_params,
                "bytes": n_bytes,
            }
            row.update(_timing(workload, params, status, drift, i, n_runs, rng))
            row["rounds"] = 1
            row["round_medians"] = [row["median"]] if status == "ok" else None
            row["contended"] = False if status == "ok" else None
            duration = 0.5 + float(rng.random()) if status == "ok" else 0.01
            row["started_at"] = t
            row["duration_s"] = duration
            t += timedelta(seconds=duration)
            row.update(params)
            results.append(row)
            counts[status] += 1
        interrupted = i == 1 and n_runs >= 3
        runs.append(
            {
                "run_id": run_id,
                "uid": uid,
                "suite": suite,
                "label": "baseline" if i == 0 else None,
                "status": "interrupted" if interrupted else "finished",
                "started_at": started,
                "finished_at": pd.NaT if interrupted else t,
                "duration_s": np.nan if interrupted else (t - started).total_seconds(),
                "commit": hashlib.sha1(f"c{i}".encode()).hexdigest(),
                "fingerprint": "laptop-fp" if laptop else "h100-fp",
                "group": None,
                "shard": None,
                "planned": len(cases),
                "n_ok": counts["ok"],
                "n_failed": counts["failed"],
                "n_skipped": counts["skipped"],
                "torch_version": "2.5.1",
                "cpu_model": "AMD EPYC 7R13 Processor",
                "gpu_name": None if laptop else "NVIDIA H100 80GB HBM3",
                "rounds": 1,
                "warnings": [],
                "peaks": peaks,
                "environment": env,
            }
        )
    return typed_runs(pd.DataFrame(runs)), typed_results(pd.DataFrame(results))


# The dtypes of results.frames: pandas' nullable "string", "Int64" and "boolean", UTC
# timestamps, and convert_dtypes() on the parameter columns.
RUN_DTYPES = RUN_COLUMNS
RESULT_DTYPES = RESULT_COLUMNS


def typed_runs(frame: pd.DataFrame) -> pd.DataFrame:
    return _typed(frame, RUN_DTYPES)


def typed_results(frame: pd.DataFrame) -> pd.DataFrame:
    frame = _typed(frame, RESULT_DTYPES)
    params = [c for c in frame.columns if c not in RESULT_DTYPES]
    if params:
        frame[params] = frame[params].convert_dtypes()
    return frame


# Columns a hand-made row may leave out, and what results.frames gives for a plain run.
_DEFAULTS: dict[str, Any] = {"rounds": 1}


def _typed(frame: pd.DataFrame, dtypes: dict[str, str]) -> pd.DataFrame:
    frame = frame.copy()
    for c, dtype in dtypes.items():
        if c not in frame.columns:
            frame[c] = _DEFAULTS.get(c)
        if dtype == _TS:
            frame[c] = pd.to_datetime(frame[c], utc=True).astype(_TS)
        elif dtype != "object":
            frame[c] = frame[c].astype(dtype)
    return frame


def empty_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Frames of an empty database: the right columns, no rows."""
    runs, results = make_frames(1)
    return runs.iloc[0:0].copy(), results.iloc[0:0].copy()


def _big_cuda(params: dict[str, Any]) -> bool:
    return params.get("channels") == 512 and params["batch"] == 8 and params["device"] == "cuda"


def _geometry(channels: int, batch: int, device: str, dtype: str) -> dict[str, Any]:
    return {
        "channels": channels,
        "channels_out": channels,
        **GEOMETRY_DEFAULTS,
        "batch": batch,
        "device": device,
        "dtype": dtype,
        **COMMON_DEFAULTS,
    }


def cost(workload: str, p: dict[str, Any]) -> tuple[int, int, int]:
    """(MACs, parameters, minimum bytes) of one call, the whole batch included."""
    db = DTYPE_BYTES[p["dtype"]]
    b = p["batch"]
    if workload.startswith("mobilenet"):
        key = (workload, p.get("conv"))
        scale = p["alpha"] ** 2 * (p["resolution"] / 224) ** 2
        macs = int(NETWORK_MACS[key] * scale * b)
        n_params = int(NETWORK_PARAMS[key] * p["alpha"] ** 2)
        return macs, n_params, int(db * (n_params + b * 3 * p["resolution"] ** 2))
    c, co, s, k = p["channels"], p["channels_out"], p["size"], p["kernel"]
    hw = (s // p["stride"]) ** 2
    parts = {
        "conv": [(k * k * c * co * hw, k * k * c * co, c * s * s + co * hw)],
        "depthwise": [(k * k * c * hw, k * k * c, c * s * s + c * hw)],
        "pointwise": [(c * co * hw, c * co, c * s * s + co * hw)],
    }
    parts["separable"] = parts["depthwise"] + [(c * co * hw, c * co, c * hw + co * hw)]
    parts["separable_block"] = parts["separable"]
    parts["conv_block"] = parts["conv"]
    e = c * p.get("expand", 6)
    parts["inverted_residual"] = [
        (c * e * s * s, c * e, c * s * s + e * s * s),
        (k * k * e * hw, k * k * e, e * s * s + e * hw),
        (e * c * hw, e * c, e * hw + c * hw),
    ]
    macs = sum(m for m, _, _ in parts[workload]) * b
    n_params = sum(q for _, q, _ in parts[workload])
    if workload in ("separable_block", "inverted_residual"):
        n_params += 4 * co
    if workload == "conv_block":
        n_params += 2 * co
    n_bytes = db * sum(q + b * a for _, q, a in parts[workload])
    return macs, n_params, n_bytes


def _model_time(workload: str, p: dict[str, Any]) -> float:
    device = p["device"]
    peak = {**PEAKS[device]}
    peak["macs_per_s"] = peak["macs_per_s_by_dtype"].get(p["dtype"], peak["macs_per_s"])
    if workload.startswith("mobilenet"):
        macs, _, n_bytes = cost(workload, p)
        layers = NETWORK_LAYERS[workload] * (2 if p.get("conv") == "standard" else 1)
        return layers * OVERHEAD_S[device] + macs / (peak["macs_per_s"] * 0.3)
    if workload in ("separable", "separable_block"):
        t = _model_time("depthwise", p) + _model_time("pointwise", p)
        return t * (1.15 if workload == "separable_block" else 1.0)
    if workload == "conv_block":
        return _model_time("conv", p) * 1.05
    if workload == "inverted_residual":
        e = p["channels"] * p.get("expand", 6)
        return (
            _model_time("pointwise", {**p, "channels_out": e})
            + _model_time("depthwise", {**p, "channels": e, "channels_out": e})
            + _model_time("pointwise", {**p, "channels": e, "channels_out": p["channels"]})
        )
    macs, _, n_bytes = cost(workload, p)
    eff_c, eff_b = EFFICIENCY[workload]
    compute = macs / (peak["macs_per_s"] * eff_c)
    memory = n_bytes / (peak["bytes_per_s"] * eff_b)
    return OVERHEAD_S[device] + max(compute, memory)


def _timing(
    workload: str,
    p: dict[str, Any],
    status: str,
    drift: float,
    run_index: int,
    n_runs: int,
    rng: np.random.Generator,
) -> dict[str, Any]:
    nan = float("nan")
    if status != "ok":
        return {
            **dict.fromkeys(("median", "q1", "q3", "iqr", "mean", "stdev", "min", "max"), nan),
            "n_samples": 0,
            "calls_per_sample": 0,
            "target_met": None,
            "noisy": False,
        }
    median = _model_time(workload, p) * drift * float(rng.lognormal(0.0, 0.03))
    # a regression in the last two runs, for the trends page
    if workload == "depthwise" and p.get("channels") == 256 and run_index >= n_runs - 2 > 1:
        median *= 1.3
    rel = float(rng.uniform(0.005, 0.04)) if rng.random() > 0.05 else float(rng.uniform(0.11, 0.2))
    q1, q3 = median * (1 - rel / 2), median * (1 + rel / 2)
    n = int(rng.integers(10, 60))
    return {
        "median": median,
        "q1": q1,
        "q3": q3,
        "iqr": q3 - q1,
        "mean": median * (1 + rel / 10),
        "stdev": median * rel * 0.7,
        "min": median * (1 - rel),
        "max": median * (1 + 2 * rel),
        "n_samples": n,
        "calls_per_sample": max(1, int(1e-3 / median)),
        "target_met": rel <= 0.05,
        "noisy": rel > 0.10,
    }


def case_key(workload: str, params: dict[str, Any]) -> str:
    ident = json.dumps({"workload": workload, "params": params}, sort_keys=True)
    return hashlib.sha256(ident.encode()).hexdigest()[:16]


def case_id(workload: str, params: dict[str, Any]) -> str:
    shown = [
        k
        for k in ("channels", "alpha", "resolution", "conv", "batch", "device", "dtype")
        if k in params and params[k] is not None
    ]
    return f"{workload}[" + ",".join(f"{k}={params[k]}" for k in shown) + "]"


def result(
    workload: str,
    *,
    run_id: int = 1,
    status: str = "ok",
    median: float | None = 1e-3,
    macs: int | None = None,
    error: str | None = None,
    **params: Any,
) -> dict[str, Any]:
    """One hand-made results row: geometry workloads get the default geometry and the
    cost model's MACs unless given; ``median`` None means no timing."""
    if workload.startswith("mobilenet"):
        full = {
            "alpha": 1.0,
            "resolution": 224,
            "classes": 1000,
            "batch": 1,
            "device": "cuda",
            "dtype": "float16",
            **COMMON_DEFAULTS,
        }
        if workload == "mobilenet_v1":
            full["conv"] = "separable"
    else:
        full = _geometry(64, 1, "cpu", "float32")
    full.update(params)
    if "channels" in params and "channels_out" not in params and "channels" in full:
        full["channels_out"] = params["channels"]
    cost_macs, n_params, n_bytes = cost(workload, full)
    ok = status == "ok" and median is not None
    m = float(median) if ok else float("nan")
    return {
        "result_id": None,
        "run_id": run_id,
        "uid": _uid(run_id),
        "suite": "hand",
        "label": None,
        "run_started_at": datetime(2025, 1, run_id, tzinfo=UTC),
        "fingerprint": "fp",
        "case_key": case_key(workload, full),
        "case_id": case_id(workload, full),
        "workload": workload,
        "status": status,
        "error": error,
        "macs": cost_macs if macs is None else macs,
        "parameters": n_params,
        "bytes": n_bytes,
        "median": m,
        "q1": m * 0.98,
        "q3": m * 1.02,
        "iqr": m * 0.04,
        "mean": m,
        "stdev": m * 0.01,
        "min": m * 0.95,
        "max": m * 1.1,
        "n_samples": 20 if ok else 0,
        "calls_per_sample": 1,
        "target_met": ok or None,
        "noisy": False,
        "started_at": datetime(2025, 1, run_id, tzinfo=UTC),
        "duration_s": 0.5,
        **full,
    }


def _uid(run_id: int) -> str:
    return hashlib.md5(f"hand-{run_id}".encode()).hexdigest()


def results_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A results frame from ``result`` rows, with every parameter column present, in the
    dtypes of results.frames."""
    frame = pd.DataFrame(rows)
    for c in PARAM_ORDER:
        if c not in frame.columns:
            frame[c] = None
    frame["result_id"] = range(1, len(frame) + 1)
    return typed_results(frame)


def runs_for(results: pd.DataFrame, **overrides: Any) -> pd.DataFrame:
    """A runs frame with one finished run per run_id in ``results``."""
    rows = []
    for run_id, g in results.groupby("run_id"):
        counts = g["status"].value_counts()
        rows.append(
            {
                "run_id": int(run_id),
                "uid": _uid(int(run_id)),
                "suite": "hand",
                "label": None,
                "status": "finished",
                "started_at": datetime(2025, 1, int(run_id), tzinfo=UTC),
                "finished_at": datetime(2025, 1, int(run_id), 1, tzinfo=UTC),
                "duration_s": 3600.0,
                "commit": "abc",
                "fingerprint": "fp",
                "group": None,
                "shard": None,
                "planned": len(g),
                "n_ok": int(counts.get("ok", 0)),
                "n_failed": int(counts.get("failed", 0)),
                "n_skipped": int(counts.get("skipped", 0)),
                "torch_version": "2.5.1",
                "cpu_model": "cpu",
                "gpu_name": None,
                "environment": {},
                **overrides,
            }
        )
    return typed_runs(pd.DataFrame(rows))


# A cpu roof measured far too low (the 42.3 GMAC/s): conv at 64 channels beats it.
UNDER_MEASURED_PEAKS = {
    "cpu": {**PEAKS["cpu"], "macs_per_s": 4.23e10, "macs_per_s_by_dtype": {"float32": 4.23e10}},
    "cuda": PEAKS["cuda"],
}


def edge_frames(
    first_run_id: int = 21, *, first_result_id: int = 100_001, suite: str = "edge"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, results) of two runs that put the figures' edge cases on a page; the ids
    start at the given ones, so the frames concatenate with those of ``make_frames``.

    Run ``first_run_id``: conv ↔ separable at one channel count (64), batch 1, on cpu
    float32 in two memory formats (two series of one facet) and on cuda float16 with no
    IQR (interval unknown); one pair noisy, one contended; the cpu roof under-measured
    (``UNDER_MEASURED_PEAKS``), so points lie above it; MobileNet v1, Conv MobileNet and v2
    at α = 1 and two resolutions (no α sweep). Run ``first_run_id + 1``: MobileNets at one
    α and one resolution only (no sweep, no pair) and no conv pair at all.
    """
    a, b = first_run_id, first_run_id + 1
    rows = []
    for fmt, std, sep in (("contiguous", 1.25e-3, 0.5e-3), ("channels_last", 1.4e-3, 0.7e-3)):
        rows += [
            result("conv", run_id=a, channels=64, memory_format=fmt, median=std),
            result("separable", run_id=a, channels=64, memory_format=fmt, median=sep),
        ]
    cuda = {"run_id": a, "channels": 64, "device": "cuda", "dtype": "float16"}
    rows += [result("conv", median=2e-5, **cuda), result("separable", median=1.5e-5, **cuda)]
    for resolution in (224, 160):
        rows += [
            result("mobilenet_v1", run_id=a, resolution=resolution, median=2e-3),
            result("mobilenet_v1", run_id=a, resolution=resolution, conv="standard", median=5e-3),
            result("mobilenet_v2", run_id=a, resolution=resolution, median=2.5e-3),
        ]
    rows += [
        result("mobilenet_v1", run_id=b, median=2e-3),
        result("mobilenet_v2", run_id=b, median=2.5e-3),
        result("depthwise", run_id=b, median=1e-4),
    ]
    results = results_frame(rows)
    results["result_id"] += first_result_id - 1
    results["suite"] = suite
    # the channels_last pair is noisy (its conv side), the cuda pair contended and without IQR
    noisy = (results["workload"] == "conv") & (results["memory_format"] == "channels_last")
    cuda_pair = results["workload"].isin(["conv", "separable"]) & (results["device"] == "cuda")
    results.loc[noisy, "noisy"] = True
    results.loc[cuda_pair, "contended"] = True
    results.loc[cuda_pair, ["q1", "q3", "iqr"]] = np.nan
    runs = runs_for(results, suite=suite)
    runs["peaks"] = [UNDER_MEASURED_PEAKS if r == a else dict(PEAKS) for r in runs["run_id"]]
    return runs, results


# ---------------------------------------------------------------- a year in a store
#
# The nightly job's history as the store holds it, written through the store API: the
# `nightly` suite's 684 cases (harness's suite expansion and cost model, no torch), one
# run a night (or the night's shards as a group), raw samples included. Each night draws
# from its own seeded generator, so writing nights 0..364 and then night 365 gives the
# same database as writing 0..365 at once: an incremental report can be checked against
# a full one.

YEAR_START = datetime(2025, 1, 1, 2, 0, tzinfo=UTC)
YEAR_GPU = {  # an H100-like roof for the timing model
    "macs_per_s": {"float32": 2.5e13, "float16": 4.0e14, "bfloat16": 4.0e14},
    "bytes_per_s": 3.0e12,
    "overhead_s": 6e-6,
}
YEAR_ENVIRONMENT = {
    "python": "3.11.9",
    "hostname": "h100-01",
    "torch": "2.5.1",
    "gpu_name": "NVIDIA H100 80GB HBM3",
    "cpu_model": "AMD EPYC 7R13 Processor",
}


@dataclass(frozen=True)
class YearCase:
    """One case of the synthetic nightly: identity, cost and its typical time per call."""

    key: str
    id: str
    workload: str
    params: dict[str, Any]
    macs: int
    parameters: int
    bytes: int
    seconds: float


def nightly_cases(suite: str = "nightly") -> list[YearCase]:
    """The cases of a built-in suite with their costs and a roofline time per call."""
    from harness.costmodel import cost as model_cost  # no torch: suite expansion and costs
    from harness.suites import load_suite

    out = []
    for case in load_suite(suite).cases:
        c = model_cost(case.workload, case.params)
        peak = YEAR_GPU["macs_per_s"][case.params["dtype"]]
        compute = c.macs / (peak * (0.05 if case.workload == "depthwise" else 0.5))
        seconds = YEAR_GPU["overhead_s"] + max(compute, c.bytes / (YEAR_GPU["bytes_per_s"] * 0.6))
        identity = (case.key, case.id, case.workload, case.params)
        out.append(YearCase(*identity, c.macs, c.parameters, c.bytes, seconds))
    return out


def year_steps(n_cases: int, year: int, seed: int = 0) -> dict[int, list[tuple[int, float]]]:
    """Level changes: case index -> [(first night at the new level, factor)]. Six cases get
    30% slower two nights before the end of a ``year``-night history (what the regression
    check flags, with its change point), four 20% faster at 55% of it, three 20% slower at
    a quarter of it."""
    rng = np.random.default_rng([seed, 1_000_003])
    picked = rng.choice(n_cases, size=min(13, n_cases), replace=False).tolist()
    plan = [(year - 2, 1.3)] * 6 + [(int(year * 0.55), 0.8)] * 4 + [(year // 4, 1.2)] * 3
    return {int(i): [step] for i, step in zip(picked, plan, strict=False)}


def store_nights(
    store: Any,
    cases: list[YearCase],
    nights: range,
    *,
    year: int = 365,
    seed: int = 0,
    samples: int = 30,
    shards: int = 1,
    suite: str = "nightly",
    label: str = "nightly",
    finished: bool = True,
) -> list[int]:
    """Write ``nights`` (indices into the history) of ``cases`` into ``store``; the ids of
    the runs written. ``shards`` > 1: each night is that many runs sharing a group (cases
    dealt round-robin). ``finished`` False: the runs stay running (a nightly in progress).
    ``year`` places the level changes of ``year_steps``."""
    from results.records import CaseStatus, ResultRecord, RunRecord, RunStatus

    steps = year_steps(len(cases), year, seed)
    base = np.array([c.seconds for c in cases])
    run_ids = []
    for night in nights:
        rng = np.random.default_rng([seed, night])
        started = YEAR_START + timedelta(days=night, minutes=int(rng.integers(0, 30)))
        drift = float(rng.normal(1.0, 0.02))
        level = base * drift * rng.lognormal(0.0, 0.02, size=len(cases))
        for i, changes in steps.items():
            level[i] *= np.prod([f for first, f in changes if night >= first] or [1.0])
        draws = level[:, None] * rng.lognormal(0.0, 0.01, size=(len(cases), samples))
        failed = rng.random(len(cases)) < 0.001
        group = f"nightly-{started:%Y-%m-%d}" if shards > 1 else None
        for shard in range(shards):
            run = store.start_run(
                RunRecord(
                    suite=suite,
                    suite_digest="5" * 64,
                    environment=YEAR_ENVIRONMENT,
                    fingerprint="h100-fp",
                    started_at=started + timedelta(seconds=shard),
                    label=label,
                    commit=hashlib.sha1(f"c{night}".encode()).hexdigest(),
                    group=group,
                    shard=f"{shard + 1}/{shards}" if shards > 1 else None,
                    planned=len(range(shard, len(cases), shards)),
                    peaks={"cuda": PEAKS["cuda"]},
                )
            )
            t = started
            records = []
            for i in range(shard, len(cases), shards):
                c = cases[i]
                ok = not failed[i]
                records.append(
                    ResultRecord(
                        case_key=c.key,
                        case_id=c.id,
                        workload=c.workload,
                        params=c.params,
                        status=CaseStatus.OK if ok else CaseStatus.FAILED,
                        error=None if ok else "RuntimeError: CUDA error: an illegal memory access",
                        macs=c.macs,
                        parameters=c.parameters,
                        bytes=c.bytes,
                        samples=draws[i].tolist() if ok else [],
                        calls_per_sample=max(1, int(1e-3 / level[i])),
                        target_met=True,
                        started_at=t,
                        duration_s=0.4,
                        contended=False,
                    )
                )
                t += timedelta(seconds=0.4)
            store.add_results(run.id, records)
            if finished:
                store.finish_run(run.id, RunStatus.FINISHED, t)
            run_ids.append(run.id)
    return run_ids


# ---------------------------------------------------------------- memory columns

# Elements per image at α = 1, resolution 224 (the cost model's): activations eager and
# efficient (the v2 paper's section 5.1 accounting). Weights: the parameters.
NETWORK_ACTIVATIONS = {
    ("mobilenet_v1", "separable"): (1_605_632, 1_605_632),
    ("mobilenet_v1", "standard"): (1_605_632, 1_605_632),
    ("mobilenet_v2", None): (2_408_448, 802_816),
}
# Measured peak / eager model, as harness.memory measured them on CPU (torch 2.13): a
# bare layer allocates its output and oneDNN's reordered copies but not its input; the
# blocks' containers keep their input alive; Conv MobileNet holds reordered weights.
PEAK_OVER_MODEL = {
    "conv": 1.01,
    "depthwise": 1.0,
    "pointwise": 0.5,
    "separable": 1.0,
    "separable_block": 1.5,
    "conv_block": 1.01,
    "inverted_residual": 1.38,
    "mobilenet_v1": 1.5,
    "conv_mobilenet": 5.97,
    "mobilenet_v2": 1.21,
}


def with_memory(
    results: pd.DataFrame, *, measured: bool = True, modelled: bool = True, seed: int = 0
) -> pd.DataFrame:
    """``results`` with the memory columns of a run that measured peaks: the model's
    ``activation_bytes``, ``activation_bytes_efficient`` and ``weight_bytes`` (``modelled``)
    and ``peak_memory`` on the ok rows (``measured``: the model times ``PEAK_OVER_MODEL``,
    with 2% noise). Left out ones are missing, as in a run stored before they were."""
    rng = np.random.default_rng(seed)
    out = results.copy()
    model = [_memory_model(row) for row in out.to_dict("records")]
    eager = np.array([m[0] for m in model], dtype=float)
    na = pd.array([None] * len(out), dtype="Int64")
    for i, column in enumerate(("activation_bytes", "activation_bytes_efficient", "weight_bytes")):
        values = pd.array([int(m[i]) for m in model], dtype="Int64")
        out[column] = values if modelled else na
    ok = (out["status"] == "ok").fillna(False).to_numpy(dtype=bool)
    factor = np.array([PEAK_OVER_MODEL[_memory_kind(w, c)] for w, c in _kinds(out)])
    peak = eager * factor * rng.lognormal(0.0, 0.02, size=len(out))
    values = [int(p) if keep else None for p, keep in zip(peak, ok, strict=True)]
    out["peak_memory"] = pd.array(values, dtype="Int64") if measured else na
    return out


def _kinds(results: pd.DataFrame) -> list[tuple[str, Any]]:
    conv = results["conv"] if "conv" in results.columns else [None] * len(results)
    return list(zip(results["workload"], conv, strict=True))


def _memory_kind(workload: str, conv: Any) -> str:
    return "conv_mobilenet" if workload == "mobilenet_v1" and conv == "standard" else workload


def _memory_model(p: dict[str, Any]) -> tuple[int, int, int]:
    """(eager activations, efficient activations, weights) in bytes, per call."""
    db, b = DTYPE_BYTES[p["dtype"]], p["batch"]
    weights = db * int(p["parameters"])
    if p["workload"].startswith("mobilenet"):
        conv = None if p["workload"] == "mobilenet_v2" else (p.get("conv") or "separable")
        eager, efficient = NETWORK_ACTIVATIONS[(p["workload"], conv)]
        scale = p["alpha"] ** 2 * (p["resolution"] / 224) ** 2 * b * db
        return int(eager * scale), int(efficient * scale), weights
    c, co, s = p["channels"], p["channels_out"], p["size"]
    inputs, outputs = c * s * s, co * (s // p["stride"]) ** 2
    if p["workload"] == "inverted_residual":
        hidden = c * (p.get("expand") or 6) * s * s
        return b * db * (inputs + 2 * hidden), b * db * (inputs + outputs), weights
    return b * db * (inputs + outputs), b * db * (inputs + outputs), weights
