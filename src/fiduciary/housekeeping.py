"""Housekeeping: the periodic jobs that bound what the service keeps unsigned, unreadable or unneeded.

- `ledger_seal` (`seal_streams`): sign a checkpoint over the head of every ledger stream. Events after the
  last checkpoint are protected by the hash chain alone, which anyone with write access can recompute; on
  a quiet stream the checkpoint interval only fires on the next append, so sealing on a timer bounds that
  unsigned tail (docs/ledger.md, "The unsealed tail").
- `vault_purge` (`purge_vault`): delete erased people's ciphertext rows (already unreadable: erasure
  destroyed the key, DPDP s.8(7) and s.12(3), GDPR Art 17), purge legal-hold records past their date
  (DPDP s.8(7)(b): kept no longer than the law that required them), and on SQLite truncate the WAL so old
  page images leave the -wal file (fiduciary.vault.erasure).
- `idempotency_purge` (`purge_idempotency_keys`): delete stored answers to `Idempotency-Key`s older than
  `idempotency_ttl_hours` (storage limitation, DPDP s.8(7), GDPR Art 5(1)(e): they repeat receipts naming
  the subject, and a retry window of a day is what clients need). A request repeating a deleted key is a
  new request.

`run_housekeeping` runs them all and says what ran, with counts only: no personal value and no person id
ever appears in a report, a log line or an error message from here. One job's failure does not stop the
others. Runs never overlap: a run that finds another one going (in this process, or in another process on
the same database: a PostgreSQL advisory lock, a lock file beside an SQLite database) is skipped.

It is the periodic job `housekeeping` (`HOUSEKEEPING_JOB`, every `housekeeping_interval_minutes`, queued once
per occurrence however many processes run): on PostgreSQL `fiduciary worker` processes run it, on SQLite the
service's in-process job runner (fiduciary.jobs). `fiduciary housekeeping` calls `run_housekeeping` once,
directly, for cron or by hand.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from fiduciary.config import Settings
from fiduciary.consent.models import ConsentIdempotency
from fiduciary.errors import FiduciaryError
from fiduciary.jobs import JobCall, register_job
from fiduciary.ledger.reads import streams
from fiduciary.ledger.service import Ledger
from fiduciary.ledger.signing import load_signer
from fiduciary.storage.base import utcnow
from fiduciary.vault.erasure import checkpoint_sqlite, purge_erased_batch
from fiduciary.vault.service import VaultService

if TYPE_CHECKING:
    from fiduciary.context import RuntimeContext

log = logging.getLogger(__name__)

BATCH_SIZE: Final = 10_000  # rows per transaction: no purge holds a long lock

Job = Callable[["RuntimeContext", threading.Event], dict[str, int]]


def _stopping(stop: threading.Event | None) -> bool:
    return stop is not None and stop.is_set()


# ------------------------------------------------------------------------------------------------- jobs


def seal_streams(runtime: RuntimeContext, stop: threading.Event | None = None) -> dict[str, int]:
    """Seal every ledger stream now; each stream in its own short transaction (the head lock is brief)."""
    settings = runtime.settings
    signer = load_signer(settings)
    with runtime.sessions() as session:
        names = streams(session)
    written = already = empty = 0
    for name in names:
        if _stopping(stop):
            break
        before = utcnow()
        with runtime.sessions() as session:
            checkpoint = Ledger.from_settings(name, settings, signer).seal(session)
            session.commit()
        if checkpoint is None:
            empty += 1
        elif checkpoint.signed_at >= before:
            written += 1
        else:  # the head was already covered: `seal` answered the existing checkpoint
            already += 1
    return {"streams": len(names), "checkpoints_written": written, "already_sealed": already, "empty": empty}


def purge_vault(
    runtime: RuntimeContext,
    stop: threading.Event | None = None,
    *,
    batch_size: int = BATCH_SIZE,
    always_checkpoint: bool = False,
) -> dict[str, int]:
    """`fiduciary vault purge`: erased people's ciphertext, expired legal-hold records, then the WAL.

    The WAL is truncated only when something was purged: every erasure leaves a pending purge, so the run
    after an erasure always checkpoints, and an idle run does not block writers for a checkpoint. The
    operator's `fiduciary vault purge` passes `always_checkpoint`: asked for by hand, it truncates anyway.
    """
    vault = VaultService(runtime)
    rows = people = records = 0
    while not _stopping(stop):
        with runtime.sessions() as session:
            report = purge_erased_batch(session, batch_size=batch_size)
            session.commit()
        rows += report.rows_deleted
        people += report.people_completed
        if report.rows_deleted == 0 and report.people_completed == 0:
            break
    while not _stopping(stop):
        with runtime.sessions() as session:
            purged = vault.purge_legal_holds(session, batch_size=batch_size)
            session.commit()
        records += purged
        if purged == 0:
            break
    checkpointed = 0
    if rows or people or records or always_checkpoint:
        checkpoint_sqlite(runtime.engine)
        key_engine = vault.keys.key_store.engine
        if key_engine is not None:
            checkpoint_sqlite(key_engine)
        checkpointed = int(runtime.engine.dialect.name == "sqlite")
    return {
        "ciphertext_rows_deleted": rows,
        "people_completed": people,
        "legal_hold_records_purged": records,
        "sqlite_wal_truncated": checkpointed,
    }


def delete_expired_idempotency(session: Session, before: datetime, *, limit: int = BATCH_SIZE) -> int:
    """Delete up to `limit` stored idempotent answers created before `before`; the caller commits."""
    victims = select(ConsentIdempotency.key).where(ConsentIdempotency.created_at < before).limit(limit)
    result = session.execute(delete(ConsentIdempotency).where(ConsentIdempotency.key.in_(victims.scalar_subquery())))
    return int(getattr(result, "rowcount", 0) or 0)


def purge_idempotency_keys(
    runtime: RuntimeContext,
    stop: threading.Event | None = None,
    *,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
) -> dict[str, int]:
    """Delete every idempotent answer older than `idempotency_ttl_hours`, one bounded batch a transaction."""
    before = (now or utcnow()) - timedelta(hours=runtime.settings.idempotency_ttl_hours)
    deleted = 0
    while not _stopping(stop):
        with runtime.sessions() as session:
            count = delete_expired_idempotency(session, before, limit=batch_size)
            session.commit()
        deleted += count
        if count < batch_size:
            break
    with runtime.sessions() as session:
        kept = session.scalar(select(func.count()).select_from(ConsentIdempotency)) or 0
    return {"keys_deleted": deleted, "keys_kept": int(kept)}


# The jobs in the order they run; looked up at run time, so a test can replace one.
JOBS: dict[str, Job] = {
    "ledger_seal": seal_streams,
    "vault_purge": purge_vault,
    "idempotency_purge": purge_idempotency_keys,
}


# ----------------------------------------------------------------------------------------------- report


@dataclass(frozen=True)
class JobResult:
    """One job's outcome: counts, or the class of the error (never its message unless it is ours)."""

    name: str
    ok: bool
    counts: Mapping[str, int] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "ok": self.ok, "counts": dict(self.counts)}
        if self.error is not None:
            out["error"] = self.error
        out["seconds"] = round(self.seconds, 3)
        return out


