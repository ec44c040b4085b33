"""The inactivity sweep: remind, give notice, then erase people who stayed away (docs/inactivity.md).

DPDP s.8(8), Rule 8(1) and the Third Schedule deem the purpose over once the period after the person's last
contact ends; DPDP Rule 8(2) requires telling the person at least 48 hours before. From the policy's
`last_activity` rule (`inactivity_terms`), each run at `now` walks the clocks old enough to matter (one
indexed range scan on `last_contact_at`, in keyset batches) and for each person:

- sends the reminder (if the policy sets one) once the erasure is at most `reminder` away;
- sends the notice once it is at most `advance_notice` (at least 48 hours) away, saying the day of erasure;
- erases, through every registered eraser with reason `retention.inactivity`, once the period has ended and
  the notice has had its full length (a notice sent late moves the erasure later: never less than the
  notice's length after it went).

Any contact in between moves the clock and clears both notices (`inactivity_clock.touch`), which cancels
the erasure; the erasure step re-checks, under the row's lock, that the clock is still the one the notice
was sent for. A person nobody can write to (no email or phone on file) is never erased by this sweep: the
notice cannot reach them (counted as `unreachable`). Before erasing, the account-access stub the Schedule
exempts is kept (`AccountStub`); stored-value balances survive the erasers (`inactivity_rights`).

Each batch is one transaction with one audit event per step that did something, with counts, never values.
`plan` runs the same classification and writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session

from fiduciary.audit.service import AuditEvent
from fiduciary.comms.outbox import send
from fiduciary.people.models import PersonErasure
from fiduciary.retention.inactivity_models import CLOCKS, STUBS
from fiduciary.retention.inactivity_terms import InactivityTerms, Limits, inactivity_terms
from fiduciary.rights.flows import erase_person
from fiduciary.rights.requests import contact_on_file
from fiduciary.storage.base import utcnow
from fiduciary.unit_of_work import UnitOfWork, unit_of_work
from fiduciary.vault.records import PERSON_IDENTIFIERS

# A row of `inactivity_clocks` as `_batches` selects it (person_id, last_contact_at, reminder_sent_at,
# notice_sent_at, language); SQLAlchemy's Row types each column, which these helpers do not need.
ClockRow = Any

REASON: Final = "retention.inactivity"
ACTOR: Final = "fiduciary"
BATCH: Final = 500


class Step(StrEnum):
    REMIND = "remind"
    NOTIFY = "notify"
    ERASE = "erase"
    WAIT = "wait"  # told, waiting for the period or the notice's length to run


@dataclass
class InactivityReport:
    """Counts per step (a plan's are what a run would do now); no person id, no value."""

    rule: str | None
    reminded: int = 0
    notified: int = 0
    erased: int = 0
    waiting: int = 0
    unreachable: int = 0
    cancelled: int = 0  # a contact arrived between the scan and the erasure
    batches: int = 0
    earliest_due: datetime | None = None
    latest_due: datetime | None = None
    by_step: dict[str, int] = field(default_factory=dict)

    def count(self, step: Step, due_at: datetime) -> None:
        self.by_step[step.value] = self.by_step.get(step.value, 0) + 1
        if self.earliest_due is None or due_at < self.earliest_due:
            self.earliest_due = due_at
        if self.latest_due is None or due_at > self.latest_due:
            self.latest_due = due_at

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "reminded": self.reminded,
            "notified": self.notified,
            "erased": self.erased,
            "waiting": self.waiting,
            "unreachable": self.unreachable,
            "cancelled": self.cancelled,
            "batches": self.batches,
            "by_step": dict(sorted(self.by_step.items())),
            "earliest_due": self.earliest_due.isoformat() if self.earliest_due else None,
            "latest_due": self.latest_due.isoformat() if self.latest_due else None,
        }


