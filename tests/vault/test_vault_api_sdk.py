"""The SDK's personal-data and audit methods against the real app (both engines)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from audit_support import write_policy
from fiduciary.auth.service import create_api_key
from fiduciary.config import Settings
from fiduciary.sdk.client import FiduciaryAPIError
from fiduciary.sdk.vault import FiduciaryVaultClient

EMAIL = "kavya.n@example.in"
NAME = "Kavya Nair"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path / "data", policy_file=write_policy(tmp_path))


@pytest.fixture
def sdk(client: TestClient, session: Session) -> FiduciaryVaultClient:
    _, plaintext = create_api_key(session, "sdk-tests", ["admin"])
    session.commit()
    return FiduciaryVaultClient.from_httpx(client, plaintext)


def test_the_sdk_round_trip(sdk: FiduciaryVaultClient) -> None:
    person_id = sdk.create_person(is_child=False)["id"]
    written = sdk.put_fields(
        person_id,
        {"identity.name": NAME, "contact.email": EMAIL},
        purpose_of_collection="account",
        identifiers={"email": EMAIL},
        request_id="sdk-1",
    )
    assert written["categories"] == ["contact.email", "identity.name"]
    assert sdk.lookup("email", EMAIL.upper()) == person_id
    assert sdk.lookup("email", "nobody@example.in") is None
    read = sdk.read_fields(person_id, "customer_support", ["contact.email", "contact.phone"], role="auditor")
    assert read.fields == {"contact.email": "k****@example.in"} and read.masked == {"contact.email"}
    assert read.denied == {"contact.phone": ("category_not_in_purpose",)}
    exported = sdk.export_person(person_id)
    assert exported["domains"]["vault"]["fields"]["identity.name"] == NAME
    page = sdk.audit(person_id=person_id, action="field.write")
    assert [e["request_id"] for e in page.events] == ["sdk-1"] and page.next_cursor is None
    everything = list(sdk.audit_events(person_id=person_id, limit=2))
    assert [e["action"] for e in everything][:5] == [
        "person.create",
        "field.write",
        "person.lookup",
        "field.read",
        "field.read",
    ]
    erased = sdk.erase_person(person_id)
    # staff holds go first (they re-seal what a hold keeps), then the vault shreds the person's key
    assert [d["domain"] for d in erased["domains"][:2]] == ["retention_holds", "vault"]
    with pytest.raises(FiduciaryAPIError) as caught:
        sdk.read_fields(person_id, "tax_compliance")
    assert caught.value.status == 410 and caught.value.code == "person_erased"


def test_sdk_errors_carry_the_problem_fields(sdk: FiduciaryVaultClient) -> None:
    person_id = sdk.create_person(is_child=False)["id"]
    with pytest.raises(FiduciaryAPIError) as caught:
        sdk.put_fields(person_id, {"contact.fax": "1"}, purpose_of_collection="account")
    assert caught.value.status == 422 and caught.value.fields == ["body.fields.contact.fax"]
    with pytest.raises(FiduciaryAPIError) as denied:
        sdk.put_fields(person_id, {"contact.email": EMAIL}, purpose_of_collection="marketing.email")
    assert denied.value.status == 403 and denied.value.code == "no_consent"
    with pytest.raises(FiduciaryAPIError) as bad_kind:
        sdk.lookup("passport", "Z1")
    assert bad_kind.value.status == 422
    with pytest.raises(ValueError):
        sdk.read_fields("../admin", "account")
