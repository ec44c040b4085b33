"""The migrations create exactly the schema the models declare, on both engines (no drift either way)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from fiduciary.runtime import Runtime
from fiduciary.storage.models import metadata


def test_migrated_database_matches_the_models(runtime: Runtime) -> None:
    with runtime.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = [d for d in compare_metadata(context, metadata) if "bench_" not in repr(d)]
    assert diffs == []
