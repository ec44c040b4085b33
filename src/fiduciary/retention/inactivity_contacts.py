"""A contact the store reports: the person approached it outside Fiduciary (DPDP s.8(8) explanation: in
person, by phone, electronically, by letter, or in proceedings), and a stored-value balance it holds for them
(the Third Schedule's virtual token). `POST /v1/people/{person_id}/contacts` and
`PUT /v1/people/{person_id}/balances/{instrument}` call these; docs/inactivity.md.

Both take ids, codes, instants and an integer amount: no personal value. Problems name the caller's field and
never echo the value. An erased person takes neither (409): erasure ends what the store may keep.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from fiduciary.audit.service import AuditEvent
from fiduciary.codes import safe_request_id
from fiduciary.context import RuntimeContext
from fiduciary.errors import Conflict, FieldProblem, NotFound, ValidationFailed
from fiduciary.people.models import Person, PersonErasure
from fiduciary.people.service import PERSON_ID_RE
from fiduciary.retention.inactivity_clock import touch
from fiduciary.retention.inactivity_models import BALANCES, CLOCKS
from fiduciary.storage.base import utcnow
from fiduciary.unit_of_work import unit_of_work
from fiduciary.vault.records import dialect_insert

# A backend's clock may run a little ahead of ours; a contact further in the future has not happened.
CLOCK_SKEW: Final = timedelta(minutes=5)
LANGUAGE_RE: Final = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")
INSTRUMENT_RE: Final = re.compile(r"[a-z][a-z0-9_]{0,31}(\.[A-Za-z0-9_-]{1,31})?")
CURRENCY_RE: Final = re.compile(r"[A-Z]{3}")
MAX_MINOR: Final = 10**15  # ten trillion rupees in paise: beyond any wallet


class ContactChannel(StrEnum):
    """How the person approached the store (DPDP s.8(8) explanation), for the audit trail."""

    SIGN_IN = "sign_in"
    ORDER = "order"
    SUPPORT = "support"
    PHONE = "phone"
    LETTER = "letter"
    IN_PERSON = "in_person"
    PROCEEDINGS = "proceedings"
    OTHER = "other"


@dataclass(frozen=True)
class ContactNames:
    """The caller's names for the fields, so a problem names what the caller sent (`body.occurred_at`)."""

    person_id: str = "person_id"
    occurred_at: str = "occurred_at"
    language: str = "language"
    instrument: str = "instrument"
    currency: str = "currency"
    amount_minor: str = "amount_minor"
    reported_at: str = "reported_at"


def _known_person(session: Session, person_id: str, name: str) -> None:
    if not PERSON_ID_RE.fullmatch(person_id):
        raise ValidationFailed("Malformed person id.", [FieldProblem(name, "must be 'per_' followed by 26 a-z 2-7")])
    if session.get(Person, person_id) is None:
        raise NotFound("No person has this id.", code="person_not_found")
    if session.get(PersonErasure, person_id) is not None:
        raise Conflict("The person's data has been erased; nothing more is recorded.", code="person_erased")


def _check_instant(at: datetime, now: datetime, name: str) -> list[FieldProblem]:
    if at.tzinfo is None or at.utcoffset() is None:
        return [FieldProblem(name, "needs a time zone, e.g. 2026-12-04T10:00:00Z")]
    if at > now + CLOCK_SKEW:
        return [FieldProblem(name, "is in the future: report a contact once it has happened")]
    return []


def record_contact(
    runtime: RuntimeContext,
    session: Session,
    *,
    caller: str,
    person_id: str,
    occurred_at: datetime,
    channel: ContactChannel = ContactChannel.OTHER,
    language: str | None = None,
    request_id: str | None = None,
    names: ContactNames | None = None,
) -> datetime:
    """Record that the person approached the store at `occurred_at`, audited; the clock's last contact after it
    (an older contact than the one on the clock changes nothing). Any erasure announced is cancelled."""
    names = names or ContactNames()
    uow = unit_of_work(runtime, session)
    with uow.step():
        _known_person(session, person_id, names.person_id)
        problems = _check_instant(occurred_at, utcnow(), names.occurred_at)
        if language is not None and not LANGUAGE_RE.fullmatch(language):
            problems.append(FieldProblem(names.language, "a BCP 47 language tag such as hi or en-IN"))
        if problems:
            raise ValidationFailed("The contact cannot be recorded.", problems)
        touch(session, person_id, occurred_at, language)
        uow.audit(
            AuditEvent(
                actor=caller,
                action="person.contact",
                person_id=person_id,
                reasons=[channel.value],
                request_id=safe_request_id(request_id),
            )
        )
        last: datetime | None = session.scalar(select(CLOCKS.c.last_contact_at).where(CLOCKS.c.person_id == person_id))
    assert last is not None
    return last.astimezone(UTC)


@dataclass(frozen=True)
class Balance:
    instrument: str
    currency: str
    amount_minor: int
    reported_at: datetime


def report_balance(
    runtime: RuntimeContext,
    session: Session,
    *,
    caller: str,
    person_id: str,
    balance: Balance,
    request_id: str | None = None,
    names: ContactNames | None = None,
) -> Balance:
    """Set the person's balance on one instrument (`wallet`, `gift_card.GC2026`), audited without the amount.

    The balance is what an inactivity erasure keeps (Third Schedule: "any virtual token"); a balance of 0 is
    kept as 0 (the store reports what it holds). Reporting the same instrument again replaces it.
    """
    names = names or ContactNames()
    uow = unit_of_work(runtime, session)
    with uow.step():
        _known_person(session, person_id, names.person_id)
        problems = _check_instant(balance.reported_at, utcnow(), names.reported_at)
        if not INSTRUMENT_RE.fullmatch(balance.instrument):
            problems.append(FieldProblem(names.instrument, "a slug, optionally '.' and the card's own id"))
        if not CURRENCY_RE.fullmatch(balance.currency):
            problems.append(FieldProblem(names.currency, "an ISO 4217 code such as INR"))
        if not 0 <= balance.amount_minor <= MAX_MINOR:
            problems.append(FieldProblem(names.amount_minor, f"a whole number of minor units, 0 to {MAX_MINOR}"))
        if problems:
            raise ValidationFailed("The balance cannot be recorded.", problems)
        values = {
            "person_id": person_id,
            "instrument": balance.instrument,
            "currency": balance.currency,
            "amount_minor": balance.amount_minor,
            "reported_at": balance.reported_at.astimezone(UTC),
        }
        insert = dialect_insert(session, BALANCES).values(values)
        session.execute(
            insert.on_conflict_do_update(
                index_elements=[BALANCES.c.person_id, BALANCES.c.instrument],
                set_={k: insert.excluded[k] for k in ("currency", "amount_minor", "reported_at")},
            )
        )
        uow.audit(
            AuditEvent(
                actor=caller,
                action="balance.report",
                person_id=person_id,
                target=balance.instrument.split(".", 1)[0],
                request_id=safe_request_id(request_id),
            )
        )
    return balance
