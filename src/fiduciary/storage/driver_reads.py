"""Reads of the hottest request paths, straight on the driver (a speed trick kept in one place).

Every decision reads a person, their consent state and their restrictions; every consent write reads the
person. Through `Session.execute` each of those statements cost several times what SQLite spends running it
(bench/RESULTS.md "Decision facts through the driver"), so the readers in `consent.facts`,
`consent.restrictions` and `decisions.service` hand their SQL, written per dialect with the ids as one
parameter (`storage.ids`), to `rows_for_ids`:

- SQLite: the `sqlite3` cursor of the session's connection (`sqlite_driver.sqlite_run`: in the session's
  transaction, errors raised as SQLAlchemy raises them);
- PostgreSQL: `Connection.exec_driver_sql`, so psycopg sees the ids as one array;
- any other database: the caller's Core statement, so the code still runs wherever SQLAlchemy does.

Rows come back as the driver gives them: on SQLite a date or a timestamp is the text SQLAlchemy stored;
callers convert the few columns they need (`driver_datetime` for a `UTCDateTime` column).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Executable
from sqlalchemy.orm import Session

from fiduciary.storage.ids import IDS, bind_ids
from fiduciary.storage.sqlite_driver import sqlite_datetime, sqlite_run
from fiduciary.storage.types import aware_utc


def rows_for_ids(session: Session, sql: Mapping[str, str], fallback: Executable, ids: Collection[str]) -> Sequence[Any]:
    """The rows of `sql[dialect]` with `ids` bound as its one parameter (a JSON array on SQLite, an array
    on PostgreSQL); `fallback` (a Core select with an expanding `:ids`) on any other dialect.

    Pending ORM changes are flushed first when the session autoflushes, as `Session.execute` would: a
    reader called after an unflushed write in the same session still sees it."""
    if session.autoflush:
        session.flush()  # returns at once when nothing is pending
    connection = session.connection()
    dialect = connection.dialect.name
    text = sql.get(dialect)
    values = ids if isinstance(ids, list | tuple) else list(ids)
    if text is None:
        return session.execute(fallback, {IDS: values}).all()
    if dialect == "sqlite":
        rows: list[Any] = sqlite_run(connection, text, (bind_ids(values, dialect),)).fetchall()
        return rows
    return connection.exec_driver_sql(text, (bind_ids(values, dialect),)).fetchall()


def driver_datetime(value: datetime | str) -> datetime:
    """A `UTCDateTime` column as `rows_for_ids` gives it (SQLite: the text SQLAlchemy stored; PostgreSQL: the
    driver's datetime), read as the column type reads it: aware, in UTC."""
    return sqlite_datetime(value) if isinstance(value, str) else aware_utc(value)
