"""Emptying the test session's PostgreSQL database between tests; shared by conftest and the tests that run
their own server over it (a test module importing `conftest` gets whichever conftest Python found first)."""

from __future__ import annotations

import sqlalchemy as sa

from fiduciary.storage import create_engine_for_url


def truncate_all(url: str) -> None:
    """TRUNCATE every table but Alembic's, restarting identities."""
    engine = create_engine_for_url(url)
    with engine.begin() as conn:
        tables = [
            row[0]
            for row in conn.execute(
                sa.text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                )
            )
        ]
        if tables:
            conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
    engine.dispose()
