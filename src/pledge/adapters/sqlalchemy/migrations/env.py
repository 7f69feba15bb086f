"""Alembic environment: runs on the connection Pledge hands it (see schema.py)."""

from __future__ import annotations

from alembic import context

import pledge.adapters.sqlalchemy.api_tables  # noqa: F401 - registers the API tables on the metadata
from pledge.adapters.sqlalchemy.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - Pledge always passes its connection
    raise RuntimeError("run migrations through `pledge init`")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