def classify(terms: InactivityTerms, limits: Limits, row: ClockRow) -> tuple[Step | None, datetime]:
    """What the sweep does for one clock at `limits.now`, and when its period ends (policy's time zone)."""
    due_at = terms.due_at(row.last_contact_at)
    if row.notice_sent_at is not None:
        told = limits.now >= due_at and row.notice_sent_at <= limits.told_by  # the full notice has run
        return (Step.ERASE if told else Step.WAIT), due_at
    if due_at <= limits.notify_by:
        return Step.NOTIFY, due_at
    if row.reminder_sent_at is None and limits.remind_by is not None and due_at <= limits.remind_by:
        return Step.REMIND, due_at
    return (Step.WAIT if row.reminder_sent_at is not None else None), due_at


_COLUMNS = (CLOCKS.c.person_id, CLOCKS.c.last_contact_at, CLOCKS.c.reminder_sent_at, CLOCKS.c.notice_sent_at)


def _batches(session: Session, terms: InactivityTerms, now: datetime, size: int) -> Iterator[Sequence[ClockRow]]:
    """The clocks old enough to matter at `now`, oldest first, `size` at a time (keyset: resumable, and a
    batch erased in between does not shift the next one)."""
    bound = terms.latest_candidate_contact(now)
    not_erased = ~exists().where(PersonErasure.person_id == CLOCKS.c.person_id)
    after: tuple[datetime, str] | None = None
    while True:
        query = select(*_COLUMNS, CLOCKS.c.language).where(CLOCKS.c.last_contact_at <= bound, not_erased)
        if after is not None:
            query = query.where(
                or_(
                    CLOCKS.c.last_contact_at > after[0],
                    and_(CLOCKS.c.last_contact_at == after[0], CLOCKS.c.person_id > after[1]),
                )
            )
        rows = session.execute(query.order_by(CLOCKS.c.last_contact_at, CLOCKS.c.person_id).limit(size)).all()
        if not rows:
            return
        yield rows
        after = (rows[-1].last_contact_at, rows[-1].person_id)


def _begin(runtime: Any, now: datetime | None) -> tuple[InactivityReport, InactivityTerms | None, Limits | None]:
    """The policy's terms, an empty report for its rule, and what `now` (default: now) means under them."""
    terms = inactivity_terms(runtime.policy())
    report = InactivityReport(terms.rule if terms else None)
    return report, terms, terms.limits(now or utcnow()) if terms is not None else None


def plan(runtime: Any, session: Session, *, now: datetime | None = None, batch: int = 5000) -> InactivityReport:
    """What a run at `now` would do, with counts and the earliest and latest due dates; writes nothing."""
    report, terms, limits = _begin(runtime, now)
    if terms is None or limits is None:
        return report
    for rows in _batches(session, terms, limits.now, batch):
        for row in rows:
            step, due_at = classify(terms, limits, row)
            if step is not None:
                report.count(step, due_at)
    report.reminded = report.by_step.get(Step.REMIND.value, 0)
    report.notified = report.by_step.get(Step.NOTIFY.value, 0)
    report.erased = report.by_step.get(Step.ERASE.value, 0)
    report.waiting = report.by_step.get(Step.WAIT.value, 0)
    return report


def _tell(uow: UnitOfWork, row: ClockRow, kind: str, erase_on: datetime) -> bool:
    contact = contact_on_file(uow, row.person_id)
    if contact is None:
        return False
    channel, address = contact
    send(
        uow,
        kind=kind,
        channel=channel,
        to=address,
        params={"erase_on": erase_on.date()},
        idempotency_key=f"{kind}:{row.person_id}:{int(row.last_contact_at.timestamp() * 1_000_000)}",
        person_id=row.person_id,
        language=row.language,
    )
    return True


def _mark(session: Session, row: ClockRow, column: str, now: datetime) -> bool:
    """Record that a message went for this clock; False when a contact moved the clock meanwhile."""
    result = session.execute(
        update(CLOCKS)
        .where(CLOCKS.c.person_id == row.person_id, CLOCKS.c.last_contact_at == row.last_contact_at)
        .values({column: now})
    )
    return bool(getattr(result, "rowcount", 0))


