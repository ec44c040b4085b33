"""Statements run straight on SQLite's driver, for the hottest write paths only (a speed trick kept here).

SQLAlchemy's Core `execute` cost about 100 µs a statement on this machine, the `sqlite3` driver about 12
(bench/RESULTS.md "serving, second pass"); an audited decision makes five such statements, and a consent
batch writes its rows in one `executemany`. The values go in as SQLAlchemy's SQLite types would store
them (`sqlite_time`), so reads through the ORM stay identical, and driver errors come out as SQLAlchemy's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa


def sqlite_time(moment: datetime) -> str:
    """The text SQLAlchemy's SQLite DATETIME stores for a `UTCDateTime` value; `moment` must be in UTC."""
    m = moment
    return f"{m.year:04d}-{m.month:02d}-{m.day:02d} {m.hour:02d}:{m.minute:02d}:{m.second:02d}.{m.microsecond:06d}"


def sqlite_datetime(text: str) -> datetime:
    """A `UTCDateTime` value as SQLite stores it (`sqlite_time`), read back as the type reads it."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def sqlite_run(connection: sa.Connection, sql: str, params: Sequence[Any], *, many: bool = False) -> Any:
    """Run `sql` on the SQLite driver connection under `connection` (in its transaction: the `sqlite3`
    module begins one before the first write, as it does under SQLAlchemy) and return the driver's cursor.

    A driver error is raised as SQLAlchemy would raise it (`DBAPIError.instance`: `OperationalError` for a
    lock held past busy_timeout, `IntegrityError` …), so callers and the web's problem handlers see the
    same exceptions as through Core. SQLAlchemy's statement events do not see these statements."""
    raw: Any = connection.connection.dbapi_connection
    try:
        return raw.executemany(sql, params) if many else raw.execute(sql, params)
    except sqlite3.Error as exc:
        raise sa.exc.DBAPIError.instance(sql, params, exc, sqlite3.Error, dialect=connection.dialect) from exc


def savepoints_through_driver(engine: sa.Engine) -> None:
    """Have `engine`'s dialect run SAVEPOINT, RELEASE SAVEPOINT and ROLLBACK TO SAVEPOINT straight on the
    driver connection.

    SQLAlchemy runs each through Core's `execute` with a clause it compiles anew every time (a savepoint
    clause is not cached): the SAVEPOINT and RELEASE of each group-committed request (storage/group_commit.py)
    were a tenth of a banner post's CPU (bench/RESULTS.md). The statements are the ones SQLAlchemy's
    compiler writes for them, on the same connection inside the same transaction; `sqlite3` sends them as
    they are (it begins a transaction only before INSERT, UPDATE, DELETE and REPLACE), so SQLite sees
    exactly what it saw through Core, and errors come out as SQLAlchemy's (`sqlite_run`).
    """
    quote = engine.dialect.identifier_preparer.quote

    def do_savepoint(connection: sa.Connection, name: str) -> None:
        sqlite_run(connection, f"SAVEPOINT {quote(name)}", ())

    def do_release_savepoint(connection: sa.Connection, name: str) -> None:
        sqlite_run(connection, f"RELEASE SAVEPOINT {quote(name)}", ())

    def do_rollback_to_savepoint(connection: sa.Connection, name: str) -> None:
        sqlite_run(connection, f"ROLLBACK TO SAVEPOINT {quote(name)}", ())

    for method in (do_savepoint, do_release_savepoint, do_rollback_to_savepoint):
        setattr(engine.dialect, method.__name__, method)