@dataclass(frozen=True)
class HousekeepingReport:
    started_at: datetime
    finished_at: datetime
    jobs: tuple[JobResult, ...]
    skipped: bool = False  # another run was in progress: nothing ran
    stopped: bool = False  # asked to stop (shutdown) before every job had run

    @property
    def ok(self) -> bool:
        return all(job.ok for job in self.jobs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "ok": self.ok,
            "skipped": self.skipped,
            "stopped": self.stopped,
            "jobs": [job.to_dict() for job in self.jobs],
        }

    def summary(self) -> str:
        """One log line: job names and counts only."""
        if self.skipped:
            return "housekeeping skipped: another run is in progress"
        parts = []
        for job in self.jobs:
            if job.ok:
                counts = ", ".join(f"{k}={v}" for k, v in job.counts.items())
                parts.append(f"{job.name} ok ({counts})")
            else:
                parts.append(f"{job.name} FAILED ({job.error})")
        return "housekeeping: " + "; ".join(parts)


def describe_error(exc: BaseException) -> str:
    """What may be said about an error: our own errors' details (written without values), else the class.

    A driver or SQLAlchemy message can quote the statement's parameters, which may be person ids.
    """
    if isinstance(exc, FiduciaryError):
        return f"{type(exc).__name__} {exc.code}: {exc.detail}"
    return type(exc).__name__


# -------------------------------------------------------------------------------------------- exclusion

_process_locks: dict[str, threading.Lock] = {}
_process_locks_guard = threading.Lock()
# pg_try_advisory_lock's key: a constant every Fiduciary process shares.
_ADVISORY_KEY: Final = int.from_bytes(hashlib.sha256(b"fiduciary.housekeeping").digest()[:8], "big", signed=True)


