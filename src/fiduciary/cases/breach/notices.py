"""Who is affected by a breach, selected set-wise in SQL, and telling each of them once through the outbox.

DPDP s.8(6) and Rule 7(1) require telling **every** affected person without delay (GDPR Art 34 only on high
risk; under DPDP the gate is always open). Three steps, each safe to repeat:

1. `select_affected`: one INSERT … SELECT adds to `breach_notices` everyone holding a field of the chosen
   categories stored in the chosen window, or holding an identifier of a kind those categories cover (an
   e-mail or phone kept only as a blind-indexed identifier, `person_identifiers`), the two sets joined by a
   UNION so each person comes once (never person by person in Python, as `decisions.audiences`); a
   person already selected is skipped (`ON CONFLICT DO NOTHING`), so a widened selection adds only the new
   ones. Their language comes along from their latest consent (the notice language they chose).
2. `enqueue_batches`: the untold rows cut into ranges of `BATCH_SIZE` person ids, **one job per range**.
3. `tell_batch` (the job): for each untold row of its range, the contact on file is opened and one
   `breach.notice` message is queued in the person's language with the idempotency key
   `breach.notice:<case>:<person>`, the range's messages through the outbox's `send_many` (its rules kept
   per message; one insert and one deliverer for the batch), and each row's outcome is set in the same
   transaction, so a retried job or step never tells anyone twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from fiduciary.cases.breach.incident import aware_moment, check_categories
from fiduciary.cases.breach.models import BreachNotice
from fiduciary.cases.breach.reports import Notified
from fiduciary.comms.outbox import Outgoing, send_many
from fiduciary.consent.models import ConsentState
from fiduciary.errors import FieldProblem, ValidationFailed
from fiduciary.people.models import PersonErasure
from fiduciary.policy.schema import PolicyDocument
from fiduciary.rights.requests import contact_on_file
from fiduciary.storage.base import utcnow
from fiduciary.unit_of_work import UnitOfWork
from fiduciary.vault.access import IDENTIFIER_FIELD_TYPES
from fiduciary.vault.records import PersonalField, PersonIdentifier

BATCH_SIZE: Final = 500  # people per job: one key unwrap and one outbox row each
NOTIFY_JOB: Final = "breach.notify_batch"
MESSAGE_KIND: Final = "breach.notice"


class Outcome:
    QUEUED = "queued"
    NO_CONTACT = "no_contact"
    ERASED = "erased"


@dataclass(frozen=True)
class Selection:
    """Everyone with a field of `categories`, or an identifier of `identifier_kinds`, stored in
    [stored_after, stored_before)."""

    categories: tuple[str, ...]
    stored_before: datetime | None = None
    stored_after: datetime | None = None
    identifier_kinds: tuple[str, ...] = ()  # the identifier kinds the categories cover (`identifier_kinds`)


def identifier_kinds(document: PolicyDocument, categories: Sequence[str]) -> tuple[str, ...]:
    """The identifier kinds whose values are of a chosen category's type: a breach of `contact.email` (an
    email field) reaches people whose e-mail is stored only as an identifier too (DPDP s.8(6))."""
    types = {c.field_type for c in document.categories if c.id in categories}
    return tuple(kind for kind, field_type in IDENTIFIER_FIELD_TYPES.items() if field_type in types)


@dataclass(frozen=True)
class NoticeContent:
    """What each person is told (DPDP Rule 7(1)(a)-(e)); the contact (e) is the policy's, added by the outbox."""

    what_happened: str
    when: date  # formatted in the person's language by the outbox
    consequences: str
    measures: str
    safety_steps: str


def check_selection(document: PolicyDocument, values: Mapping[str, Any], default: Sequence[str]) -> Selection:
    """The selection `values` describe (categories default to the incident's), or 422 naming the field."""
    problems: list[FieldProblem] = []
    categories = check_categories(document, values.get("categories") or list(default), problems)
    before, after = (
        aware_moment(values[name], name, problems) if values.get(name) is not None else None
        for name in ("stored_before", "stored_after")
    )
    if before is not None and after is not None and after >= before:
        problems.append(FieldProblem("stored_after", "must be before stored_before"))
    if problems:
        raise ValidationFailed("The selection was refused.", problems)
    return Selection(categories, before, after, identifier_kinds(document, categories))


