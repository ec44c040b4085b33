"""`comms.outbox.send_many`: the same rows, checks and refusals as one `send` per message, on both engines."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.comms.models import OutboxMessage
from fiduciary.comms.outbox import MarketingRefused, Outgoing, send, send_many
from fiduciary.comms.sealing import open_sealed
from fiduciary.consent.service import ConsentChannel, ConsentInput, ConsentService
from fiduciary.decisions.flows import decide_audited
from fiduciary.errors import Conflict, NotFound, ValidationFailed
from fiduciary.runtime import Runtime
from fiduciary.unit_of_work import unit_of_work
from jobs_support import queued
from outbox_support import ADDRESS, CODE, count_messages, new_person

PARAMS = {"code": CODE, "minutes": 10}


def code(pid: str, key: str, **kw: Any) -> Outgoing:
    return Outgoing(
        kind="rights.code",
        channel=kw.pop("channel", "email"),
        to=kw.pop("to", f"{pid}@example.com"),
        params=kw.pop("params", PARAMS),
        idempotency_key=key,
        person_id=pid,
        **kw,
    )


def opened(session: Session, runtime: Runtime, message: OutboxMessage) -> tuple[str, str]:
    """(recipient, body), opened under the person's key as the deliverer opens them."""
    assert message.recipient is not None and message.body is not None
    return tuple(  # type: ignore[return-value]
        open_sealed(runtime, session, message.person_id, message.key_version, message.id, name, value)
        for name, value in (("recipient", message.recipient), ("body", message.body))
    )


def described(session: Session, runtime: Runtime, message: OutboxMessage) -> tuple[Any, ...]:
    """What a message is, less its random id: to compare a batch's rows with `send`'s."""
    return (
        message.kind, message.person_id, message.channel, message.language, message.subject, message.status,
        message.attempts, message.key_version, *opened(session, runtime, message),
    )  # fmt: skip


def test_a_batch_writes_what_one_send_per_message_writes(session: Session, runtime: Runtime) -> None:
    people = [new_person(session, runtime) for _ in range(3)]
    batch = [
        code(people[0], "b:0"),
        code(people[1], "b:1", language="hi"),
        code(people[2], "b:2", channel="sms", to="+91 98123 45670"),
    ]
    many = send_many(unit_of_work(runtime, session), batch)
    session.commit()
    assert [m.idempotency_key for m in many] == ["b:0", "b:1", "b:2"]
    assert [status for _, status in queued(session, "comms.deliver")] == ["todo"]  # one deliverer
    uow = unit_of_work(runtime, session)
    one_by_one = [
        send(uow, kind=m.kind, channel=m.channel, to=m.to, params=m.params, idempotency_key=f"s{m.idempotency_key}",
             person_id=m.person_id, language=m.language)
        for m in batch
    ]  # fmt: skip
    session.commit()
    assert [described(session, runtime, m) for m in many] == [described(session, runtime, m) for m in one_by_one]
    assert opened(session, runtime, many[2])[0] == "+919812345670"  # normalised as `send` does
    assert many[1].language == "hi" and CODE in opened(session, runtime, many[1])[1]
    raw = session.execute(sa.text("SELECT * FROM outbox_messages")).all()
    stored = b" ".join(v if isinstance(v, bytes) else str(v).encode() for row in raw for v in row)
    assert CODE.encode() not in stored and people[0].encode() + b"@example.com" not in stored  # sealed


