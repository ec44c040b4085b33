"""Storage: one SQLAlchemy metadata, two engines (SQLite WAL embedded, PostgreSQL via psycopg 3).

The names below are imported on first use (PEP 562), so `fiduciary.storage.engine` or `.types` can be
imported without the ORM's declarative base: a command that reads through Core never loads the ORM.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fiduciary.storage.base import Base
    from fiduciary.storage.engine import create_engine_for_url, make_session_factory, session_scope
    from fiduciary.storage.migrate import upgrade_to_head
    from fiduciary.storage.types import utcnow

__all__ = [
    "Base",
    "create_engine_for_url",
    "make_session_factory",
    "session_scope",
    "upgrade_to_head",
    "utcnow",
]

_HOMES = {
    "Base": "fiduciary.storage.base",
    "create_engine_for_url": "fiduciary.storage.engine",
    "make_session_factory": "fiduciary.storage.engine",
    "session_scope": "fiduciary.storage.engine",
    "upgrade_to_head": "fiduciary.storage.migrate",
    "utcnow": "fiduciary.storage.types",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(home), name)
