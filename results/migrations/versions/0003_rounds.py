"""Rounds, contention and run-level state; peaks move out of the environment.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

runs: ``rounds`` (1 for older runs), ``seed`` (each round's case order), ``warnings``,
``system`` (state at start that changes from run to run), ``peaks`` (measured device
peaks, stored with the environment before; copied here so the environment of a machine is
stored once), ``host`` and ``pid`` (the runner, for --resume).
results: ``round_sizes`` / ``round_medians`` / ``round_spread`` (null for older rows: one
round), ``target``, ``contended`` and ``others_cpu``. Hand-written to match
results.models (a test compares the two).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RUN_COLUMNS = (
    sa.Column("rounds", sa.Integer(), server_default="1", nullable=False),
    sa.Column("seed", sa.BigInteger(), nullable=True),
    sa.Column("warnings", sa.JSON(), nullable=True),
    sa.Column("system", sa.JSON(), nullable=True),
    sa.Column("peaks", sa.JSON(), nullable=True),
    sa.Column("host", sa.String(length=255), nullable=True),
    sa.Column("pid", sa.Integer(), nullable=True),
)
_RESULT_COLUMNS = (
    sa.Column("round_sizes", sa.JSON(), nullable=True),
    sa.Column("round_medians", sa.JSON(), nullable=True),
    sa.Column("round_spread", sa.Double(), nullable=True),
    sa.Column("target", sa.Double(), nullable=True),
    sa.Column("contended", sa.Boolean(), nullable=True),
    sa.Column("others_cpu", sa.Double(), nullable=True),
)


def upgrade() -> None:
    # Adding columns needs no table copy, on SQLite (batch mode) or elsewhere.
    with op.batch_alter_table("runs") as batch:
        for column in _RUN_COLUMNS:
            batch.add_column(column)
    with op.batch_alter_table("results") as batch:
        for column in _RESULT_COLUMNS:
            batch.add_column(column)
    _copy_peaks()


def _copy_peaks() -> None:
    """runs.peaks from the environment each run points at, where it holds peaks."""
    conn = op.get_bind()
    envs = sa.table("environments", sa.column("id"), sa.column("data", sa.JSON()))
    runs = sa.table(
        "runs", sa.column("id"), sa.column("environment_id"), sa.column("peaks", sa.JSON())
    )
    for env_id, data in conn.execute(sa.select(envs.c.id, envs.c.data)):
        peaks = data.get("peaks") if isinstance(data, dict) else None
        if peaks:
            conn.execute(runs.update().where(runs.c.environment_id == env_id).values(peaks=peaks))


def downgrade() -> None:
    # Not batch mode (see 0002): SQLite >= 3.35 drops plain columns itself.
    for column in reversed(_RESULT_COLUMNS):
        op.drop_column("results", column.name)
    for column in reversed(_RUN_COLUMNS):
        op.drop_column("runs", column.name)
