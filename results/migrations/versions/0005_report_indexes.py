"""Indexes for reading a long history: a suite's runs in order, one run's cases.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

runs: ``(suite, label, started_at)``, what `bench report --suite/--label`, `bench
regressions` and the trends pages select and order by. results: ``(run_id, case_key)``,
one run's results and one case of a run (the store's round merges look rows up so);
it replaces the index on ``run_id`` alone, which is its prefix. ``case_key`` keeps its own
index (a case across runs). Hand-written to match results.models.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain CREATE/DROP INDEX: no table copy on SQLite (batch mode would rebuild results).
    op.create_index("ix_runs_suite_label_started_at", "runs", ["suite", "label", "started_at"])
    op.create_index("ix_results_run_id_case_key", "results", ["run_id", "case_key"])
    op.drop_index("ix_results_run_id", table_name="results")


def downgrade() -> None:
    op.create_index("ix_results_run_id", "results", ["run_id"])
    op.drop_index("ix_results_run_id_case_key", table_name="results")
    op.drop_index("ix_runs_suite_label_started_at", table_name="runs")
