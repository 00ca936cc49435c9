"""Initial schema: environments, runs, results.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Hand-written to match results.models (a test compares the two).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)
_STATS = ("median", "q1", "q3", "mean", "stdev", "min", "max")


def upgrade() -> None:
    op.create_table(
        "environments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_environments"),
        sa.UniqueConstraint("digest", name="uq_environments_digest"),
    )
    op.create_index("ix_environments_fingerprint", "environments", ["fingerprint"])

    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(32), nullable=False),
        sa.Column("suite", sa.String(255), nullable=False),
        sa.Column("suite_digest", sa.String(64), nullable=False),
        sa.Column("label", sa.String(255), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=True),
        sa.Column("heartbeat_at", _TS, nullable=True),
        sa.Column("commit", sa.String(64), nullable=True),
        sa.Column("group", sa.String(255), nullable=True),
        sa.Column("shard", sa.String(32), nullable=True),
        sa.Column("planned", sa.Integer(), nullable=True),
        sa.Column("environment_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"], ["environments.id"], name="fk_runs_environment_id_environments"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
        sa.UniqueConstraint("uid", name="uq_runs_uid"),
    )
    op.create_index("ix_runs_label", "runs", ["label"])
    op.create_index("ix_runs_group", "runs", ["group"])

    op.create_table(
        "results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("case_key", sa.String(64), nullable=False),
        sa.Column("case_id", sa.Text(), nullable=False),
        sa.Column("workload", sa.String(64), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("macs", sa.BigInteger(), nullable=True),
        sa.Column("parameters", sa.BigInteger(), nullable=True),
        sa.Column("bytes", sa.BigInteger(), nullable=True),
        *(sa.Column(s, sa.Double(), nullable=True) for s in _STATS),
        sa.Column("n_samples", sa.Integer(), nullable=False),
        sa.Column("calls_per_sample", sa.Integer(), nullable=False),
        sa.Column("target_met", sa.Boolean(), nullable=True),
        sa.Column("noisy", sa.Boolean(), nullable=True),
        sa.Column("samples", sa.LargeBinary(), nullable=False),
        sa.Column("started_at", _TS, nullable=True),
        sa.Column("duration_s", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_results_run_id_runs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_results"),
    )
    op.create_index("ix_results_run_id", "results", ["run_id"])
    op.create_index("ix_results_case_key", "results", ["case_key"])


def downgrade() -> None:
    op.drop_table("results")
    op.drop_table("runs")
    op.drop_table("environments")
