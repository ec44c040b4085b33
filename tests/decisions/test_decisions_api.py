"""POST /v1/decisions and POST /v1/audiences over HTTP, on both databases."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from fiduciary.auth.service import create_api_key
from fiduciary.consent.restrictions import add_restriction
from fiduciary.consent.service import ConsentChannel, ConsentInput, ConsentService
from fiduciary.people.service import close_person, create_person, new_person_id, new_visitor_id
from fiduciary.runtime import Runtime


def key(session: Session, scopes: list[str]) -> tuple[str, dict[str, str]]:
    api_key, plaintext = create_api_key(session, "decisions-tests", scopes)
    session.commit()
    return api_key.id, {"Authorization": f"Bearer {plaintext}"}


@pytest.fixture
def auth(session: Session) -> tuple[str, dict[str, str]]:
    return key(session, ["decisions"])


def adult(session: Session, runtime: Runtime) -> str:
    pid = create_person(session, policy=runtime.policy(), is_child=False).id
    session.commit()
    return pid


def grant(session: Session, runtime: Runtime, subject: str, purpose: str) -> None:
    ConsentService.for_runtime(runtime).record(session, ConsentInput(subject, purpose, "grant", ConsentChannel.API))
    session.commit()


# --------------------------------------------------------------------------------------------- decisions


def test_single_decision_shape(
    client: TestClient, session: Session, runtime: Runtime, auth: tuple[str, dict[str, str]]
) -> None:
    key_id, headers = auth
    pid = adult(session, runtime)
    grant(session, runtime, pid, "marketing.email")
    r = client.post(
        "/v1/decisions",
        json={"subject_id": pid, "purpose": "marketing.email", "categories": ["contact.email", "contact.phone"]},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "actor": key_id,
        "policy_version": runtime.policy().version,
        "subject_id": pid,
        "purpose": "marketing.email",
        "allow": True,
        "reasons": ["category_not_in_purpose", "consent_given"],
        "allowed_categories": ["contact.email"],
        "denied_categories": ["contact.phone"],
    }
    r = client.post(
        "/v1/decisions",
        json={"actor": "staff:42", "subject_id": pid, "purpose": "analytics", "strict": True},
        headers=headers,
    )
    body = r.json()
    assert (body["actor"], body["allow"], body["reasons"]) == ("staff:42", False, ["no_consent"])
    assert body["denied_categories"] == ["device.identifiers", "usage.browsing"]
    assert body["allowed_categories"] == []


def test_undeclared_purpose_is_a_deny(
    client: TestClient, session: Session, runtime: Runtime, auth: tuple[str, dict[str, str]]
) -> None:
    pid = adult(session, runtime)
    r = client.post("/v1/decisions", json={"subject_id": pid, "purpose": "telepathy"}, headers=auth[1])
    assert r.status_code == 200
    assert (r.json()["allow"], r.json()["reasons"]) == (False, ["purpose_not_declared"])


def test_unknown_person(client: TestClient, auth: tuple[str, dict[str, str]]) -> None:
    ghost = new_person_id()
    r = client.post("/v1/decisions", json={"subject_id": ghost, "purpose": "marketing.email"}, headers=auth[1])
    assert (r.status_code, r.json()["reasons"]) == (200, ["no_consent"])
    r = client.post("/v1/decisions", json={"subject_id": ghost, "purpose": "account"}, headers=auth[1])
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "person_not_found"
    assert ghost not in r.text  # no identifier echoed in an error


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"subject_id": "per_short", "purpose": "account"}, "body.subject_id"),
        ({"subject_id": "PER_" + "a" * 26, "purpose": "account"}, "body.subject_id"),
        ({"purpose": "account"}, "body.subject_id"),
        ({"subject_id": "per_" + "a" * 26}, "body.purpose"),
        ({"subject_id": "per_" + "a" * 26, "purpose": ""}, "body.purpose"),
        ({"subject_id": "per_" + "a" * 26, "purpose": "account", "categories": "contact.email"}, "body.categories"),
        ({"subject_id": "per_" + "a" * 26, "purpose": "account", "categories": ["x"] * 101}, "body.categories"),
        ({"subject_id": "per_" + "a" * 26, "purpose": "account", "actor": "has space"}, "body.actor"),
        ({"subject_id": "per_" + "a" * 26, "purpose": "account", "colour": "red"}, "body.colour"),
        ({"requests": []}, "body.requests"),
        ({"requests": [{"subject_id": "bad", "purpose": "account"}]}, "body.requests.0.subject_id"),
        (
            {"subject_id": "per_" + "a" * 26, "requests": [{"subject_id": "per_" + "a" * 26, "purpose": "x"}]},
            "body.subject_id",
        ),
        ({"requests": [{"subject_id": "per_" + "a" * 26, "purpose": "x"}] * 1001}, "body.requests"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    client: TestClient, auth: tuple[str, dict[str, str]], body: dict[str, object], field: str
) -> None:
    r = client.post("/v1/decisions", json=body, headers=auth[1])
    assert r.status_code == 422, r.text
    assert field in [e["field"] for e in r.json()["errors"]]


def test_batch(client: TestClient, session: Session, runtime: Runtime, auth: tuple[str, dict[str, str]]) -> None:
    a, b = adult(session, runtime), adult(session, runtime)
    grant(session, runtime, a, "marketing.sms")
    add_restriction(session, runtime.policy(), b, purpose="customer_support", kind="objection")
    close = adult(session, runtime)
    close_person(session, close)
    session.commit()
    ghost, visitor = new_person_id(), new_visitor_id()
    requests: list[dict[str, Any]] = [
        {"subject_id": a, "purpose": "marketing.sms", "categories": ["contact.phone"]},
        {"subject_id": b, "purpose": "marketing.sms"},
        {"subject_id": b, "purpose": "customer_support"},
        {"subject_id": close, "purpose": "tax_compliance"},
        {"subject_id": close, "purpose": "account"},
        {"subject_id": ghost, "purpose": "account"},
        {"subject_id": visitor, "purpose": "analytics"},
        {"subject_id": a, "purpose": "undeclared"},
    ]
    r = client.post("/v1/decisions", json={"actor": "job:newsletter", "requests": requests}, headers=auth[1])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["actor"] == "job:newsletter"
    assert [(d["subject_id"], d["purpose"]) for d in body["decisions"]] == [
        (q["subject_id"], q["purpose"]) for q in requests
    ]
    assert [d["reasons"] for d in body["decisions"]] == [
        ["consent_given"],
        ["no_consent"],
        ["restricted_by_person"],
        ["legal_ground"],
        ["account_closed"],
        ["unknown_subject"],
        ["no_consent"],
        ["purpose_not_declared"],
    ]


def test_authentication_and_scope(client: TestClient, session: Session, runtime: Runtime) -> None:
    body = {"subject_id": new_person_id(), "purpose": "marketing.email"}
    assert client.post("/v1/decisions", json=body).status_code == 401
    _, wrong = key(session, ["consent:read"])
    r = client.post("/v1/decisions", json=body, headers=wrong)
    assert r.status_code == 403
    _, admin = key(session, ["admin"])
    assert client.post("/v1/decisions", json=body, headers=admin).status_code == 200


# --------------------------------------------------------------------------------------------- audiences


def test_audience_ndjson_and_json(
    client: TestClient, session: Session, runtime: Runtime, auth: tuple[str, dict[str, str]]
) -> None:
    people = sorted(adult(session, runtime) for _ in range(4))
    for pid in people[:3]:
        grant(session, runtime, pid, "marketing.email")
    close_person(session, people[2])
    session.commit()
    r = client.post("/v1/audiences", json={"purpose": "marketing.email", "channel": "email"}, headers=auth[1])
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/x-ndjson")
    assert r.text == "".join(f'{{"subject_id":"{p}"}}\n' for p in people[:2])
    r = client.post(
        "/v1/audiences",
        json={"purpose": "marketing.email", "subject_ids": [people[1], people[3], new_person_id()]},
        headers={**auth[1], "Accept": "application/json"},
    )
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == [{"subject_id": people[1]}]
    r = client.post("/v1/audiences", json={"purpose": "account"}, headers={**auth[1], "Accept": "application/json"})
    assert [x["subject_id"] for x in r.json()] == [people[0], people[1], people[3]]


def test_audience_empty(client: TestClient, auth: tuple[str, dict[str, str]]) -> None:
    r = client.post("/v1/audiences", json={"purpose": "analytics"}, headers=auth[1])
    assert (r.status_code, r.text) == (200, "")
    r = client.post("/v1/audiences", json={"purpose": "analytics"}, headers={**auth[1], "Accept": "application/json"})
    assert r.json() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"purpose": "telepathy"}, "body.purpose"),
        ({"purpose": "marketing.email", "channel": "sms"}, "body.channel"),
        ({"purpose": "account", "channel": "email"}, "body.channel"),
        ({"purpose": "account", "subject_ids": ["per_bad"]}, "body.subject_ids.0"),
        ({"purpose": "account", "subject_ids": ["per_" + "a" * 26, new_visitor_id()]}, "body.subject_ids.1"),
        ({"purpose": "account", "subject_ids": "per_" + "a" * 26}, "body.subject_ids"),
        ({}, "body.purpose"),
        ({"purpose": "account", "extra": 1}, "body.extra"),
    ],
)
def test_audience_bad_input(
    client: TestClient, auth: tuple[str, dict[str, str]], body: dict[str, object], field: str
) -> None:
    r = client.post("/v1/audiences", json=body, headers=auth[1])
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in r.json()["errors"]]


def test_audience_unknown_purpose_lists_the_valid_ones(client: TestClient, auth: tuple[str, dict[str, str]]) -> None:
    r = client.post("/v1/audiences", json={"purpose": "telepathy"}, headers=auth[1])
    hint = r.json()["errors"][0]["hint"]
    assert "marketing.email" in hint and "tax_compliance" in hint


def test_audience_needs_the_decisions_scope(client: TestClient, session: Session) -> None:
    assert client.post("/v1/audiences", json={"purpose": "account"}).status_code == 401
    _, wrong = key(session, ["consent:write"])
    assert client.post("/v1/audiences", json={"purpose": "account"}, headers=wrong).status_code == 403


def test_openapi_documents_the_routes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/v1/decisions" in spec["paths"] and "/v1/audiences" in spec["paths"]
    assert json.dumps(spec["paths"]["/v1/audiences"]).count("application/x-ndjson") >= 1
