"""The disclosures API: configure an endpoint (secret shown once), disclose with refusals as problem+json
naming the field, the log for staff, notices never acknowledged, a request's propagation, and the records
of processing as JSON, CSV and HTML."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from disclosure_support import customer
from fiduciary.auth.service import create_api_key
from fiduciary.rights import request_flows
from fiduciary.rights.requests import MadeBy, NewRequest
from fiduciary.runtime import Runtime


def _headers(session: Session, *scopes: str) -> dict[str, str]:
    _key, plaintext = create_api_key(session, "disclosure-tests", list(scopes))
    session.commit()
    return {"Authorization": f"Bearer {plaintext}"}


def _disclosure(person: str, **changes: Any) -> dict[str, Any]:
    return {
        "recipient": "couriers",
        "purpose": "order_fulfilment",
        "categories": ["identity.name"],
        "people": [person],
        **changes,
    }


def test_an_endpoint_secret_is_shown_once_and_never_listed(client: TestClient, session: Session) -> None:
    admin = _headers(session, "admin")
    put = client.put("/v1/recipients/couriers/endpoint", json={"url": "https://courier.example/hooks"}, headers=admin)
    assert put.status_code == 200, put.text
    secret = put.json()["secret"]
    assert secret.startswith("whsec_")
    listed = client.get("/v1/recipients", headers=_headers(session, "disclosures:read"))
    assert listed.status_code == 200 and secret not in listed.text
    couriers = next(r for r in listed.json()["items"] if r["id"] == "couriers")
    assert couriers["endpoint"] == "https://courier.example/hooks"
    again = client.put(
        "/v1/recipients/couriers/endpoint", json={"url": "https://c.example/h", "secret": secret}, headers=admin
    )
    assert again.status_code == 200 and again.json()["secret"] is None
    refused = client.put("/v1/recipients/couriers/endpoint", json={"url": "http://c.example/h"}, headers=admin)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "body.url"
    not_admin = client.put(
        "/v1/recipients/couriers/endpoint",
        json={"url": "https://c.example/h"},
        headers=_headers(session, "disclosures:write"),
    )
    assert not_admin.status_code == 403


def test_disclose_then_read_the_log_and_the_propagation(client: TestClient, runtime: Runtime, session: Session) -> None:
    person = customer(session, runtime)
    write = _headers(session, "disclosures:write")
    made = client.post("/v1/disclosures", json=_disclosure(person), headers=write)
    assert made.status_code == 201, made.text
    assert made.json()["shared"][0]["fields"] == {"identity.name": "Zebulon Quixotewright"}
    denied = client.post(
        "/v1/disclosures", json=_disclosure(person, categories=["identity.name", "contact.email"]), headers=write
    )
    assert denied.status_code == 403 and denied.headers["content-type"].startswith("application/problem+json")
    assert denied.json()["code"] == "category_not_for_recipient"
    assert denied.json()["errors"][0]["field"] == "body.categories[1]"

    read = _headers(session, "disclosures:read")
    log = client.get(f"/v1/disclosures?person_id={person}", headers=read).json()["items"]
    assert [entry["recipient_id"] for entry in log] == ["couriers"]  # the refused one is not logged

    request = request_flows.submit(
        runtime,
        session,
        NewRequest(
            kind="erasure", person_id=person, made_by=MadeBy.STORE, channel="email", verified_by="signed_in_session"
        ),
        actor="key_backend",
    )
    session.commit()
    assert request.details.get("erased") is not None, (request.state, request.details)
    manage = _headers(session, "rights:manage")
    status = client.get(f"/v1/requests/{request.id}/propagation", headers=manage)
    assert status.status_code == 200, status.text
    assert status.json()["summary"] == "propagated to 0 of 1 recipients"
    waiting = client.get("/v1/propagations?state=unacknowledged", headers=read).json()["items"]
    assert [(d["recipient_id"], d["event"]) for d in waiting] == [("couriers", "erasure")]


def test_the_records_of_processing_in_three_formats(client: TestClient, runtime: Runtime, session: Session) -> None:
    person = customer(session, runtime)
    client.post("/v1/disclosures", json=_disclosure(person), headers=_headers(session, "disclosures:write"))
    read = _headers(session, "disclosures:read")
    record = client.get("/v1/records-of-processing", headers=read).json()
    fulfilment = next(a for a in record["activities"] if a["purpose"] == "order_fulfilment")
    assert fulfilment["recipients_actual"] == ["couriers"] and "payment_gateway" in fulfilment["recipients_declared"]
    couriers = next(r for r in record["recipients"] if r["id"] == "couriers")
    assert (couriers["disclosures"], couriers["people_reached"], couriers["countries"]) == (1, 1, ["IN"])
    email = next(a for a in record["activities"] if a["purpose"] == "marketing.email")
    assert email["transfers"][0]["recipient"] == "email_service" and email["transfers"][0]["countries"] == ["US"]
    as_csv = client.get("/v1/records-of-processing", headers={**read, "Accept": "text/csv"})
    assert as_csv.headers["content-type"].startswith("text/csv") and as_csv.text.startswith("purpose,name,")
    as_html = client.get("/v1/records-of-processing?format=html", headers=read)
    assert as_html.headers["content-type"].startswith("text/html") and "<h2>Recipients</h2>" in as_html.text
    assert client.get("/v1/records-of-processing?format=pdf", headers=read).status_code == 422
    assert client.get("/v1/records-of-processing", headers=_headers(session, "disclosures:write")).status_code == 403
