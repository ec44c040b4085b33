"""The one job API: `enqueue` in the caller's transaction, `cancel`, the dead-letter list, the queue depth.

On PostgreSQL a job is deferred with procrastinate on the very psycopg connection the SQLAlchemy session
is using, so the job row commits or rolls back with the change that caused it (`fiduciary.jobs.pg`). On
SQLite it is a row of `job_queue`, run by the in-process runner (`fiduciary.jobs.local`). Either way the
caller commits; nothing here commits.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import event, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from fiduciary.errors import Conflict, FieldProblem, ValidationFailed
from fiduciary.jobs import pg
from fiduciary.jobs.models import JobEffect, QueuedJob
from fiduciary.jobs.registry import job_spec
from fiduciary.storage.base import utcnow

MAX_ARGS_BYTES: Final = 16_384
MAX_LOCK_LENGTH: Final = 200
FAILED_PAGE: Final = 100

# In-process runners wake when a session that enqueued commits (no polling delay on SQLite).
_listeners: list[Callable[[], None]] = []
_listeners_guard = threading.Lock()


def add_commit_listener(callback: Callable[[], None]) -> None:
    with _listeners_guard:
        _listeners.append(callback)


def remove_commit_listener(callback: Callable[[], None]) -> None:
    with _listeners_guard:
        if callback in _listeners:
            _listeners.remove(callback)


def _notify(_session: Session) -> None:
    with _listeners_guard:
        callbacks = list(_listeners)
    for callback in callbacks:
        callback()


def _check(args: Mapping[str, Any], lock: str | None, queueing_lock: str | None) -> dict[str, Any]:
    problems: list[FieldProblem] = []
    try:
        encoded = json.dumps(dict(args), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        raise ValidationFailed(
            "Job arguments must be JSON.", [FieldProblem("args", "only JSON values (no NaN, no objects)")]
        ) from None
    if len(encoded.encode()) > MAX_ARGS_BYTES:
        problems.append(FieldProblem("args", f"at most {MAX_ARGS_BYTES} bytes of JSON; pass ids, not data"))
    for name, value in (("lock", lock), ("queueing_lock", queueing_lock)):
        if value is not None and not 0 < len(value) <= MAX_LOCK_LENGTH:
            problems.append(FieldProblem(name, f"1 to {MAX_LOCK_LENGTH} characters"))
    if problems:
        raise ValidationFailed("Bad job.", problems)
    loaded: dict[str, Any] = json.loads(encoded)
    return loaded


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        raise ValidationFailed("run_at needs a time zone.", [FieldProblem("run_at", "give a time zone (UTC)")])
    return None if moment is None else moment.astimezone(UTC)


def enqueue(
    session: Session,
    job_name: str,
    args: Mapping[str, Any],
    *,
    run_at: datetime | None = None,
    lock: str | None = None,
    queueing_lock: str | None = None,
) -> int:
    """Queue `job_name(args)` in the session's transaction and return the job id; the caller commits.

    `run_at` delays it (any time ahead; `cancel` takes it back); jobs sharing a `lock` run one at a time in
    the order they were queued (e.g. one person's jobs); a `queueing_lock` allows one waiting job per value
    (a second is a 409 `job_already_queued`). Arguments are ids and counts: they are shown to staff.
    """
    spec = job_spec(job_name)
    clean = _check(args, lock, queueing_lock)
    when = _aware(run_at)
    if session.get_bind().dialect.name == "postgresql":
        return pg.defer(session, spec.name, clean, run_at=when, lock=lock, queueing_lock=queueing_lock)
    values: dict[str, Any] = {
        "task_name": spec.name,
        "args": clean,
        "status": "todo",
        "scheduled_at": when or utcnow(),
        "lock": lock,
        "queueing_lock": queueing_lock,
        "attempts": 0,
        "created_at": utcnow(),
    }
    # ON CONFLICT: a waiting job with the same queueing lock leaves the caller's transaction untouched.
    job_id = session.execute(
        sqlite_insert(QueuedJob).values(**values).on_conflict_do_nothing().returning(QueuedJob.id)
    ).scalar_one_or_none()
    if job_id is None:
        raise already_queued()
    if not event.contains(session, "after_commit", _notify):
        event.listen(session, "after_commit", _notify, once=True)
    return int(job_id)


def already_queued() -> Conflict:
    return Conflict(
        "A job with this queueing lock is already waiting.",
        code="job_already_queued",
        fields=[FieldProblem("queueing_lock", "one waiting job per queueing lock")],
    )


def cancel(session: Session, job_id: int) -> bool:
    """Cancel a job that has not started; False when it has started, finished or does not exist."""
    if session.get_bind().dialect.name == "postgresql":
        return pg.cancel(session, job_id)
    result = session.execute(
        update(QueuedJob)
        .where(QueuedJob.id == job_id, QueuedJob.status == "todo")
        .values(status="cancelled", finished_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


@dataclass(frozen=True)
class FailedJob:
    """A dead-lettered job as staff see it: no arguments and no lock (they may name a person)."""

    id: int
    task_name: str
    attempts: int
    queued_at: datetime | None
    failed_at: datetime | None
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "task_name": self.task_name,
            "attempts": self.attempts,
            "queued_at": self.queued_at.isoformat() if self.queued_at else None,
            "failed_at": self.failed_at.isoformat() if self.failed_at else None,
            "error": self.error,
        }


def failed_jobs(session: Session, *, limit: int = FAILED_PAGE, task_name: str | None = None) -> list[FailedJob]:
    """The dead-letter list, newest first: jobs that failed their last retry."""
    if session.get_bind().dialect.name == "postgresql":
        return [FailedJob(**row) for row in pg.failed(session, limit=limit, task_name=task_name)]
    query = select(QueuedJob).where(QueuedJob.status == "failed")
    if task_name is not None:
        query = query.where(QueuedJob.task_name == task_name)
    rows = session.scalars(query.order_by(QueuedJob.id.desc()).limit(limit))
    return [FailedJob(r.id, r.task_name, r.attempts, r.created_at, r.finished_at, r.error) for r in rows]


@dataclass(frozen=True)
class QueueDepth:
    """Jobs due and not started, and how long the oldest of them has waited (0 when none)."""

    waiting: int
    oldest_age_seconds: float


def queue_depth(session: Session) -> QueueDepth:
    """For /metrics: waiting jobs that are due now, and the age of the oldest."""
    if session.get_bind().dialect.name == "postgresql":
        waiting, oldest = pg.depth(session)
    else:
        now = utcnow()
        waiting, oldest = session.execute(
            select(func.count(), func.min(QueuedJob.scheduled_at)).where(
                QueuedJob.status == "todo", QueuedJob.scheduled_at <= now
            )
        ).one()
    age = 0.0 if oldest is None else max((utcnow() - _utc(oldest)).total_seconds(), 0.0)
    return QueueDepth(int(waiting or 0), age)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def effect_once(session: Session, key: str, task_name: str) -> bool:
    """Record that the effect `key` happened, in the session's transaction: True the first time, False when
    it already had (the caller then skips the effect). Run twice, a job takes effect once."""
    dialect = session.get_bind().dialect.name
    build = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = build(JobEffect).values(key=key, task_name=task_name, done_at=utcnow())
    inserted = session.execute(statement.on_conflict_do_nothing().returning(JobEffect.key)).scalar_one_or_none()
    return inserted is not None
