"""A disclosure to a courier, then the customer's erasure: the courier's local endpoint receives a signed
erasure notice (delivered) and, once it has erased, acknowledges it with a signed call of its own
(acknowledged) (issue 15, "Done when"; decision 0037)."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from disclosure_support import FIELDS, customer, receiver
from fiduciary.audit.models import AuditEventIndex
from fiduciary.disclosures.endpoints import configure_endpoint
from fiduciary.disclosures.flows import DisclosureRequest, disclose
from fiduciary.disclosures.propagation import list_deliveries, propagation_of
from fiduciary.disclosures.webhooks import deliver
from fiduciary.ledger.models import LedgerEvent
from fiduciary.rights.flows import erase_person
from fiduciary.runtime import Runtime
from fiduciary.storage.base import utcnow
from fiduciary.web.app import create_app


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

    since = utcnow()
    erase_person(runtime, session, actor="key_backend", person_id=person)
    session.commit()
    with receiver(secret) as courier:
        configure_endpoint(runtime, session, "couriers", courier.url, actor="key_admin", secret=secret)
        session.commit()
        report = deliver(runtime)
    assert report.delivered == 1, report
    [notice] = courier.received
    data = notice["payload"]["data"]
    assert notice["payload"]["type"] == "person.erasure"
    assert data["action"] == "erase" and data["person_ref"] == result.shared[0].recipient_ref
    assert data["categories"] == ["contact.address", "identity.name"]
    assert notice["headers"]["webhook-id"] == data["notice_id"]

    # The 2xx says the courier's server received it: delivered, not yet acknowledged.
    [delivery] = list_deliveries(session, person_id=person)
    assert (delivery.state, delivery.attempts, delivery.acknowledged_at) == ("delivered", 1, None)
    assert delivery.delivered_at is not None
    assert [d.id for d in list_deliveries(session, state="unacknowledged")] == [delivery.id]
    status = propagation_of(session, person, since=since)
    assert (status.summary, status.delivered) == ("propagated to 0 of 1 recipients", 1)

    # The courier erased the person, then says so, signed with its secret, through the public endpoint (the
    # app starts only now: its own job worker would otherwise race `deliver` above for the notice).
    with TestClient(create_app(runtime=runtime)) as client:
        [answer] = courier.acknowledge_all(client)
    assert (answer["notice_id"], answer["state"], answer["outcome"]) == (delivery.id, "acknowledged", "done")
    session.expire_all()
    [delivery] = list_deliveries(session, person_id=person)
    assert delivery.state == "acknowledged" and delivery.acknowledgement == "done"
    assert list_deliveries(session, state="unacknowledged") == []
    assert propagation_of(session, person, since=since).summary == "propagated to 1 of 1 recipients"
    event = session.scalars(sa.select(AuditEventIndex).where(AuditEventIndex.action == "recipient.acknowledge")).one()
    assert (event.actor, event.person_id) == ("recipient:couriers", person)
    payloads = [e.payload for e in session.scalars(sa.select(LedgerEvent).where(LedgerEvent.stream == "audit"))]
    assert not any(secret in p or "Lakeview" in p for p in payloads)
