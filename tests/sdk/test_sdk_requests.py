"""The SDK's rights-request methods against the real app (TestClient is an httpx client), on both databases:
the whole staff round trip, paging, and refusals raised as `FiduciaryAPIError` naming the field."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from fiduciary.auth.service import create_api_key
from fiduciary.config import Settings
from fiduciary.rights import request_flows as flows
from fiduciary.rights.requests import MadeBy, NewRequest
from fiduciary.runtime import Runtime
from fiduciary.sdk import CloseItem, FiduciaryAPIError, FiduciaryRequestsClient
from requests_support import last_code, person_with_email, policy_with_rights


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    policy = policy_with_rights(
        tmp_path,
        {
            "erasure": {
                "deadline": {"respond_within": "30d", "extendable_by": "30d"},
                "staff_approval": True,
                "manual_steps": [{"system": "Order database", "action": "Delete the customer"}],
            },
        },
    )
    return Settings(database_url=database_url, data_dir=tmp_path / "data", policy_file=policy)


@pytest.fixture
def sdk(client: TestClient, session: Session) -> FiduciaryRequestsClient:
    _, plaintext = create_api_key(session, "privacy-ops", ["rights:manage"])
    session.commit()
    return FiduciaryRequestsClient.from_httpx(client, plaintext)


def test_an_erasure_from_receipt_to_its_last_step(
    sdk: FiduciaryRequestsClient, session: Session, runtime: Runtime
) -> None:
    person = person_with_email(session, runtime)
    made = sdk.create_request("erasure", person, verified_by="signed_in_session")
    assert made["state"] == "awaiting_approval" and made["steps"][0]["system"] == "Order database"
    due = date.fromisoformat(made["due_on"])
    extended = sdk.extend_request(made["id"], due + timedelta(days=10), "Three systems to search.")
    assert extended["due_on"] == str(due + timedelta(days=10)) and extended["extended"] is True
    assert sdk.approve_request(made["id"])["state"] == "in_progress"
    with pytest.raises(FiduciaryAPIError) as refused:
        sdk.complete_request(made["id"])
    assert refused.value.status == 409 and refused.value.code == "request_completes_itself"
    done = sdk.confirm_request_step(made["id"], 0)
    assert done["state"] == "completed"
    assert [h["action"] for h in sdk.get_request(made["id"])["history"]][-1] == "complete"
    assert list(sdk.list_requests(person_id=person)) == []  # closed: not listed by default
    assert [r["id"] for r in sdk.list_requests(person_id=person, state=["completed"])] == [made["id"]]


def test_staff_verify_reject_and_cancel(sdk: FiduciaryRequestsClient, session: Session, runtime: Runtime) -> None:
    person = person_with_email(session, runtime)
    nominee = sdk.create_request(
        "erasure",
        person,
        made_by="nominee",
        nominee={"name": "Ravi", "contact": "ravi@example.org"},
        proof_reference="DC-2026-118",
    )
    assert nominee["state"] == "identity_check" and "ravi" not in str(nominee).lower()
    with pytest.raises(FiduciaryAPIError) as bad_method:
        sdk.verify_request(nominee["id"], "email_otp")
    assert bad_method.value.status == 422 and bad_method.value.fields == ["body.method"]
    assert sdk.verify_request(nominee["id"], "document")["state"] == "awaiting_approval"
    rejected = sdk.reject_request(nominee["id"], "unfounded", "The certificate does not name you.")
    assert (rejected["state"], rejected["outcome_reason"]) == ("rejected", "unfounded")
    waiting = sdk.create_request("erasure", person, verified_by="signed_in_session")
    cancelled = sdk.cancel_request(waiting["id"], note="The person withdrew it by phone.")
    assert (cancelled["state"], cancelled["outcome_note"]) == ("cancelled", "The person withdrew it by phone.")
    with pytest.raises(FiduciaryAPIError) as twice:
        sdk.cancel_request(waiting["id"])
    assert twice.value.status == 409
    with pytest.raises(FiduciaryAPIError) as grievance_here:
        sdk.create_request("grievance", person)  # one home for grievances: /v1/grievances (decision 0033)
    assert grievance_here.value.status == 422 and grievance_here.value.fields == ["kind"]
    # a grievance the rights engine holds (from a customer's own API) is one staff complete with a note
    grievance = flows.submit(runtime, session, NewRequest("grievance", person, MadeBy.STORE, "email"), actor="k")
    session.commit()
    done = sdk.complete_request(grievance.id, note="We refunded the order.")
    assert (done["state"], done["outcome_note"]) == ("completed", "We refunded the order.")


def test_paging_bulk_close_and_refusals(sdk: FiduciaryRequestsClient, session: Session, runtime: Runtime) -> None:
    ids = [
        sdk.create_request("erasure", person_with_email(session, runtime, f"page{i}@example.org"))["id"]
        for i in range(5)
    ]
    page = sdk.requests_page(limit=2)
    assert len(page.items) == 2 and page.next_cursor is not None
    assert sorted(r["id"] for r in sdk.list_requests(page_size=2)) == sorted(ids)
    with pytest.raises(FiduciaryAPIError) as refused:
        sdk.close_requests([(ids[0], "duplicate"), CloseItem(ids[1], "bored")])
    assert refused.value.status == 422 and refused.value.fields == ["body.items.1.reason"]
    assert len(list(sdk.list_requests())) == 5  # nothing closed
    assert sdk.close_requests([(ids[0], "duplicate"), CloseItem(ids[1], "never_verified")]) == ids[:2]
    with pytest.raises(FiduciaryAPIError) as unknown:
        sdk.create_request("teleport", ids[0].replace("rr_", "per_"))
    assert unknown.value.status == 422 and unknown.value.fields == ["kind"]
    with pytest.raises(ValueError):
        sdk.get_request("../people")


def test_the_persons_code(sdk: FiduciaryRequestsClient, session: Session, runtime: Runtime) -> None:
    made = sdk.create_request("erasure", person_with_email(session, runtime))
    right = last_code(session, runtime)
    with pytest.raises(FiduciaryAPIError) as wrong:
        sdk.enter_request_code(made["id"], "000000" if right != "000000" else "111111")
    assert wrong.value.status == 401 and wrong.value.code == "code_wrong"
    sdk.resend_request_code(made["id"])
    fresh = last_code(session, runtime)
    assert sdk.enter_request_code(made["id"], fresh)["state"] == "awaiting_approval"