def test_a_cause_already_queued_returns_its_first_message_and_a_repeat_in_the_batch_makes_one(
    session: Session, runtime: Runtime
) -> None:
    pid, other = new_person(session, runtime), new_person(session, runtime)
    first = send_many(unit_of_work(runtime, session), [code(pid, "c:1")])[0]
    session.commit()
    changed = code(pid, "c:1", params={"code": "000000", "minutes": 5})
    again = send_many(unit_of_work(runtime, session), [changed, code(other, "c:2"), code(other, "c:2")])
    session.commit()
    assert again[0].id == first.id and again[1].id == again[2].id and count_messages(session) == 2
    assert CODE in opened(session, runtime, again[0])[1]  # the first message stands
    with pytest.raises(Conflict) as caught:  # the key names another person's message
        send_many(unit_of_work(runtime, session), [code(other, "c:1")])
    assert caught.value.fields[0].field == "idempotency_key"
    session.rollback()
    with pytest.raises(Conflict):  # the same key for two people within one batch
        send_many(unit_of_work(runtime, session), [code(pid, "c:3"), code(other, "c:3")])
    session.rollback()
    assert count_messages(session) == 2


def test_nothing_new_queues_no_deliverer_and_an_empty_batch_does_nothing(session: Session, runtime: Runtime) -> None:
    assert send_many(unit_of_work(runtime, session), []) == []
    session.commit()
    assert count_messages(session) == 0 and queued(session, "comms.deliver") == []


def _marketing(pid: str, key: str, **kw: Any) -> Outgoing:
    params = {"headline": "Diwali sale", "text": "Everything at half price."}
    return Outgoing("marketing.message", kw.pop("channel", "email"), kw.pop("to", ADDRESS), params, key, pid, **kw)


def test_the_marketing_gate_holds_for_every_message_of_a_batch(session: Session, runtime: Runtime) -> None:
    pid, other = new_person(session, runtime), new_person(session, runtime)
    ConsentService.for_runtime(runtime).record(
        session, ConsentInput(subject_id=pid, purpose="marketing.email", action="grant", channel=ConsentChannel.API)
    )
    session.commit()
    allowed = decide_audited(runtime, session, caller="test", subject_id=pid, purpose="marketing.email")
    denied = decide_audited(runtime, session, caller="test", subject_id=other, purpose="marketing.email")
    session.commit()
    assert allowed.allow and not denied.allow
    for refused in (
        _marketing(other, "m:2"),  # no decision
        _marketing(other, "m:2", decision=denied),
        _marketing(pid, "m:2", decision=allowed, channel="sms", to="+919812345670"),  # e-mail purpose, SMS
    ):
        with pytest.raises(MarketingRefused):
            send_many(unit_of_work(runtime, session), [_marketing(pid, "m:1", decision=allowed), refused])
        session.rollback()
        assert count_messages(session) == 0  # one refused message refuses the batch
    sent = send_many(unit_of_work(runtime, session), [_marketing(pid, "m:1", decision=allowed)])
    session.commit()
    assert sent[0].subject == "Diwali sale" and count_messages(session) == 1


@pytest.mark.parametrize(
    ("change", "error", "field"),
    [
        ({"kind": "rights.nonsense"}, ValidationFailed, "kind"),
        ({"channel": "pigeon"}, ValidationFailed, "channel"),
        ({"to": "not-an-address"}, ValidationFailed, "to"),
        ({"params": {"code": CODE}}, ValidationFailed, "params.minutes"),
        ({"idempotency_key": f"code:{ADDRESS}"}, ValidationFailed, "idempotency_key"),
        ({"language": "hindi please"}, ValidationFailed, "language"),
        ({"person_id": "per_bad"}, ValidationFailed, "person_id"),
        ({"person_id": "per_" + "a" * 26}, NotFound, None),
    ],
)
def test_bad_input_anywhere_in_the_batch_is_refused_and_writes_nothing(
    session: Session, runtime: Runtime, change: dict[str, Any], error: type[Exception], field: str | None
) -> None:
    pid = new_person(session, runtime)
    bad = replace(code(pid, "k:2"), **change)
    with pytest.raises(error) as caught:
        send_many(unit_of_work(runtime, session), [code(pid, "k:1"), bad])
    if field is not None:
        assert field in [p.field for p in caught.value.fields]  # type: ignore[attr-defined]
    assert ADDRESS not in str(caught.value)
    session.commit()
    assert count_messages(session) == 0 and queued(session, "comms.deliver") == []
