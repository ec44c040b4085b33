"""A person's life cycle with its audit events: create, age (re)declaration that may close, close.

`POST /v1/people`, `/age`, `/close` and in-process callers use these, so each change and its audit event
(DPDP Rule 6(1)(c)) are collected on the session's unit of work and commit together.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from fiduciary.audit.service import Action, AuditEvent
from fiduciary.codes import safe_request_id
from fiduciary.context import RuntimeContext
from fiduciary.people.models import Person
from fiduciary.people.service import (
    close_person,
    create_person,
    get_person,
    record_residence,
    redeclare_age,
    require_active,
)
from fiduciary.unit_of_work import unit_of_work


def _event(actor: str, action: Action, person_id: str, request_id: str | None) -> AuditEvent:
    return AuditEvent(actor=actor, action=action, person_id=person_id, request_id=safe_request_id(request_id))


def create_person_audited(
    runtime: RuntimeContext,
    session: Session,
    *,
    actor: str,
    date_of_birth: date | None = None,
    is_child: bool | None = None,
    request_id: str | None = None,
    jurisdiction: str | None = None,
) -> Person:
    uow = unit_of_work(runtime, session)
    with uow.step():
        person = create_person(
            session, policy=runtime.policy(), date_of_birth=date_of_birth, is_child=is_child, jurisdiction=jurisdiction
        )
        uow.audit(_event(actor, Action.PERSON_CREATE, person.id, request_id))
    return person


def record_residence_audited(
    runtime: RuntimeContext,
    session: Session,
    *,
    actor: str,
    person_id: str,
    jurisdiction: str | None,
    request_id: str | None = None,
    field: str = "person_id",
) -> Person:
    """Record where the person lives; a change is audited (`person.update`, target `jurisdiction`: which
    fact changed, never its value, like every audit event)."""
    uow = unit_of_work(runtime, session)
    with uow.step():
        person = get_person(session, person_id, field=field)
        require_active(person)
        if record_residence(session, runtime.policy(), person, jurisdiction):
            uow.audit(
                AuditEvent(
                    actor=actor,
                    action=Action.PERSON_UPDATE,
                    person_id=person.id,
                    target="jurisdiction",
                    request_id=safe_request_id(request_id),
                )
            )
    return person


def declare_age_audited(
    runtime: RuntimeContext,
    session: Session,
    *,
    actor: str,
    person_id: str,
    date_of_birth: date | None = None,
    is_child: bool | None = None,
    request_id: str | None = None,
    field: str = "person_id",
) -> Person:
    """Declare or correct the age; a child found on a store that serves none is closed, and that is audited."""
    uow = unit_of_work(runtime, session)
    with uow.step():
        person = get_person(session, person_id, field=field)
        require_active(person)
        closed = redeclare_age(session, person, policy=runtime.policy(), date_of_birth=date_of_birth, is_child=is_child)
        if closed:
            uow.audit(_event(actor, Action.PERSON_CLOSE, person.id, request_id))
    return person


def close_person_audited(
    runtime: RuntimeContext, session: Session, *, actor: str, person_id: str, request_id: str | None = None
) -> Person:
    uow = unit_of_work(runtime, session)
    with uow.step():
        person = close_person(session, person_id)
        uow.audit(_event(actor, Action.PERSON_CLOSE, person.id, request_id))
    return person
