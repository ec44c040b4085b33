"""GPC on POST /v1/consents/batch: forwarded per item as `evidence.gpc: true`, recorded exactly as the
`Sec-GPC: 1` header is for one subject; the header on the batch itself is refused (it cannot say whose
browser sent it); a bad value or a failed batch writes nothing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from consent_support import adult, api_headers, snapshot
from fiduciary.consent.projection import GPC_SIGNAL
from fiduciary.consent.service import state_for
from fiduciary.ledger.models import LedgerEvent
from fiduciary.people.service import new_visitor_id
from fiduciary.runtime import Runtime

BATCH = "/v1/consents/batch"
STORE = "https://saffronlane.example"
BROWSER: dict[str, Any] = {"user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0", "ip_address": "203.0.113.77"}
ANALYTICS = [{"purpose": "analytics", "action": "grant"}]


def item(
    subject: str, actions: list[dict[str, str]] | None = None, evidence: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"subject_id": subject, "channel": "checkout", "actions": actions or ANALYTICS}
    if evidence is not None:
        body["evidence"] = evidence
    return body


def gpc_events(session: Session, subject: str) -> list[tuple[str, dict[str, Any]]]:
    """The GPC events of one subject (the signal and its withdrawals on channel gpc), in ledger order."""
    session.expire_all()
    out = []
    for event_type, payload in session.execute(
        sa.select(LedgerEvent.event_type, LedgerEvent.payload)
        .where(LedgerEvent.stream == "consent")
        .order_by(LedgerEvent.position)
    ):
        data = json.loads(payload)
        if data.get("subject") == subject and (event_type == GPC_SIGNAL or data.get("channel") == "gpc"):
            out.append((event_type, data))
    return out


def without_subject(events: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    return [(t, {k: v for k, v in p.items() if k != "subject"}) for t, p in events]


@pytest.fixture
def headers(session: Session) -> dict[str, str]:
    return api_headers(session)


def test_item_signal_is_recorded_exactly_as_the_header(
    client: TestClient, session: Session, runtime: Runtime, headers: dict[str, str]
) -> None:
    by_header, by_item, untouched = (adult(session, runtime) for _ in range(3))
    ads = [{"purpose": "personalised_ads", "action": "grant"}]
    granted = {"items": [item(p, ads) for p in (by_header, by_item, untouched)]}
    assert client.post(BATCH, json=granted, headers=headers).status_code == 201

    single = client.post("/v1/consents", json=item(by_header, evidence=BROWSER), headers={**headers, "Sec-GPC": "1"})
    assert single.status_code == 201
    batch = {"items": [item(by_item, evidence={**BROWSER, "gpc": True}), item(untouched, evidence=BROWSER)]}
    answer = client.post(BATCH, json=batch, headers=headers)
    assert answer.status_code == 201, answer.text

    expected = gpc_events(session, by_header)
    assert [t for t, _ in expected] == [GPC_SIGNAL, "consent.withdrawn"]
    assert expected[0][1]["ua"] and expected[0][1]["ip_prefix"] == "203.0.113.0/24"  # the browser's, reduced
    assert without_subject(gpc_events(session, by_item)) == without_subject(expected)
    assert gpc_events(session, untouched) == []
    states = state_for(session, [by_item, untouched])
    assert states[by_item]["personalised_ads"].status == "withdrawn"
    assert states[by_item]["personalised_ads"].channel == "gpc"
    assert states[by_item]["analytics"].status == "granted"  # the item's own action, after the opt-out
    assert states[untouched]["personalised_ads"].status == "granted"


def test_many_subjects_once_each_and_explicit_grant_stands(
    client: TestClient, session: Session, runtime: Runtime, headers: dict[str, str]
) -> None:
    people = [adult(session, runtime) for _ in range(3)]
    visitor = new_visitor_id()
    regrant = [{"purpose": "personalised_ads", "action": "grant"}]
    batch = {
        "items": [
            item(people[0], evidence={"gpc": True}),
            item(
                people[0], [{"purpose": "marketing.email", "action": "grant"}], evidence={"gpc": True}
            ),  # same browser again
            item(
                people[1], regrant, evidence={"gpc": True}
            ),  # opts in explicitly in the same request (11 CCR §7025(c)(3))
            item(visitor, evidence={"gpc": True}),
            item(people[2]),
        ]
    }
    before = snapshot(session)
    answer = client.post(BATCH, json=batch, headers=headers)
    assert answer.status_code == 201, answer.text
    for subject in (people[0], people[1], visitor):
        assert [t for t, _ in gpc_events(session, subject)] == [GPC_SIGNAL, "consent.withdrawn"], subject
    assert gpc_events(session, people[2]) == []
    states = state_for(session, [*people, visitor])
    assert states[people[0]]["personalised_ads"].channel == "gpc"
    assert states[people[1]]["personalised_ads"].status == "granted"
    assert states[visitor]["personalised_ads"].status == "withdrawn"
    assert "personalised_ads" not in states[people[2]]
    after = snapshot(session)
    assert after["ledger"] == before["ledger"] + 3 * 2 + 5  # three signals with one withdrawal each, five actions

    # the same signals again write only the actions: GPC is recorded once per subject and purpose
    again = client.post(BATCH, json=batch, headers=headers)
    assert again.status_code == 201
    assert snapshot(session)["ledger"] == after["ledger"] + 5
    assert state_for(session, [people[1]])[people[1]]["personalised_ads"].status == "granted"


def test_item_signal_from_a_linked_visitor_reaches_the_person(
    client: TestClient, session: Session, runtime: Runtime, headers: dict[str, str]
) -> None:
    person = adult(session, runtime)
    visitor = client.post("/v1/banner/consents", json={"actions": ANALYTICS}, headers={"Origin": STORE}).json()[
        "visitor_id"
    ]
    linked = client.post(f"/v1/people/{person}/link-visitor", json={"visitor_id": visitor}, headers=headers)
    assert linked.status_code == 200
    assert (
        client.post(
            BATCH, json={"items": [item(visitor, evidence={**BROWSER, "gpc": True})]}, headers=headers
        ).status_code
        == 201
    )
    person_events = gpc_events(session, person)
    assert [t for t, _ in person_events] == [GPC_SIGNAL, "consent.withdrawn"]
    assert without_subject(person_events) == without_subject(gpc_events(session, visitor))


def test_single_subject_endpoint_takes_the_field_too(
    client: TestClient, session: Session, runtime: Runtime, headers: dict[str, str]
) -> None:
    person = adult(session, runtime)
    answer = client.post("/v1/consents", json=item(person, evidence={**BROWSER, "gpc": True}), headers=headers)
    assert answer.status_code == 201
    assert [t for t, _ in gpc_events(session, person)] == [GPC_SIGNAL, "consent.withdrawn"]
    other = adult(session, runtime)
    assert (
        client.post("/v1/consents", json=item(other, evidence={**BROWSER, "gpc": False}), headers=headers).status_code
        == 201
    )
    assert gpc_events(session, other) == []


@pytest.mark.parametrize("value", ["yes", "true", "1", 1, 0, None, [], {}])
def test_bad_gpc_values_are_refused_and_write_nothing(
    client: TestClient, session: Session, runtime: Runtime, headers: dict[str, str], value: Any
) -> None:
    people = [adult(session, runtime) for _ in range(2)]
    before = snapshot(session)
    batch = {"items": [item(people[0], evidence={"gpc": True}), item(people[1], evidence={"gpc": value})]}
    answer = client.post(BATCH, json=batch, headers=headers)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    fields = [e["field"] for e in answer.json()["errors"]]
    assert fields == ["body.items.1.evidence.gpc"]
    assert str(value) not in answer.json()["detail"]
    assert snapshot(session) == before


def test_sec_gpc_header_on_a_batch_is_refused(
    client: TestClient, session: Session, runtime: Runtime, headers: dict[str, str]
) -> None:
    people = [adult(session, runtime) for _ in range(2)]
    before = snapshot(session)
    batch = {"items": [item(people[0], evidence={"gpc": True}), item(people[1])]}
    for header in ({"Sec-GPC": "1"}, [("Sec-GPC", "0"), ("Sec-GPC", "1")]):
        sent = list(header.items()) if isinstance(header, dict) else header
        answer = client.post(BATCH, json=batch, headers=[*headers.items(), *sent, ("Idempotency-Key", "gpc-batch-1")])
        assert answer.status_code == 422, answer.text
        problem = answer.json()
        assert problem["code"] == "gpc_header_on_batch"
        assert problem["errors"][0]["field"] == "header.Sec-GPC"
        assert "evidence.gpc" in problem["detail"]
        assert snapshot(session) == before  # no opt-out, no action, the idempotency key not used up
    retry = client.post(BATCH, json=batch, headers={**headers, "Idempotency-Key": "gpc-batch-1"})
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry.headers


@pytest.mark.parametrize("value", ["0", "true", "1 ", "yes", ""])
def test_other_header_values_on_a_batch_are_ignored(
    client: TestClient, session: Session, runtime: Runtime, headers: dict[str, str], value: str
) -> None:
    """Only exactly "1" is a GPC signal (GPC spec §3); anything else is no signal, so nothing to refuse."""
    person = adult(session, runtime)
    answer = client.post(BATCH, json={"items": [item(person)]}, headers={**headers, "Sec-GPC": value})
    assert answer.status_code == 201, answer.text
    assert gpc_events(session, person) == []
    assert set(state_for(session, [person])[person]) == {"analytics"}


@pytest.mark.parametrize(
    ("bad_item", "status"),
    [
        ({"actions": [{"purpose": "no.such.purpose", "action": "grant"}]}, 422),
        ({"actions": [{"purpose": "order_fulfilment", "action": "grant"}]}, 409),
        ({"subject_id": "per_" + "x" * 26}, 404),
    ],
    ids=["unknown_purpose", "not_consent_based", "unknown_person"],
)
def test_a_failed_batch_writes_no_opt_out(
    client: TestClient,
    session: Session,
    runtime: Runtime,
    headers: dict[str, str],
    bad_item: dict[str, Any],
    status: int,
) -> None:
    person, other = adult(session, runtime), adult(session, runtime)
    before = snapshot(session)
    bad = {**item(other, evidence={"gpc": True}), **bad_item}
    batch = {
        "items": [item(person, evidence={**BROWSER, "gpc": True}), item(new_visitor_id(), evidence={"gpc": True}), bad]
    }
    answer = client.post(BATCH, json=batch, headers=headers)
    assert answer.status_code == status, answer.text
    assert snapshot(session) == before
    # the same batch without the bad item does record the opt-outs: the failure above rolled them back
    assert client.post(BATCH, json={"items": batch["items"][:2]}, headers=headers).status_code == 201
    assert [t for t, _ in gpc_events(session, person)] == [GPC_SIGNAL, "consent.withdrawn"]


def test_openapi_documents_the_field_and_the_header(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    evidence = spec["components"]["schemas"]["EvidenceIn"]["properties"]["gpc"]
    assert evidence["type"] == "boolean" and evidence["default"] is False
    assert "Sec-GPC: 1" in evidence["description"]
    operation = spec["paths"][BATCH]["post"]
    header = next(p for p in operation["parameters"] if p["in"] == "header" and p["name"] == "Sec-GPC")
    assert "evidence.gpc" in header["description"]
    assert "gpc_header_on_batch" in operation["description"]


@pytest.mark.parametrize("path", [BATCH, "/v1/consents"])
def test_a_retry_that_adds_a_gpc_signal_is_a_different_request(
    client: TestClient, session: Session, runtime: Runtime, headers: dict[str, str], path: str
) -> None:
    """The signal is part of what the Idempotency-Key stands for: same key, a signal added → 409, nothing written."""
    person = adult(session, runtime)

    def body(gpc: bool) -> dict[str, Any]:
        one = item(person, evidence={**BROWSER, "gpc": gpc})
        return {"items": [one]} if path == BATCH else one

    keyed = {**headers, "Idempotency-Key": "retry-1"}
    assert client.post(path, json=body(False), headers=keyed).status_code == 201
    assert client.post(path, json=body(False), headers=keyed).headers.get("Idempotent-Replayed") == "true"
    before = snapshot(session)
    changed = client.post(path, json=body(True), headers=keyed)
    assert changed.status_code == 409 and changed.json()["code"] == "idempotency_key_reused"
    assert snapshot(session) == before and gpc_events(session, person) == []