def _process_lock(runtime: RuntimeContext) -> threading.Lock:
    key = runtime.engine.url.render_as_string(hide_password=True)
    with _process_locks_guard:
        return _process_locks.setdefault(key, threading.Lock())


@contextlib.contextmanager
def _database_lock(runtime: RuntimeContext) -> Iterator[bool]:
    """True while this process holds the housekeeping lock of the database (every process sharing it)."""
    engine = runtime.engine
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            got = bool(conn.scalar(select(func.pg_try_advisory_lock(_ADVISORY_KEY))))
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    try:
                        conn.scalar(select(func.pg_advisory_unlock(_ADVISORY_KEY)))
                        conn.commit()
                    except Exception:
                        conn.invalidate()  # the lock dies with the connection; never pool it held
                        raise
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield True
        return
    fd = os.open(f"{database}.housekeeping-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # releases the flock


@contextlib.contextmanager
def exclusive(runtime: RuntimeContext) -> Iterator[bool]:
    """True when no other housekeeping run on this database is going; hold it for the whole run."""
    lock = _process_lock(runtime)
    if not lock.acquire(blocking=False):
        yield False
        return
    try:
        with _database_lock(runtime) as got:
            yield got
    finally:
        lock.release()


# ---------------------------------------------------------------------------------------------- running


def _run_job(name: str, job: Job, runtime: RuntimeContext, stop: threading.Event) -> JobResult:
    began = time.monotonic()
    try:
        counts = job(runtime, stop)
    except Exception as exc:
        error = describe_error(exc)
        log.error("housekeeping job %s failed: %s", name, error)
        log.debug("housekeeping job %s failed at:\n%s", name, "".join(traceback.format_tb(exc.__traceback__)))
        return JobResult(name, False, error=error, seconds=time.monotonic() - began)
    return JobResult(name, True, counts=counts, seconds=time.monotonic() - began)


def run_housekeeping(
    runtime: RuntimeContext, *, jobs: tuple[str, ...] | None = None, stop: threading.Event | None = None
) -> HousekeepingReport:
    """Run every job (or the named ones, in their usual order) once; skipped if a run is in progress.

    `stop` (set on shutdown) ends the run between jobs and between batches; what was done is reported.
    """
    wanted = tuple(JOBS) if jobs is None else jobs
    unknown = [name for name in wanted if name not in JOBS]
    if unknown:
        raise ValueError(f"unknown housekeeping job(s): {', '.join(unknown)}; known: {', '.join(JOBS)}")
    stop = stop or threading.Event()
    started = utcnow()
    results: list[JobResult] = []
    with exclusive(runtime) as mine:
        if not mine:
            return HousekeepingReport(started, utcnow(), (), skipped=True)
        for name in JOBS:
            if name not in wanted:
                continue
            if stop.is_set():
                return HousekeepingReport(started, utcnow(), tuple(results), stopped=True)
            results.append(_run_job(name, JOBS[name], runtime, stop))
    return HousekeepingReport(started, utcnow(), tuple(results), stopped=stop.is_set())


# ------------------------------------------------------------------------------------------------ the job


class HousekeepingFailed(RuntimeError):
    """A run in which a housekeeping job failed; its message is the report's summary (names, counts and
    error classes only), and the queue retries it, then dead-letters it where staff see it."""


# Counts that mean a run changed something (an idle run logs at DEBUG only, not every few minutes).
_WORK_DONE: Final = (
    "checkpoints_written",
    "ciphertext_rows_deleted",
    "people_completed",
    "legal_hold_records_purged",
    "keys_deleted",
)


def housekeeping_job(runtime: RuntimeContext, call: JobCall) -> dict[str, int]:
    """The periodic job `housekeeping`: every `housekeeping_interval_minutes`, run once cluster-wide by the
    job queue (procrastinate workers on PostgreSQL, the service's own runner on SQLite)."""
    report = run_housekeeping(runtime, stop=call.stop)
    if not report.ok:
        log.warning(report.summary())
        raise HousekeepingFailed(report.summary())
    if report.skipped or any(any(job.counts.get(k) for k in _WORK_DONE) for job in report.jobs):
        log.info(report.summary())
    else:
        log.debug(report.summary())
    return {"jobs_run": len(report.jobs), "skipped": int(report.skipped)}


def _interval_seconds(settings: Settings) -> float:
    return settings.housekeeping_interval_minutes * 60


HOUSEKEEPING_JOB: Final = register_job(
    "housekeeping", housekeeping_job, retries=2, backoff_seconds=30, every=_interval_seconds
)
