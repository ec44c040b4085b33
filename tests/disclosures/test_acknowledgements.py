"""A recipient's acknowledgement over HTTP, on both databases (decision 0037): recorded once with one audit
event, a repeat answers the same; every refusal — missing or malformed headers, a stale or future timestamp,
a wrong secret, an unknown notice, another recipient's notice, a tampered or malformed body, an oversized
one — records nothing and names the header or field; the endpoint is rate limited per address. Staff record
one sent another way with an API key (`disclosures:write`), under the same rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook

from disclosure_support import customer
from fiduciary.audit.models import AuditEventIndex
from fiduciary.auth.service import create_api_key
from fiduciary.config import Settings
from fiduciary.disclosures.endpoints import configure_endpoint
from fiduciary.disclosures.flows import DisclosureRequest, disclose
from fiduciary.disclosures.models import WebhookDelivery
from fiduciary.personal_data.registry import registry_for
from fiduciary.rights.flows import erase_person
from fiduciary.runtime import Runtime
from fiduciary.sdk import sign_acknowledgement

PATH = "/v1/propagations/acknowledgements"
RATE = 40


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path / "data", public_rate_limit_per_minute=RATE)


def _notices(runtime: Runtime, session: Session) -> tuple[dict[str, str], dict[str, str]]:
    """A customer disclosed to the couriers and the payment gateway, then erased: one notice each.
    Returns recipient -> notice id, recipient -> secret."""
    person = customer(session, runtime)
    secrets = {}
    for recipient in ("couriers", "payment_gateway"):
        _, secret = configure_endpoint(runtime, session, recipient, "http://127.0.0.1:9/x", actor="key_admin")
        assert secret is not None
        secrets[recipient] = secret
        shared = DisclosureRequest(recipient, "order_fulfilment", ["identity.name"], people=[person])
        disclose(runtime, session, shared, actor="key_backend")
    session.commit()
    erase_person(runtime, session, actor="key_backend", person_id=person)
    session.commit()
    rows = session.scalars(sa.select(WebhookDelivery).where(WebhookDelivery.person_id == person)).all()
    return {row.recipient_id: row.id for row in rows}, secrets


def _post(client: TestClient, headers: dict[str, str], body: bytes) -> httpx.Response:
    response: httpx.Response = client.post(PATH, content=body, headers=headers)
    return response


def _signed(secret: str, notice_id: str, body: dict[str, Any], at: datetime | None = None) -> tuple[dict, bytes]:
    raw = json.dumps(body).encode()
    moment = at or datetime.now(UTC)
    headers = {
        "webhook-id": notice_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": Webhook(secret).sign(notice_id, moment, raw),
        "content-type": "application/json",
    }
    return headers, raw


def _acknowledged(session: Session) -> list[tuple[str, str | None, datetime | None]]:
    session.expire_all()
    rows = session.execute(
        sa.select(WebhookDelivery.recipient_id, WebhookDelivery.acknowledgement, WebhookDelivery.acknowledged_at)
        .where(WebhookDelivery.state == "acknowledged")
        .order_by(WebhookDelivery.recipient_id)
    )
    return [tuple(r) for r in rows]  # type: ignore[misc]


def _audited(session: Session) -> int:
    return int(session.scalar(sa.select(sa.func.count()).where(AuditEventIndex.action == "recipient.acknowledge")))


def test_recorded_once_and_a_repeat_answers_the_same(client: TestClient, runtime: Runtime, session: Session) -> None:
    notices, secrets = _notices(runtime, session)
    headers, body = sign_acknowledgement(secrets["couriers"], notices["couriers"], "not_held")
    first = _post(client, headers, body)
    assert first.status_code == 200, first.text
    answer = first.json()
    assert answer["notice_id"] == notices["couriers"] and answer["recipient"] == "couriers"
    assert (answer["state"], answer["outcome"]) == ("acknowledged", "not_held")
    again = _post(client, headers, body)  # the same call replayed (a retry after a lost answer)
    assert again.status_code == 200 and again.json() == answer
    later = _post(client, *sign_acknowledgement(secrets["couriers"], notices["couriers"], "done"))
    assert later.json()["outcome"] == "not_held"  # the first acknowledgement stands
    [(recipient, outcome, at)] = _acknowledged(session)
    assert (recipient, outcome) == ("couriers", "not_held") and at is not None
    assert at.isoformat() == answer["acknowledged_at"]
    assert _audited(session) == 1
    # The person's own record of the notice says what the recipient answered (DPDP s.11(1)(b)).
    person = session.scalar(sa.select(WebhookDelivery.person_id).where(WebhookDelivery.id == notices["couriers"]))
    exported = registry_for(runtime).registrations()
    [disclosures] = [r for r in exported if r.name == "disclosures"]
    [notice] = [n for n in disclosures.exporter(session, str(person))["notices"] if n["recipient"] == "couriers"]
    assert (notice["state"], notice["acknowledgement"], notice["acknowledged_at"]) == (
        "acknowledged",
        "not_held",
        answer["acknowledged_at"],
    )
    assert "delivered_at" in notice  # None here: the test endpoint never answered; the field is always there


def test_every_refusal_names_the_problem_and_records_nothing(
    client: TestClient, runtime: Runtime, session: Session
) -> None:
    notices, secrets = _notices(runtime, session)
    notice, secret = notices["couriers"], secrets["couriers"]
    good = {"notice_id": notice, "outcome": "done"}
    now = datetime.now(UTC)

    def refused(headers: dict[str, str], body: bytes, status: int, code: str, *fields: str) -> None:
        answer = _post(client, headers, body)
        assert answer.status_code == status, (code, answer.text)
        problem = answer.json()
        assert problem["code"] == code and [e["field"] for e in problem.get("errors", [])] == list(fields), problem
        assert secret not in answer.text
        assert "webhook-signature" not in headers or headers["webhook-signature"] not in answer.text

    headers, body = _signed(secret, notice, good)
    refused({}, body, 422, "validation_failed", "header.webhook-id", "header.webhook-timestamp",
            "header.webhook-signature")  # fmt: skip
    refused({**headers, "webhook-id": "whd_NOT-AN-ID"}, body, 422, "validation_failed", "header.webhook-id")
    refused({**headers, "webhook-timestamp": "yesterday"}, body, 422, "validation_failed", "header.webhook-timestamp")
    for moment in (now - timedelta(minutes=6), now + timedelta(minutes=6)):
        refused(*_signed(secret, notice, good, moment), 401, "timestamp_out_of_tolerance", "header.webhook-timestamp")
    bad_signature = (401, "signature_invalid", "header.webhook-signature")
    refused(*_signed(secrets["payment_gateway"], notice, good), *bad_signature)  # another recipient's secret
    refused(*_signed(secret, notices["payment_gateway"], {**good, "notice_id": notices["payment_gateway"]}),
            *bad_signature)  # fmt: skip  # the couriers' secret on the gateway's notice
    unknown = "whd_" + "a" * 26
    refused(*_signed(secret, unknown, {**good, "notice_id": unknown}), *bad_signature)  # the same answer
    refused(headers, body.replace(b"done", b"nope"), *bad_signature)  # tampered after signing
    refused({**headers, "webhook-signature": "v1,"}, body, *bad_signature)  # present but empty
    refused(*_signed(secret, notice, {**good, "notice_id": unknown}), 422, "validation_failed", "body.notice_id")
    refused(*_signed(secret, notice, {**good, "outcome": "maybe"}), 422, "validation_failed", "body.outcome")
    refused(*_signed(secret, notice, {**good, "note": "x"}), 422, "validation_failed", "body.note")
    refused(*_signed(secret, notice, {**good, "pad": "x" * 2000}), 413, "body_too_large", "body")
    assert _acknowledged(session) == [] and _audited(session) == 0
    assert _post(client, headers, body).status_code == 200  # the same call, untouched, still verifies


def test_the_public_endpoint_is_rate_limited(client: TestClient, runtime: Runtime, session: Session) -> None:
    notices, secrets = _notices(runtime, session)
    bad = _signed(secrets["payment_gateway"], notices["couriers"], {"notice_id": notices["couriers"]})
    statuses = [_post(client, *bad).status_code for _ in range(RATE + 1)]
    assert set(statuses) == {401, 429} and statuses[-1] == 429
    limited = _post(client, *sign_acknowledgement(secrets["couriers"], notices["couriers"]))
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert _acknowledged(session) == []  # refused before anything was read


def _staff(session: Session, *scopes: str) -> dict[str, str]:
    key, plaintext = create_api_key(session, "acknowledgement-staff", list(scopes))
    session.commit()
    return {"Authorization": f"Bearer {plaintext}", "X-Key-Id": key.id}


def test_staff_record_one_sent_another_way_and_the_first_stands(
    client: TestClient, runtime: Runtime, session: Session
) -> None:
    notices, secrets = _notices(runtime, session)
    staff = _staff(session, "disclosures:write")
    key_id = staff.pop("X-Key-Id")
    path = f"/v1/propagations/{notices['couriers']}/acknowledgement"
    first = client.post(path, json={"outcome": "done"}, headers=staff)
    assert first.status_code == 200, first.text
    answer = first.json()
    assert (answer["notice_id"], answer["recipient"], answer["outcome"], answer["first"]) == (
        notices["couriers"],
        "couriers",
        "done",
        True,
    )
    again = client.post(path, json={"outcome": "not_held"}, headers=staff)
    assert again.status_code == 200 and again.json() == {**answer, "first": False}  # the first stands
    signed = _post(client, *sign_acknowledgement(secrets["couriers"], notices["couriers"], "not_held"))
    assert signed.json()["outcome"] == "done"  # and the recipient's own call, later, answers it too
    [(recipient, outcome, _)] = _acknowledged(session)
    assert (recipient, outcome) == ("couriers", "done")
    actors = session.scalars(sa.select(AuditEventIndex.actor).where(AuditEventIndex.action == "recipient.acknowledge"))
    assert list(actors) == [key_id]


def test_staff_refusals_name_the_field_and_record_nothing(
    client: TestClient, runtime: Runtime, session: Session
) -> None:
    notices, _ = _notices(runtime, session)
    staff = _staff(session, "disclosures:write")
    staff.pop("X-Key-Id")
    reader = _staff(session, "disclosures:read")
    reader.pop("X-Key-Id")
    path = f"/v1/propagations/{notices['couriers']}/acknowledgement"
    cases: list[tuple[str, object, dict[str, str], int, str | None]] = [
        (path, {"outcome": "done"}, {}, 401, None),
        (path, {"outcome": "done"}, reader, 403, None),
        (path, {"outcome": "erased"}, staff, 422, "body.outcome"),
        (path, {"outcome": "done", "extra": 1}, staff, 422, "body.extra"),
        (path, {}, staff, 422, "body.outcome"),
        ("/v1/propagations/whd_NOT-AN-ID/acknowledgement", {"outcome": "done"}, staff, 422, "path.notice_id"),
        (f"/v1/propagations/whd_{'a' * 26}/acknowledgement", {"outcome": "done"}, staff, 404, None),
    ]
    for url, body, headers, status, field in cases:
        refused = client.post(url, json=body, headers=headers)
        assert refused.status_code == status, (url, body, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        if field is not None:
            assert field in [f["field"] for f in refused.json()["errors"]], refused.json()
    assert _acknowledged(session) == [] and _audited(session) == 0
