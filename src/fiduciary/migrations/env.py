"""Alembic environment: the engine comes from the caller (storage.migrate) or FIDUCIARY_DATABASE_URL."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context

from fiduciary.config import get_settings
from fiduciary.migrations.metadata import metadata
from fiduciary.storage.base import UTCDateTime
from fiduciary.storage.engine import create_engine_for_url

config = context.config


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Render our UTC timestamp type as a plain timezone-aware DateTime so migrations import nothing of ours."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


engine = config.attributes.get("engine") or create_engine_for_url(get_settings().resolved_database_url)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
