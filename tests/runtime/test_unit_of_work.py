"""The unit of work writes collected audit events when the transaction commits, and never without it."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.audit.models import AuditEventIndex
from fiduciary.audit.service import Action, AuditEvent, attach_audit
from fiduciary.errors import Forbidden
from fiduciary.jobs import queue_depth
from fiduciary.people.models import Person
from fiduciary.people.service import create_person
from fiduciary.runtime import Runtime
from fiduciary.unit_of_work import collected, unit_of_work


def audit_count(session: Session) -> int:
    return int(session.scalar(sa.select(sa.func.count()).select_from(AuditEventIndex)) or 0)


def people_count(session: Session) -> int:
    return int(session.scalar(sa.select(sa.func.count()).select_from(Person)) or 0)


def event(person_id: str | None = None) -> AuditEvent:
    return AuditEvent(actor="cli", action=Action.PERSON_CREATE, person_id=person_id)


def test_collected_events_are_written_by_the_commit_itself(runtime: Runtime, session: Session) -> None:
    uow = unit_of_work(runtime, session)
    with uow.step():
        person = create_person(session, policy=runtime.policy(), date_of_birth=date(1990, 1, 1))
        uow.audit(event(person.id))
    assert audit_count(session) == 0 and collected(session) == (event(person.id),)  # not yet written
    session.commit()
    assert audit_count(session) == 1 and collected(session) == ()
    assert session.scalar(sa.select(AuditEventIndex.person_id)) == person.id
    assert unit_of_work(runtime, session) is uow  # one per session


def test_an_exception_after_collecting_leaves_neither_change_nor_event(runtime: Runtime, session: Session) -> None:
    uow = unit_of_work(runtime, session)
    with pytest.raises(RuntimeError, match="disk on fire"), uow.step():
        person = create_person(session, policy=runtime.policy(), date_of_birth=date(1990, 1, 1))
        uow.audit(event(person.id))
        raise RuntimeError("disk on fire")
    session.commit()  # a caller that carries on and commits writes nothing of the failed step
    assert people_count(session) == 0 and audit_count(session) == 0


def test_a_rollback_drops_what_was_collected(runtime: Runtime, session: Session) -> None:
    uow = unit_of_work(runtime, session)
    uow.audit(event())
    session.rollback()
    session.commit()
    assert audit_count(session) == 0


def test_a_refusal_is_recorded_once_in_its_own_transaction(runtime: Runtime, session: Session) -> None:
    uow = unit_of_work(runtime, session)
    refusal = AuditEvent(actor="cli", action=Action.PERSON_ERASE, outcome="denied", reasons=["forbidden"])
    with pytest.raises(Forbidden) as raised, uow.step():
        create_person(session, policy=runtime.policy(), date_of_birth=date(1990, 1, 1))
        uow.audit(event())
        raise attach_audit(Forbidden("no"), refusal)
    assert people_count(session) == 0
    assert audit_count(session) == 1  # the refusal, committed; not the collected event of the failed step
    assert session.scalar(sa.select(AuditEventIndex.outcome)) == "denied"
    session.commit()
    assert audit_count(session) == 1
    assert not getattr(raised.value, "pending_audit")  # taken: an outer handler cannot record it twice


def test_flush_writes_now_for_a_step_that_needs_the_position(runtime: Runtime, session: Session) -> None:
    uow = unit_of_work(runtime, session)
    uow.audit(event())
    (record,) = uow.flush()
    assert record.position >= 1 and audit_count(session) == 1
    session.rollback()
    assert audit_count(session) == 0  # written in the open transaction, so it rolls back with it


def test_a_job_queued_through_the_unit_of_work_goes_with_its_transaction(runtime: Runtime, session: Session) -> None:
    uow = unit_of_work(runtime, session)
    before = queue_depth(session).waiting
    with pytest.raises(RuntimeError), uow.step():
        uow.enqueue("jobs.noop", {})
        raise RuntimeError("the step fails after queueing")
    assert queue_depth(session).waiting == before
    uow.enqueue("jobs.noop", {})
    session.commit()
    assert queue_depth(session).waiting == before + 1
