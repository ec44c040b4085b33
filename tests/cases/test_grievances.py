"""Grievances: intake for a person on file or a stranger, the acknowledgement through the outbox, redaction
of numbers pasted into the text, notes and replies, closure naming the authority, messages in Hindi, and the
edges of the two clocks (the acknowledgement's last minute, the resolution's last business day)."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from cases_support import T0, case_actions
from fiduciary.cases import grievances as g
from fiduciary.cases.clocks import clocks_of
from fiduciary.cases.due import DueFilter, list_due
from fiduciary.cases.jobs import escalate_due_soon
from fiduciary.cases.views import case_view
from fiduciary.cases.workflow import get_case
from fiduciary.config import Settings
from fiduciary.errors import Conflict, NotFound, ValidationFailed
from fiduciary.people.service import create_person
from fiduciary.runtime import Runtime
from fiduciary.unit_of_work import unit_of_work
from fiduciary.workflow.deadlines import working_calendar
from jurisdictions_support import DEMO, dump_yaml
from requests_support import messages, person_with_email

CARD = "4111 1111 1111 1111"
AADHAAR = "2345 6789 0124"  # Verhoeff-valid test number
TEXT = f"My card {CARD} was charged twice and you asked for my Aadhaar {AADHAAR}."


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The demo policy with a resolution period in business days (the edge under test) and 24 hours to
    acknowledge, as an intermediary must (IT Rules 2021 Rule 3(2)(a)(i))."""
    data = copy.deepcopy(DEMO)
    data["cases"]["grievance"] = {"acknowledge_within": "24h", "resolve_within": "15 business days"}
    path = tmp_path / "policy.yaml"
    path.write_text(dump_yaml(data), encoding="utf-8")
    return Settings(database_url=database_url, data_dir=tmp_path / "data", policy_file=path)


def _file(runtime: Runtime, session: Session, **kw: object) -> str:
    intake = g.GrievanceIntake(**{"text": TEXT, "channel": "api", **kw})  # type: ignore[arg-type]
    case = g.file_grievance(runtime, session, intake, actor="key_a", now=T0)
    session.commit()
    return case.id


def test_a_complaint_from_a_person_on_file_is_acknowledged_through_the_outbox(
    runtime: Runtime, session: Session
) -> None:
    person = person_with_email(session, runtime)
    case_id = _file(runtime, session, person_id=person)
    case = get_case(session, case_id)
    assert case.state == "acknowledged"
    sent = messages(session, runtime)
    assert [kind for kind, _ in sent] == ["cases.grievance.acknowledged"]
    assert case_id in sent[0][1] and "December 29, 2026" in sent[0][1]
    assert case_actions(session) == ["case.grievance.opened", "case.grievance.acknowledge"]
    assert {c.name: c.met_at is not None for c in clocks_of(session, case_id)} == {
        "acknowledge": True,
        "resolve": False,
    }


def test_numbers_pasted_into_a_complaint_are_masked_before_they_are_stored(runtime: Runtime, session: Session) -> None:
    case_id = _file(runtime, session, contact_email="stranger@example.net")
    case = get_case(session, case_id)
    view = case_view(unit_of_work(runtime, session), case, now=T0)
    assert CARD not in view.values["text"] and AADHAAR not in view.values["text"]
    assert "[CARD_NUMBER]" in view.values["text"] and "[AADHAAR]" in view.values["text"]
    assert case.details == {"masked": {"card_number": 1, "aadhaar": 1}}
    assert case.person_id is None and view.values["contact_email"] == "stranger@example.net"


def test_a_stranger_is_answered_at_the_address_given(runtime: Runtime, session: Session) -> None:
    case_id = _file(runtime, session, contact_email="stranger@example.net", language="hi")
    g.reply(runtime, session, case_id, "हमने आपका पैसा लौटा दिया है।", actor="ops.lead")
    g.close(runtime, session, case_id, reason="resolved", actor="ops.lead")
    session.commit()
    sent = messages(session, runtime)
    assert [k for k, _ in sent] == ["cases.grievance.acknowledged", "cases.grievance.reply", "cases.grievance.closed"]
    closing = sent[-1][1]
    assert "Data Protection Board of India" in closing and "https://www.dpboard.gov.in" in closing
    assert "का समाधान कर दिया है" in closing  # in Hindi


def test_a_person_with_nobody_to_write_to_waits_for_staff_to_acknowledge(runtime: Runtime, session: Session) -> None:
    person = create_person(session, policy=runtime.policy(), is_child=False)
    session.commit()
    case_id = _file(runtime, session, person_id=person.id)
    assert get_case(session, case_id).state == "received" and messages(session, runtime) == []
    with pytest.raises(Conflict) as refused:
        g.reply(runtime, session, case_id, "We refunded you.", actor="ops")
    assert refused.value.code == "no_contact"
    g.acknowledge(runtime, session, case_id, actor="ops")
    session.commit()
    assert get_case(session, case_id).state == "acknowledged"