def select_affected(session: Session, case_id: str, selection: Selection, *, now: datetime | None = None) -> int:
    """Add everyone the selection finds to the incident's set; returns how many were new."""
    now = now or utcnow()
    people = _holders(selection)
    language = (  # the language of the person's latest consent (NULL: the policy's language)
        sa.select(ConsentState.language)
        .where(ConsentState.subject_id == people.c.person_id)
        .order_by(ConsentState.updated_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    selected_at = sa.literal(now, BreachNotice.__table__.c.selected_at.type)
    found = sa.select(sa.literal(case_id, sa.String(40)), people.c.person_id, language, selected_at).where(
        sa.true()
    )  # SQLite: an INSERT … SELECT with ON CONFLICT needs a WHERE to parse
    build = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        build(BreachNotice)
        .from_select(["case_id", "person_id", "language", "selected_at"], found)
        .on_conflict_do_nothing(index_elements=["case_id", "person_id"])
    )
    before = selected(session, case_id)
    session.execute(statement)  # psycopg reports no rowcount for INSERT … SELECT … ON CONFLICT: count instead
    return selected(session, case_id) - before


def _holders(selection: Selection) -> sa.Subquery:
    """Who holds a field of the categories, or an identifier of the kinds, stored in the window; not erased."""

    def window(person_id: Any, created_at: Any) -> list[sa.ColumnElement[bool]]:
        conditions = [~sa.exists().where(PersonErasure.person_id == person_id)]
        if selection.stored_before is not None:
            conditions.append(created_at < selection.stored_before)
        if selection.stored_after is not None:
            conditions.append(created_at >= selection.stored_after)
        return conditions

    fields = sa.select(PersonalField.person_id.label("person_id")).where(
        PersonalField.category.in_(selection.categories), *window(PersonalField.person_id, PersonalField.created_at)
    )
    if not selection.identifier_kinds:
        return fields.distinct().subquery()
    identifiers = sa.select(PersonIdentifier.person_id.label("person_id")).where(
        PersonIdentifier.kind.in_(selection.identifier_kinds),
        *window(PersonIdentifier.person_id, PersonIdentifier.created_at),
    )
    return sa.union(fields, identifiers).subquery()  # UNION, not UNION ALL: a person with both comes once


def selected(session: Session, case_id: str) -> int:
    return int(session.scalar(sa.select(sa.func.count()).where(BreachNotice.case_id == case_id)) or 0)


def batch_ranges(session: Session, case_id: str, size: int = BATCH_SIZE) -> list[tuple[str, str]]:
    """(first, last) person ids of each run of `size` untold people, in id order: computed in SQL."""
    numbered = (
        sa.select(
            BreachNotice.person_id,
            sa.func.row_number().over(order_by=BreachNotice.person_id).label("n"),
        )
        .where(BreachNotice.case_id == case_id, BreachNotice.outcome.is_(None))
        .subquery()
    )
    edges = session.execute(
        sa.select(numbered.c.person_id, numbered.c.n)
        .where(sa.or_((numbered.c.n - 1) % size == 0, numbered.c.n % size == 0))
        .order_by(numbered.c.n)
    ).all()
    firsts = [person for person, n in edges if (n - 1) % size == 0]
    lasts = [person for person, n in edges if n % size == 0]
    if len(lasts) < len(firsts):  # the last batch is short: it ends with the last untold person
        tail = session.scalar(
            sa.select(sa.func.max(BreachNotice.person_id)).where(
                BreachNotice.case_id == case_id, BreachNotice.outcome.is_(None)
            )
        )
        lasts.append(str(tail))
    return list(zip(firsts, lasts, strict=True))


def enqueue_batches(uow: UnitOfWork, case_id: str, size: int = BATCH_SIZE) -> int:
    """One job per batch of untold people (never one per person); returns how many jobs were queued."""
    ranges = batch_ranges(uow.session, case_id, size)
    for first, last in ranges:
        uow.enqueue(NOTIFY_JOB, {"case_id": case_id, "first": first, "last": last})
    return len(ranges)


@dataclass(frozen=True)
class BatchResult:
    queued: int
    no_contact: int


def tell_batch(
    uow: UnitOfWork, case_id: str, first: str, last: str, content: NoticeContent, *, now: datetime | None = None
) -> BatchResult:
    """Tell each untold person of the range once (DPDP Rule 7(1)); rows already told are skipped."""
    now = now or utcnow()
    rows = uow.session.scalars(
        sa.select(BreachNotice)
        .where(
            BreachNotice.case_id == case_id,
            BreachNotice.person_id.between(first, last),
            BreachNotice.outcome.is_(None),
        )
        .order_by(BreachNotice.person_id)
        .with_for_update(skip_locked=True)
    ).all()
    params = {"reference": case_id, **content.__dict__}
    outgoing: list[Outgoing] = []
    reachable: list[tuple[BreachNotice, str]] = []
    for row in rows:
        contact = contact_on_file(uow, row.person_id)
        if contact is None:
            row.outcome = Outcome.NO_CONTACT
            continue
        channel, address = contact
        key = f"{MESSAGE_KIND}:{case_id}:{row.person_id}"
        outgoing.append(Outgoing(MESSAGE_KIND, channel, address, params, key, row.person_id, row.language))
        reachable.append((row, channel))
    messages = send_many(uow, outgoing)  # the outbox's rules per message; one insert and one deliverer
    for (row, channel), message in zip(reachable, messages, strict=True):
        row.outcome, row.channel, row.message_id, row.told_at = Outcome.QUEUED, channel, message.id, now
    queued, missing = len(messages), len(rows) - len(messages)
    uow.session.flush()
    return BatchResult(queued, missing)


def notified_summary(session: Session, case_id: str) -> Notified:
    """What the intimations came to, for the Board's detailed report (DPDP Rule 7(2)(b)(vi))."""
    t = BreachNotice
    selected, told, no_contact, first_at, last_at = session.execute(
        sa.select(
            sa.func.count(),
            sa.func.count(t.told_at),
            sa.func.count().filter(t.outcome == Outcome.NO_CONTACT),
            sa.func.min(t.told_at),
            sa.func.max(t.told_at),
        ).where(t.case_id == case_id)
    ).one()
    return Notified(int(selected), int(told), int(no_contact), first_at, last_at)


def untold(session: Session, case_id: str) -> int:
    return int(
        session.scalar(
            sa.select(sa.func.count()).where(BreachNotice.case_id == case_id, BreachNotice.outcome.is_(None))
        )
        or 0
    )
