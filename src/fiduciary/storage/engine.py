"""Engine and session construction for the two supported databases."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from fiduciary.storage.sqlite_driver import savepoints_through_driver

# The ORM is imported by the session helpers when called: a Core-only reader does not load it.
if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

SqliteSynchronous = Literal["NORMAL", "FULL", "EXTRA"]

DEFAULT_SQLITE_SYNCHRONOUS: SqliteSynchronous = "FULL"
"""What an acknowledged write survives on SQLite (WAL mode; docs/decisions/0012-commit-before-answering.md).

NORMAL: a commit is in the -wal file but not fsynced; it survives the process being killed, not a power cut
or an OS crash (the last commits before it can roll back; the database stays consistent). FULL (default):
the WAL is fsynced at every commit, so a 2xx also survives a power cut. EXTRA: FULL plus an fsync of the
directory when the WAL is created or reset. OFF is not offered: it gives up even that ordering.
"""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, synchronous: SqliteSynchronous) -> None:
    # WAL lets readers run beside the single writer; `synchronous` says whether a commit is fsynced (see
    # DEFAULT_SQLITE_SYNCHRONOUS); foreign keys are off by default in SQLite and must be enabled on every
    # connection.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA synchronous={synchronous}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    # Checkpoint the WAL into the database every ~80 MB (20,000 pages) instead of every 4 MB: with the
    # default, nearly every 1,000-event consent batch also copied and synced the WAL (about a quarter of the
    # write path's wall time, bench/RESULTS.md "consent_write"). `fiduciary vault purge` still checkpoints with
    # TRUNCATE, so erased key bytes leave the -wal file then (vault/erasure.py).
    cursor.execute("PRAGMA wal_autocheckpoint=20000")
    cursor.close()


def create_engine_for_url(
    url: str, *, sqlite_synchronous: SqliteSynchronous = DEFAULT_SQLITE_SYNCHRONOUS, **kwargs: Any
) -> Engine:
    """Create an engine; for SQLite, create the parent folder and switch on WAL, foreign keys and the
    `sqlite_synchronous` level (PostgreSQL's commit is durable by its own `synchronous_commit`, default on)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if sqlite_synchronous not in ("NORMAL", "FULL", "EXTRA"):  # it goes into a PRAGMA: never free text
            raise ValueError(f"sqlite_synchronous must be NORMAL, FULL or EXTRA, not {sqlite_synchronous!r}")
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)

        def on_connect(dbapi_connection: Any, record: Any) -> None:
            _sqlite_pragmas(dbapi_connection, record, sqlite_synchronous)

        event.listen(engine, "connect", on_connect)
        savepoints_through_driver(engine)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("", "psycopg2"):
        # We ship psycopg 3; a bare postgresql:// URL would make SQLAlchemy look for psycopg2.
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    from sqlalchemy.orm import sessionmaker  # lazy: a Core-only reader does not load the ORM

    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back everything on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
