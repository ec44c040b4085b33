"""The one workflow of every kind of case: opening, versioned transitions, parallel clocks on the policy's
calendar, closure, the escalation sweep and the person's erasure (crypto-shredding the case key)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from cases_support import PROBE, T0, case_actions
from fiduciary.cases.clocks import clocks_of
from fiduciary.cases.jobs import escalate_due_soon
from fiduciary.cases.models import Case, CaseClock
from fiduciary.cases.workflow import (
    NewCase,
    add_note,
    assign,
    case_values,
    get_case,
    history_of,
    move,
    note_values,
    open_case,
)
from fiduciary.errors import Conflict, NotFound, ValidationFailed
from fiduciary.people.service import create_person
from fiduciary.rights.flows import erase_person
from fiduciary.runtime import Runtime
from fiduciary.unit_of_work import unit_of_work

AWARE = T0 - timedelta(hours=2)


def _open(runtime: Runtime, session: Session, person_id: str | None = None) -> Case:
    uow = unit_of_work(runtime, session)
    case = open_case(
        uow,
        NewCase(kind=PROBE.name, channel="api", person_id=person_id, aware_at=AWARE, personal={"text": "it broke"}),
        actor="key_a",
        now=T0,
    )
    session.commit()
    return case


def test_a_case_opens_with_its_clocks_running_in_parallel_from_awareness(runtime: Runtime, session: Session) -> None:
    case = _open(runtime, session)
    clocks = {c.name: c for c in clocks_of(session, case.id)}
    assert set(clocks) == {"six_hours", "three_days"}  # "work" starts later; "never" has no policy length
    assert clocks["six_hours"].due_at == AWARE + timedelta(hours=6)
    assert clocks["three_days"].due_at == AWARE + timedelta(hours=72)
    assert clocks["six_hours"].escalate_at == AWARE + timedelta(hours=4, minutes=30)  # its last quarter
    assert case.id.startswith("cs_") and len(case.id) == 29
    assert case_values(unit_of_work(runtime, session), case) == {"text": "it broke"}
    assert case_actions(session) == ["case.probe.opened"]
    assert [e.action for e in history_of(session, case.id)] == ["opened"]


def test_a_transition_meets_its_clock_and_starts_another_on_business_days(runtime: Runtime, session: Session) -> None:
    case = _open(runtime, session)
    uow = unit_of_work(runtime, session)
    move(uow, case, "report", actor="ops", now=T0 + timedelta(hours=1))
    move(uow, case, "start", actor="ops", now=T0 + timedelta(hours=1))  # Monday 12:30 in Kolkata
    session.commit()
    clocks = {c.name: c for c in clocks_of(session, case.id)}
    assert clocks["six_hours"].met_at == T0 + timedelta(hours=1)
    assert case.state == "working" and case.version == 3
    # five business days after Monday 7 December 2026: Monday 14 December, to its end in Asia/Kolkata
    assert clocks["work"].due_on == date(2026, 12, 14)
    assert clocks["work"].due_at.astimezone(clocks["work"].due_at.tzinfo).isoformat() in {
        "2026-12-14T18:30:00+00:00",
        "2026-12-15T00:00:00+05:30",
    }
    assert case_actions(session) == ["case.probe.opened", "case.probe.report", "case.probe.start"]


def test_a_transition_from_a_wrong_state_is_a_409_and_changes_nothing(runtime: Runtime, session: Session) -> None:
    case = _open(runtime, session)
    uow = unit_of_work(runtime, session)
    move(uow, case, "close", actor="ops", reason="done", now=T0)
    session.commit()
    with pytest.raises(Conflict) as refused:
        move(uow, case, "start", actor="ops", now=T0)
    assert refused.value.code == "wrong_state"
    session.rollback()
    assert get_case(session, case.id).state == "closed"
    with pytest.raises(ValidationFailed) as unknown:
        move(uow, case, "explode", actor="ops")
    assert unknown.value.fields[0].field == "transition"


def test_closing_needs_a_reason_code_and_stops_the_open_clocks(runtime: Runtime, session: Session) -> None:
    case = _open(runtime, session)
    uow = unit_of_work(runtime, session)
    for bad in (None, "Because I said so", "unknown_code"):
        with pytest.raises(ValidationFailed) as refused:
            move(uow, case, "close", actor="ops", reason=bad)
        assert refused.value.fields[0].field == "reason"
        session.rollback()
    move(uow, case, "close", actor="ops", reason="duplicate", now=T0 + timedelta(hours=1))
    session.commit()
    assert (case.closed_at, case.outcome_reason) == (T0 + timedelta(hours=1), "duplicate")
    clocks = clocks_of(session, case.id)
    assert {c.name: (c.met_at is not None, c.stopped_at is not None) for c in clocks} == {
        "six_hours": (False, True),
        "three_days": (True, False),
    }
    with pytest.raises(Conflict):
        assign(uow, case, "ops.lead", actor="ops")


def test_two_concurrent_transitions_one_wins(runtime: Runtime) -> None:
    with runtime.sessions() as setup:
        case_id = _open(runtime, setup).id
    with runtime.sessions() as first, runtime.sessions() as second:
        mine, theirs = get_case(first, case_id), get_case(second, case_id)
        move(unit_of_work(runtime, first), mine, "start", actor="ops.a")
        first.commit()
        with pytest.raises(Conflict) as lost:
            move(unit_of_work(runtime, second), theirs, "close", actor="ops.b", reason="done")
        assert lost.value.code == "case_changed"
        second.rollback()
    with runtime.sessions() as check:
        assert get_case(check, case_id).state == "working"
        assert case_actions(check) == ["case.probe.opened", "case.probe.start"]


def test_a_malformed_or_unknown_case_id(runtime: Runtime, session: Session) -> None:
    with pytest.raises(ValidationFailed):
        get_case(session, "cs_<script>")
    with pytest.raises(NotFound):
        get_case(session, "cs_" + "a" * 26)
    case = _open(runtime, session)
    with pytest.raises(NotFound):
        get_case(session, case.id, kind="grievance")


def test_the_escalation_sweep_flags_each_clock_once(runtime: Runtime, session: Session) -> None:
    _open(runtime, session)
    assert escalate_due_soon(runtime, session, now=AWARE + timedelta(hours=4)) == 0
    assert escalate_due_soon(runtime, session, now=AWARE + timedelta(hours=4, minutes=30)) == 1
    session.commit()
    assert escalate_due_soon(runtime, session, now=AWARE + timedelta(hours=5)) == 0
    session.commit()
    assert case_actions(session) == ["case.probe.opened", "case.probe.escalated"]
    flagged = session.scalars(sa.select(CaseClock).where(CaseClock.escalated_at.is_not(None))).all()
    assert [c.name for c in flagged] == ["six_hours"]


def test_erasure_destroys_the_case_key_and_keeps_the_case(runtime: Runtime, session: Session) -> None:
    person = create_person(session, policy=runtime.policy(), is_child=False)
    session.commit()
    case = _open(runtime, session, person.id)
    uow = unit_of_work(runtime, session)
    note = add_note(uow, case, author="ops", kind="internal", values={"text": "called them"}, now=T0)
    session.commit()
    assert note_values(uow, case, note) == {"text": "called them"}
    summary = erase_person(runtime, session, actor="key_a", person_id=person.id)
    session.commit()
    assert any(r.domain == "cases" and r.kept == 1 for r in summary.reports)
    case = get_case(session, case.id, for_update=True)
    assert (case.key_wrapped, case.sealed) == (None, None)
    assert case_values(uow, case) == {} and note_values(uow, case, note) == {}
    assert case.state == "open" and len(clocks_of(session, case.id)) == 2  # the proof stays
    with pytest.raises(Conflict):
        add_note(uow, case, author="ops", kind="internal", values={"text": "x"})
