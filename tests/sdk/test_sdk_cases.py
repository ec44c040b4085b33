"""The SDK's case methods against the real app, on both databases: a grievance's round trip, paging what is
due, and refusals raised as `FiduciaryAPIError` naming the field."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from fiduciary.auth.service import create_api_key
from fiduciary.runtime import Runtime
from fiduciary.sdk import FiduciaryAPIError, FiduciaryCasesClient
from requests_support import person_with_email


@pytest.fixture
def sdk(client: TestClient, session: Session) -> FiduciaryCasesClient:
    _, plaintext = create_api_key(session, "privacy-ops", ["cases:read", "cases:manage"])
    session.commit()
    return FiduciaryCasesClient.from_httpx(client, plaintext)


def test_a_grievance_round_trip(sdk: FiduciaryCasesClient, session: Session, runtime: Runtime) -> None:
    person = person_with_email(session, runtime)
    made = sdk.create_grievance("My order never came.", person_id=person, language="hi")
    assert made["state"] == "acknowledged" and made["language"] == "hi"
    case_id = made["id"]
    assert sdk.assign_grievance(case_id, "ops.lead")["assigned_to"] == "ops.lead"
    assert sdk.note_grievance(case_id, "Courier says delivered.")["notes"][0]["kind"] == "internal"
    assert sdk.reply_to_grievance(case_id, "We are checking with the courier.")["notes"][1]["kind"] == "reply"
    with pytest.raises(FiduciaryAPIError) as refused:
        sdk.close_grievance(case_id, "because")
    assert refused.value.status == 422 and refused.value.fields == ["reason"]
    assert sdk.close_grievance(case_id, "resolved", text="Refunded.")["state"] == "closed"
    assert [i["id"] for i in sdk.grievances_page(state="closed").items] == [case_id]
    assert sdk.get_grievance(case_id)["outcome_reason"] == "resolved"


def test_paging_what_is_due(sdk: FiduciaryCasesClient) -> None:
    made = [sdk.create_grievance(f"Complaint {n}", contact_email=f"c{n}@example.net")["id"] for n in range(3)]
    due = list(sdk.list_due(kind="grievance", page_size=2))
    assert sorted({d["id"] for d in due}) == sorted(made) and {d["clock"] for d in due} == {"resolve"}
    assert sdk.due_page(within="1m").items == []
    with pytest.raises(FiduciaryAPIError) as refused:
        sdk.due_page(within="soon")
    assert refused.value.status == 422
