"""Group commit on SQLite: the requests queued at the database gate share one COMMIT (one fsync).

On the embedded default (SQLite, `synchronous=FULL`) the fsync of each request's COMMIT was most of a
write's wall time, and one process serialises its requests at the database gate anyway (web/deps.py,
docs/decisions/0025-serving-stack.md). `DatabaseGate` is that gate, with the group commit inside it:

- A request that **joins** (`joined`, the hot write routes) gets a `Session` bound to the gate's shared
  connection, whose transaction (`BEGIN IMMEDIATE`) stays open across requests; the request's own
  transaction is a SAVEPOINT in it (`join_transaction_mode="create_savepoint"`). Its commit is a
  `RELEASE SAVEPOINT`, with its audit events written at `before_commit` inside the savepoint
  (unit_of_work.py); its failure a `ROLLBACK TO SAVEPOINT`, which takes its rows, audit events, ledger
  appends and queued jobs back and leaves the others' alone (their unit of work is their own session's).
- Having released its savepoint, a member hands the gate to the next request if one is waiting (and the
  group is under `max_group`), and waits for the group's COMMIT; the last member runs the COMMIT in a
  worker thread (the event loop meanwhile parses the next requests, which queue for the next group) and
  wakes the others with the outcome. So an answer goes out only after the COMMIT that made its change
  durable returned (decision 0012), and a withdrawal is seen by the very next decision: the next request
  either is in the same group (and reads through the same connection) or starts after the COMMIT.
- A failed COMMIT, or a transaction SQLite rolled back by itself (SQLITE_FULL, SQLITE_IOERR … roll back
  the whole transaction, and `sqlite3`'s `commit()` with no transaction open is a silent no-op that would
  acknowledge lost writes), fails every member with `GroupCommitFailed` (503 with Retry-After): nothing of
  the group is acknowledged.
- A request that holds the gate for a transaction of its **own** (`exclusive`: every other route, the
  code sign-in's own transaction) first commits the open group, so it never waits on SQLite's write lock
  held by the group's connection.

`after_commit` listeners of a member's session run at its RELEASE, before the group's COMMIT; no joining
route relies on one (the job queue's wake-up of the local runner is one: a job enqueued by a joining route
would be picked up at the runner's next poll instead).

One process only: with `serve --workers N` > 1 on one SQLite file, every request takes its own transaction
(`DatabaseGate(group_commit=False)`), since an open group would hold SQLite's write lock against the other
workers. PostgreSQL has no gate (its own commits; web/deps.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from anyio import CancelScope, Event, Lock, move_on_after, to_thread
from anyio.lowlevel import checkpoint
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

MAX_GROUP = 64
"""Members of one group at most: bounds the wait of the group's first member behind the others' work."""

GATHER_CHECKPOINTS = 2
"""Turns of the event loop the last member gives requests already read to reach the gate before it
commits (each turn costs microseconds; without them a burst that arrives while a request works inline
would be split into a group of one and a group of the rest)."""

_STRAY_WAIT_SECONDS = 0.05
"""How often a waiting member checks that its group still has someone to commit it (see `_await_outcome`)."""


class GroupCommitFailed(Exception):
    """The COMMIT of a request's group failed, or SQLite had already rolled the group back: nothing the
    request did was stored. The web answers 503 with Retry-After, as for a database that went away."""


SessionFactory = Callable[..., Session]


@dataclass(eq=False)
class _Group:
    """One open transaction on the shared connection and the requests in it."""

    connection: Connection
    members: int = 0
    doomed: BaseException | None = None  # the transaction is lost: roll back instead of committing
    failure: BaseException | None = None  # set with `finished`: why the group did not commit
    finished: Event = field(default_factory=Event)


class DatabaseGate:
    """The SQLite database gate of one process (an `anyio.Lock`, first come first served) and, when
    `group_commit` is on, the open group of the requests that joined it."""

    def __init__(self, engine: Engine, *, group_commit: bool = True, max_group: int = MAX_GROUP) -> None:
        self._engine = engine
        self._lock = Lock()
        self.group_commit = group_commit
        self._max_group = max_group
        self._group: _Group | None = None
        self.commits = 0  # groups committed (for tests and diagnostics)

    @property
    def waiting(self) -> int:
        """Requests queued at the gate (for tests and diagnostics)."""
        return self._lock.statistics().tasks_waiting

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """Hold the gate for work in a transaction of the caller's own; an open group commits first."""
        async with self._lock:
            group = self._group
            if group is not None:
                await self._finish(group)
            yield

    @asynccontextmanager
    async def joined(self, sessions: SessionFactory) -> AsyncIterator[Session]:
        """A session whose transaction is a savepoint in the open group; on leaving, the caller waits for
        the group's COMMIT (or runs it) and gets `GroupCommitFailed` if it failed."""
        await self._lock.acquire()
        try:
            group = self._open_group()
            session = sessions(bind=group.connection, join_transaction_mode="create_savepoint")
        except BaseException:
            self._lock.release()
            raise
        group.members += 1
        failure: BaseException | None = None
        try:
            yield session
            session.commit()  # RELEASE SAVEPOINT, the audit events written first (unit_of_work.py)
        except BaseException as exc:
            failure = exc
            _rollback_member(session, group)
        finally:
            session.close()
        await self._leave(group)
        if failure is not None:
            raise failure
        if group.failure is not None:
            raise GroupCommitFailed("the group's commit failed; nothing was stored") from group.failure

    def _open_group(self) -> _Group:
        if self._group is None:
            connection = self._engine.connect()
            try:
                connection.begin()  # SQLAlchemy's side; pysqlite emits nothing for it
                # Ours: the write lock now, so no member's first write has to upgrade a read snapshot
                # (which fails at once with SQLITE_BUSY_SNAPSHOT), and an explicit transaction that the
                # savepoints nest in (a SAVEPOINT outside one would start one, and RELEASE would commit).
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                connection.invalidate()
                connection.close()
                raise
            self._group = _Group(connection)
        return self._group

    async def _leave(self, group: _Group) -> None:
        """Hand the gate on inside the group, or end the group; then wait for its outcome. Shielded while
        it holds the gate: a cancelled member must still release it and, if last, end its group."""
        with CancelScope(shield=True):
            if await self._others_will_follow(group):
                self._lock.release()
            else:
                try:
                    await self._finish(group)
                finally:
                    self._lock.release()
                return
        await self._await_outcome(group)

    async def _others_will_follow(self, group: _Group) -> bool:
        if group.doomed is not None or group.members >= self._max_group:
            return False
        for _ in range(GATHER_CHECKPOINTS):
            if self.waiting:
                return True
            await checkpoint()
        return self.waiting > 0

    async def _await_outcome(self, group: _Group) -> None:
        """Wait for the member that ends the group. Normally the next holder of the gate joins the group or
        ends it; should every waiter have been cancelled before taking the gate, nobody would, so a member
        that finds the gate free and its group still open ends the group itself."""
        while not group.finished.is_set():
            with move_on_after(_STRAY_WAIT_SECONDS):
                await group.finished.wait()
            if not group.finished.is_set() and not self._lock.locked():
                async with self._lock:
                    if self._group is group:
                        await self._finish(group)

    async def _finish(self, group: _Group) -> None:
        """Commit the group (or roll it back if doomed) in a worker thread, holding the gate; wake every
        member with the outcome. Shielded: a cancelled caller must not leave its group half ended."""
        with CancelScope(shield=True):
            try:
                await to_thread.run_sync(_end_transaction, group)
            except BaseException as exc:
                group.failure = exc
            else:
                if group.doomed is None:
                    self.commits += 1
            finally:
                self._group = None
                group.finished.set()


def _rollback_member(session: Session, group: _Group) -> None:
    """ROLLBACK TO the member's savepoint. If that fails (SQLite rolled the whole transaction back, or the
    connection broke), the group cannot commit: it is doomed and ends with the next `_leave`."""
    try:
        session.rollback()
    except BaseException as exc:
        group.doomed = exc


def _end_transaction(group: _Group) -> None:
    connection = group.connection
    try:
        if group.doomed is not None:
            raise GroupCommitFailed("a member's failure rolled the group's transaction back") from group.doomed
        raw: Any = connection.connection.dbapi_connection
        if not raw.in_transaction:
            raise GroupCommitFailed("SQLite rolled the group's transaction back before its commit")
        connection.commit()
    except BaseException:
        _discard(connection)
        raise
    connection.close()


def _discard(connection: Connection) -> None:
    """Roll back what is left and drop the connection (its state is unknown after a failed end)."""
    with suppress(Exception):  # the connection is thrown away just below either way
        connection.rollback()
    connection.invalidate()
    connection.close()
