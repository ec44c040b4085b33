"""Storage: one SQLAlchemy metadata, two engines (SQLite WAL embedded, PostgreSQL via psycopg 3)."""

from fiduciary.storage.base import Base, utcnow
from fiduciary.storage.engine import create_engine_for_url, make_session_factory, session_scope
from fiduciary.storage.migrate import upgrade_to_head

__all__ = [
    "Base",
    "create_engine_for_url",
    "make_session_factory",
    "session_scope",
    "upgrade_to_head",
    "utcnow",
]
