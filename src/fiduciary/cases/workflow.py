"""One workflow for every kind of case: open, move by a named transition, assign, note; read back.

Every change is one conditional UPDATE on the case's `version` (`workflow.versioned.advance`, the engine the
rights requests use too): of two concurrent changes of one case exactly one wins, the other gets 409
`case_changed` and changes nothing. Each
writes one `case_events` row and one audit event `case.<kind>.<action>` (the case id as target, the person
id when there is one, never a value) through the unit of work, in the same transaction as the change.
Transitions meet and start the kind's clocks (`cases.clocks`); one into a closed state stops the rest.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from fiduciary.audit.service import AuditEvent
from fiduciary.cases.clocks import clocks_started_by, settle_clocks, start_clocks
from fiduciary.cases.kinds import CaseKind, kind_spec
from fiduciary.cases.models import CASES_TABLE, Case, CaseEvent, CaseNote
from fiduciary.cases.sealing import CASE_ITEM, case_key, new_case_key, open_values, seal_values
from fiduciary.codes import ACTOR_RE
from fiduciary.errors import Conflict, FieldProblem, NotFound, ValidationFailed
from fiduciary.people.service import get_person, new_id
from fiduciary.storage.base import utcnow
from fiduciary.unit_of_work import UnitOfWork
from fiduciary.workflow.deadlines import working_calendar
from fiduciary.workflow.versioned import advance

CASE_ID_PREFIX: Final = "cs"
CASE_ID_PATTERN: Final = r"^cs_[a-z2-7]{26}$"  # `new_id("cs")`: the API states the same pattern
NOTE_ID_PREFIX: Final = "cn"
REASON_PATTERN: Final = r"^[a-z][a-z0-9_]{0,63}$"
NOTE_KINDS: Final = ("internal", "reply")
_CASE_ID: Final = re.compile(CASE_ID_PATTERN)
_REASON: Final = re.compile(REASON_PATTERN)


@dataclass(frozen=True)
class NewCase:
    """What a case is opened with. `personal` is sealed under the case key (free text, a contact address);
    `details` holds non-personal facts only (codes, counts, categories)."""

    kind: str
    channel: str
    person_id: str | None = None
    language: str | None = None
    aware_at: datetime | None = None
    assigned_to: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    personal: Mapping[str, Any] = field(default_factory=dict)


def check_case_id(case_id: object, field_name: str = "case_id") -> str:
    if not isinstance(case_id, str) or not _CASE_ID.fullmatch(case_id):
        raise ValidationFailed(
            "Malformed case id.", [FieldProblem(field_name, "'cs_' followed by 26 characters a-z or 2-7")]
        )
    return case_id


def check_actor(value: object, field_name: str) -> str:
    """A staff or key id (`ops.lead`, `key_…`): kept on the case and in the ledger, so never a name."""
    if not isinstance(value, str) or not ACTOR_RE.fullmatch(value):
        raise ValidationFailed("Bad staff id.", [FieldProblem(field_name, "1 to 100 of A-Z a-z 0-9 _ . : @ -")])
    return value


def get_case(session: Session, case_id: object, *, kind: str | None = None, for_update: bool = False) -> Case:
    """The case, or 422 for a malformed id and 404 for an unknown one (or one of another kind)."""
    checked = check_case_id(case_id)
    found = session.get(Case, checked, populate_existing=for_update)
    if found is None or (kind is not None and found.kind != kind):
        raise NotFound("No case has this id.", code="case_not_found")
    return found


def _record(
    uow: UnitOfWork, case: Case, action: str, from_state: str | None, actor: str, reason: str | None, now: datetime
) -> None:
    uow.session.add(
        CaseEvent(
            case_id=case.id,
            at=now,
            action=action,
            from_state=from_state,
            to_state=case.state,
            actor=actor,
            reason=reason,
        )
    )
    uow.audit(
        AuditEvent(
            actor=actor,
            action=f"case.{case.kind}.{action}",
            person_id=case.person_id,
            target=case.id,
            reasons=[reason] if reason else [case.kind],
        )
    )


def open_case(uow: UnitOfWork, new: NewCase, *, actor: str, now: datetime | None = None) -> Case:
    """Insert the case in its kind's first state, seal its personal values, start its opening clocks."""
    now = now or utcnow()
    kind = kind_spec(new.kind)
    if new.person_id is not None:
        get_person(uow.session, new.person_id)
    if new.assigned_to is not None:
        check_actor(new.assigned_to, "assigned_to")
    case_id = new_id(CASE_ID_PREFIX)
    key, kek_id, wrapped = new_case_key(uow.runtime, uow.session, case_id)
    case = Case(
        id=case_id,
        kind=kind.name,
        state=kind.initial,
        version=1,
        person_id=new.person_id,
        assigned_to=new.assigned_to,
        language=new.language,
        channel=new.channel,
        actor=actor,
        opened_at=now,
        aware_at=new.aware_at,
        details=dict(new.details),
        sealed=seal_values(key, case_id, CASE_ITEM, new.personal) if new.personal else None,
        key_wrapped=wrapped,
        kek_id=kek_id,
        updated_at=now,
    )
    uow.session.add(case)
    uow.session.flush()
    document = uow.runtime.policy().document
    start_clocks(uow.session, case, clocks_started_by(kind, None), document, working_calendar(document), now)
    _record(uow, case, "opened", None, actor, None, now)
    return case


