"""The personal-data HTTP API: PUT fields, POST fields/read, POST lookup, GET export, POST erase, GET audit.

Every call is audited (refusals too, though the request itself changes nothing), identifiers never travel
in URLs, errors name the request field and never echo a value, and the OpenAPI documents it all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from audit_support import all_audit_text, audit_rows, stored_counts, write_policy
from fiduciary.auth.service import create_api_key
from fiduciary.config import Settings
from fiduciary.ledger.models import LedgerEvent
from fiduciary.runtime import Runtime
from fiduciary.vault.keys.data_keys import PersonErased
from fiduciary.vault.service import VaultService
from leak_guard import without_opaque_instance

NAME = "Farhan Qureshi"
EMAIL = "farhan.q@example.in"
PHONE = "+919900112233"
ADDRESS = '{"lines": ["4 Park Street"], "city": "Kolkata", "postal_code": "700016", "country": "IN"}'
CARD = "5500 0000 0000 0004"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path / "data", policy_file=write_policy(tmp_path))


def key(session: Session, scopes: list[str]) -> tuple[str, dict[str, str]]:
    row, plaintext = create_api_key(session, "vault-api-tests", scopes)
    session.commit()
    return row.id, {"Authorization": f"Bearer {plaintext}"}


@pytest.fixture
def admin(session: Session) -> dict[str, str]:
    return key(session, ["admin"])[1]


@pytest.fixture
def person(client: TestClient, admin: dict[str, str]) -> str:
    person_id: str = client.post("/v1/people", json={"is_child": False}, headers=admin).json()["id"]
    response = client.put(
        f"/v1/people/{person_id}/fields",
        json={
            "purpose_of_collection": "account",
            "source": "provided",
            "fields": {"identity.name": NAME, "contact.email": EMAIL, "contact.phone": PHONE},
            "identifiers": {"email": EMAIL, "phone": PHONE},
        },
        headers=admin,
    )
    assert response.status_code == 200, response.text
    return person_id


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


def test_write_then_read_for_a_purpose(client: TestClient, admin: dict[str, str], person: str) -> None:
    written = client.put(
        f"/v1/people/{person}/fields",
        json={
            "purpose_of_collection": "order_fulfilment",
            "source": "provided",
            "fields": {"contact.address": ADDRESS},
        },
        headers={**admin, "X-Request-ID": "checkout-42"},
    )
    assert written.status_code == 200 and written.headers["X-Request-ID"] == "checkout-42"
    assert written.json() == {
        "person_id": person,
        "purpose_of_collection": "order_fulfilment",
        "source": "provided",
        "categories": ["contact.address"],
        "reasons": ["legal_ground"],
    }
    read = client.post(
        f"/v1/people/{person}/fields/read",
        json={"purpose": "order_fulfilment", "categories": ["contact.address", "contact.phone", "contact.email"]},
        headers=admin,
    )
    assert read.status_code == 200, read.text
    body = read.json()
    assert body["fields"]["contact.phone"] == PHONE and "Kolkata" in body["fields"]["contact.address"]
    assert body["denied"] == {"contact.email": ["category_not_in_purpose"]}
    masked = client.post(
        f"/v1/people/{person}/fields/read",
        json={"purpose": "order_fulfilment", "categories": ["contact.address", "contact.phone"], "role": "support"},
        headers=admin,
    ).json()
    assert masked["fields"] == {"contact.address": "******, Kolkata, IN", "contact.phone": "******2233"}
    assert masked["masked"] == ["contact.address", "contact.phone"]


def test_the_request_id_lands_in_the_audit_event(
    client: TestClient, session: Session, admin: dict[str, str], person: str
) -> None:
    client.post(
        f"/v1/people/{person}/fields/read", json={"purpose": "account"}, headers={**admin, "X-Request-ID": "trace-9"}
    )
    assert '"request":"trace-9"' in audit_rows(session)[-1]["payload"]
    generated = client.post(
        f"/v1/people/{person}/fields/read", json={"purpose": "account"}, headers={**admin, "X-Request-ID": "bad id!"}
    )
    assert generated.headers["X-Request-ID"].startswith("req_")  # a malformed id is replaced, not recorded


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"categories": ["identity.name"]}, 422, "validation_failed", "body.purpose"),
        ({"purpose": ""}, 422, "validation_failed", "body.purpose"),
        ({"purpose": "account", "categories": ["contact.fax"]}, 422, "unknown_category", "body.categories.contact.fax"),
        ({"purpose": "account", "role": "intern"}, 422, "validation_failed", "body.role"),
        ({"purpose": "account", "surprise": 1}, 422, "validation_failed", "body.surprise"),
    ],
)
def test_bad_reads_name_the_field(
    client: TestClient, admin: dict[str, str], person: str, body: dict[str, Any], status: int, code: str, field: str
) -> None:
    response = problem(client.post(f"/v1/people/{person}/fields/read", json=body, headers=admin), status, code)
    assert [e["field"] for e in response["errors"]] == [field]


def write(purpose: str | None, fields: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"source": "provided", **extra}
    if purpose is not None:
        body["purpose_of_collection"] = purpose
    if fields is not None:
        body["fields"] = fields
    return body


@pytest.mark.parametrize(
    ("body", "status", "code", "field", "audited"),
    [
        (write(None, {"identity.name": NAME}), 422, "validation_failed", "body.purpose_of_collection", False),
        (write("account", {"identity.name": NAME}, source="rumour"), 422, "validation_failed", "body.source", False),
        (
            write("account", {"identity.name": "y" * 70_000}),
            422,
            "validation_failed",
            "body.fields.identity.name",
            False,
        ),
        (
            write("account", identifiers={"passport": "Z1"}),
            422,
            "validation_failed",
            "body.identifiers.passport",
            False,
        ),
        (write("account", {}), 422, "validation_failed", "body.fields", True),
        (write("account", {"contact.fax": "1"}), 422, "unknown_category", "body.fields.contact.fax", True),
        (write("customer_support", {"contact.phone": PHONE}), 403, "category_not_in_purpose", None, True),
        (write("resale", {"identity.name": NAME}), 403, "purpose_not_declared", None, True),
        (write("marketing.sms", {"contact.phone": PHONE}), 403, "no_consent", None, True),
        (
            write("order_fulfilment", {"financial.payment_token": CARD}),
            422,
            "card_number_refused",
            "body.fields.financial.payment_token",
            True,
        ),
        (
            write("account", {"contact.email": "farhan at example"}),
            422,
            "invalid_email",
            "body.fields.contact.email",
            True,
        ),
    ],
)
def test_bad_writes_are_refused_and_change_nothing(
    client: TestClient,
    session: Session,
    admin: dict[str, str],
    person: str,
    body: dict[str, Any],
    status: int,
    code: str,
    field: str | None,
    audited: bool,
) -> None:
    """Bodies the schema rejects never reach the data; refusals the access layer decides are audited."""
    before = stored_counts(session), len(audit_rows(session))
    response = problem(client.put(f"/v1/people/{person}/fields", json=body, headers=admin), status, code)
    if field is not None:
        assert any(e["field"].startswith(field) for e in response["errors"]), response["errors"]
    if code == "unknown_category":
        assert "Valid categories: commerce.orders" in response["detail"]
    scanned = str(without_opaque_instance(response))
    for value in (NAME, PHONE, "5500", "farhan at example", "yyyy"):
        assert value not in scanned
    assert stored_counts(session) == before[0]
    events = audit_rows(session)
    assert len(events) == before[1] + int(audited)
    if audited:
        assert events[-1]["action"] == "field.write"
        assert events[-1]["outcome"] == ("denied" if status == 403 else "error")


def test_people_scopes_are_enforced(client: TestClient, session: Session, person: str) -> None:
    _, reader = key(session, ["people:read"])
    _, writer = key(session, ["people:write"])
    _, neither = key(session, ["consent:read"])
    body = {"purpose_of_collection": "account", "source": "provided", "fields": {"identity.name": NAME}}
    problem(client.put(f"/v1/people/{person}/fields", json=body, headers=reader), 403, "missing_scope")
    problem(client.post(f"/v1/people/{person}/erase", headers=reader), 403, "missing_scope")
    problem(
        client.post(f"/v1/people/{person}/fields/read", json={"purpose": "account"}, headers=writer),
        403,
        "missing_scope",
    )
    problem(client.get(f"/v1/people/{person}/export", headers=writer), 403, "missing_scope")
    problem(
        client.post("/v1/people/lookup", json={"kind": "email", "value": EMAIL}, headers=neither), 403, "missing_scope"
    )
    problem(client.get("/v1/audit", headers=reader), 403, "missing_scope")
    assert client.post(f"/v1/people/{person}/fields/read", json={"purpose": "account"}).status_code == 401


def test_lookup_is_a_post_and_a_miss_is_audited_like_a_hit(
    client: TestClient, session: Session, admin: dict[str, str], person: str
) -> None:
    hit = client.post("/v1/people/lookup", json={"kind": "email", "value": "FARHAN.Q@example.in"}, headers=admin)
    assert hit.status_code == 200 and hit.json() == {"person_id": person}
    by_phone = client.post("/v1/people/lookup", json={"kind": "phone", "value": "99001 12233"}, headers=admin)
    assert by_phone.json() == {"person_id": person}
    miss = client.post("/v1/people/lookup", json={"kind": "email", "value": "nobody@example.in"}, headers=admin)
    problem(miss, 404, "person_not_found")
    assert "nobody" not in miss.text
    events = audit_rows(session)[-3:]
    assert [(e["action"], e["outcome"], e["person_id"]) for e in events] == [
        ("person.lookup", "allowed", person),
        ("person.lookup", "allowed", person),
        ("person.lookup", "error", None),
    ]
    problem(
        client.post("/v1/people/lookup", json={"kind": "passport", "value": "x"}, headers=admin),
        422,
        "validation_failed",
    )
    bad = client.post("/v1/people/lookup", json={"kind": "email", "value": "not-an-email"}, headers=admin)
    assert bad.status_code == 422 and [e["field"] for e in bad.json()["errors"]] == ["body.value"]
    assert "not-an-email" not in bad.text
    assert client.get("/v1/people/lookup", params={"kind": "email", "value": EMAIL}, headers=admin).status_code in (
        404,
        405,
        422,
    )


def test_export_contains_everything_written(client: TestClient, admin: dict[str, str], person: str) -> None:
    client.put(
        f"/v1/people/{person}/fields",
        json={
            "purpose_of_collection": "order_fulfilment",
            "source": "provided",
            "fields": {"contact.address": ADDRESS},
        },
        headers=admin,
    )
    client.post(
        f"/v1/people/{person}/restrictions", json={"kind": "objection", "purpose": "customer_support"}, headers=admin
    )
    response = client.get(f"/v1/people/{person}/export", headers=admin)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    body = response.json()
    vault = body["domains"]["vault"]
    assert vault["fields"]["identity.name"] == NAME and vault["fields"]["contact.email"] == EMAIL
    assert vault["fields"]["contact.phone"] == PHONE and "Kolkata" in vault["fields"]["contact.address"]
    assert {(i["kind"], i["value"]) for i in vault["identifiers"]} == {("email", EMAIL), ("phone", PHONE)}
    assert body["domains"]["processing_restrictions"]["restrictions"][0]["purpose"] == "customer_support"
    actions = [e["action"] for e in body["domains"]["audit"]["events"]]
    assert actions.count("field.write") == 2 and actions[-1] == "person.export"
    assert body["audit_position"] == body["domains"]["audit"]["events"][-1]["position"]
    problem(client.get("/v1/people/per_" + "z" * 26 + "/export", headers=admin), 404, "person_not_found")
    problem(client.get("/v1/people/per_bad/export", headers=admin), 422, "validation_failed")


def test_erase_makes_every_field_unreadable(
    client: TestClient, session: Session, runtime: Runtime, admin: dict[str, str], person: str
) -> None:
    erased = client.post(f"/v1/people/{person}/erase", json={"reason": "erasure_request"}, headers=admin)
    assert erased.status_code == 200, erased.text
    domains = {d["domain"]: d for d in erased.json()["domains"]}
    assert domains["vault"]["detail"] == {"data_key_destroyed": 1} and domains["vault"]["deleted"] == 2
    assert domains["audit"]["kept"] >= 1 and "r.8(3)" in domains["audit"]["kept_basis"]
    # Through the API: nothing comes back, for any purpose.
    problem(
        client.post(f"/v1/people/{person}/fields/read", json={"purpose": "tax_compliance"}, headers=admin),
        410,
        "person_erased",
    )
    # A purpose the decision now denies (erasure closed the account) is 410 too, not a 200 with every category
    # denied: the data is gone, not withheld (docs/vault.md, docs/audit.md).
    for purpose in ("account", "marketing.email", "no_such_purpose"):
        gone = problem(
            client.post(f"/v1/people/{person}/fields/read", json={"purpose": purpose}, headers=admin),
            410,
            "person_erased",
        )
        assert NAME not in str(gone) and EMAIL not in str(gone)
    refused = [e for e in audit_rows(session) if e["person_id"] == person and e["action"] == "field.read"]
    assert refused[-1]["outcome"] == "error"
    problem(
        client.post("/v1/people/lookup", json={"kind": "email", "value": EMAIL}, headers=admin), 404, "person_not_found"
    )
    exported = client.get(f"/v1/people/{person}/export", headers=admin).json()
    assert NAME not in str(exported) and EMAIL not in str(exported) and exported["domains"]["vault"]["erased"]
    body = {"purpose_of_collection": "account", "source": "provided", "fields": {"identity.name": NAME}}
    problem(client.put(f"/v1/people/{person}/fields", json=body, headers=admin), 409, "person_closed")
    # Directly: the ciphertext rows may still be there, but no key decrypts them.
    with pytest.raises(PersonErased):
        VaultService(runtime).get_fields(session, person)
    again = client.post(f"/v1/people/{person}/erase", headers=admin)
    assert again.status_code == 200 and {d["domain"]: d for d in again.json()["domains"]}["vault"]["changed"] == 0
    actions = [(e["action"], e["outcome"]) for e in audit_rows(session) if e["person_id"] == person]
    assert ("person.erase", "allowed") in actions
    problem(client.post("/v1/people/per_" + "z" * 26 + "/erase", headers=admin), 404, "person_not_found")
    problem(
        client.post(f"/v1/people/{person}/erase", json={"reason": "Because I Said So"}, headers=admin),
        422,
        "validation_failed",
    )


def test_no_value_reaches_the_audit_trail_or_the_ledger(
    client: TestClient, session: Session, admin: dict[str, str], person: str
) -> None:
    client.post(f"/v1/people/{person}/fields/read", json={"purpose": "account", "role": "support"}, headers=admin)
    client.post("/v1/people/lookup", json={"kind": "email", "value": EMAIL}, headers=admin)
    client.put(
        f"/v1/people/{person}/fields",
        json={
            "purpose_of_collection": "order_fulfilment",
            "source": "provided",
            "fields": {"financial.payment_token": CARD},
        },
        headers=admin,
    )
    client.get(f"/v1/people/{person}/export", headers=admin)
    client.post(f"/v1/people/{person}/erase", headers=admin)
    text = all_audit_text(session)
    ledger = "\n".join(session.scalars(sa.select(LedgerEvent.payload)).all())
    for value in (NAME, "Farhan", "Qureshi", EMAIL, "farhan.q", PHONE, "9900112233", "5500000000000004", CARD):
        assert value not in text and value not in ledger, value


def test_the_audit_api_filters_pages_and_carries_ledger_hashes(
    client: TestClient, session: Session, admin: dict[str, str], person: str
) -> None:
    for purpose in ("account", "order_fulfilment", "customer_support"):
        client.post(f"/v1/people/{person}/fields/read", json={"purpose": purpose}, headers=admin)
    _, auditor = key(session, ["audit:read"])
    page = client.get("/v1/audit", params={"action": "field.read", "person_id": person, "limit": 2}, headers=auditor)
    assert page.status_code == 200, page.text
    body = page.json()
    assert [e["purpose"] for e in body["events"]] == ["account", "order_fulfilment"]
    rest = client.get(
        "/v1/audit",
        params={"action": "field.read", "person_id": person, "cursor": body["next_cursor"]},
        headers=auditor,
    ).json()
    assert [e["purpose"] for e in rest["events"]] == ["customer_support"] and rest["next_cursor"] is None
    hashes = {
        position: digest
        for position, digest in session.execute(
            sa.select(LedgerEvent.position, LedgerEvent.hash).where(LedgerEvent.stream == "audit")
        )
    }
    assert all(hashes[e["position"]] == e["hash"] for e in body["events"] + rest["events"])
    assert (
        client.get("/v1/audit", params={"outcome": "denied", "purpose": "account"}, headers=auditor).json()["events"]
        == []
    )
    newest = client.get("/v1/audit", params={"order": "desc", "limit": 1}, headers=auditor).json()["events"][0]
    assert newest["action"] == "audit.read"  # reading the trail is itself recorded
    for params, field in (
        ({"person_id": "farhan@example.in"}, "query.person_id"),
        ({"outcome": "maybe"}, "query.outcome"),
        ({"limit": 0}, "query.limit"),
        ({"since": "2026-01-01T00:00:00"}, "query.since"),
        ({"cursor": -5}, "query.cursor"),
    ):
        bad = problem(client.get("/v1/audit", params=params, headers=auditor), 422, "validation_failed")
        assert [e["field"] for e in bad["errors"]] == [field]
        assert "farhan@example.in" not in str(bad)


def test_api_key_creation_and_revocation_are_audited(
    client: TestClient, session: Session, admin: dict[str, str]
) -> None:
    created = client.post("/v1/apikeys", json={"name": "warehouse", "scopes": ["decisions"]}, headers=admin)
    assert created.status_code == 201
    new_id = created.json()["id"]
    assert client.delete(f"/v1/apikeys/{new_id}", headers=admin).status_code == 204
    events = audit_rows(session)[-2:]
    assert [(e["action"], e["outcome"]) for e in events] == [("apikey.create", "allowed"), ("apikey.revoke", "allowed")]
    assert all(f'"target":"{new_id}"' in e["payload"] for e in events)
    assert "warehouse" not in all_audit_text(session)  # the key's name is not recorded


def test_the_openapi_documents_the_personal_data_api(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    assert "put" in paths["/v1/people/{person_id}/fields"]
    assert "post" in paths["/v1/people/{person_id}/fields/read"]
    assert "post" in paths["/v1/people/lookup"] and "get" not in paths["/v1/people/lookup"]
    assert "get" in paths["/v1/people/{person_id}/export"] and "post" in paths["/v1/people/{person_id}/erase"]
    assert "get" in paths["/v1/audit"]
    schemas = spec["components"]["schemas"]
    assert {"FieldsWrite", "FieldsRead", "FieldsReadOut", "LookupIn", "ErasureOut", "AuditPageOut"} <= set(schemas)
    assert "purpose" in schemas["FieldsRead"]["required"]
    role_schema = str(schemas["FieldsRead"]["properties"]["role"])
    assert "support" in role_schema or "AccessRole" in role_schema
