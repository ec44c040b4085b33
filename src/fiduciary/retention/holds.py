"""Staff holds (issue 15 item 2): keep a person, or one category of their data, for a dispute or an
authority's order, past every retention rule and past erasure, until a date.

A hold names a reason code, who placed it, until when, and an optional note (passed through the vault's
redaction before it is stored, so an identifier typed into it is not kept; the note is shown to staff only).
Placing and releasing are audited (`retention.hold`, `retention.release`). While a hold is in force:

- the sweep skips what it covers (`planner.held`, re-checked by every batch, so a hold placed during a run
  is respected by the run's later batches);
- an erasure keeps it: before the vault destroys the person's key, the held values are copied into
  legal-hold records under their own keys (`vault.legal_holds`), with the hold's reason as basis and its end
  as purge date, so the erasure's completion tells the person what was kept, why and until when (GDPR Art
  17(3)(e) "establishment, exercise or defence of legal claims"; DPDP s.8(7) and s.17(1)(c));
- the person's access package lists it (the `retention_holds` registration, `retention.rights`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.audit.service import AuditEvent
from fiduciary.context import RuntimeContext
from fiduciary.errors import Conflict, FieldProblem, NotFound, ValidationFailed
from fiduciary.people.models import Person
from fiduciary.people.service import PERSON_ID_RE, new_id
from fiduciary.retention.models import RetentionHold
from fiduciary.storage.base import utcnow
from fiduciary.unit_of_work import unit_of_work
from fiduciary.vault.keys.data_keys import PersonErased
from fiduciary.vault.records import PersonalField
from fiduciary.vault.service import VaultService


class HoldReason(StrEnum):
    """Why staff keep data past retention and erasure: the API's enum and the CLI's check read this one list."""

    DISPUTE = "dispute"
    AUTHORITY_ORDER = "authority_order"
    LITIGATION = "litigation"
    FRAUD_INVESTIGATION = "fraud_investigation"
    CHARGEBACK = "chargeback"


REASONS: Final = tuple(reason.value for reason in HoldReason)
HOLD_ID_PATTERN: Final = r"^hold_[a-z2-7]{26}$"
HOLD_ID_RE: Final = re.compile(HOLD_ID_PATTERN)
MAX_NOTE: Final = 2000
MAX_YEARS: Final = 10  # a hold beyond this is an open-ended retention no rule states
HOLD_RECORD_TYPE: Final = "staff_hold"


@dataclass(frozen=True)
class Hold:
    id: str
    person_id: str
    category: str | None
    reason: str
    note: str | None
    placed_by: str
    placed_at: datetime
    until: date
    released_at: datetime | None
    released_by: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "person_id": self.person_id,
            "category": self.category,
            "reason": self.reason,
            "note": self.note,
            "placed_by": self.placed_by,
            "placed_at": self.placed_at.isoformat(),
            "until": self.until.isoformat(),
            "released_at": self.released_at.isoformat() if self.released_at else None,
            "released_by": self.released_by,
        }


def _hold(row: RetentionHold) -> Hold:
    return Hold(
        row.id,
        row.person_id,
        row.category,
        row.reason,
        row.note,
        row.placed_by,
        row.placed_at,
        row.until,
        row.released_at,
        row.released_by,
    )


def _check(runtime: RuntimeContext, session: Session, values: dict[str, Any], today: date) -> list[FieldProblem]:
    """Every problem with a hold at once; problems name the field and never echo the value."""
    problems: list[FieldProblem] = []
    person_id, category, reason = values["person_id"], values["category"], values["reason"]
    until, note = values["until"], values["note"]
    if not isinstance(person_id, str) or not PERSON_ID_RE.fullmatch(person_id):
        problems.append(FieldProblem("person_id", "must be 'per_' followed by 26 characters a-z or 2-7"))
    elif session.get(Person, person_id) is None:
        problems.append(FieldProblem("person_id", "no person has this id"))
    if category is not None and category not in runtime.policy().categories:
        problems.append(
            FieldProblem("category", "not a category the policy declares", hint="omit it to hold the person")
        )
    if reason not in REASONS:
        problems.append(FieldProblem("reason", "not a hold reason", hint="one of " + ", ".join(REASONS)))
    if not isinstance(until, date) or isinstance(until, datetime):
        problems.append(FieldProblem("until", "must be a date, e.g. 2027-06-30"))
    elif until < today:
        problems.append(FieldProblem("until", "is in the past: a hold keeps data from now until a later date"))
    elif until > today + timedelta(days=366 * MAX_YEARS):
        problems.append(FieldProblem("until", f"is more than {MAX_YEARS} years away", hint="renew the hold instead"))
    if note is not None and (not isinstance(note, str) or not note.strip() or len(note) > MAX_NOTE):
        problems.append(FieldProblem("note", f"must be 1 to {MAX_NOTE} characters when given"))
    return problems


def _redacted(runtime: RuntimeContext, note: str) -> str:
    """The note as the vault stores free text: identifiers and card numbers replaced by their type."""
    country = runtime.policy().document.controller.default_country
    try:
        return VaultService(runtime).validator.validate_field("free_text", note.strip(), default_country=country).value
    except ValidationFailed:
        raise ValidationFailed(
            "The hold cannot be placed.", [FieldProblem("note", "is not text the vault accepts")]
        ) from None


def place_hold(
    runtime: RuntimeContext,
    session: Session,
    *,
    actor: str,
    person_id: str,
    reason: str,
    until: date,
    category: str | None = None,
    note: str | None = None,
    today: date | None = None,
) -> Hold:
    """Place a hold; bad input is a 422 naming each field and writes nothing. Audited; the caller commits."""
    today = today or datetime.now(UTC).date()
    values = {"person_id": person_id, "category": category, "reason": reason, "until": until, "note": note}
    problems = _check(runtime, session, values, today)
    if problems:
        raise ValidationFailed("The hold cannot be placed.", problems)
    stored_note = _redacted(runtime, note) if note else None
    row = RetentionHold(
        id=new_id("hold"),
        person_id=person_id,
        category=category,
        reason=reason,
        note=stored_note,
        placed_by=actor,
        placed_at=utcnow(),
        until=until,
    )
    session.add(row)
    session.flush()
    unit_of_work(runtime, session).audit(
        AuditEvent(
            actor=actor,
            action="retention.hold",
            person_id=person_id,
            target=row.id,
            reasons=[reason],
            categories=[category] if category else (),
        )
    )
    return _hold(row)


def release_hold(runtime: RuntimeContext, session: Session, *, actor: str, hold_id: str) -> Hold:
    """End a hold now (audited); releasing a released hold is a 409."""
    row = session.get(RetentionHold, hold_id) if isinstance(hold_id, str) and HOLD_ID_RE.fullmatch(hold_id) else None
    if row is None:
        raise NotFound("No hold has this id.", code="hold_not_found")
    if row.released_at is not None:
        raise Conflict("The hold was already released.", code="hold_released")
    row.released_at = utcnow()
    row.released_by = actor
    session.flush()
    unit_of_work(runtime, session).audit(
        AuditEvent(
            actor=actor, action="retention.release", person_id=row.person_id, target=row.id, reasons=[row.reason]
        )
    )
    return _hold(row)


def holds_of(session: Session, person_id: str | None = None, *, active_on: date | None = None) -> list[Hold]:
    """Holds, newest first: of one person, or every hold; `active_on` keeps those in force on that day."""
    statement = sa.select(RetentionHold).order_by(RetentionHold.placed_at.desc(), RetentionHold.id)
    if person_id is not None:
        statement = statement.where(RetentionHold.person_id == person_id)
    if active_on is not None:
        statement = statement.where(RetentionHold.released_at.is_(None), RetentionHold.until >= active_on)
    return [_hold(row) for row in session.scalars(statement.limit(1000))]


def preserve_held(runtime: RuntimeContext, session: Session, person_id: str, *, today: date | None = None) -> int:
    """Before an erasure destroys the person's key: copy what a hold in force covers into legal-hold records
    under their own keys, kept until the hold ends. Returns how many values were kept; idempotent (an erased
    person has nothing left to copy)."""
    today = today or datetime.now(UTC).date()
    holds = holds_of(session, person_id, active_on=today)
    if not holds:
        return 0
    vault = VaultService(runtime)
    try:
        values = [(c, v) for c, v in sorted(vault.get_fields(session, person_id).items())]
        multi = session.scalars(
            sa.select(PersonalField.category)
            .where(PersonalField.person_id == person_id, PersonalField.item != "")
            .distinct()
            .order_by(PersonalField.category)
        ).all()
        for category in multi:
            values.extend((category, r.value) for r in vault.get_records(session, person_id, category, limit=10_000))
    except PersonErased:
        return 0
    kept = 0
    for hold in holds:
        for category, value in values:
            if hold.category is not None and category != hold.category:
                continue
            vault.add_legal_hold_record(
                session,
                person_id,
                record_type=f"{HOLD_RECORD_TYPE}.{category}",
                basis=f"staff hold {hold.id} ({hold.reason})",
                purge_after=hold.until,
                content=value,
                today=today,
            )
            kept += 1
    return kept
