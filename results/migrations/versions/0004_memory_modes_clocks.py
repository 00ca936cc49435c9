"""Per result: measured peak memory, compile time, GPU clock statistics, device facts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

results: ``peak_memory`` (bytes one call allocates above what was allocated before it,
measured in an untimed pass), ``compile_s`` (torch.compile's time, apart from the
samples), ``clocks`` (SM clock statistics over the sampling and how many samples were
dropped as throttled), ``device_facts`` (the facts of the case's own device: name, index,
capability, ...) with ``math_mode`` apart (which roof applies: float32+tf32 on Ampere+),
and the cost model's memory figures stored with the case like its MACs:
``activation_bytes`` (eager), ``activation_bytes_efficient`` (MobileNetV2 section 5.1)
and ``weight_bytes``. All null for older rows. Hand-written to match results.models.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    sa.Column("peak_memory", sa.BigInteger(), nullable=True),
    sa.Column("compile_s", sa.Double(), nullable=True),
    sa.Column("clocks", sa.JSON(), nullable=True),
    sa.Column("device_facts", sa.JSON(), nullable=True),
    sa.Column("math_mode", sa.String(length=32), nullable=True),
    sa.Column("activation_bytes", sa.BigInteger(), nullable=True),
    sa.Column("activation_bytes_efficient", sa.BigInteger(), nullable=True),
    sa.Column("weight_bytes", sa.BigInteger(), nullable=True),
)


def upgrade() -> None:
    with op.batch_alter_table("results") as batch:
        for column in _COLUMNS:
            batch.add_column(column)


def downgrade() -> None:
    for column in reversed(_COLUMNS):
        op.drop_column("results", column.name)
