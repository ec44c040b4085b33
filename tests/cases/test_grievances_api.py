"""The grievance API and the due listing over HTTP: intake, staff's work, scopes, and bad input — markup in
every text field returned as inert JSON text, oversized text, an unknown person, a wrong state, two
concurrent closures, a closure without a reason, and `kind: grievance` on the requests API."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cases_support import case_actions
from consent_support import api_headers
from fiduciary.runtime import Runtime
from requests_support import messages, person_with_email

MARKUP = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def headers(session: Session) -> dict[str, str]:
    return api_headers(session, ["cases:read", "cases:manage", "rights:manage"])


def _file(client: TestClient, headers: dict[str, str], **body: object) -> dict[str, object]:
    made = client.post("/v1/grievances", json={"text": "The parcel was opened.", **body}, headers=headers)
    assert made.status_code == 201, made.text
    answer: dict[str, object] = made.json()
    return answer


def test_a_grievance_from_intake_to_closure(
    client: TestClient, runtime: Runtime, session: Session, headers: dict[str, str]
) -> None:
    person = person_with_email(session, runtime)
    made = _file(client, headers, person_id=person, channel="email")
    case_id = str(made["id"])
    assert made["state"] == "acknowledged" and made["channel"] == "email" and made["answerable"] is True
    assert [c["name"] for c in made["clocks"]] == ["acknowledge", "resolve"]  # type: ignore[union-attr,index]
    url = f"/v1/grievances/{case_id}"
    assert (
        client.post(f"{url}/assign", json={"assigned_to": "ops.lead"}, headers=headers).json()["assigned_to"]
        == "ops.lead"
    )
    assert client.post(f"{url}/notes", json={"text": "Called the courier."}, headers=headers).status_code == 201
    assert client.post(f"{url}/replies", json={"text": "We are sending a new one."}, headers=headers).status_code == 201
    closed = client.post(f"{url}/close", json={"reason": "resolved"}, headers=headers)
    assert closed.status_code == 200 and closed.json()["outcome_reason"] == "resolved"
    body = client.get(url, headers=headers).json()
    assert [n["kind"] for n in body["notes"]] == ["internal", "reply"]
    assert [h["action"] for h in body["history"]] == ["opened", "acknowledge", "assigned", "noted", "replied", "close"]
    assert [k for k, _ in messages(session, runtime)] == [
        "cases.grievance.acknowledged",
        "cases.grievance.reply",
        "cases.grievance.closed",
    ]
    listed = client.get("/v1/grievances?state=closed", headers=headers).json()
    assert [i["id"] for i in listed["items"]] == [case_id] and listed["items"][0]["text"] is None  # no text in lists


def test_markup_in_every_text_field_comes_back_as_plain_json_text(
    client: TestClient, session: Session, headers: dict[str, str]
) -> None:
    made = _file(client, headers, text=MARKUP, contact_email="someone@example.net")
    url = f"/v1/grievances/{made['id']}"
    client.post(f"{url}/notes", json={"text": MARKUP}, headers=headers)
    client.post(f"{url}/replies", json={"text": MARKUP}, headers=headers)
    read = client.get(url, headers=headers)
    assert read.headers["content-type"].startswith("application/json")  # never rendered as HTML
    body = read.json()
    assert body["text"] == MARKUP and [n["text"] for n in body["notes"]] == [MARKUP, MARKUP]
    assert "someone@example.net" not in read.text  # a stranger's address is never returned


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "x" * 4001, "contact_email": "a@example.net"}, "body.text"),
        ({"text": "", "contact_email": "a@example.net"}, "body.text"),
        ({"text": "   ", "contact_email": "a@example.net"}, "text"),
        ({"text": "hello"}, "person_id"),
        ({"text": "hello", "contact_email": "not-an-address"}, "body.contact_email"),
        ({"text": "hello", "person_id": "per_<b>"}, "body.person_id"),
        ({"text": "hello", "contact_email": "a@example.net", "language": "fr"}, "body.language"),
        ({"text": "hello", "contact_email": "a@example.net", "extra": 1}, "body.extra"),
    ],
)
def test_bad_intake_is_a_problem_naming_the_field(
    client: TestClient, session: Session, headers: dict[str, str], body: dict[str, object], field: str
) -> None:
    answer = client.post("/v1/grievances", json=body, headers=headers)
    assert answer.status_code == 422 and answer.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in answer.json()["errors"]], answer.text
    assert case_actions(session) == []


def test_an_unknown_person_is_a_404(client: TestClient, headers: dict[str, str]) -> None:
    answer = client.post("/v1/grievances", json={"text": "hi", "person_id": "per_" + "a" * 26}, headers=headers)
    assert answer.status_code == 404 and answer.json()["code"] == "person_not_found"


def test_a_closure_without_a_reason_or_from_a_wrong_state(client: TestClient, headers: dict[str, str]) -> None:
    url = f"/v1/grievances/{_file(client, headers, contact_email='a@example.net')['id']}"
    for body, field in (
        ({}, "body.reason"),
        ({"reason": "because"}, "reason"),
        ({"reason": "Resolved!"}, "body.reason"),
    ):
        refused = client.post(f"{url}/close", json=body, headers=headers)
        assert refused.status_code == 422 and field in [e["field"] for e in refused.json()["errors"]], refused.text
    assert client.post(f"{url}/close", json={"reason": "duplicate"}, headers=headers).status_code == 200
    again = client.post(f"{url}/close", json={"reason": "duplicate"}, headers=headers)
    assert again.status_code == 409 and again.json()["code"] == "wrong_state"
    late = client.post(f"{url}/notes", json={"text": "one more"}, headers=headers)
    assert late.status_code == 409


def test_two_concurrent_closures_one_wins(client: TestClient, headers: dict[str, str], session: Session) -> None:
    url = f"/v1/grievances/{_file(client, headers, contact_email='a@example.net')['id']}"
    answers: list[int] = []
    start = threading.Barrier(2)

    def closer(reason: str) -> None:
        start.wait()
        answers.append(client.post(f"{url}/close", json={"reason": reason}, headers=headers).status_code)

    threads = [threading.Thread(target=closer, args=(r,)) for r in ("resolved", "duplicate")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [200, 409]
    assert case_actions(session).count("case.grievance.close") == 1


def test_the_due_listing_over_http(
    client: TestClient, runtime: Runtime, session: Session, headers: dict[str, str]
) -> None:
    case_id = _file(client, headers, person_id=person_with_email(session, runtime))["id"]
    page = client.get("/v1/cases/due?within=60d", headers=headers).json()
    assert [(i["kind"], i["id"], i["clock"]) for i in page["items"]] == [("grievance", case_id, "resolve")]
    for query, field in (("within=48x", "query.within"), ("after=zzz", "after"), ("limit=0", "query.limit")):
        refused = client.get(f"/v1/cases/due?{query}", headers=headers)
        assert refused.status_code == 422 and field in [e["field"] for e in refused.json()["errors"]], refused.text
    reader = api_headers(session, ["rights:manage"])
    assert client.get("/v1/cases/due", headers=reader).status_code == 403


def test_a_rights_request_of_kind_grievance_points_to_the_grievances_api(
    client: TestClient, runtime: Runtime, session: Session, headers: dict[str, str]
) -> None:
    person = person_with_email(session, runtime)
    answer = client.post("/v1/requests", json={"kind": "grievance", "person_id": person}, headers=headers)
    assert answer.status_code == 422
    (problem,) = answer.json()["errors"]
    assert problem["field"] == "kind" and "/v1/grievances" in problem["message"]
