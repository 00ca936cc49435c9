"""Runs remember how they were planned, so that `bench run --resume` can plan them again.

Revision ID: 0002
Revises: 0001
Create Date: 2025-02-01

``suite_source``: the suite as `bench run` loaded it (a built-in name or an absolute
path); ``plan``: the options that chose the cases ({"device": ..., "filters": [...]}).
Both are null for runs made before this revision and for imported runs: those cannot be
resumed. Hand-written to match results.models (a test compares the two).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Adding nullable columns needs no table copy, on SQLite (batch mode) or elsewhere.
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("suite_source", sa.Text(), nullable=True))
        batch.add_column(sa.Column("plan", sa.JSON(), nullable=True))


def downgrade() -> None:
    # Not batch mode: on SQLite that copies and drops `runs`, and dropping it with foreign
    # keys on would cascade-delete every result. SQLite >= 3.35 drops plain columns itself.
    op.drop_column("runs", "plan")
    op.drop_column("runs", "suite_source")
