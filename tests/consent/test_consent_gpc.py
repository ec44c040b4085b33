"""Global Privacy Control: exactly "1", once per subject, visitor and linked person, explicit opt-in respected."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from consent_support import adult, api_headers, ledger_length, snapshot
from fiduciary.consent.gpc import gpc_enabled
from fiduciary.consent.service import state_for
from fiduciary.runtime import Runtime

STORE = "https://saffronlane.example"
BANNER = {"actions": [{"purpose": "analytics", "action": "grant"}]}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1"], True),
        (["0", "1"], True),
        (["0"], False),
        (["1 "], False),
        ([" 1"], False),
        (["true"], False),
        (["01"], False),
        ([""], False),
        ([], False),
    ],
)
def test_only_exact_1_counts(values: list[str], expected: bool) -> None:
    assert gpc_enabled(values) is expected


def test_banner_gpc_opts_out_once(client: TestClient, session: Session) -> None:
    answer = client.post("/v1/banner/consents", json=BANNER, headers={"Origin": STORE, "Sec-GPC": "1"})
    assert answer.status_code == 201
    visitor = answer.json()["visitor_id"]
    state = state_for(session, [visitor])[visitor]
    assert state["personalised_ads"].status == "withdrawn" and state["personalised_ads"].channel == "gpc"
    assert state["analytics"].status == "granted"  # tracking, but neither sale/sharing nor targeted advertising
    assert "marketing.email" not in state
    events = ledger_length(session)
    assert events == 3  # gpc.signal + withdrawal of personalised_ads + the analytics grant
    before = snapshot(session)
    for _ in range(3):
        repeat = client.post(
            "/v1/banner/consents",
            json={**BANNER, "visitor_id": visitor, "actions": [{"purpose": "analytics", "action": "grant"}]},
            headers={"Origin": STORE, "Sec-GPC": "1"},
        )
        assert repeat.status_code == 201
    after = snapshot(session)
    assert after["ledger"] == before["ledger"] + 3  # only the three explicit grants, no more GPC events
    assert after["gpc"] == before["gpc"]


@pytest.mark.parametrize("value", ["0", "true", "1 ", "yes"])
def test_other_values_are_ignored(client: TestClient, session: Session, value: str) -> None:
    answer = client.post("/v1/banner/consents", json=BANNER, headers={"Origin": STORE, "Sec-GPC": value})
    visitor = answer.json()["visitor_id"]
    assert set(state_for(session, [visitor])[visitor]) == {"analytics"}
    assert ledger_length(session) == 1


def test_explicit_grant_after_gpc_is_respected(client: TestClient, session: Session) -> None:
    first = client.post("/v1/banner/consents", json=BANNER, headers={"Origin": STORE, "Sec-GPC": "1"})
    visitor = first.json()["visitor_id"]
    grant = {"visitor_id": visitor, "actions": [{"purpose": "personalised_ads", "action": "grant"}]}
    answer = client.post("/v1/banner/consents", json=grant, headers={"Origin": STORE, "Sec-GPC": "1"})
    assert answer.status_code == 201
    assert state_for(session, [visitor])[visitor]["personalised_ads"].status == "granted"
    client.post(
        "/v1/banner/consents", json={**BANNER, "visitor_id": visitor}, headers={"Origin": STORE, "Sec-GPC": "1"}
    )
    assert state_for(session, [visitor])[visitor]["personalised_ads"].status == "granted"  # §7025(c)(3)


def test_api_gpc_on_person_and_read(client: TestClient, session: Session, runtime: Runtime) -> None:
    headers = api_headers(session)
    person = adult(session, runtime)
    grant = {
        "subject_id": person,
        "channel": "checkout",
        "actions": [{"purpose": "personalised_ads", "action": "grant"}],
    }
    assert client.post("/v1/consents", json=grant, headers=headers).status_code == 201
    assert state_for(session, [person])[person]["personalised_ads"].status == "granted"
    read = client.get(f"/v1/consents/{person}", headers={**headers, "Sec-GPC": "1"})
    assert read.status_code == 200
    by_purpose = {p["purpose"]: p for p in read.json()["purposes"]}
    assert (
        by_purpose["personalised_ads"]["status"] == "withdrawn" and by_purpose["personalised_ads"]["channel"] == "gpc"
    )
    assert by_purpose["marketing.email"]["status"] == "not_asked"


def test_gpc_from_linked_visitor_reaches_the_person(client: TestClient, session: Session, runtime: Runtime) -> None:
    headers = api_headers(session)
    person = adult(session, runtime)
    visitor = client.post("/v1/banner/consents", json=BANNER, headers={"Origin": STORE}).json()["visitor_id"]
    assert (
        client.post(f"/v1/people/{person}/link-visitor", json={"visitor_id": visitor}, headers=headers).status_code
        == 200
    )
    client.post(
        "/v1/banner/consents", json={**BANNER, "visitor_id": visitor}, headers={"Origin": STORE, "Sec-GPC": "1"}
    )
    states = state_for(session, [visitor, person])
    assert states[visitor]["personalised_ads"].channel == "gpc"
    assert states[person]["personalised_ads"].channel == "gpc"


def test_gpc_never_makes_a_bad_request_succeed_or_write(client: TestClient, session: Session) -> None:
    headers = api_headers(session)
    before = snapshot(session)
    bad = {"subject_id": "per_" + "x" * 26, "channel": "api", "actions": [{"purpose": "analytics", "action": "grant"}]}
    assert client.post("/v1/consents", json=bad, headers={**headers, "Sec-GPC": "1"}).status_code == 404
    assert snapshot(session) == before
