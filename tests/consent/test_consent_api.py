"""The consent HTTP API: problem+json for every bad input, nothing changed, idempotency, batch, banner."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from consent_support import adult, api_headers, child, ledger_length, snapshot
from fiduciary.config import Settings
from fiduciary.runtime import Runtime
from fiduciary.web.app import create_app

STORE = "https://saffronlane.example"


def body(subject: str, *actions: tuple[str, str], channel: str = "checkout", **extra: Any) -> dict[str, Any]:
    return {
        "subject_id": subject,
        "channel": channel,
        "actions": [{"purpose": p, "action": a} for p, a in actions],
        **extra,
    }


@pytest.fixture
def headers(session: Session) -> dict[str, str]:
    return api_headers(session)


def test_grant_and_read_state(client: TestClient, session: Session, runtime: Runtime, headers: dict[str, str]) -> None:
    person = adult(session, runtime)
    answer = client.post(
        "/v1/consents",
        json=body(person, ("marketing.email", "grant"), ("analytics", "deny")),
        headers={**headers, "User-Agent": "TestBrowser/1.0"},
    )
    assert answer.status_code == 201, answer.text
    data = answer.json()
    assert [r["status"] for r in data["results"]] == ["granted", "denied"]
    receipt = data["results"][0]["receipt"]
    assert receipt["evidence"]["ip_prefix"] is None  # the test client has no IP address
    state = client.get(f"/v1/consents/{person}", headers=headers)
    assert state.status_code == 200
    by_purpose = {p["purpose"]: p for p in state.json()["purposes"]}
    assert by_purpose["marketing.email"]["status"] == "granted" and by_purpose["marketing.email"]["counts"]
    assert by_purpose["analytics"]["status"] == "denied" and not by_purpose["analytics"]["counts"]
    assert by_purpose["marketing.sms"]["status"] == "not_asked"
    assert "account" not in by_purpose  # not a consent purpose


def test_body_evidence_is_truncated(
    client: TestClient, session: Session, runtime: Runtime, headers: dict[str, str]
) -> None:
    person = adult(session, runtime)
    answer = client.post(
        "/v1/consents",
        json=body(
            person, ("marketing.sms", "grant"), evidence={"user_agent": "UA", "ip_address": "2001:db8:abcd:12::1"}
        ),
        headers=headers,
    )
    assert answer.status_code == 201
    assert answer.json()["results"][0]["receipt"]["evidence"]["ip_prefix"] == "2001:db8:abcd::/48"
    assert "2001:db8:abcd:12::1" not in answer.text


def test_unknown_purpose_422_lists_valid_purposes(
    client: TestClient, session: Session, runtime: Runtime, headers: dict[str, str]
) -> None:
    person = adult(session, runtime)
    before = snapshot(session)
    answer = client.post(
        "/v1/consents", json=body(person, ("analytics", "grant"), ("loyalty", "grant")), headers=headers
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["errors"][0]["field"] == "body.actions.1.purpose"
    assert "marketing.email" in problem["detail"] and "personalised_ads" in problem["detail"]
    assert snapshot(session) == before


def test_non_consent_purpose_409(
    client: TestClient, session: Session, runtime: Runtime, headers: dict[str, str]
) -> None:
    person = adult(session, runtime)
    before = snapshot(session)
    answer = client.post("/v1/consents", json=body(person, ("order_fulfilment", "grant")), headers=headers)
    assert answer.status_code == 409
    problem = answer.json()
    assert problem["code"] == "purpose_not_consent_based" and "contract" in problem["detail"]
    assert problem["errors"][0]["field"] == "body.actions.0.purpose"
    assert snapshot(session) == before


@pytest.mark.parametrize(
    "payload",
    [
        {"subject_id": "per_short", "channel": "api", "actions": [{"purpose": "analytics", "action": "grant"}]},
        {"subject_id": "vis_" + "a" * 26, "channel": "api", "actions": [{"purpose": "analytics"}]},  # no action
        {"subject_id": "vis_" + "a" * 26, "channel": "api", "actions": [{"purpose": "analytics", "action": "yes"}]},
        {"subject_id": "vis_" + "a" * 26, "channel": "fax", "actions": [{"purpose": "analytics", "action": "grant"}]},
        {"subject_id": "vis_" + "a" * 26, "channel": "api", "actions": []},
        {"subject_id": "vis_" + "a" * 26, "actions": [{"purpose": "analytics", "action": "grant"}]},  # no channel
        {
            "subject_id": "vis_" + "a" * 26,
            "channel": "api",
            "actions": [{"purpose": "analytics", "action": "grant"}],
            "x": 1,
        },
    ],
)
def test_malformed_requests_422_change_nothing(
    client: TestClient, session: Session, headers: dict[str, str], payload: dict[str, Any]
) -> None:
    before = snapshot(session)
    answer = client.post("/v1/consents", json=payload, headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"]
    assert snapshot(session) == before


def test_unknown_person_404(client: TestClient, session: Session, headers: dict[str, str]) -> None:
    before = snapshot(session)
    answer = client.post("/v1/consents", json=body("per_" + "q" * 26, ("analytics", "grant")), headers=headers)
    assert answer.status_code == 404
    assert client.get("/v1/consents/per_" + "q" * 26, headers=headers).status_code == 404
    assert client.get("/v1/consents/nobody", headers=headers).status_code == 422
    assert snapshot(session) == before


def test_child_without_guardian_409(
    client: TestClient, session: Session, runtime: Runtime, headers: dict[str, str]
) -> None:
    kid = child(session, runtime)
    parent = adult(session, runtime)
    answer = client.post("/v1/consents", json=body(kid, ("marketing.email", "grant")), headers=headers)
    assert answer.status_code == 409 and answer.json()["code"] == "child_protection"
    ok = client.post(
        "/v1/consents",
        json=body(kid, ("marketing.email", "grant"), channel="guardian", guardian_id=parent),
        headers=headers,
    )
    assert ok.status_code == 201
    barred = client.post(
        "/v1/consents",
        json=body(kid, ("personalised_ads", "grant"), channel="guardian", guardian_id=parent),
        headers=headers,
    )
    assert barred.status_code == 409 and "9(3)" in barred.json()["detail"]


def test_scopes_enforced(client: TestClient, session: Session, runtime: Runtime) -> None:
    person = adult(session, runtime)
    reader = api_headers(session, ["consent:read"])
    assert client.post("/v1/consents", json=body(person, ("analytics", "grant"))).status_code == 401
    assert client.post("/v1/consents", json=body(person, ("analytics", "grant")), headers=reader).status_code == 403
    assert client.get(f"/v1/consents/{person}", headers=api_headers(session, ["decisions"])).status_code == 403
    assert ledger_length(session) == 0


# ---------------------------------------------------------------------------------------------- idempotency


def test_idempotent_replay_same_answer_one_event(
    client: TestClient, session: Session, runtime: Runtime, headers: dict[str, str]
) -> None:
    person = adult(session, runtime)
    request = body(person, ("marketing.email", "grant"), ("marketing.sms", "grant"))
    first = client.post("/v1/consents", json=request, headers={**headers, "Idempotency-Key": "order-1234"})
    second = client.post("/v1/consents", json=request, headers={**headers, "Idempotency-Key": "order-1234"})
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert ledger_length(session) == 2
    different = client.post(
        "/v1/consents",
        json=body(person, ("marketing.email", "withdraw")),
        headers={**headers, "Idempotency-Key": "order-1234"},
    )
    assert different.status_code == 409 and different.json()["code"] == "idempotency_key_reused"
    assert ledger_length(session) == 2


def test_idempotency_keys_are_scoped_per_api_key(
    client: TestClient, session: Session, runtime: Runtime, headers: dict[str, str]
) -> None:
    person = adult(session, runtime)
    other = api_headers(session)
    client.post("/v1/consents", json=body(person, ("analytics", "grant")), headers={**headers, "Idempotency-Key": "k"})
    answer = client.post(
        "/v1/consents", json=body(person, ("analytics", "withdraw")), headers={**other, "Idempotency-Key": "k"}
    )
    assert answer.status_code == 201
    assert ledger_length(session) == 2


def test_malformed_idempotency_key_422(
    client: TestClient, session: Session, runtime: Runtime, headers: dict[str, str]
) -> None:
    person = adult(session, runtime)
    answer = client.post(
        "/v1/consents", json=body(person, ("analytics", "grant")), headers={**headers, "Idempotency-Key": "x" * 65}
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "header.Idempotency-Key"
    assert ledger_length(session) == 0


# ------------------------------------------------------------------------------------------------ batches


def test_batch_form_and_error_paths(
    client: TestClient, session: Session, runtime: Runtime, headers: dict[str, str]
) -> None:
    people = [adult(session, runtime) for _ in range(3)]
    items = [body(p, ("marketing.email", "grant"), ("analytics", "withdraw")) for p in people]
    answer = client.post("/v1/consents/batch", json={"items": items}, headers=headers)
    assert answer.status_code == 201, answer.text
    assert [i["subject_id"] for i in answer.json()["items"]] == people
    assert ledger_length(session) == 6
    before = snapshot(session)
    items[2]["actions"][1]["purpose"] = "unknown.purpose"
    bad = client.post("/v1/consents/batch", json={"items": items}, headers=headers)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "body.items.2.actions.1.purpose"
    assert snapshot(session) == before


# ---------------------------------------------------------------------------------------------- receipts


def test_receipt_by_position(client: TestClient, session: Session, runtime: Runtime, headers: dict[str, str]) -> None:
    person = adult(session, runtime)
    written = client.post("/v1/consents", json=body(person, ("marketing.email", "grant")), headers=headers).json()
    receipt = written["results"][0]["receipt"]
    fetched = client.get(f"/v1/consents/receipts/{receipt['ledger']['position']}", headers=headers)
    assert fetched.status_code == 200
    again = fetched.json()
    unsigned = ("signature", "checkpoint")
    assert {k: v for k, v in again.items() if k not in unsigned} == {
        k: v for k, v in receipt.items() if k not in unsigned
    }
    assert client.get("/v1/consents/receipts/999", headers=headers).status_code == 404
    assert client.get("/v1/consents/receipts/0", headers=headers).status_code == 422


# ------------------------------------------------------------------------------------------------- banner


def test_banner_generates_visitor_and_checks_origin(client: TestClient, session: Session) -> None:
    payload = {"actions": [{"purpose": "analytics", "action": "grant"}]}
    answer = client.post("/v1/banner/consents", json=payload, headers={"Origin": STORE})
    assert answer.status_code == 201, answer.text
    visitor = answer.json()["visitor_id"]
    assert visitor.startswith("vis_") and len(visitor) == 30
    assert answer.headers["Access-Control-Allow-Origin"] == STORE
    again = client.post("/v1/banner/consents", json={**payload, "visitor_id": visitor}, headers={"Origin": STORE})
    assert again.json()["visitor_id"] == visitor
    before = snapshot(session)
    for origin_headers in ({}, {"Origin": "https://evil.example"}, {"Referer": "https://evil.example/page"}):
        refused = client.post("/v1/banner/consents", json=payload, headers=origin_headers)
        assert refused.status_code == 403, origin_headers
    person_id = {"visitor_id": "per_" + "a" * 26, **payload}
    assert client.post("/v1/banner/consents", json=person_id, headers={"Origin": STORE}).status_code == 422
    assert snapshot(session) == before
    preflight = client.options(
        "/v1/banner/consents", headers={"Origin": STORE, "Access-Control-Request-Method": "POST"}
    )
    assert preflight.headers["Access-Control-Allow-Origin"] == STORE


def test_banner_same_origin_referer_and_rate_limit(settings: Settings, session: Session) -> None:
    strict = Runtime.start(settings.model_copy(update={"public_rate_limit_per_minute": 2}), migrate=False)
    try:
        with TestClient(create_app(runtime=strict)) as client:
            payload = {"actions": [{"purpose": "analytics", "action": "deny"}]}
            own = strict.public_base_url + "/privacy"
            assert client.post("/v1/banner/consents", json=payload, headers={"Referer": own}).status_code == 201
            assert client.post("/v1/banner/consents", json=payload, headers={"Origin": STORE}).status_code == 201
            before = snapshot(session)
            limited = client.post("/v1/banner/consents", json=payload, headers={"Origin": STORE})
            assert limited.status_code == 429 and "Retry-After" in limited.headers
            assert snapshot(session) == before
    finally:
        strict.close()


def test_gpc_json(client: TestClient) -> None:
    answer = client.get("/.well-known/gpc.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    data = answer.json()
    assert data["gpc"] is True and len(data["lastUpdate"]) == 10
