"""Alembic environment of the result store.

Migrations run only from code (``results.store``), which passes its own connection in
``config.attributes["connection"]`` so that the upgrade shares the store's engine and
its SQLite settings; there is no alembic.ini and no offline (SQL script) mode.
"""

from __future__ import annotations

from alembic import context

from results.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("bench migrations run from results.store with a shared connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
