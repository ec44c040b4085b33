"""The breach register on the cases core (both engines): open, clocks, steps, notify, reports, timeline, audit."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from breach_support import NOTICE_TEXTS, incident, open_incident
from cases_support import case_actions
from fiduciary.cases.breach.flows import close_breach, notify_affected, open_breach, record_step, update_facts
from fiduciary.cases.breach.jobs import notify_batch
from fiduciary.cases.breach.kind import ClockState
from fiduciary.cases.breach.notices import NOTIFY_JOB, batch_ranges
from fiduciary.cases.breach.reads import breach_view, report, timeline
from fiduciary.cases.models import Case
from fiduciary.comms.models import OutboxMessage
from fiduciary.errors import Conflict, ValidationFailed
from fiduciary.jobs import JobCall
from fiduciary.runtime import Runtime
from fiduciary.storage.base import utcnow
from fiduciary.unit_of_work import unit_of_work
from fiduciary.vault.service import NewPerson, VaultService
from jobs_support import queued
from vault_support import PURPOSES

CARD = "4111 1111 1111 1111"


def states(runtime: Runtime, session: Session, case_id: str) -> dict[str, str]:
    view = breach_view(unit_of_work(runtime, session), case_id, actor="ops.lead")
    return {c["name"]: c["state"] for c in view["clocks"]}


def test_opening_starts_four_clocks_at_awareness(runtime: Runtime, session: Session) -> None:
    aware = (utcnow() - timedelta(hours=2)).replace(microsecond=0)
    case_id = open_incident(
        runtime, session, detected_at=(aware - timedelta(hours=1)).isoformat(), aware_at=aware.isoformat()
    )
    view = breach_view(unit_of_work(runtime, session), case_id, actor="ops.lead")
    assert {c["name"] for c in view["clocks"]} == {
        "cert_in",
        "authority_initial",
        "authority_detailed",
        "notify_people",
    }
    assert {c["started_at"] for c in view["clocks"]} == {aware.isoformat()}
    assert {c["state"] for c in view["clocks"]} == {ClockState.RUNNING.value}
    assert view["categories"] == ["contact.email"] and view["people_affected"] == 1200


def test_a_detection_in_the_future_is_refused_and_nothing_is_written(runtime: Runtime, session: Session) -> None:
    tomorrow = (utcnow() + timedelta(days=1)).isoformat()
    with pytest.raises(ValidationFailed) as exc:
        open_breach(unit_of_work(runtime, session), incident(detected_at=tomorrow), actor="ops.lead")
    session.rollback()
    assert [p.field for p in exc.value.fields] == ["detected_at"]
    assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0


def test_an_incident_from_long_ago_is_accepted_with_its_clocks_overdue(runtime: Runtime, session: Session) -> None:
    case_id = open_incident(runtime, session, detected_at="2025-01-01T10:00:00+05:30")
    assert set(states(runtime, session, case_id).values()) == {ClockState.OVERDUE.value}


def test_a_step_meets_its_clock_and_the_last_minute_is_on_time(runtime: Runtime, session: Session) -> None:
    aware = (utcnow() - timedelta(hours=7)).replace(second=0, microsecond=0)
    case_id = open_incident(runtime, session, detected_at=aware.isoformat())
    uow = unit_of_work(runtime, session)
    record_step(uow, case_id, "report_cert_in", actor="ops.lead", at=(aware + timedelta(hours=6)).isoformat())
    record_step(
        uow, case_id, "inform_authority", actor="ops.lead", at=(aware + timedelta(hours=6, minutes=1)).isoformat()
    )
    session.commit()
    found = states(runtime, session, case_id)
    assert found["cert_in"] == ClockState.MET.value
    assert found["authority_initial"] == ClockState.MET.value  # 24 hours
    close_breach(uow, case_id, "resolved", actor="ops.lead")
    session.commit()
    assert states(runtime, session, case_id)["notify_people"] == ClockState.STOPPED.value
    with pytest.raises(Conflict):  # a closed incident takes no more steps
        record_step(uow, case_id, "send_detailed_report", actor="ops.lead")
    session.rollback()


def test_bad_steps_are_refused_naming_the_field(runtime: Runtime, session: Session) -> None:
    case_id = open_incident(runtime, session)
    uow = unit_of_work(runtime, session)
    for step, at, field in [
        ("close", None, "step"),
        ("report_cert_in", (utcnow() + timedelta(hours=1)).isoformat(), "at"),
        ("report_cert_in", "2020-01-01T00:00:00+00:00", "at"),  # before awareness
        ("report_cert_in", "soon", "at"),
    ]:
        with pytest.raises(ValidationFailed) as exc:
            record_step(uow, case_id, step, actor="ops.lead", at=at)
        assert [p.field for p in exc.value.fields] == [field]
        session.rollback()


def test_notifying_needs_the_notice_fields_then_tells_everyone_once(runtime: Runtime, session: Session) -> None:
    VaultService(runtime).create_people(
        session,
        [NewPerson({"contact.email": f"n{i}@example.com"}, {"email": f"n{i}@example.com"}) for i in range(3)],
        purpose=PURPOSES,
        source="provided",
    )
    session.commit()
    case_id = open_incident(runtime, session, summary=f"Card {CARD} was in the export")
    uow = unit_of_work(runtime, session)
    with pytest.raises(ValidationFailed) as exc:
        notify_affected(uow, case_id, {}, actor="ops.lead")
    assert {p.field for p in exc.value.fields} == set(NOTICE_TEXTS)
    session.rollback()
    update_facts(uow, case_id, NOTICE_TEXTS, actor="ops.lead")
    result = notify_affected(uow, case_id, {"categories": ["contact.email"]}, actor="ops.lead")
    session.commit()
    assert (result.added, result.selected, result.jobs) == (3, 3, 1)
    assert len(queued(session, NOTIFY_JOB)) == 1
    ((first, last),) = batch_ranges(session, case_id)
    call = JobCall(1, NOTIFY_JOB, {"case_id": case_id, "first": first, "last": last})
    assert notify_batch(runtime, call) == {"queued": 3, "no_contact": 0, "recorded": 1}
    assert notify_batch(runtime, call) == {"queued": 0, "no_contact": 0, "recorded": 0}  # a retried batch
    session.expire_all()
    assert session.scalar(sa.select(sa.func.count()).where(OutboxMessage.kind == "breach.notice")) == 3
    assert states(runtime, session, case_id)["notify_people"] == ClockState.MET.value
    body = breach_view(unit_of_work(runtime, session), case_id, actor="ops.lead")
    assert CARD not in body["texts"]["summary"] and "[CARD_NUMBER]" in body["texts"]["summary"]


def test_reports_timeline_and_audit(runtime: Runtime, session: Session) -> None:
    case_id = open_incident(runtime, session)
    uow = unit_of_work(runtime, session)
    record_step(uow, case_id, "inform_authority", actor="ops.lead")
    update_facts(uow, case_id, {"location": "Mumbai data centre"}, actor="ops.lead")
    text, _ = report(uow, case_id, "dpdp_initial", "json", actor="ops.lead")
    session.commit()
    data = json.loads(text)
    assert "location" not in data["missing"] and "likely_impact" in data["missing"]
    steps = [e["step"] for e in timeline(unit_of_work(runtime, session), case_id)["events"]]
    assert steps == ["opened", "inform_authority", "update"]
    session.commit()
    actions = case_actions(session)
    assert actions == ["case.breach.opened", "case.breach.inform_authority", "case.breach.update"]
    with pytest.raises(ValidationFailed) as exc:
        report(uow, case_id, "ico", "pdf", actor="ops.lead")
    assert [p.field for p in exc.value.fields] == ["kind"]
