"""The rest of a request's life: waiting periods and cancelling them, extensions within the policy's limit,
rejection, staff approval, the overdue and reminder sweep, and an outbox that cannot reach its server."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.comms.delivery import deliver
from fiduciary.comms.models import OutboxMessage
from fiduciary.config import Settings
from fiduciary.errors import Conflict, ValidationFailed
from fiduciary.rights import request_flows as flows
from fiduciary.rights.request_jobs import flag_overdue, remind_unverified
from fiduciary.rights.requests import MadeBy, NewRequest, get_request
from fiduciary.rights.states import State
from fiduciary.runtime import Runtime
from fiduciary.vault.service import VaultService
from outbox_support import statuses, use_smtp
from requests_support import T0, actions, messages, person_with_email, policy_with_rights


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    policy = policy_with_rights(
        tmp_path,
        {
            "erasure": {
                "waiting_period": "7d",
                "deadline": {"respond_within": "30d", "extendable_by": "30d"},
            },
            "grievance": {"staff_approval": True, "verification": ["signed_in_session"]},
        },
    )
    return Settings(
        database_url=database_url, data_dir=tmp_path / "data", policy_file=policy, outbox_backoff_seconds=0.0
    )


def request(kind: str, person: str, **kw: object) -> NewRequest:
    return NewRequest(kind=kind, person_id=person, made_by=MadeBy.STORE, channel="email", **kw)  # type: ignore[arg-type]


def signed_in(runtime: Runtime, session: Session, kind: str, person: str) -> str:
    row = flows.submit(runtime, session, request(kind, person, verified_by="signed_in_session"), actor="key_b", now=T0)
    session.commit()
    return row.id


def test_an_erasure_waits_its_period_and_can_be_cancelled_until_then(runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime)
    waiting = signed_in(runtime, session, "erasure", person)
    row = get_request(session, waiting)
    assert row.state == State.IN_PROGRESS and row.run_after is not None
    assert row.run_after.date() == date(2026, 12, 14)  # the end of the 7th day, in the policy's time zone
    assert [k for k, _ in messages(session, runtime)] == ["rights.received", "rights.scheduled"]
    assert not flows.resume(runtime, session, waiting, now=T0 + timedelta(days=3))  # not yet: nothing happens
    assert VaultService(runtime).get_identifiers(session, person)  # still there
    flows.cancel(runtime, session, waiting, actor="person", now=T0 + timedelta(days=3))
    session.commit()
    assert get_request(session, waiting).state == State.CANCELLED
    assert not flows.resume(runtime, session, waiting, now=T0 + timedelta(days=8))  # the job finds it cancelled
    assert VaultService(runtime).get_identifiers(session, person)

    second = signed_in(runtime, session, "erasure", person)
    assert flows.resume(runtime, session, second, now=T0 + timedelta(days=8))
    session.commit()
    assert get_request(session, second).state == State.COMPLETED
    assert VaultService(runtime).is_erased(session, person)
    with pytest.raises(Conflict):
        flows.cancel(runtime, session, second, actor="person")  # too late: it ran
    assert not flows.resume(runtime, session, second, now=T0 + timedelta(days=9))  # a second run changes nothing


def test_an_extension_stays_within_the_policy_and_happens_once(runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime)
    row = flows.submit(runtime, session, request("erasure", person), actor="key_b", now=T0)
    session.commit()
    assert row.due_on == date(2027, 1, 6)
    with pytest.raises(ValidationFailed) as too_far:
        flows.extend_request(
            runtime, session, row.id, actor="staff_1", until=date(2027, 2, 6), reason="Archive", now=T0
        )
    assert [f.field for f in too_far.value.fields] == ["until"]
    with pytest.raises(ValidationFailed) as no_reason:
        flows.extend_request(runtime, session, row.id, actor="staff_1", until=date(2027, 2, 5), reason=" ", now=T0)
    assert [f.field for f in no_reason.value.fields] == ["reason"]
    flows.extend_request(
        runtime, session, row.id, actor="staff_1", until=date(2027, 2, 5), reason="Records are in the archive", now=T0
    )
    session.commit()
    row = get_request(session, row.id)
    assert row.due_on == date(2027, 2, 5) and row.extended_at is not None
    kind, body = messages(session, runtime)[-1]
    assert kind == "rights.extended" and "Records are in the archive" in body
    with pytest.raises(ValidationFailed):
        flows.extend_request(runtime, session, row.id, actor="staff_1", until=date(2027, 2, 5), reason="Again", now=T0)


def test_staff_approval_then_reject_or_approve(runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime)
    first = signed_in(runtime, session, "grievance", person)
    assert get_request(session, first).state == State.AWAITING_APPROVAL
    with pytest.raises(ValidationFailed):
        flows.reject(runtime, session, first, actor="staff_1", reason="Not A Code", note="x")
    flows.reject(
        runtime, session, first, actor="staff_1", reason="unfounded", note="We hold no data under this account"
    )
    session.commit()
    row = get_request(session, first)
    assert row.state == State.REJECTED and row.outcome_reason == "unfounded"
    assert messages(session, runtime)[-1][0] == "rights.rejected"
    with pytest.raises(Conflict):
        flows.approve(runtime, session, first, actor="staff_1")  # closed: no more changes
    assert "request.reject" in actions(session)
    second = signed_in(runtime, session, "grievance", person)
    flows.approve(runtime, session, second, actor="staff_1")
    session.commit()
    assert get_request(session, second).state == State.IN_PROGRESS  # a grievance waits for staff's answer
    flows.complete_by_staff(runtime, session, second, actor="staff_1", note="Refund issued")
    session.commit()
    assert get_request(session, second).state == State.COMPLETED
    assert messages(session, runtime)[-1][0] == "rights.completed"


def test_the_sweep_flags_overdue_once_and_reminds_once(runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime)
    waiting = flows.submit(runtime, session, request("erasure", person), actor="key_b", now=T0).id
    session.commit()
    assert remind_unverified(runtime, session, now=T0 + timedelta(days=2)) == 0
    assert remind_unverified(runtime, session, now=T0 + timedelta(days=3)) == 1
    session.commit()
    assert remind_unverified(runtime, session, now=T0 + timedelta(days=4)) == 0
    assert messages(session, runtime)[-1][0] == "rights.reminder"
    due = get_request(session, waiting).due_at
    assert flag_overdue(runtime, session, now=due - timedelta(seconds=1)) == 0
    assert flag_overdue(runtime, session, now=due) == 1  # overdue from the instant the deadline ends
    session.commit()
    assert flag_overdue(runtime, session, now=due + timedelta(days=1)) == 0
    assert actions(session).count("request.overdue") == 1
    closed = flows.close_many(runtime, session, [flows.CloseItem(waiting, "never_verified")], actor="staff_1")
    session.commit()
    assert closed[0].state == State.CANCELLED
    assert messages(session, runtime)[-1][0] == "rights.reminder"  # nothing sent to an unproven address


def test_bulk_close_refuses_the_whole_list_for_one_bad_item(runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime)
    ids = []
    for _ in range(2):  # one transaction each: a code's rate limit is charged apart (`send_code`)
        ids.append(flows.submit(runtime, session, request("erasure", person), actor="key_b", now=T0).id)
        session.commit()
    with pytest.raises(ValidationFailed) as refused:
        flows.close_many(
            runtime, session, [flows.CloseItem(ids[0], "duplicate"), flows.CloseItem(ids[1], "bored")], actor="staff_1"
        )
    assert [f.field for f in refused.value.fields] == ["items[1].reason"]
    assert {get_request(session, i).state for i in ids} == {State.IDENTITY_CHECK}


def test_an_unreachable_mail_server_loses_no_request(runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime)
    use_smtp(runtime, "smtp://127.0.0.1:9")  # nothing listens on the discard port
    row = flows.submit(runtime, session, request("erasure", person), actor="key_b", now=T0)
    session.commit()
    report = deliver(runtime)
    assert report.sent == 0
    assert get_request(session, row.id).state == State.IDENTITY_CHECK  # the request stands
    assert {status for status, _ in statuses(session)} == {"pending"}  # waiting, to be retried
    assert session.scalar(sa.select(sa.func.max(OutboxMessage.attempts))) == 1
