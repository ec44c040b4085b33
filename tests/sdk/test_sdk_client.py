"""The Python SDK driven against the real app (TestClient is an httpx client), on both databases."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from fiduciary.auth.service import create_api_key
from fiduciary.people.service import new_person_id
from fiduciary.sdk import DecisionResult, FiduciaryAPIError, FiduciaryClient
from fiduciary.sdk.client import DecisionQuery

SCOPES = ["consent:read", "consent:write", "decisions", "people:read", "people:write"]


@pytest.fixture
def sdk(client: TestClient, session: Session) -> FiduciaryClient:
    _, plaintext = create_api_key(session, "store-backend", SCOPES)
    session.commit()
    return FiduciaryClient.from_httpx(client, plaintext)


def test_store_backend_flow(sdk: FiduciaryClient) -> None:
    policy = sdk.policy()
    assert policy["version"] >= 1 and policy["content_hash"].startswith("sha256:")

    person = sdk.create_person(date_of_birth=date(1990, 5, 17))
    pid = person["id"]
    assert person["age_status"] == "adult" and "1990" not in str(person)

    result = sdk.record_consent(
        pid, "marketing.email", "grant", "checkout", user_agent="Mozilla/5.0", ip_address="203.0.113.9"
    )
    assert result["subject_id"] == pid and result["status"] == "granted"
    position = result["ledger_position"]
    receipt = sdk.receipt(position)
    assert receipt["signature"]
    unsigned = ("signature", "checkpoint")
    assert {k: v for k, v in receipt.items() if k not in unsigned} == {
        k: v for k, v in result["receipt"].items() if k not in unsigned
    }

    state = {p["purpose"]: p for p in sdk.consents(pid)["purposes"]}
    assert state["marketing.email"]["status"] == "granted" and state["analytics"]["status"] == "not_asked"

    decision = sdk.decide(pid, "marketing.email", ["contact.email", "contact.phone"], actor="job:newsletter")
    assert isinstance(decision, DecisionResult) and decision
    assert decision.reasons == ("category_not_in_purpose", "consent_given")
    assert decision.allowed_categories == frozenset({"contact.email"})
    assert decision.actor == "job:newsletter" and decision.policy_version == policy["version"]

    other = sdk.create_person(is_child=False)["id"]
    many = sdk.decide_many(
        [(pid, "marketing.email"), DecisionQuery(other, "marketing.email"), (other, "account", ["contact.email"])]
    )
    assert [d.allow for d in many] == [True, False, True]
    assert [d.subject_id for d in many] == [pid, other, other]

    assert list(sdk.audience("marketing.email")) == [pid]
    assert list(sdk.audience("marketing.email", subject_ids=[other])) == []
    assert sorted(sdk.audience("account", channel=None)) == sorted([pid, other])

    headers = sdk.unsubscribe_headers(pid, "marketing.email")
    assert headers["List-Unsubscribe"].startswith("<http://127.0.0.1:8000/u/")

    sdk.record_consent(pid, "marketing.email", "withdraw", "privacy_center")
    assert sdk.decide(pid, "marketing.email").reasons == ("withdrawn",)
    assert sdk.close_person(pid)["status"] == "closed"
    assert sdk.decide(pid, "account").reasons == ("account_closed",)


def test_idempotent_consent_replay(sdk: FiduciaryClient) -> None:
    pid = sdk.create_person(is_child=False)["id"]
    first = sdk.record_consent(pid, "analytics", "grant", "banner", idempotency_key="order-1")
    again = sdk.record_consent(pid, "analytics", "grant", "banner", idempotency_key="order-1")
    assert first["ledger_position"] == again["ledger_position"]


def test_errors_carry_the_problem(sdk: FiduciaryClient) -> None:
    with pytest.raises(FiduciaryAPIError) as err:
        sdk.decide("per_bad", "account")
    assert err.value.status == 422 and err.value.code == "validation_failed"
    assert err.value.fields == ["body.subject_id"]

    with pytest.raises(FiduciaryAPIError) as err:
        sdk.decide(new_person_id(), "account")
    assert (err.value.status, err.value.code) == (404, "person_not_found")

    pid = sdk.create_person(is_child=False)["id"]
    with pytest.raises(FiduciaryAPIError) as err:
        sdk.record_consent(pid, "telepathy", "grant", "api")
    assert err.value.status == 422 and "marketing.email" in err.value.detail

    with pytest.raises(FiduciaryAPIError) as err:
        list(sdk.audience("telepathy"))
    assert err.value.status == 422 and err.value.fields == ["body.purpose"]

    with pytest.raises(FiduciaryAPIError) as err:
        sdk.unsubscribe_headers(pid, "order_fulfilment")
    assert (err.value.status, err.value.code) == (409, "purpose_not_consent_based")

    with pytest.raises(ValueError):
        sdk.consents("../v1/people")


def test_a_wrong_key_is_401(client: TestClient) -> None:
    bad = FiduciaryClient.from_httpx(client, "fid_nope_nope")
    with pytest.raises(FiduciaryAPIError) as err:
        bad.decide(new_person_id(), "account")
    assert err.value.status == 401 and err.value.headers.get("www-authenticate") == "Bearer"


def test_child_needs_a_guardian(sdk: FiduciaryClient) -> None:
    kid = sdk.create_person(date_of_birth=date.today() - timedelta(days=365 * 9))["id"]
    parent = sdk.create_person(is_child=False)["id"]
    with pytest.raises(FiduciaryAPIError) as err:
        sdk.record_consent(kid, "marketing.email", "grant", "api")
    assert err.value.status == 409
    sdk.record_consent(kid, "marketing.email", "grant", "guardian", guardian_id=parent)
    assert sdk.decide(kid, "marketing.email").allow
    assert sdk.decide(kid, "personalised_ads").reasons == ("child_protection", "no_consent")
    # the account's own purposes, contract included, run only on the guardian's consent (DPDP s.9(1))
    assert sdk.decide(kid, "order_fulfilment").reasons == ("guardian_consent_required",)
    assert "order_fulfilment" in sdk.guardian_consent(kid, parent)["purposes"]
    assert sdk.decide(kid, "order_fulfilment").allow
    with pytest.raises(FiduciaryAPIError) as err:
        sdk.verify_age_token(parent, "not-a-token")
    assert err.value.status == 409  # no verifier configured in this deployment


def test_transport_argument(client: TestClient, session: Session) -> None:
    """The constructor path: an httpx transport handed in (here the app's, as a test double for the network)."""
    _, plaintext = create_api_key(session, "t", ["decisions"])
    session.commit()
    transport = client._transport  # the ASGI-backed transport TestClient itself uses
    assert isinstance(transport, httpx.BaseTransport)
    with FiduciaryClient("http://testserver/", plaintext, transport=transport) as sdk:
        assert sdk.decide(new_person_id(), "marketing.email").reasons == ("no_consent",)


def test_batch_of_subjects_with_a_forwarded_gpc_signal(sdk: FiduciaryClient) -> None:
    from fiduciary.sdk.client import consent_item

    signalled, other = (sdk.create_person(is_child=False)["id"] for _ in range(2))
    answer = sdk.record_consent_batch(
        [
            consent_item(signalled, {"analytics": "grant"}, "checkout", user_agent="Mozilla/5.0", gpc=True),
            consent_item(other, {"analytics": "grant", "personalised_ads": "grant"}, "checkout"),
        ],
        idempotency_key="queue-7",
    )
    assert [item["subject_id"] for item in answer] == [signalled, other]
    assert [r["status"] for r in answer[1]["results"]] == ["granted", "granted"]
    state = {p["purpose"]: p for p in sdk.consents(signalled)["purposes"]}
    assert state["analytics"]["status"] == "granted"
    assert state["personalised_ads"]["status"] == "withdrawn"  # the GPC opt-out, recorded first
    assert {p["purpose"]: p for p in sdk.consents(other)["purposes"]}["personalised_ads"]["status"] == "granted"
    replay = sdk.record_consent_batch(
        [
            consent_item(signalled, {"analytics": "grant"}, "checkout", user_agent="Mozilla/5.0", gpc=True),
            consent_item(other, {"analytics": "grant", "personalised_ads": "grant"}, "checkout"),
        ],
        idempotency_key="queue-7",
    )
    assert replay == answer

    unknown = new_person_id()
    with pytest.raises(FiduciaryAPIError) as caught:
        sdk.record_consent_batch([consent_item(other, {"analytics": "deny"}, "api"), consent_item(unknown, {}, "api")])
    assert caught.value.status == 422 and "items.1.actions" in " ".join(caught.value.fields)
    assert {p["purpose"]: p for p in sdk.consents(other)["purposes"]}["analytics"]["status"] == "granted"