def test_notes_assignment_and_closure_with_a_reason(runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime)
    case_id = _file(runtime, session, person_id=person)
    g.assign_grievance(runtime, session, case_id, "ops.lead", actor="ops")
    note = g.add_internal_note(runtime, session, case_id, f"Refund card {CARD} checked", actor="ops.lead")
    session.commit()
    with pytest.raises(ValidationFailed) as no_reason:
        g.close(runtime, session, case_id, reason=None, actor="ops.lead")
    assert no_reason.value.fields[0].field == "reason"
    g.close(runtime, session, case_id, reason="not_upheld", text="The order was charged once.", actor="ops.lead")
    session.commit()
    case = get_case(session, case_id)
    view = case_view(unit_of_work(runtime, session), case, now=T0)
    assert [(n.kind, n.text) for n in view.notes] == [
        ("internal", "Refund card [CARD_NUMBER] checked"),
        ("reply", "The order was charged once."),
    ]
    assert note.author == "ops.lead" and case.assigned_to == "ops.lead" and case.outcome_reason == "not_upheld"
    assert [c.status for c in view.clocks] == ["met", "met"]
    with pytest.raises(Conflict) as closed:
        g.close(runtime, session, case_id, reason="resolved", actor="ops.lead")
    assert closed.value.code == "wrong_state"
    assert "case.grievance.close" in case_actions(session) and "case.grievance.noted" in case_actions(session)


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": "x" * 4001}, "text"),
        ({"contact_email": None}, "person_id"),
        ({"contact_email": "not an address"}, "contact_email"),
        ({"channel": "fax"}, "channel"),
        ({"language": "fr"}, "language"),
    ],
)
def test_bad_intake_names_the_field_and_changes_nothing(
    runtime: Runtime, session: Session, kw: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        g.file_grievance(
            runtime,
            session,
            g.GrievanceIntake(**{"text": TEXT, "channel": "api", "contact_email": "a@example.net", **kw}),
            actor="key_a",
        )  # type: ignore[arg-type]
    assert refused.value.fields[0].field == field
    assert case_actions(session) == []


def test_an_unknown_person_is_a_404(runtime: Runtime, session: Session) -> None:
    with pytest.raises(NotFound):
        g.file_grievance(
            runtime, session, g.GrievanceIntake(text=TEXT, channel="api", person_id="per_" + "a" * 26), actor="k"
        )


def test_the_acknowledgement_clock_ends_24_hours_after_receipt_to_the_minute(
    runtime: Runtime, session: Session
) -> None:
    person = create_person(session, policy=runtime.policy(), is_child=False)
    session.commit()
    case_id = _file(runtime, session, person_id=person.id)  # nobody to write to: the clock runs
    ack = next(c for c in clocks_of(session, case_id) if c.name == "acknowledge")
    assert ack.due_at == T0 + timedelta(hours=24)
    last_minute = list_due(session, DueFilter(kind="grievance"), now=T0 + timedelta(hours=23, minutes=59)).items[0]
    at_the_end = list_due(session, DueFilter(kind="grievance"), now=T0 + timedelta(hours=24)).items[0]
    assert (last_minute.clock, last_minute.overdue, at_the_end.overdue) == ("acknowledge", False, True)


def test_the_resolution_clock_ends_with_its_last_business_day(runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime)
    case_id = _file(runtime, session, person_id=person)  # Monday 7 December 2026
    resolve = next(c for c in clocks_of(session, case_id) if c.name == "resolve")
    working = working_calendar(runtime.policy().document)
    assert not working.is_working_day(date(2026, 12, 25))  # Christmas, a public holiday in Uttar Pradesh
    assert resolve.due_on == date(2026, 12, 29)  # 15 working days, weekends and Christmas skipped
    end = datetime(2026, 12, 29, 18, 30, tzinfo=UTC)  # midnight in Asia/Kolkata
    assert resolve.due_at == end
    before, after = (
        list_due(session, DueFilter(), now=end - timedelta(minutes=1)),
        list_due(session, DueFilter(), now=end),
    )
    assert [i.overdue for i in before.items if i.id == case_id] == [False]
    assert [i.overdue for i in after.items if i.id == case_id] == [True]


def test_an_unacknowledged_grievance_is_escalated_once_in_its_last_quarter(runtime: Runtime, session: Session) -> None:
    person = create_person(session, policy=runtime.policy(), is_child=False)
    session.commit()
    _file(runtime, session, person_id=person.id)  # nobody to write to: the 24-hour clock runs
    assert escalate_due_soon(runtime, session, now=T0 + timedelta(hours=17, minutes=59)) == 0
    assert escalate_due_soon(runtime, session, now=T0 + timedelta(hours=18)) == 1  # its last 6 hours
    session.commit()
    assert escalate_due_soon(runtime, session, now=T0 + timedelta(hours=20)) == 0
    session.commit()
    assert case_actions(session)[-1] == "case.grievance.escalated"
