"""The privacy center's "who received what, when" page: the signed-in person's own disclosures (recipient,
kinds of data, purpose, day), nobody else's, no value and no order reference; signed out, the sign-in page."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from disclosure_support import FIELDS, customer
from fiduciary.disclosures.flows import DisclosureRequest, disclose
from fiduciary.identity.sessions import open_session
from fiduciary.runtime import Runtime
from fiduciary.web.app import create_app
from fiduciary.web.privacy_center.guard import SESSION_COOKIE

PAGE = "/privacy-center/disclosures"


def test_the_person_sees_who_received_what_and_when(runtime: Runtime, session: Session) -> None:
    person, other = customer(session, runtime), customer(session, runtime)
    for who in (person, other):
        request = DisclosureRequest("couriers", "order_fulfilment", ["contact.address"], people=[who])
        disclose(runtime, session, request, actor="key_backend")
    order = DisclosureRequest(
        "authorities", "tax_compliance", ["identity.name"], people=[other], order_reference="Order 77/2026"
    )
    disclose(runtime, session, order, actor="key_backend")
    token = open_session(runtime, session, person_id=person, verified_by="signed_in_session").token
    session.commit()
    with TestClient(create_app(runtime=runtime), base_url="https://testserver") as client:
        signed_out = client.get(PAGE, follow_redirects=False)
        assert signed_out.status_code in (303, 401) or "sign-in" in signed_out.text
        client.cookies.set(SESSION_COOKIE, token)
        page = client.get(PAGE)
    assert page.status_code == 200, page.text
    assert "Courier partners" in page.text and "Orders and delivery" in page.text
    assert "Government and law-enforcement authorities" not in page.text  # the other person's
    assert "Order 77/2026" not in page.text
    assert all(value not in page.text for value in FIELDS.values())
