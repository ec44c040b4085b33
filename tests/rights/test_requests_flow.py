"""A rights request from receipt to proof of completion: identity check by code, erasure with what the law
keeps, manual steps, waiting periods, staff transitions, and the refusals that change nothing."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from fiduciary.config import Settings
from fiduciary.errors import Conflict, ValidationFailed
from fiduciary.identity.codes import Verdict
from fiduciary.rights import request_flows as flows
from fiduciary.rights.models import RightsRequest
from fiduciary.rights.requests import MadeBy, NewRequest, get_request
from fiduciary.rights.states import State
from fiduciary.runtime import Runtime
from fiduciary.vault.service import VaultService
from requests_support import T0, actions, last_code, messages, person_with_email, policy_with_rights


def erasure(person: str, **kw: Any) -> NewRequest:
    return NewRequest(**{"kind": "erasure", "person_id": person, "made_by": MadeBy.STORE, "channel": "email", **kw})


def test_an_erasure_runs_after_the_code_and_says_what_was_kept(runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime)
    VaultService(runtime).add_legal_hold_record(
        session,
        person,
        record_type="invoice",
        basis="Section 36 of the CGST Act 2017",
        purge_after=date(2034, 3, 31),
        content="Invoice 41",
    )
    session.commit()
    row = flows.submit(runtime, session, erasure(person), actor="key_backend", now=T0)
    session.commit()
    assert row.state == State.IDENTITY_CHECK and row.challenge_id is not None
    assert row.due_on == date(2027, 1, 6)  # 30 days from receipt, on the policy's calendar
    kinds = [kind for kind, _ in messages(session, runtime)]
    assert kinds == ["rights.code", "rights.received"]

    done, verification = flows.verify_with_code(runtime, session, row.id, last_code(session, runtime), now=T0)
    session.commit()
    assert verification.verdict is Verdict.OK and done is not None
    row = get_request(session, row.id)
    # Fiduciary's part is done; the order database (a manual step) is not: the request waits for staff.
    assert row.state == State.IN_PROGRESS and row.verified_by == "email_otp" and row.details["ready"] is True
    assert [k for k, _ in messages(session, runtime)][-1] != "rights.erased"
    with pytest.raises(ValidationFailed):
        flows.confirm_step(runtime, session, row.id, 1, actor="staff_1")
    flows.confirm_step(runtime, session, row.id, 0, actor="staff_1", now=T0 + timedelta(hours=2))
    session.commit()
    with pytest.raises(Conflict):
        flows.confirm_step(runtime, session, row.id, 0, actor="staff_1")
    row = get_request(session, row.id)
    assert row.state == State.COMPLETED
    assert row.details["kept"] == [
        {"what": "invoice", "count": 1, "why": "Section 36 of the CGST Act 2017", "until": "2034-03-31"}
    ]
    last_kind, body = messages(session, runtime)[-1]
    assert last_kind == "rights.erased"
    assert "Section 36 of the CGST Act 2017" in body and "2034-03-31" in body and row.id in body
    assert "Grievance Officer" in body  # DPDP Rule 9
    assert row.sealed is None  # the address kept for the last message is gone with it
    assert actions(session) == [
        "request.received",
        "request.ask_identity",
        "request.verify",
        "person.erase",
        "request.confirm_step",
        "request.complete",
    ]


def test_a_signed_in_request_skips_the_code(runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime)
    row = flows.submit(runtime, session, erasure(person, verified_by="signed_in_session"), actor="key_backend", now=T0)
    session.commit()
    assert row.state == State.IN_PROGRESS and row.verified_by == "signed_in_session"
    assert [k for k, _ in messages(session, runtime)] == ["rights.received"]
    flows.confirm_step(runtime, session, row.id, 0, actor="staff_1")
    session.commit()
    assert [k for k, _ in messages(session, runtime)][-1] == "rights.erased"


def test_kinds_not_offered_are_refused_naming_the_offered_ones(runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime)
    for kind in ("teleport", "restriction"):  # unknown; a right the demo policy does not offer
        with pytest.raises(ValidationFailed) as refused:
            flows.submit(
                runtime,
                session,
                NewRequest(kind=kind, person_id=person, made_by=MadeBy.STORE, channel="email"),
                actor="key_backend",
                now=T0,
            )
        assert refused.value.fields[0].field == "kind"
        assert "access" in refused.value.fields[0].message and "erasure" in refused.value.fields[0].message
    assert session.query(RightsRequest).count() == 0


def test_a_nominee_without_proof_is_refused(runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime)
    with pytest.raises(ValidationFailed) as refused:
        flows.submit(runtime, session, erasure(person, made_by=MadeBy.NOMINEE), actor="key_backend", now=T0)
    assert [f.field for f in refused.value.fields] == ["proof_reference"]
    row = flows.submit(
        runtime,
        session,
        erasure(person, made_by=MadeBy.NOMINEE, personal={"proof_reference": "DC-2026-118"}),
        actor="key_backend",
        now=T0,
    )
    session.commit()
    assert row.state == State.IDENTITY_CHECK and row.challenge_id is None  # staff check the proof
    with pytest.raises(ValidationFailed):
        flows.staff_verify(runtime, session, row.id, actor="staff_1", method="email_otp")
    flows.staff_verify(runtime, session, row.id, actor="staff_1", method="document", now=T0)
    session.commit()
    assert get_request(session, row.id).state == State.IN_PROGRESS


def test_five_wrong_codes_lock_the_request_even_after_a_restart(
    settings: Settings, session: Session, runtime: Runtime
) -> None:
    person = person_with_email(session, runtime)
    row = flows.submit(runtime, session, erasure(person), actor="key_backend", now=T0)
    session.commit()
    right = last_code(session, runtime)
    wrong = "000000" if right != "000000" else "111111"
    verdicts = [flows.verify_with_code(runtime, session, row.id, wrong, now=T0)[1].verdict for _ in range(5)]
    assert verdicts == [Verdict.WRONG] * 4 + [Verdict.LOCKED]
    restarted = Runtime.start(settings, migrate=False)
    try:
        with restarted.sessions() as fresh:
            _, verification = flows.verify_with_code(restarted, fresh, row.id, right, now=T0)
            assert verification.verdict is Verdict.LOCKED
            assert get_request(fresh, row.id).state == State.IDENTITY_CHECK
    finally:
        restarted.close()


def test_an_expired_or_reused_code_is_refused(runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime)
    row = flows.submit(runtime, session, erasure(person), actor="key_backend", now=T0)
    session.commit()
    code = last_code(session, runtime)
    late = T0 + timedelta(minutes=10)
    assert flows.verify_with_code(runtime, session, row.id, code, now=late)[1].verdict is Verdict.EXPIRED
    flows.resend_code(runtime, session, row.id, client_address="203.0.113.9", now=late)
    session.commit()
    fresh = last_code(session, runtime)
    assert flows.verify_with_code(runtime, session, row.id, fresh, now=late)[1].verdict is Verdict.OK
    session.commit()
    with pytest.raises(Conflict):  # the request left its identity check: no code is awaited
        flows.verify_with_code(runtime, session, row.id, fresh, now=late)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    policy = policy_with_rights(
        tmp_path,
        {
            "erasure": {
                "manual_steps": [{"system": "Order database", "action": "Delete the customer"}],
            },
            "grievance": {"staff_approval": True},
        },
    )
    return Settings(database_url=database_url, data_dir=tmp_path / "data", policy_file=policy)
