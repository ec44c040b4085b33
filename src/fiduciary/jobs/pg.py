"""PostgreSQL: jobs on procrastinate, deferred on the session's own psycopg connection.

procrastinate is imported only when PostgreSQL is in use (lazy imports below: it pulls psycopg_pool and
croniter, which an SQLite deployment never needs). Its schema is applied by migration 0010.

Recovery of stranded jobs: a worker killed with `kill -9` leaves its jobs `doing` and stops updating its
heartbeat; every worker looks, every `stalled_after / 2` seconds, for `doing` jobs of workers silent for
`stalled_after` seconds and puts them back to `todo` (procrastinate's `get_stalled_jobs` + `retry_job`).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final, cast

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from fiduciary.errors import Conflict, FieldProblem
from fiduciary.jobs.registry import JobCall, JobSpec, registered

if TYPE_CHECKING:
    import procrastinate
    from procrastinate.jobs import Job

log = logging.getLogger(__name__)

DEFAULT_STALLED_AFTER: Final = 30.0


class JobFailed(RuntimeError):
    """A job raised; the message is the original error's class name only."""


def conninfo(engine: Engine) -> str:
    """A libpq connection string for the engine's database (psycopg's, not SQLAlchemy's, URL form)."""
    return make_url(engine.url).set(drivername="postgresql").render_as_string(hide_password=False)


def _driver_connection(session: Session) -> Any:
    """The psycopg connection under the session's current transaction (begun here if need be)."""
    return session.connection().connection.driver_connection


@lru_cache(maxsize=1)
def _deferrer() -> procrastinate.App:
    """An app that is never opened: it only defers on a connection it is handed."""
    import procrastinate  # lazy: see the module docstring

    return procrastinate.App(connector=procrastinate.SyncPsycopgConnector())


def defer(
    session: Session,
    task_name: str,
    args: dict[str, Any],
    *,
    run_at: datetime | None,
    lock: str | None,
    queueing_lock: str | None,
) -> int:
    """Defer on the session's connection: the job commits or rolls back with the session's transaction."""
    from procrastinate import exceptions  # lazy: see the module docstring

    options: dict[str, Any] = {"lock": lock, "queueing_lock": queueing_lock}
    if run_at is not None:
        options["schedule_at"] = run_at
    if queueing_lock is None:
        deferrer = _deferrer().configure_task(task_name, connection=_driver_connection(session), **options)
        return int(deferrer.defer(**args))
    # A duplicate queueing lock fails the INSERT; a savepoint keeps the caller's transaction usable.
    try:
        with session.begin_nested():
            deferrer = _deferrer().configure_task(task_name, connection=_driver_connection(session), **options)
            return int(deferrer.defer(**args))
    except exceptions.AlreadyEnqueued:
        raise Conflict(
            "A job with this queueing lock is already waiting.",
            code="job_already_queued",
            fields=[FieldProblem("queueing_lock", "one waiting job per queueing lock")],
        ) from None


def cancel(session: Session, job_id: int) -> bool:
    result = session.execute(
        text("UPDATE procrastinate_jobs SET status = 'cancelled' WHERE id = :id AND status = 'todo'"), {"id": job_id}
    )
    return bool(getattr(result, "rowcount", 0))


def failed(session: Session, *, limit: int, task_name: str | None) -> Iterator[Mapping[str, Any]]:
    rows = session.execute(
        text(
            "SELECT j.id, j.task_name, j.attempts,"
            " (SELECT min(e.at) FROM procrastinate_events e WHERE e.job_id = j.id) AS queued_at,"
            " (SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = j.id AND e.type = 'failed')"
            " AS failed_at"
            " FROM procrastinate_jobs j WHERE j.status = 'failed'"
            " AND (CAST(:task AS varchar) IS NULL OR j.task_name = :task) ORDER BY j.id DESC LIMIT :limit"
        ),
        {"task": task_name, "limit": limit},
    )
    for row in rows.mappings():
        yield {**row, "error": None}


def depth(session: Session) -> tuple[int, datetime | None]:
    """Due waiting jobs and when the oldest became due, in one pass over the `todo` jobs (a partial index).

    scheduled_at is NULL for "as soon as possible": such a job has waited since it was deferred, and the
    earliest deferred is the one with the lowest id, so one event lookup finds it (a lookup per waiting job
    took 137 ms with 20,000 waiting of 200,000; this takes 12 ms: bench/RESULTS.md "telemetry").
    """
    waiting, oldest = session.execute(
        text(
            "WITH due AS MATERIALIZED (SELECT count(*) AS waiting, min(scheduled_at) AS oldest_scheduled,"
            " min(id) FILTER (WHERE scheduled_at IS NULL) AS oldest_unscheduled"
            " FROM procrastinate_jobs WHERE status = 'todo' AND (scheduled_at IS NULL OR scheduled_at <= now()))"
            " SELECT waiting, LEAST(oldest_scheduled,"
            " (SELECT min(e.at) FROM procrastinate_events e WHERE e.job_id = oldest_unscheduled)) FROM due"
        )
    ).one()
    return int(waiting), oldest


# ------------------------------------------------------------------------------------------------ worker


