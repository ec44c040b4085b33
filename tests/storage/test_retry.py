"""`write_transaction` retries a whole transaction that met SQLite's write lock, and nothing else.

The lock is real: a second connection holds `BEGIN IMMEDIATE` on the same file, and the engine's
busy_timeout is set to 0 so SQLite answers "database is locked" at once instead of after five seconds.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from fiduciary.storage import create_engine_for_url, make_session_factory
from fiduciary.storage.retry import is_busy, retry_busy, write_transaction


@pytest.fixture
def locked(tmp_path: Path) -> Any:
    path = tmp_path / "busy.db"
    engine = create_engine_for_url(f"sqlite:///{path}")

    def no_wait(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=0")

    event.listen(engine, "connect", no_wait)  # after the engine's own pragmas, so it wins
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's writer, mid-transaction
    yield engine, holder
    holder.close()
    engine.dispose()


def _insert(session: Session, value: int) -> int:
    session.execute(sa.text("INSERT INTO t (id) VALUES (:v)"), {"v": value})
    return value


def test_a_locked_database_is_busy(locked: Any) -> None:
    engine, _holder = locked
    with pytest.raises(OperationalError) as caught, engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO t (id) VALUES (1)"))
    assert is_busy(caught.value)


def test_the_transaction_runs_again_once_the_lock_is_released(locked: Any) -> None:
    engine, holder = locked
    sleeps: list[float] = []

    def release_then_wait(seconds: float) -> None:
        sleeps.append(seconds)
        holder.execute("COMMIT")  # the other writer finishes while we back off

    factory = make_session_factory(engine)
    value = retry_busy(lambda: write_transaction(factory, lambda s: _insert(s, 7), attempts=1), sleep=release_then_wait)
    assert value == 7 and len(sleeps) == 1
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT id FROM t")) == 7


def test_it_gives_up_after_its_attempts(locked: Any) -> None:
    engine, _holder = locked
    sleeps: list[float] = []
    factory = make_session_factory(engine)
    with pytest.raises(OperationalError):
        retry_busy(
            lambda: write_transaction(factory, lambda s: _insert(s, 1), attempts=1), attempts=3, sleep=sleeps.append
        )
    assert len(sleeps) == 2  # three attempts, two waits, then the busy error goes to the caller


def test_other_errors_are_not_retried(tmp_path: Path) -> None:
    engine = create_engine_for_url(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        conn.execute(sa.text("INSERT INTO t (id) VALUES (1)"))
    calls: list[int] = []

    def duplicate(session: Session) -> int:
        calls.append(1)
        return _insert(session, 1)

    with pytest.raises(IntegrityError):
        write_transaction(make_session_factory(engine), duplicate)
    assert len(calls) == 1
    engine.dispose()
