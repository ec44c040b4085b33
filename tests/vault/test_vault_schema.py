"""Migration 0004 creates exactly the vault tables the models declare, on both engines."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from fiduciary.migrations.metadata import metadata
from fiduciary.storage import create_engine_for_url
from fiduciary.vault.records import KEY_STORE_TABLES, create_key_store_tables

VAULT_TABLES = {
    "person_keys",
    "vault_meta",
    "person_identifiers",
    "personal_fields",
    "legal_hold_records",
    "vault_erasures",
}


def test_migration_matches_the_models(database_url: str) -> None:
    engine = create_engine_for_url(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diffs = [d for d in compare_metadata(context, metadata) if any(t in repr(d) for t in VAULT_TABLES)]
            assert diffs == []
            names = set(conn.dialect.get_table_names(conn))
            assert names >= VAULT_TABLES
    finally:
        engine.dispose()


def test_key_store_tables_alone_in_a_separate_database(tmp_path: Path) -> None:
    engine = create_engine_for_url(f"sqlite:///{tmp_path / 'keys.db'}")
    try:
        create_key_store_tables(engine)
        create_key_store_tables(engine)  # idempotent
        with engine.connect() as conn:
            assert set(conn.dialect.get_table_names(conn)) == {t.name for t in KEY_STORE_TABLES}
    finally:
        engine.dispose()
