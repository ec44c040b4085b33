"""The embedded runner: `job_queue` rows run in a thread of the process that serves (SQLite, no broker).

The same job functions as the procrastinate workers, with the same rules: retries with doubling backoff,
then `failed` (the dead-letter list); jobs sharing a lock run one at a time in queue order; periodic jobs
queued once per occurrence however many processes share the database (a conditional UPDATE of
`job_periodic`); jobs left `doing` by a killed process go back to `todo` once their heartbeat is older than
`stalled_after`. Job errors are logged by class only, never their message (it may quote a value).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import threading
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import Engine, bindparam, func, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from fiduciary.config import Settings
from fiduciary.errors import Conflict
from fiduciary.jobs.models import PeriodicClock, QueuedJob
from fiduciary.jobs.queue import add_commit_listener, enqueue, remove_commit_listener
from fiduciary.jobs.registry import JobCall, JobSpec, registered
from fiduciary.storage.base import UTCDateTime, utcnow

log = logging.getLogger(__name__)

DEFAULT_POLL_SECONDS: Final = 1.0
DEFAULT_STALLED_AFTER: Final = 300.0
STOP_TIMEOUT_SECONDS: Final = 30.0

# The next due job whose lock no running or earlier waiting job holds (one person's jobs in order).
_CLAIM: Final = text(
    "UPDATE job_queue SET status = 'doing', attempts = attempts + 1, heartbeat_at = :now"
    " WHERE id = (SELECT j.id FROM job_queue j WHERE j.status = 'todo' AND j.scheduled_at <= :now"
    " AND (j.lock IS NULL OR NOT EXISTS (SELECT 1 FROM job_queue d WHERE d.lock = j.lock"
    " AND (d.status = 'doing' OR (d.status = 'todo' AND d.id < j.id))))"
    " ORDER BY j.scheduled_at, j.id LIMIT 1) AND status = 'todo'"
    " RETURNING id, task_name, args, attempts"
).bindparams(bindparam("now", type_=UTCDateTime()))


def _epoch(moment: datetime) -> float:
    return moment.replace(tzinfo=UTC).timestamp() if moment.tzinfo is None else moment.timestamp()


class LocalJobRunner:
    """Run queued jobs one at a time in a daemon thread; `run_pending` runs what is due in the caller."""

    def __init__(
        self,
        host: Any,
        engine: Engine,
        sessions: sessionmaker[Session],
        settings: Settings,
        *,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        stalled_after: float = DEFAULT_STALLED_AFTER,
    ) -> None:
        self.host = host
        self.engine = engine
        self.sessions = sessions
        self.settings = settings
        periods = [p for p in (spec.period(settings) for spec in registered().values()) if p > 0]
        self.poll_seconds = min([poll_seconds, *(p / 2 for p in periods)])
        self.stalled_after = stalled_after
        self.succeeded = 0
        self.failed = 0  # runs that raised (retried or dead-lettered)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the job runner was already started")
        add_commit_listener(self._wake.set)
        self._thread = threading.Thread(target=self._loop, name="fiduciary-jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> bool:
        """Stop taking jobs and wait for the one running (it sees `JobCall.stop`); True if the thread ended."""
        self._stop.set()
        self._wake.set()
        remove_commit_listener(self._wake.set)
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        if thread.is_alive():
            log.warning("the job runner did not stop within %.0f s; it is a daemon thread", timeout)
            return False
        return True

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()  # before the round: a commit during it wakes the next wait at once
            try:
                self.schedule_periodic()
                self.requeue_stalled()
                ran = self.run_pending()
            except Exception as exc:  # the database may be busy or away: try again soon
                log.error("job runner round failed: %s", type(exc).__name__)
                self._wake.wait(min(self.poll_seconds, 1.0))
                continue
            if not ran:
                self._wake.wait(self.poll_seconds)

    # ------------------------------------------------------------------------------------------ rounds

    def schedule_periodic(self, now: datetime | None = None) -> int:
        """Queue each periodic job whose next occurrence has come; the first occurrence a clock sees only
        starts it (the first run comes one period after start). Returns how many were queued.

        Reads first and writes only when an occurrence is due: an idle round takes no SQLite write lock."""
        now = now or utcnow()
        queued = 0
        for spec in registered().values():
            period = spec.period(self.settings)
            if period <= 0:
                continue
            due = datetime.fromtimestamp(math.floor(now.timestamp() / period) * period, UTC)
            with self.sessions() as session:
                last = session.scalar(select(PeriodicClock.last_due).where(PeriodicClock.name == spec.name))
                if last is not None and last >= due:
                    continue
                if last is None:
                    # Another process may start the clock first: then this INSERT does nothing.
                    session.execute(
                        sqlite_insert(PeriodicClock).values(name=spec.name, last_due=due).on_conflict_do_nothing()
                    )
                    session.commit()
                    continue
                moved = session.execute(
                    update(PeriodicClock)
                    .where(PeriodicClock.name == spec.name, PeriodicClock.last_due < due)
                    .values(last_due=due)
                )
                if getattr(moved, "rowcount", 0):  # this process won the occurrence
                    with contextlib.suppress(Conflict):  # one still waiting stands for this occurrence
                        enqueue(session, spec.name, {"due": due.isoformat()}, queueing_lock=f"periodic:{spec.name}")
                        queued += 1
                session.commit()
        return queued

    def requeue_stalled(self, now: datetime | None = None) -> int:
        """Jobs `doing` with a heartbeat older than `stalled_after` (their process died) go back to `todo`."""
        before = (now or utcnow()) - timedelta(seconds=self.stalled_after)
        with self.sessions() as session:
            stranded = session.scalar(
                select(func.count()).where(QueuedJob.status == "doing", QueuedJob.heartbeat_at < before)
            )
            if not stranded:
                return 0
            result = session.execute(
                update(QueuedJob)
                .where(QueuedJob.status == "doing", QueuedJob.heartbeat_at < before)
                .values(status="todo", heartbeat_at=None)
            )
            session.commit()
        count = int(getattr(result, "rowcount", 0) or 0)
        if count:
            log.warning("put %d stranded job(s) back in the queue", count)
        return count

    def run_pending(self, limit: int | None = None) -> int:
        """Run due jobs until none is left (or `limit` ran, or stop was asked); how many ran."""
        ran = 0
        while not self._stop.is_set() and (limit is None or ran < limit):
            with self.sessions() as session:
                now = utcnow()
                due = session.scalar(
                    select(QueuedJob.id).where(QueuedJob.status == "todo", QueuedJob.scheduled_at <= now).limit(1)
                )
                if due is None:  # nothing due: no write, no SQLite write lock
                    break
                row = session.execute(_CLAIM, {"now": now}).mappings().first()
                session.commit()
            if row is None:
                break
            self._run(int(row["id"]), str(row["task_name"]), row["args"], int(row["attempts"]))
            ran += 1
        return ran

    def _run(self, job_id: int, task_name: str, args: Any, attempts: int) -> None:
        spec = registered().get(task_name)
        loaded = json.loads(args) if isinstance(args, str) else args  # a raw JSON column on SQLite
        arguments = loaded if isinstance(loaded, dict) else {}
        done = threading.Event()
        heartbeat = threading.Thread(target=self._beat, args=(job_id, done), daemon=True)
        heartbeat.start()
        error: str | None = None
        try:
            if spec is None:
                raise LookupError("no job of this name is registered in this process")
            spec.function(self.host, JobCall(job_id, task_name, arguments, attempt=attempts - 1, stop=self._stop))
        except Exception as exc:
            error = type(exc).__name__
        finally:
            done.set()
            heartbeat.join()
        self._finish(job_id, task_name, attempts, error, spec)

    def _finish(self, job_id: int, task_name: str, attempts: int, error: str | None, spec: JobSpec | None) -> None:
        now = utcnow()
        retries = spec.retries if spec is not None else 0
        values: dict[str, Any]
        if error is None:
            values = {"status": "succeeded", "finished_at": now, "error": None}
        elif spec is not None and attempts <= retries:
            wait = spec.delay_before_retry(attempts)
            log.warning(
                "job %s #%d failed (%s); retry %d of %d in %.1f s", task_name, job_id, error, attempts, retries, wait
            )
            values = {"status": "todo", "scheduled_at": now + timedelta(seconds=wait), "error": error}
        else:
            log.error("job %s #%d failed (%s) after %d run(s): dead-lettered", task_name, job_id, error, attempts)
            values = {"status": "failed", "finished_at": now, "error": error}
        with self.sessions() as session:
            session.execute(update(QueuedJob).where(QueuedJob.id == job_id).values(heartbeat_at=None, **values))
            session.commit()
        # Counted once the outcome is stored, so a reader of the counters finds it in the table.
        if error is None:
            self.succeeded += 1
        else:
            self.failed += 1

    def _beat(self, job_id: int, done: threading.Event) -> None:
        """Say the job's process is alive every quarter of `stalled_after` until the job ends."""
        while not done.wait(max(self.stalled_after / 4, 0.05)):
            try:
                with self.sessions() as session:
                    session.execute(update(QueuedJob).where(QueuedJob.id == job_id).values(heartbeat_at=utcnow()))
                    session.commit()
            except Exception as exc:
                log.warning("job heartbeat failed: %s", type(exc).__name__)
