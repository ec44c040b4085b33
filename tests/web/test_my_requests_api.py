"""A customer's own requests through their customer session: made about themselves only, someone else's
request answers like an unknown one, and the session is the identity check."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from consent_support import api_headers
from fiduciary.identity.sessions import open_session
from fiduciary.runtime import Runtime
from requests_support import messages, person_with_email

MINE = "/v1/me/requests"


def _customer(runtime: Runtime, session: Session, person: str, how: str = "email_otp") -> dict[str, str]:
    opened = open_session(runtime, session, person_id=person, verified_by=how)
    session.commit()
    return {"Authorization": f"Bearer {opened.token}"}


def test_a_customer_erases_their_own_data(client: TestClient, runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime)
    headers = _customer(runtime, session, person)
    made = client.post(MINE, json={"kind": "erasure"}, headers=headers)
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["person_id"] == person and body["made_by"] == "person" and body["verified_by"] == "email_otp"
    assert body["state"] == "completed"  # the session was the identity check; the demo policy lists no steps
    assert [h["action"] for h in body["history"]] == ["received", "verify", "complete"]
    assert [k for k, _ in messages(session, runtime)] == ["rights.received", "rights.erased"]


def test_a_session_cannot_reach_someone_else(client: TestClient, runtime: Runtime, session: Session) -> None:
    me = person_with_email(session, runtime)
    other = person_with_email(session, runtime, "someone.else@example.org")
    mine = _customer(runtime, session, me)
    theirs = client.post(
        "/v1/requests", json={"kind": "access", "person_id": other}, headers=api_headers(session, ["rights:manage"])
    ).json()["id"]
    about_them = client.post(MINE, json={"kind": "erasure", "person_id": other}, headers=mine)
    assert about_them.status_code == 422 and "person_id" in about_them.text
    for answer in (
        client.get(f"{MINE}/{theirs}", headers=mine),
        client.post(f"{MINE}/{theirs}/cancel", headers=mine),
        client.get(f"{MINE}/rr_{'a' * 26}", headers=mine),
    ):
        assert answer.status_code == 404 and answer.json()["code"] == "request_not_found"
    assert client.get(MINE, headers=mine).json()["items"] == []
    assert client.get(f"/v1/requests/{theirs}", headers=api_headers(session, ["rights:manage"])).json()["state"] == (
        "identity_check"  # untouched: still waiting for the other person's code
    )


def test_without_a_session_nothing_is_made(client: TestClient, runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime)
    for headers in ({}, {"Authorization": "Bearer cst_" + "0" * 32 + "." + "A" * 43}, api_headers(session)):
        answer: httpx.Response = client.post(MINE, json={"kind": "erasure"}, headers=headers)
        assert answer.status_code == 401 and answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert messages(session, runtime) == []
    offered = client.post(MINE, json={"kind": "teleport"}, headers=_customer(runtime, session, person))
    assert offered.status_code == 422 and offered.json()["errors"][0]["field"] == "kind"


def test_a_grievance_is_not_a_request_from_any_door(client: TestClient, runtime: Runtime, session: Session) -> None:
    """The refusal lives in the flow, so the customer's own API refuses a grievance like the store's does, and
    nothing is written: no request, no message."""
    person = person_with_email(session, runtime)
    answer = client.post(MINE, json={"kind": "grievance"}, headers=_customer(runtime, session, person))
    assert answer.status_code == 422, answer.text
    (problem,) = answer.json()["errors"]
    assert problem["field"] == "kind" and "/v1/grievances" in problem["message"]
    assert client.get(MINE, headers=_customer(runtime, session, person)).json()["items"] == []
    assert messages(session, runtime) == []