def _claim(session: Session, row: ClockRow) -> bool:
    """Lock the clock for erasure if it is still the one the notice went for (no contact since)."""
    result = session.execute(
        update(CLOCKS)
        .where(
            CLOCKS.c.person_id == row.person_id,
            CLOCKS.c.last_contact_at == row.last_contact_at,
            CLOCKS.c.notice_sent_at == row.notice_sent_at,
        )
        .values(notice_sent_at=row.notice_sent_at)
    )
    return bool(getattr(result, "rowcount", 0))


def _keep_stub(session: Session, row: ClockRow, now: datetime) -> None:
    """The account-access data the Third Schedule exempts: the account existed, and the blind indexes of the
    identifiers it signs in with (read before the vault's eraser deletes them)."""
    sign_in = [
        {"kind": kind, "blind_index": bytes(index).hex()}
        for kind, index in session.execute(
            select(PERSON_IDENTIFIERS.c.kind, PERSON_IDENTIFIERS.c.blind_index)
            .where(PERSON_IDENTIFIERS.c.person_id == row.person_id)
            .order_by(PERSON_IDENTIFIERS.c.kind)
        )
    ]
    session.execute(
        STUBS.insert().values(
            person_id=row.person_id, erased_at=now, last_contact_at=row.last_contact_at, sign_in=sign_in
        )
    )


def _act(runtime: Any, uow: UnitOfWork, terms: InactivityTerms, row: ClockRow, limits: Limits) -> str | None:
    """Do the row's step; the name of the counter it adds to, or None for nothing."""
    now = limits.now
    step, due_at = classify(terms, limits, row)
    session = uow.session
    if step is Step.REMIND or step is Step.NOTIFY:
        column = "reminder_sent_at" if step is Step.REMIND else "notice_sent_at"
        erase_on = terms.erase_at(due_at, now) if step is Step.NOTIFY else due_at
        if not _mark(session, row, column, now):
            return "cancelled"
        if not _tell(uow, row, "inactivity.reminder" if step is Step.REMIND else "inactivity.notice", erase_on):
            # nobody to write to: nothing went, so nothing is recorded (and the person is never erased here)
            session.execute(update(CLOCKS).where(CLOCKS.c.person_id == row.person_id).values({column: None}))
            return "unreachable"
        return "reminded" if step is Step.REMIND else "notified"
    if step is Step.ERASE:
        if not _claim(session, row):
            return "cancelled"
        _keep_stub(session, row, now)
        erase_person(runtime, session, actor=ACTOR, person_id=row.person_id, reason=REASON)
        return "erased"
    return "waiting" if step is Step.WAIT else None


_EVENTS: Final = {"reminded": "inactivity.remind", "notified": "inactivity.notify", "erased": "inactivity.erase"}


def run(
    runtime: Any,
    *,
    now: datetime | None = None,
    batch: int = BATCH,
    progress: Callable[[int], None] | None = None,
) -> InactivityReport:
    """Remind, notify and erase as `classify` says; each batch commits on its own (a crash loses at most the
    batch in flight, and a rerun picks it up: every step is recorded on the clock it acted on)."""
    report, terms, limits = _begin(runtime, now)
    if terms is None or limits is None:
        return report
    with runtime.sessions() as reader:
        for rows in _batches(reader, terms, limits.now, batch):
            counts = _run_batch(runtime, terms, rows, limits)
            for name, n in counts.items():
                setattr(report, name, getattr(report, name) + n)
            report.batches += 1
            reader.rollback()  # end the read snapshot between batches (SQLite WAL keeps it otherwise)
            if progress is not None:
                progress(len(rows))
    return report


def _run_batch(runtime: Any, terms: InactivityTerms, rows: Sequence[ClockRow], limits: Limits) -> dict[str, int]:
    counts: dict[str, int] = {}
    with runtime.sessions() as session:
        uow = unit_of_work(runtime, session)
        for row in rows:
            name = _act(runtime, uow, terms, row, limits)
            if name is not None:
                counts[name] = counts.get(name, 0) + 1
        uow.audit_many(
            AuditEvent(actor=ACTOR, action=action, target=terms.rule, count=counts[name], reasons=[REASON])
            for name, action in _EVENTS.items()
            if counts.get(name)
        )
        session.commit()
    return counts