def cron_for(seconds: float) -> str:
    """A cron line firing every `seconds` (procrastinate's 6th column is seconds)."""
    whole = max(round(seconds), 1)
    if whole < 60:
        return f"* * * * * */{whole}"
    minutes = max(whole // 60, 1)
    if minutes < 60:
        return f"*/{minutes} * * * *"
    return f"0 */{max(minutes // 60, 1)} * * *"


def _retry_strategy(spec: JobSpec) -> Any:
    from procrastinate.retry import BaseRetryStrategy, RetryDecision  # lazy: see the module docstring

    class Strategy(BaseRetryStrategy):
        def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
            if job.attempts >= spec.retries:
                return None  # dead-lettered: status `failed`
            return RetryDecision(retry_in={"seconds": round(spec.delay_before_retry(job.attempts + 1))})

    return Strategy()


def worker_app(host: Any, engine: Engine, settings: Any) -> procrastinate.App:
    """An app with every registered job bound to `host`, and the periodic ones scheduled by cron."""
    import procrastinate  # lazy: see the module docstring

    # The worker's own bookkeeping (fetch, heartbeat, finish) commits without waiting for the WAL flush: a
    # status lost to a database crash means the job runs again, which every job must survive anyway
    # (`effect_once`). A job's effects go through the engine's sessions, durable as every other write, and
    # enqueueing happens in the caller's (durable) transaction. It halves the fsyncs per job.
    connector = procrastinate.PsycopgConnector(
        conninfo=conninfo(engine), kwargs={"options": "-c synchronous_commit=off"}
    )
    app = procrastinate.App(connector=connector)
    for spec in registered().values():

        def run(context: procrastinate.JobContext, /, _spec: JobSpec = spec, **kwargs: Any) -> None:
            job = context.job
            call = JobCall(int(job.id or 0), _spec.name, kwargs, attempt=job.attempts)
            try:
                _spec.function(host, call)
            except Exception as exc:
                # procrastinate logs what a job raises, message and all; ours may quote a value. Only the
                # error's class goes on (the job still fails and is retried).
                raise JobFailed(type(exc).__name__) from None

        task = app.task(name=spec.name, pass_context=True, retry=_retry_strategy(spec))(run)
        period = spec.period(settings)
        if period > 0:
            app.periodic(cron=cron_for(period), periodic_id=spec.name)(cast(Any, task))
    return app


async def recover_stalled(app: procrastinate.App, stalled_after: float) -> int:
    """Put back to `todo` the jobs of workers silent for `stalled_after` seconds; how many."""
    stalled = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after)
    count = 0
    for job in stalled:
        await app.job_manager.retry_job(job)
        count += 1
    if count:
        log.warning("put %d job(s) of stalled workers back in the queue", count)
    return count


async def _recovery_loop(app: procrastinate.App, stalled_after: float) -> None:
    while True:
        try:
            await recover_stalled(app, stalled_after)
        except Exception as exc:  # the database may be away; the next round tries again
            log.error("stalled-job recovery failed: %s", type(exc).__name__)
        await asyncio.sleep(max(stalled_after / 2, 0.2))


class RedactJobArguments(logging.Filter):
    """procrastinate names a job by its call string, `task[id](key='value', ...)`, in its log lines and puts
    the arguments in the record's `job` extra; arguments may name a person. This keeps `task[id]` only."""

    def filter(self, record: logging.LogRecord) -> bool:
        job = getattr(record, "job", None)
        if isinstance(job, dict):
            call_string = job.get("call_string")
            short = f"{job.get('task_name')}[{job.get('id')}]"
            if isinstance(call_string, str) and call_string in (message := record.getMessage()):
                record.msg, record.args = message.replace(call_string, short), ()
            record.job = {k: job.get(k) for k in ("id", "task_name", "attempts", "status", "queue")}
        elif "(" in str(record.msg) and "[" in str(record.msg):
            record.msg, record.args = _CALL_STRING.sub(r"\1", record.getMessage()), ()
        return True


# `task[id](anything)` where no call string was attached (e.g. the periodic deferrer's lines).
_CALL_STRING: Final = re.compile(r"([a-z][a-z0-9_.]*\[\d*\])\(.*\)(?=( |$|,))")


def redact_procrastinate_logs() -> None:
    """Attach `RedactJobArguments` to every procrastinate logger (a logger's filters see only its own records)."""
    import procrastinate.worker  # noqa: F401  # lazy: heavy, see the module docstring; defines the loggers

    redactor = RedactJobArguments()
    for name in list(logging.root.manager.loggerDict):
        if name == "procrastinate" or name.startswith("procrastinate."):
            found = logging.getLogger(name)
            if not any(isinstance(f, RedactJobArguments) for f in found.filters):
                found.addFilter(redactor)


def run_worker(
    host: Any,
    engine: Engine,
    settings: Any,
    *,
    concurrency: int = 1,
    name: str | None = None,
    burst: bool = False,
    stalled_after: float = DEFAULT_STALLED_AFTER,
    poll_seconds: float = 1.0,
) -> None:
    """Run a procrastinate worker until SIGINT/SIGTERM (or, with `burst`, until the queue is empty)."""
    app = worker_app(host, engine, settings)
    redact_procrastinate_logs()

    async def main() -> None:
        async with app.open_async():
            recovery = asyncio.create_task(_recovery_loop(app, stalled_after))
            try:
                await app.run_worker_async(
                    concurrency=concurrency,
                    name=name or "worker",
                    wait=not burst,
                    update_heartbeat_interval=max(stalled_after / 4, 0.1),
                    stalled_worker_timeout=stalled_after,
                    fetch_job_polling_interval=poll_seconds,
                )
            finally:
                recovery.cancel()

    asyncio.run(main())
