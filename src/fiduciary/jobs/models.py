"""Job tables: the embedded queue (SQLite), the periodic-job clock, and the record of job effects.

On PostgreSQL the queue is procrastinate's own schema (`procrastinate_jobs` and friends, applied by
migration 0010); `job_queue` and `job_periodic` exist there too but stay empty. `job_effects` is used on both:
a job that must take effect once writes its effect's key here in the same transaction as the effect, so a
job run twice (its worker was killed after committing, before reporting success) changes nothing the
second time (`fiduciary.jobs.queue.effect_once`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from fiduciary.storage.base import Base, utcnow


class QueuedJob(Base):
    """One job of the embedded queue. Status: todo → doing → succeeded | failed | cancelled (todo again on
    a retry). Arguments hold ids and counts only, never a personal value (they are shown to staff)."""

    __tablename__ = "job_queue"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    task_name: Mapped[str] = mapped_column(String(100), nullable=False)
    args: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="todo")
    scheduled_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    lock: Mapped[str | None] = mapped_column(String(200), nullable=True)
    queueing_lock: Mapped[str | None] = mapped_column(String(200), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # When the runner that took the job last said it was alive: a `doing` job whose heartbeat is old was
    # stranded by a killed process and goes back to `todo`.
    heartbeat_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    error: Mapped[str | None] = mapped_column(String(200), nullable=True)  # an error class, never a message

    __table_args__ = (
        Index("ix_job_queue_status_scheduled_at", "status", "scheduled_at"),
        Index("ix_job_queue_lock", "lock"),
        # At most one waiting job per queueing lock (procrastinate's rule, kept the same way here).
        Index(
            "uq_job_queue_queueing_lock",
            "queueing_lock",
            unique=True,
            sqlite_where=text("status = 'todo'"),
            postgresql_where=text("status = 'todo'"),
        ),
    )


class PeriodicClock(Base):
    """The last due time each periodic job was queued for: the conditional UPDATE that advances it is what
    makes one process, of however many share the database, queue each occurrence."""

    __tablename__ = "job_periodic"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_due: Mapped[datetime] = mapped_column(nullable=False)


class JobEffect(Base):
    """An effect that happened: its key (by default the job's id) is the primary key, so a second run of
    the same job cannot record it again and rolls its effect back."""

    __tablename__ = "job_effects"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    task_name: Mapped[str] = mapped_column(String(100), nullable=False)
    done_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
