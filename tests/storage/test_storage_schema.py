"""The migrations create exactly the schema the models declare, on both engines (no drift either way)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from fiduciary.migrations.metadata import metadata
from fiduciary.runtime import Runtime


def _names(diff: object) -> set[str]:
    text = repr(diff)
    return {prefix for prefix in ("bench_", "procrastinate_") if prefix in text}


def test_migrated_database_matches_the_models(runtime: Runtime) -> None:
    with runtime.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        # procrastinate's own tables (PostgreSQL, migration 0010) are its schema, not our models.
        diffs = [d for d in compare_metadata(context, metadata) if not {"bench_", "procrastinate_"} & _names(d)]
    assert diffs == []
