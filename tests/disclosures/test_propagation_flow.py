"""A disclosure to a courier, then the customer's erasure: the courier's local endpoint receives a signed
erasure notice and acknowledges it (issue 15, "Done when")."""

from __future__ import annotations

from sqlalchemy.orm import Session

from disclosure_support import FIELDS, customer, receiver
from fiduciary.disclosures.endpoints import configure_endpoint
from fiduciary.disclosures.flows import DisclosureRequest, disclose
from fiduciary.disclosures.propagation import list_deliveries
from fiduciary.disclosures.webhooks import deliver
from fiduciary.rights.flows import erase_person
from fiduciary.runtime import Runtime


def test_a_courier_hears_of_an_erasure_and_acknowledges_it(runtime: Runtime, session: Session) -> None:
    person = customer(session, runtime)
    _endpoint, secret = configure_endpoint(runtime, session, "couriers", "http://127.0.0.1:9/x", actor="key_admin")
    assert secret is not None and secret.startswith("whsec_")
    session.commit()
    request = DisclosureRequest("couriers", "order_fulfilment", ["identity.name", "contact.address"], people=[person])
    result = disclose(runtime, session, request, actor="key_backend")
    session.commit()
    assert result.shared[0].fields == {k: FIELDS[k] for k in ("identity.name", "contact.address")}
    assert result.shared[0].recipient_ref.startswith("ref_") and not result.excluded

    erase_person(runtime, session, actor="key_backend", person_id=person)
    session.commit()
    with receiver(secret) as courier:
        configure_endpoint(runtime, session, "couriers", courier.url, actor="key_admin", secret=secret)
        session.commit()
        report = deliver(runtime)
    assert report.acknowledged == 1, report
    [notice] = courier.received
    data = notice["payload"]["data"]
    assert notice["payload"]["type"] == "person.erasure"
    assert data["action"] == "erase" and data["person_ref"] == result.shared[0].recipient_ref
    assert data["categories"] == ["contact.address", "identity.name"]
    assert notice["headers"]["webhook-id"] == data["notice_id"]
    [delivery] = list_deliveries(session, person_id=person)
    assert delivery.state == "acknowledged" and delivery.attempts == 1
