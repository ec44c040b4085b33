"""Emptying the test session's PostgreSQL database between tests; shared by conftest and the tests that run
their own server over it (a test module importing `conftest` gets whichever conftest Python found first).
Counting the statements a session sends, whichever way they reach the driver."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

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


_COUNTED = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")


@contextmanager
def sent_statements(session: Session) -> Iterator[list[str]]:
    """The SELECT, INSERT, UPDATE and DELETE statements the session's connection runs inside the block.

    On SQLite from the driver's own trace callback, so statements run straight on the driver
    (`storage.driver_reads`, `storage.sqlite_driver`) count as much as those through SQLAlchemy; on
    PostgreSQL from SQLAlchemy's `before_cursor_execute` (`exec_driver_sql` goes through it)."""
    seen: list[str] = []
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        raw: Any = connection.connection.dbapi_connection

        def traced(statement: str) -> None:
            if statement.lstrip().upper().startswith(_COUNTED):
                seen.append(statement)

        raw.set_trace_callback(traced)
        try:
            yield seen
        finally:
            raw.set_trace_callback(None)
        return

    def before(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    engine = session.get_bind()
    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
