"""The unit of work: a session plus the side effects a step must not forget, written when it commits.

A flow (`decisions.flows`, `vault.flows`, `rights.flows`, `auth.flows`, …) collects its audit events on the
unit of work while it runs, and queues its background jobs through it (`enqueue`, written at once into the
same transaction); the audit events are written in the same transaction, just before it commits (SQLAlchemy's
`before_commit`), and dropped when it rolls back. So a state change and the audit event that records it
commit together or not at all, whoever drives the transaction — the HTTP session dependency, a CLI command,
an application embedding Fiduciary, a job — and "every use of personal data is audited" (DPDP Rule 6(1)(c),
GDPR Art 30 and 32(1)(d)) is kept in this one place rather than by each caller (Cosmic Python's
`unit_of_work.py` and `collect_new_events`).

A step (`UnitOfWork.step`) that raises leaves nothing behind: the transaction rolls back with what the step
collected. A refusal that carries audit events (`audit.service.attach_audit`) is the one thing recorded
after a failure, in a transaction of its own, so a refused attempt leaves its trace (DPDP Rule 6(1)(c)).

One unit of work belongs to one session (kept in `session.info`); `unit_of_work(runtime, session)` returns
it, creating it on first use. Under SQLite's group commit (storage/group_commit.py) a request's session is
bound to the group's connection with `join_transaction_mode="create_savepoint"`: its own outermost
transaction is then a SAVEPOINT, so `before_commit` writes the events inside it (at RELEASE) and
`after_soft_rollback` drops them when it rolls back to it, with the rows and jobs it wrote, leaving the
other requests of the group alone (tests/storage/test_group_commit.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Final

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from fiduciary.audit.service import AuditEvent, AuditRecord, AuditTrail, take_pending_audit
from fiduciary.context import RuntimeContext
from fiduciary.errors import FiduciaryError
from fiduciary.jobs import enqueue as enqueue_job

SESSION_KEY: Final = "fiduciary.unit_of_work"


class UnitOfWork:
    """The session of one transaction and the audit events collected for it."""

    def __init__(self, runtime: RuntimeContext, session: Session) -> None:
        self.runtime = runtime
        self.session = session
        self.trail = AuditTrail.for_runtime(runtime)
        self._audit: list[tuple[AuditEvent, dict[str, Any]]] = []

    def audit(self, *events: AuditEvent) -> None:
        """Collect events; they are written when the transaction commits."""
        self.audit_many(events)

    def audit_many(self, events: Iterable[AuditEvent]) -> None:
        checked = [(e, e.payload()) for e in events]  # a malformed event fails here, in its step, not at commit
        if not self.session.in_transaction():
            self.session.begin()  # what is collected belongs to a transaction, so its rollback drops it
        self._audit.extend(checked)

    @property
    def pending(self) -> tuple[AuditEvent, ...]:
        """The events collected and not yet written."""
        return tuple(event for event, _ in self._audit)

    def enqueue(
        self,
        job_name: str,
        args: Mapping[str, Any],
        *,
        run_at: datetime | None = None,
        lock: str | None = None,
        queueing_lock: str | None = None,
    ) -> int:
        """Queue a background job in this transaction (`fiduciary.jobs.enqueue`): it runs only if the step's
        change commits, and a rollback takes it back with everything else."""
        return enqueue_job(self.session, job_name, args, run_at=run_at, lock=lock, queueing_lock=queueing_lock)

    def flush(self) -> list[AuditRecord]:
        """Write what was collected now, in the open transaction: for a step whose answer names its audit
        event's ledger position (an access package). Commit calls this itself."""
        if not self._audit:
            return []
        checked, self._audit = self._audit, []
        return self.trail.record_checked(self.session, checked)

    def discard(self) -> None:
        self._audit.clear()

    @contextmanager
    def step(self) -> Iterator[UnitOfWork]:
        """Run one step of a flow: on any exception the transaction rolls back and what was collected goes
        with it; a refusal's attached audit events are then recorded and committed on their own."""
        try:
            yield self
        except BaseException as exc:
            self.session.rollback()  # `_discard_on_rollback` drops what was collected
            refusal = take_pending_audit(exc) if isinstance(exc, FiduciaryError) else []
            if refusal:
                self.trail.record_many(self.session, refusal)
                self.session.commit()
            raise


def unit_of_work(runtime: RuntimeContext, session: Session) -> UnitOfWork:
    """The session's unit of work, created on first use."""
    found = session.info.get(SESSION_KEY)
    if isinstance(found, UnitOfWork) and found.runtime is runtime:
        return found
    if isinstance(found, UnitOfWork) and found.pending:
        raise RuntimeError("a session's unit of work belongs to one runtime; this one has events pending")
    created = session.info[SESSION_KEY] = UnitOfWork(runtime, session)
    return created


@event.listens_for(Session, "before_commit")
def _write_on_commit(session: Session) -> None:
    found = session.info.get(SESSION_KEY)
    if isinstance(found, UnitOfWork):
        found.flush()


@event.listens_for(Session, "after_soft_rollback")
def _discard_on_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    """Every rollback of the outermost transaction, whether or not it had reached the database yet."""
    found = session.info.get(SESSION_KEY)
    if isinstance(found, UnitOfWork) and previous_transaction.parent is None:
        found.discard()


def collected(session: Session) -> tuple[AuditEvent, ...]:
    """What the session's unit of work holds unwritten (for tests and diagnostics)."""
    found: Any = session.info.get(SESSION_KEY)
    return found.pending if isinstance(found, UnitOfWork) else ()
