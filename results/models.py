"""SQLAlchemy 2.0 models of the result store (DESIGN.md 5).

Migrations in ``results/migrations`` create these tables; a test checks that a database
upgraded to head matches this metadata exactly, so change both together.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Deterministic constraint names: SQLite batch migrations can only alter what they can name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Float64Array(TypeDecorator[list[float]]):
    """Raw samples as little-endian float64 bytes: exact, compact and fast.

    JSON spent most of a bulk insert turning floats into text (10,000 results of 100
    samples: ~2 s of ~2.6 s); packing them is ~50x cheaper and loses no bit.
    """

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        return np.asarray(value, dtype="<f8").tobytes()

    def process_result_value(self, value: Any, dialect: Dialect) -> list[float] | None:
        if value is None:
            return None
        return np.frombuffer(value, dtype="<f8").tolist()


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on every backend.

    SQLite has no time zones: values are stored as naive UTC and get ``UTC`` back on read.
    A naive value on write is taken as local time (Python's ``astimezone`` convention).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[float]: Float64Array(),
    }


class Environment(Base):
    """A machine + software environment, stored once however many runs share it."""

    __tablename__ = "environments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of canonical JSON
    data: Mapped[dict[str, Any]]


class Run(Base):
    __tablename__ = "runs"
    # revision 0005: a suite's history (and one label's of it) in start order, for reports
    __table_args__ = (Index("ix_runs_suite_label_started_at", "suite", "label", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    suite: Mapped[str] = mapped_column(String(255))
    suite_digest: Mapped[str] = mapped_column(String(64))
    label: Mapped[str | None] = mapped_column(String(255), index=True)
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    commit: Mapped[str | None] = mapped_column(String(64))
    group: Mapped[str | None] = mapped_column(String(255), index=True)
    shard: Mapped[str | None] = mapped_column(String(32))
    planned: Mapped[int | None] = mapped_column(Integer)
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id"))
    # how the run was planned, for --resume (revision 0002); null: cannot be resumed
    suite_source: Mapped[str | None] = mapped_column(Text)  # built-in name or absolute path
    plan: Mapped[dict[str, Any] | None]  # {"device": str | None, "filters": [str, ...]}
    # revision 0003: rounds, what disturbed the run, peaks apart from the environment
    rounds: Mapped[int] = mapped_column(Integer, server_default="1")
    seed: Mapped[int | None] = mapped_column(BigInteger)  # shuffles each round's case order
    warnings: Mapped[list[str] | None] = mapped_column(JSON)
    system: Mapped[dict[str, Any] | None]  # state at start that changes per run (load average)
    peaks: Mapped[dict[str, Any] | None]  # measured device peaks (were in the environment)
    host: Mapped[str | None] = mapped_column(String(255))  # the runner's host and pid
    pid: Mapped[int | None] = mapped_column(Integer)


class Result(Base):
    """One case of one run. Statistics are derived from ``samples`` at insert time."""

    __tablename__ = "results"
    # revision 0005: one case of one run (it also serves run_id alone, which had its own)
    __table_args__ = (Index("ix_results_run_id_case_key", "run_id", "case_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    case_key: Mapped[str] = mapped_column(String(64), index=True)
    case_id: Mapped[str] = mapped_column(Text)
    workload: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    macs: Mapped[int | None] = mapped_column(BigInteger)
    parameters: Mapped[int | None] = mapped_column(BigInteger)
    bytes: Mapped[int | None] = mapped_column(BigInteger)
    median: Mapped[float | None] = mapped_column(Double)
    q1: Mapped[float | None] = mapped_column(Double)
    q3: Mapped[float | None] = mapped_column(Double)
    mean: Mapped[float | None] = mapped_column(Double)
    stdev: Mapped[float | None] = mapped_column(Double)
    min: Mapped[float | None] = mapped_column(Double)
    max: Mapped[float | None] = mapped_column(Double)
    n_samples: Mapped[int] = mapped_column(Integer)
    calls_per_sample: Mapped[int] = mapped_column(Integer)
    target_met: Mapped[bool | None]
    noisy: Mapped[bool | None]
    samples: Mapped[list[float]]  # seconds per call; the truth the statistics come from
    started_at: Mapped[datetime | None]
    duration_s: Mapped[float | None] = mapped_column(Double)
    # revision 0003: rounds (samples stay one list; round_sizes splits it) and contention
    round_sizes: Mapped[list[int] | None] = mapped_column(JSON)
    round_medians: Mapped[list[float] | None] = mapped_column(JSON)  # derived, for readers
    round_spread: Mapped[float | None] = mapped_column(Double)  # half-range / median
    target: Mapped[float | None] = mapped_column(Double)  # the precision it was timed for
    contended: Mapped[bool | None]
    others_cpu: Mapped[float | None] = mapped_column(Double)  # cores other processes used
    # revision 0004: memory, execution modes, clocks, the case's own device
    peak_memory: Mapped[int | None] = mapped_column(BigInteger)  # bytes above the baseline
    compile_s: Mapped[float | None] = mapped_column(Double)  # torch.compile, not in samples
    clocks: Mapped[dict[str, Any] | None]  # SM clock statistics, throttled samples dropped
    device_facts: Mapped[dict[str, Any] | None]  # name, index, capability of its device
    math_mode: Mapped[str | None] = mapped_column(String(32))  # e.g. float32+tf32: its roof
    activation_bytes: Mapped[int | None] = mapped_column(BigInteger)  # cost model: eager
    activation_bytes_efficient: Mapped[int | None] = mapped_column(BigInteger)  # v2 paper 5.1
    weight_bytes: Mapped[int | None] = mapped_column(BigInteger)
