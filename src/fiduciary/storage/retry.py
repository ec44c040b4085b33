"""Retry a whole write transaction when the database says "not now" (issue 17, several writer processes).

With `fiduciary serve --workers N`, `fiduciary worker` and the CLI all writing one database, a write can meet
another process's write lock:

- SQLite has one writer at a time. Python's sqlite3 driver (SQLAlchemy's default use of it) opens the
  transaction only at the first INSERT/UPDATE/DELETE, so the write lock is taken at the start of the
  transaction's writes, where `busy_timeout` (storage/engine.py) makes SQLite wait for it; a deferred
  transaction that read first and then tried to upgrade would instead fail at once with SQLITE_BUSY. When
  the wait runs out (a writer held the lock longer than `busy_timeout`), the driver raises
  `OperationalError: database is locked`.
- PostgreSQL reports a deadlock (40P01) or a serialization failure (40001) when it aborted a transaction
  to let another one through.

In both cases nothing of the transaction was committed, so running the same unit of work again from the
start is safe: `write_transaction` does that a bounded number of times with jittered backoff, and then lets
the error through (the web layer answers it with 503 and Retry-After, never a 500). It never retries a
failed commit whose outcome is unknown (a lost connection): that is not a "busy" answer.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, TypeVar

from sqlalchemy.exc import DBAPIError

from fiduciary.storage.engine import session_scope

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")
log = logging.getLogger(__name__)

ATTEMPTS: Final = 5
FIRST_BACKOFF_SECONDS: Final = 0.02
MAX_BACKOFF_SECONDS: Final = 1.0

# SQLite's primary result codes (sqlite3.h): the extended codes (SQLITE_BUSY_SNAPSHOT, ...) keep them in
# the low byte.
_SQLITE_BUSY: Final = 5
_SQLITE_LOCKED: Final = 6
# PostgreSQL SQLSTATEs of a transaction the server aborted to let another one proceed.
_PG_RETRYABLE: Final = frozenset({"40001", "40P01"})


def is_busy(exc: BaseException) -> bool:
    """Whether `exc` says the database refused this transaction for now, with nothing of it committed."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(orig, sqlite3.OperationalError):
        code = getattr(orig, "sqlite_errorcode", None)
        if isinstance(code, int) and code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED):
            return True
        message = str(orig)
        return "database is locked" in message or "database table is locked" in message
    sqlstate = getattr(orig, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate in _PG_RETRYABLE


def backoff_seconds(attempt: int) -> float:
    """Exponential with full jitter, so processes that collided once do not collide again in step."""
    return random.uniform(0, min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2**attempt))


def retry_busy(work: Callable[[], T], *, attempts: int = ATTEMPTS, sleep: Callable[[float], None] = time.sleep) -> T:
    """Call `work()` until it does not fail with a busy database, at most `attempts` times.

    `work` must be one whole transaction (it begins and ends it), or re-running it would repeat half of one.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for attempt in range(attempts):
        try:
            return work()
        except DBAPIError as exc:
            if attempt == attempts - 1 or not is_busy(exc):
                raise
            log.info("database busy; retrying the transaction (attempt %d of %d)", attempt + 2, attempts)
            sleep(backoff_seconds(attempt))
    raise AssertionError("unreachable")  # pragma: no cover


def write_transaction(factory: sessionmaker[Session], work: Callable[[Session], T], *, attempts: int = ATTEMPTS) -> T:
    """Run `work(session)` in one transaction (commit on success), again from the start while it meets a busy
    database. The one way for a process that owns its transaction (CLI, job, script) to write safely beside
    other writer processes."""

    def once() -> T:
        with session_scope(factory) as session:
            return work(session)

    return retry_busy(once, attempts=attempts)