def _versioned(uow: UnitOfWork, case: Case, changes: Mapping[str, Any], now: datetime) -> None:
    advance(uow.session, CASES_TABLE, case, kind_spec(case.kind), changes, now, id_field="case_id")


def check_reason(kind: CaseKind, reason: object, *, required: bool, field_name: str = "reason") -> str | None:
    """An outcome code of the kind (`resolved`, `duplicate`, …), never free text."""
    if reason is None and not required:
        return None
    if not isinstance(reason, str) or not _REASON.fullmatch(reason) or (kind.reasons and reason not in kind.reasons):
        hint = ", ".join(sorted(kind.reasons)) or None
        raise ValidationFailed(
            "Bad reason.", [FieldProblem(field_name, "a reason code this kind of case accepts", hint)]
        )
    return reason


def move(
    uow: UnitOfWork,
    case: Case,
    transition: str,
    *,
    actor: str,
    reason: str | None = None,
    now: datetime | None = None,
    values: Mapping[str, Any] | None = None,
) -> Case:
    """Apply the kind's `transition`: refused with 409 `wrong_state` from a state it does not leave, with 422
    naming `reason` when it needs one, 409 `case_changed` when another change won. `values` are extra column
    changes of the same UPDATE (e.g. `details`)."""
    now = now or utcnow()
    kind = kind_spec(case.kind)
    spec, target = kind.check(transition, case.state)
    checked = check_reason(kind, reason, required=spec.needs_reason)
    closing = not kind.is_open(target)
    changes: dict[str, Any] = {"state": target, **(values or {})}
    if closing:
        changes.update(closed_at=now, outcome_reason=checked)
    from_state = case.state
    _versioned(uow, case, changes, now)
    settle_clocks(uow.session, case, kind, transition, closing=closing, now=now)
    if not closing:
        document = uow.runtime.policy().document
        start_clocks(uow.session, case, clocks_started_by(kind, transition), document, working_calendar(document), now)
    _record(uow, case, transition, from_state, actor, checked, now)
    return case


def assign(uow: UnitOfWork, case: Case, assignee: str | None, *, actor: str, now: datetime | None = None) -> Case:
    """Give the case to a staff id (None: to nobody); refused once it is closed."""
    now = now or utcnow()
    if assignee is not None:
        check_actor(assignee, "assigned_to")
    if not kind_spec(case.kind).is_open(case.state):
        raise Conflict(
            "A closed case is not assigned.",
            code="wrong_state",
            fields=[FieldProblem("assigned_to", "the case is closed")],
        )
    _versioned(uow, case, {"assigned_to": assignee}, now)
    _record(uow, case, "assigned", case.state, actor, None, now)
    return case


# --------------------------------------------------------------------------------------- sealed values


def case_values(uow: UnitOfWork, case: Case) -> dict[str, Any]:
    """The case's sealed values; {} once its key is gone (the person's erasure)."""
    return open_values(case_key(uow.runtime, uow.session, case), case.id, CASE_ITEM, case.sealed)


def add_note(
    uow: UnitOfWork, case: Case, *, author: str, kind: str, values: Mapping[str, Any], now: datetime | None = None
) -> CaseNote:
    """A note sealed under the case key: `internal` for staff, `reply` sent to the person by the caller.
    Audited as `case.<kind>.noted` / `case.<kind>.replied`; the case's version moves, so a closure racing a
    note is decided by one winner."""
    now = now or utcnow()
    if kind not in NOTE_KINDS:
        raise ValidationFailed("Bad note.", [FieldProblem("kind", "internal or reply")])
    if not kind_spec(case.kind).is_open(case.state):
        raise Conflict(
            "A closed case takes no more notes.",
            code="wrong_state",
            fields=[FieldProblem("case_id", "the case is closed")],
        )
    key = case_key(uow.runtime, uow.session, case)
    if key is None:
        raise Conflict("The case's text was erased.", code="case_erased")
    note_id = new_id(NOTE_ID_PREFIX)
    _versioned(uow, case, {}, now)
    note = CaseNote(
        id=note_id, case_id=case.id, author=author, kind=kind, sealed=seal_values(key, case.id, note_id, values), at=now
    )
    uow.session.add(note)
    _record(uow, case, "noted" if kind == "internal" else "replied", case.state, author, None, now)
    return note


def note_values(uow: UnitOfWork, case: Case, note: CaseNote) -> dict[str, Any]:
    return open_values(case_key(uow.runtime, uow.session, case), case.id, note.id, note.sealed)


# ------------------------------------------------------------------------------------------------ reads


def history_of(session: Session, case_id: str) -> list[CaseEvent]:
    return list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)))


def notes_of(session: Session, case_id: str) -> list[CaseNote]:
    return list(session.scalars(select(CaseNote).where(CaseNote.case_id == case_id).order_by(CaseNote.at, CaseNote.id)))


def cases_of(session: Session, person_id: str) -> list[Case]:
    return list(session.scalars(select(Case).where(Case.person_id == person_id).order_by(Case.opened_at, Case.id)))
