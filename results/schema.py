"""The columns and dtypes of the frames that `results.frames` returns.

Apart from the frames themselves (no SQLAlchemy here), so that `reports` and tests that
build frames by hand share the one definition of the contract.
"""

from __future__ import annotations

from typing import Any

_TS = "datetime64[us, UTC]"

RUN_COLUMNS: dict[str, Any] = {
    "run_id": "int64",
    "uid": "string",
    "suite": "string",
    "label": "string",
    "status": "string",  # as stored
    "shown_status": "string",  # the status, or "stale" for a running run gone silent
    "started_at": _TS,
    "finished_at": _TS,
    "heartbeat_at": _TS,
    "duration_s": "float64",
    "commit": "string",
    "fingerprint": "string",
    "group": "string",
    "shard": "string",
    "planned": "Int64",
    "n_ok": "int64",
    "n_failed": "int64",
    "n_skipped": "int64",
    "torch_version": "string",
    "cpu_model": "string",
    "gpu_name": "string",
    "rounds": "int64",
    "warnings": "object",  # list of strings: what may have disturbed the run
    "peaks": "object",  # {device: measured peaks} or None
    "environment": "object",
}

RESULT_COLUMNS: dict[str, Any] = {
    "result_id": "int64",
    "run_id": "int64",
    "uid": "string",
    "suite": "string",
    "label": "string",
    "run_started_at": _TS,
    "fingerprint": "string",
    "case_key": "string",
    "case_id": "string",
    "workload": "string",
    "status": "string",
    "error": "string",
    "macs": "Int64",
    "parameters": "Int64",
    "bytes": "Int64",
    "activation_bytes": "Int64",  # cost model: largest live activations in eager mode
    "activation_bytes_efficient": "Int64",  # the MobileNetV2 paper's accounting (5.1)
    "weight_bytes": "Int64",
    "median": "float64",
    "q1": "float64",
    "q3": "float64",
    "iqr": "float64",
    "mean": "float64",
    "stdev": "float64",
    "min": "float64",
    "max": "float64",
    "n_samples": "int64",
    "calls_per_sample": "int64",
    "target_met": "boolean",
    "noisy": "boolean",
    "rounds": "int64",
    "round_medians": "object",  # list of floats, one per round (seconds per call)
    "round_spread": "float64",  # half the range of the round medians / median
    "contended": "boolean",
    "others_cpu": "float64",
    "peak_memory": "Int64",  # bytes one call allocates above the baseline (untimed pass)
    "compile_s": "float64",  # mode = compile: torch.compile's time
    "math_mode": "string",  # the roof that applies: float32, float32+tf32, float16, ...
    "started_at": _TS,
    "duration_s": "float64",
}

# results.frames.trend_frame: the points of the trends pages, one per ok result
TREND_COLUMNS: dict[str, Any] = {
    "run_id": "int64",
    "case_key": "category",  # a few hundred keys over 250,000 rows: codes, not strings
    "median": "float64",
    "q1": "float64",
    "q3": "float64",
}

# results.frames.case_frame: one row per case (then one column per parameter)
CASE_COLUMNS: dict[str, Any] = {
    "case_key": "string",
    "case_id": "string",
    "workload": "string",
}

# Parameter columns in DESIGN.md 3's order; any others follow alphabetically.
PARAM_ORDER = (
    "batch",
    "channels",
    "channels_out",
    "size",
    "kernel",
    "stride",
    "expand",
    "alpha",
    "resolution",
    "classes",
    "conv",
    "device",
    "dtype",
    "memory_format",
    "threads",
    "cudnn_benchmark",
    "mode",
)
