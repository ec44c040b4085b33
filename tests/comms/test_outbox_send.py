"""`comms.outbox.send`: in the caller's transaction, once per cause, sealed, gated, rendered per language."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.comms.messages import grievance_contact
from fiduciary.comms.models import OutboxMessage
from fiduciary.comms.outbox import MarketingRefused, send
from fiduciary.comms.sealing import open_sealed
from fiduciary.consent.service import ConsentChannel, ConsentInput, ConsentService
from fiduciary.decisions.flows import decide_audited
from fiduciary.errors import Conflict, ValidationFailed
from fiduciary.personal_data.registry import registry_for
from fiduciary.runtime import Runtime
from fiduciary.unit_of_work import unit_of_work
from jobs_support import queued
from outbox_support import ADDRESS, CODE, count_messages, new_person, send_code


def body_of(session: Session, runtime: Runtime, message: OutboxMessage) -> str:
    assert message.body is not None
    return open_sealed(runtime, session, message.person_id, message.key_version, message.id, "body", message.body)


def test_a_message_commits_with_its_cause_and_queues_the_deliverer(session: Session, runtime: Runtime) -> None:
    pid = new_person(session, runtime)
    message = send_code(session, runtime, pid, "rights.code:req_1:1")
    session.commit()
    assert count_messages(session) == 1
    assert (message.status, message.attempts, message.kind, message.language) == ("pending", 0, "rights.code", "en")
    assert message.message_id.startswith(f"<{message.id}@") and message.message_id.endswith(">")
    assert [status for _, status in queued(session, "comms.deliver")] == ["todo"]


def test_a_rolled_back_change_leaves_no_message_and_no_job(session: Session, runtime: Runtime) -> None:
    pid = new_person(session, runtime)
    send_code(session, runtime, pid, "rights.code:req_1:1")
    session.rollback()
    assert count_messages(session) == 0
    assert queued(session, "comms.deliver") == []
    uow = unit_of_work(runtime, session)
    with pytest.raises(RuntimeError), uow.step():  # a step that fails after sending: the message goes too
        send_code(session, runtime, pid, "rights.code:req_1:2")
        raise RuntimeError("the change failed")
    assert count_messages(session) == 0


def test_the_same_cause_makes_one_message(session: Session, runtime: Runtime) -> None:
    pid = new_person(session, runtime)
    first = send_code(session, runtime, pid, "rights.code:req_1:1")
    session.commit()
    again = send_code(session, runtime, pid, "rights.code:req_1:1", params={"code": "000000", "minutes": 10})
    session.commit()
    assert again.id == first.id and count_messages(session) == 1
    assert CODE in body_of(session, runtime, again)  # the first message stands
    other = new_person(session, runtime)
    with pytest.raises(Conflict) as caught:
        send_code(session, runtime, other, "rights.code:req_1:1")
    assert caught.value.fields[0].field == "idempotency_key"


def test_address_and_body_are_sealed_never_stored_in_clear(session: Session, runtime: Runtime) -> None:
    pid = new_person(session, runtime)
    send_code(session, runtime, pid, "rights.code:req_1:1")
    session.commit()
    raw = session.execute(sa.text("SELECT * FROM outbox_messages")).one()
    stored = b" ".join(v if isinstance(v, bytes) else str(v).encode() for v in raw)
    assert ADDRESS.encode() not in stored and CODE.encode() not in stored
    message = session.scalars(sa.select(OutboxMessage)).one()
    assert message.recipient is not None and message.key_version == 1  # the person's data key
    assert open_sealed(runtime, session, pid, 1, message.id, "recipient", message.recipient) == ADDRESS


def test_every_rights_message_carries_the_grievance_contact(session: Session, runtime: Runtime) -> None:
    pid = new_person(session, runtime)
    code = send_code(session, runtime, pid, "rights.code:req_1:1")
    received = send(
        unit_of_work(runtime, session),
        kind="rights.received",
        channel="email",
        to=ADDRESS,
        person_id=pid,
        params={"reference": "req_1", "due_on": date(2027, 1, 4)},
        idempotency_key="rights.received:req_1",
    )
    session.commit()
    contact = grievance_contact(runtime.policy())
    assert contact == "Meera Iyer, Grievance Officer: grievance@saffronlane.example, +91 120 400 0000"
    for message in (code, received):
        assert contact in body_of(session, runtime, message)
    assert "We will answer by January 4, 2027." in body_of(session, runtime, received)
    assert received.subject == "We received your request to Saffron Lane"


def test_hindi_rendering(session: Session, runtime: Runtime) -> None:
    pid = new_person(session, runtime)
    message = send_code(session, runtime, pid, "rights.code:req_1:1", language="hi-IN")
    session.commit()
    body = body_of(session, runtime, message)
    assert message.language == "hi"
    assert message.subject == "Saffron Lane के लिए आपका सत्यापन कोड"
    assert "यह कोड 10 मिनट तक मान्य है।" in body and CODE in body
    assert "शिकायत अधिकारी" in body and "grievance@saffronlane.example" in body
    unknown = send_code(session, runtime, pid, "rights.code:req_1:2", language="ta")  # no catalogue: English
    assert unknown.language == "en" and unknown.subject.startswith("Your verification code")


def _grant(session: Session, runtime: Runtime, pid: str, purpose: str) -> None:
    ConsentService.for_runtime(runtime).record(
        session, ConsentInput(subject_id=pid, purpose=purpose, action="grant", channel=ConsentChannel.API)
    )
    session.commit()


def _marketing(session: Session, runtime: Runtime, pid: str, key: str, **kw: object) -> OutboxMessage:
    return send(
        unit_of_work(runtime, session),
        kind="marketing.message",
        channel=str(kw.pop("channel", "email")),
        to=str(kw.pop("to", ADDRESS)),
        person_id=pid,
        params={"headline": "Diwali sale", "text": "Everything at half price."},
        idempotency_key=key,
        **kw,  # type: ignore[arg-type]
    )


def test_marketing_is_refused_unless_a_decision_allows_it(session: Session, runtime: Runtime) -> None:
    pid = new_person(session, runtime)
    with pytest.raises(MarketingRefused) as no_decision:
        _marketing(session, runtime, pid, "campaign:1")
    assert no_decision.value.status == 403 and no_decision.value.code == "marketing_not_allowed"
    denied = decide_audited(runtime, session, caller="test", subject_id=pid, purpose="marketing.email")
    session.commit()
    assert not denied.allow
    with pytest.raises(MarketingRefused):
        _marketing(session, runtime, pid, "campaign:1", decision=denied)
    not_marketing = decide_audited(runtime, session, caller="test", subject_id=pid, purpose="order_fulfilment")
    session.commit()
    with pytest.raises(MarketingRefused):  # allowed, but not a marketing purpose on e-mail
        _marketing(session, runtime, pid, "campaign:1", decision=not_marketing)
    session.rollback()
    assert count_messages(session) == 0
    _grant(session, runtime, pid, "marketing.email")
    allowed = decide_audited(runtime, session, caller="test", subject_id=pid, purpose="marketing.email")
    session.commit()
    assert allowed.allow
    with pytest.raises(MarketingRefused):  # the e-mail purpose does not cover SMS
        _marketing(session, runtime, pid, "campaign:1", decision=allowed, channel="sms", to="+919812345670")
    message = _marketing(session, runtime, pid, "campaign:1", decision=allowed)
    session.commit()
    assert message.subject == "Diwali sale" and count_messages(session) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "rights.nonsense"}, "kind"),
        ({"channel": "pigeon"}, "channel"),
        ({"to": "not-an-address"}, "to"),
        ({"channel": "sms", "to": "12345"}, "to"),
        ({"params": {"code": CODE}}, "params.minutes"),
        ({"params": {"code": CODE, "minutes": 10, "name": "Asha"}}, "params.name"),
        ({"idempotency_key": f"code:{ADDRESS}"}, "idempotency_key"),
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"language": "hindi please"}, "language"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_writes_nothing(
    session: Session, runtime: Runtime, change: dict[str, object], field: str
) -> None:
    pid = new_person(session, runtime)
    arguments: dict[str, object] = {
        "kind": "rights.code",
        "channel": "email",
        "to": ADDRESS,
        "person_id": pid,
        "params": {"code": CODE, "minutes": 10},
        "idempotency_key": "rights.code:req_1:1",
    }
    arguments.update(change)
    with pytest.raises(ValidationFailed) as caught:
        send(unit_of_work(runtime, session), **arguments)  # type: ignore[arg-type]
    assert field in [p.field for p in caught.value.fields]
    assert ADDRESS not in str(caught.value) + repr(caught.value.fields)
    session.commit()
    assert count_messages(session) == 0 and queued(session, "comms.deliver") == []


def test_export_and_erase_through_the_registry(session: Session, runtime: Runtime) -> None:
    pid = new_person(session, runtime)
    message = send_code(session, runtime, pid, "rights.code:req_1:1")
    session.commit()
    registry = registry_for(runtime)
    exported = registry.export_person(session, pid)["domains"]["comms"]["messages"]
    assert [(m["id"], m["to"], m["kind"], m["status"]) for m in exported] == [
        (message.id, ADDRESS, "rights.code", "pending")
    ]
    assert CODE in exported[0]["body"]
    summary = registry.erase_person(session, pid)
    session.commit()
    report = {r.domain: r for r in summary.reports}["comms"]
    assert (report.changed, report.kept) == (1, 1)
    session.expire_all()
    row = session.get(OutboxMessage, message.id)
    assert row is not None and row.recipient is None and row.body is None
    assert row.status == "failed" and row.last_error == "PersonErased"  # a pending message is never sent
    after = registry.export_person(session, pid)["domains"]["comms"]["messages"]
    assert "to" not in after[0] and after[0]["message_id"] == message.message_id
    again = registry.erase_person(session, pid)
    assert {r.domain: r for r in again.reports}["comms"].changed == 0
    with pytest.raises(Conflict) as erased:  # nothing new is sealed for an erased person
        send_code(session, runtime, pid, "rights.code:req_2:1")
    assert erased.value.code == "person_erased"
