"""Retention events a store's backend reports for a person: "the return window closed", "the warranty ended".

A policy declares the events it counts retention from (`retention_events`, issue 12); when one happens for a
person, the backend reports it (`POST /v1/people/{person_id}/retention-events`, `fiduciary vault
retention-event`, `FiduciaryClient.report_retention_event`) and `due_for_person` turns the reported events into
the day each rule's data falls due (`policy.retention_due`).

A row holds the pseudonymous person id, the event's policy id and two instants: no personal value. Reporting
the same event with the same instant again changes nothing (the store's job may retry); the same event at
another instant is another occurrence (a second order's return window), and a rule's clock runs from the
latest one. Errors name the field, never the value sent. The rows are part of the person's data: exported and
erased with it (`vault.rights`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from fiduciary.errors import Conflict, FieldProblem, ValidationFailed
from fiduciary.people.models import Person, PersonErasure
from fiduciary.people.service import PERSON_ID_RE
from fiduciary.personal_data.contacts import report_contact
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.retention_due import RetentionDue, due_dates
from fiduciary.storage.base import Base, utcnow

# A backend's clock may run a little ahead of ours; an event further in the future has not happened.
CLOCK_SKEW = timedelta(minutes=5)
EVENT_PREFIX = "event:"
BUILT_IN_REPORTED = ("order_completed", "case_closed")


class RetentionEventRow(Base):
    __tablename__ = "retention_events"
    __table_args__ = (UniqueConstraint("person_id", "event", "occurred_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(String(40), ForeignKey("people.id"), nullable=False, index=True)
    event: Mapped[str] = mapped_column(String(80), nullable=False)  # the id declared in the policy
    occurred_at: Mapped[datetime] = mapped_column(nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)


@dataclass(frozen=True, slots=True)
class ReportedEvent:
    id: int
    person_id: str
    event: str
    occurred_at: datetime
    recorded_at: datetime
    created: bool  # False when the same report was already recorded (nothing written)


def _reported(row: RetentionEventRow, created: bool) -> ReportedEvent:
    return ReportedEvent(row.id, row.person_id, row.event, row.occurred_at, row.recorded_at, created)


@dataclass(frozen=True, slots=True)
class Fields:
    """The names the caller's input uses, so a problem names the caller's field (`path.person_id`, `--event`)."""

    person_id: str = "person_id"
    event: str = "event"
    occurred_at: str = "occurred_at"


def _check(
    session: Session,
    policy: CompiledPolicy,
    report: tuple[str, str, datetime],
    now: datetime,
    names: Fields,
) -> list[FieldProblem]:
    """Every problem with the report at once. Problems name the field and never echo the value."""
    person_id, event, occurred_at = report
    problems: list[FieldProblem] = []
    if not PERSON_ID_RE.fullmatch(person_id):
        problems.append(FieldProblem(names.person_id, "must be 'per_' followed by 26 characters a-z or 2-7"))
    elif session.get(Person, person_id) is None:
        problems.append(FieldProblem(names.person_id, "no person has this id", hint="create the person first"))
    declared = [e.id for e in policy.document.retention_events]
    # The built-in clocks only the store's backend knows (issue 15): a rule counting from `order_completed`
    # or `case_closed` runs from the event of that name the backend reports.
    declared += [t for t in BUILT_IN_REPORTED if any(r.trigger == t for r in policy.document.retention)]
    if event not in declared:
        hint = ("declared events: " + ", ".join(declared)) if declared else "the policy declares no retention_events"
        problems.append(FieldProblem(names.event, "not a retention event the policy declares", hint=hint))
    if occurred_at.tzinfo is None or occurred_at.utcoffset() is None:
        problems.append(FieldProblem(names.occurred_at, "needs a time zone, e.g. 2026-12-04T10:00:00Z"))
    elif occurred_at > now + CLOCK_SKEW:
        problems.append(FieldProblem(names.occurred_at, "is in the future: report an event once it has happened"))
    return problems


def record_retention_event(
    session: Session,
    policy: CompiledPolicy,
    person_id: str,
    event: str,
    occurred_at: datetime,
    *,
    fields: Fields | None = None,
    now: datetime | None = None,
) -> ReportedEvent:
    """Record that `event` happened for the person at `occurred_at`; a repeat of the same report is a no-op.

    Bad input (malformed or unknown person, an event the policy does not declare, a naive or future instant) is
    a 422 naming each field and records nothing. An erased person takes no new events (409): erasure ends what
    the store may keep about them (DPDP s.12(3), GDPR Art 17).
    """
    now = now or datetime.now(UTC)
    problems = _check(session, policy, (person_id, event, occurred_at), now, fields or Fields())
    if problems:
        raise ValidationFailed("The retention event cannot be recorded.", problems)
    if session.get(PersonErasure, person_id) is not None:
        raise Conflict("The person's data has been erased; no retention event is recorded.", code="person_erased")
    at = occurred_at.astimezone(UTC)
    existing = _find(session, person_id, event, at)
    if existing is not None:
        return _reported(existing, created=False)
    row = RetentionEventRow(person_id=person_id, event=event, occurred_at=at, recorded_at=now)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:  # the same report, recorded concurrently: the first one stands
        found = _find(session, person_id, event, at)
        if found is None:
            raise
        return _reported(found, created=False)
    report_contact(session, person_id, at)  # an order or other event the store reports (DPDP s.8(8))
    return _reported(row, created=True)


def _find(session: Session, person_id: str, event: str, at: datetime) -> RetentionEventRow | None:
    return session.scalars(
        sa.select(RetentionEventRow).where(
            RetentionEventRow.person_id == person_id,
            RetentionEventRow.event == event,
            RetentionEventRow.occurred_at == at,
        )
    ).first()


def events_for(session: Session, person_id: str) -> list[ReportedEvent]:
    """The person's reported events, oldest first."""
    rows = session.scalars(
        sa.select(RetentionEventRow)
        .where(RetentionEventRow.person_id == person_id)
        .order_by(RetentionEventRow.occurred_at, RetentionEventRow.id)
    )
    return [_reported(row, created=False) for row in rows]


def latest_starts(events: list[ReportedEvent]) -> dict[str, datetime]:
    """Trigger code (`event:<id>`) → the latest occurrence: the clock that ends last decides."""
    starts: dict[str, datetime] = {}
    for e in events:
        code = EVENT_PREFIX + e.event
        if code not in starts or e.occurred_at > starts[code]:
            starts[code] = e.occurred_at
    return starts


def due_for_person(
    session: Session,
    policy: CompiledPolicy,
    person_id: str,
    category: str,
    *,
    purpose: str | None = None,
    other_starts: Mapping[str, datetime] | None = None,
) -> list[RetentionDue]:
    """`due_dates` for the person's reported events, plus clocks the caller knows (`account_closed` …)."""
    starts = dict(other_starts or {})
    starts.update(latest_starts(events_for(session, person_id)))
    return due_dates(policy, category, starts, purpose=purpose)


def delete_events(session: Session, person_id: str) -> int:
    result = session.execute(sa.delete(RetentionEventRow).where(RetentionEventRow.person_id == person_id))
    return int(getattr(result, "rowcount", 0) or 0)
