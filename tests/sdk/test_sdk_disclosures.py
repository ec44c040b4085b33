"""The SDK's disclosure methods against the real app (TestClient is an httpx client), on both databases."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from disclosure_support import customer
from fiduciary.auth.service import create_api_key
from fiduciary.rights.flows import erase_person
from fiduciary.runtime import Runtime
from fiduciary.sdk import FiduciaryAPIError, FiduciaryDisclosuresClient, RecipientClient


@pytest.fixture
def sdk(client: TestClient, session: Session) -> FiduciaryDisclosuresClient:
    _, plaintext = create_api_key(session, "backend", ["admin"])
    session.commit()
    return FiduciaryDisclosuresClient.from_httpx(client, plaintext)


def test_disclose_read_back_and_configure(sdk: FiduciaryDisclosuresClient, runtime: Runtime, session: Session) -> None:
    person = customer(session, runtime)
    made = sdk.disclose("couriers", "order_fulfilment", ["contact.phone"], people=[person])
    assert made["shared"][0]["fields"] == {"contact.phone": "+919812345678"}
    with pytest.raises(FiduciaryAPIError) as refused:
        sdk.disclose("couriers", "order_fulfilment", ["financial.payment_token"], people=[person])
    assert refused.value.status == 403
    assert [entry["id"] for entry in sdk.list_disclosures(person_id=person)] == [made["id"]]
    set_up = sdk.set_recipient_endpoint("couriers", "https://courier.example/hooks")
    assert set_up["secret"].startswith("whsec_")
    assert next(r for r in sdk.recipients() if r["id"] == "couriers")["endpoint"] == "https://courier.example/hooks"
    erase_person(runtime, session, actor="key_backend", person_id=person)
    session.commit()
    assert [n["event"] for n in sdk.list_propagations()] == ["erasure"]
    assert any(a["purpose"] == "order_fulfilment" for a in sdk.records_of_processing()["activities"])


def test_a_recipient_acknowledges_through_the_sdk(
    sdk: FiduciaryDisclosuresClient, client: TestClient, runtime: Runtime, session: Session
) -> None:
    person = customer(session, runtime)
    sdk.disclose("couriers", "order_fulfilment", ["contact.phone"], people=[person])
    secret = sdk.set_recipient_endpoint("couriers", "https://courier.example/hooks")["secret"]
    erase_person(runtime, session, actor="key_backend", person_id=person)
    session.commit()
    [notice] = sdk.list_propagations(person_id=person)
    stranger = RecipientClient.from_httpx(client, "whsec_" + "QUJD" * 8)  # not the couriers' secret
    with pytest.raises(FiduciaryAPIError) as refused:
        stranger.acknowledge(notice["id"])
    assert (refused.value.status, refused.value.code) == (401, "signature_invalid")
    courier = RecipientClient.from_httpx(client, secret)
    answer = courier.acknowledge(notice["id"])
    assert (answer["state"], answer["outcome"], answer["recipient"]) == ("acknowledged", "done", "couriers")
    assert courier.acknowledge(notice["id"]) == answer  # a repeat answers the same
    assert sdk.list_propagations(person_id=person) == []
    [done] = sdk.list_propagations(state="acknowledged", person_id=person)
    assert done["acknowledgement"] == "done" and done["acknowledged_at"] == answer["acknowledged_at"]


def test_staff_record_an_acknowledgement_through_the_sdk(
    sdk: FiduciaryDisclosuresClient, runtime: Runtime, session: Session
) -> None:
    person = customer(session, runtime)
    sdk.disclose("couriers", "order_fulfilment", ["contact.phone"], people=[person])
    sdk.set_recipient_endpoint("couriers", "https://courier.example/hooks")
    erase_person(runtime, session, actor="key_backend", person_id=person)
    session.commit()
    [notice] = sdk.list_propagations(person_id=person)
    with pytest.raises(FiduciaryAPIError) as refused:
        sdk.record_acknowledgement(notice["id"], "erased")
    assert (refused.value.status, refused.value.fields) == (422, ["body.outcome"])
    answer = sdk.record_acknowledgement(notice["id"], "not_held")
    assert (answer["outcome"], answer["first"]) == ("not_held", True)
    assert sdk.record_acknowledgement(notice["id"]) == {**answer, "first": False}
    [done] = sdk.list_propagations(state="acknowledged", person_id=person)
    assert done["acknowledgement"] == "not_held"
