"""Webhook deliveries against a real local HTTP receiver: an endpoint that times out, answers 500 or rejects
the signature is retried with a doubling wait, each attempt recorded, then given up after 5 days and listed
as never acknowledged; no secret and no value ever reaches the logs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from disclosure_support import FIELDS, customer, receiver
from fiduciary.disclosures.acknowledgements import acknowledge
from fiduciary.disclosures.endpoints import configure_endpoint
from fiduciary.disclosures.flows import DisclosureRequest, disclose
from fiduciary.disclosures.models import WebhookAttempt
from fiduciary.disclosures.propagation import UNACKNOWLEDGED, list_deliveries
from fiduciary.disclosures.webhooks import GIVE_UP_AFTER, NOT_CONFIGURED, deliver, wait_after
from fiduciary.errors import FiduciaryError
from fiduciary.rights.flows import erase_person
from fiduciary.runtime import Runtime
from fiduciary.sdk import sign_acknowledgement
from fiduciary.storage.base import utcnow

OTHER_SECRET = "whsec_" + "QUJD" * 8  # 24 bytes the recipient believes is the secret


def _erased_after_disclosure(runtime: Runtime, session: Session) -> str:
    person = customer(session, runtime)
    request = DisclosureRequest(
        "couriers", "order_fulfilment", ["identity.name"], people=[person], include_values=False
    )
    disclose(runtime, session, request, actor="key_backend")
    erase_person(runtime, session, actor="key_backend", person_id=person)
    session.commit()
    return person


@pytest.mark.parametrize(("mode", "error"), [("fail", "http_500"), ("reject", "http_401"), ("slow", "timeout")])
def test_a_failing_endpoint_is_retried_then_given_up_and_listed(
    runtime: Runtime, session: Session, caplog: pytest.LogCaptureFixture, mode: str, error: str
) -> None:
    person = _erased_after_disclosure(runtime, session)
    with receiver(OTHER_SECRET, mode, delay=1.5) as endpoint:
        _, secret = configure_endpoint(runtime, session, "couriers", endpoint.url, actor="key_admin")
        session.commit()
        assert secret is not None
        start = utcnow()
        report = deliver(runtime, now=start, timeout=0.5)
        assert (report.delivered, report.retried, report.failed) == (0, 1, 0)
        [delivery] = list_deliveries(session, person_id=person)
        assert delivery.state == "pending" and delivery.last_error == error
        # Still retried on day 4; given up at the first try after 5 days.
        moment = start
        for _ in range(40):
            moment += wait_after(40)
            report = deliver(runtime, now=moment, timeout=0.5)
            if report.failed:
                break
        assert moment - start >= GIVE_UP_AFTER and report.failed == 1
    [delivery] = list_deliveries(session, state=UNACKNOWLEDGED)
    assert delivery.state == "failed" and delivery.attempts > 10
    attempts = session.scalars(sa.select(WebhookAttempt.error).where(WebhookAttempt.delivery_id == delivery.id)).all()
    assert len(attempts) == delivery.attempts and set(attempts) == {error}
    if mode == "reject":
        assert endpoint.rejected >= 1 and endpoint.received == []
    logged = caplog.text
    assert secret not in logged and secret.removeprefix("whsec_") not in logged
    assert all(value not in logged for value in FIELDS.values())
    assert delivery.id in logged  # the warning names the delivery, its recipient and the error code


def test_the_waits_double_from_thirty_seconds_to_six_hours() -> None:
    assert [wait_after(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert wait_after(12) == wait_after(100) == timedelta(hours=6)


def test_a_recipient_without_an_endpoint_waits_for_one(runtime: Runtime, session: Session) -> None:
    person = _erased_after_disclosure(runtime, session)
    start = utcnow()
    assert deliver(runtime, now=start).retried == 1
    [delivery] = list_deliveries(session, person_id=person)
    assert delivery.last_error == NOT_CONFIGURED
    with receiver(OTHER_SECRET) as endpoint:
        configure_endpoint(runtime, session, "couriers", endpoint.url, actor="key_admin", secret=OTHER_SECRET)
        session.commit()
        assert deliver(runtime, now=start + timedelta(minutes=1)).delivered == 1
    assert endpoint.received[0]["payload"]["data"]["event"] == "erasure"


@pytest.mark.parametrize(
    ("url", "secret", "field"),
    [
        ("ftp://courier.example/hooks", None, "body.url"),
        ("http://courier.example/hooks", None, "body.url"),
        ("https://user:pw@courier.example/hooks", None, "body.url"),
        ("https://courier.example/hooks", "not-a-secret", "body.secret"),
        ("https://courier.example/hooks", "whsec_c2hvcnQ=", "body.secret"),
    ],
)
def test_a_bad_endpoint_is_refused_and_nothing_is_stored(
    runtime: Runtime, session: Session, url: str, secret: str | None, field: str
) -> None:
    with pytest.raises(FiduciaryError) as caught:
        configure_endpoint(runtime, session, "couriers", url, actor="key_admin", secret=secret)
    assert caught.value.status == 422 and [p.field for p in caught.value.fields] == [field]
    assert secret is None or secret not in caught.value.detail
    with pytest.raises(FiduciaryError) as unknown:
        configure_endpoint(runtime, session, "nobody", "https://courier.example/hooks", actor="key_admin")
    assert unknown.value.status == 404


def test_the_policys_webhook_url_is_the_default_endpoint(runtime: Runtime, session: Session) -> None:
    with pytest.raises(FiduciaryError) as caught:
        configure_endpoint(runtime, session, "couriers", None, actor="key_admin")
    assert [p.field for p in caught.value.fields] == ["body.url"]  # the demo policy names none for couriers
    document = runtime.policy().document
    couriers = next(r for r in document.recipients if r.id == "couriers")
    object.__setattr__(couriers, "webhook_url", "https://courier.example/fiduciary")
    try:
        endpoint, secret = configure_endpoint(runtime, session, "couriers", None, actor="key_admin")
    finally:
        object.__setattr__(couriers, "webhook_url", None)
    assert endpoint.url == "https://courier.example/fiduciary" and secret is not None


def test_an_acknowledgement_made_while_its_notice_is_sent_stands(runtime: Runtime, session: Session) -> None:
    """The recipient acknowledges while our send is in flight and its answer is lost (a 500 here): the
    deliverer's record of the failed try does not put the notice back to pending (decision 0037)."""
    person = _erased_after_disclosure(runtime, session)
    _, secret = configure_endpoint(runtime, session, "couriers", "http://127.0.0.1:9/x", actor="key_admin")
    session.commit()
    assert secret is not None

    def acknowledge_now(payload: dict[str, Any]) -> None:
        headers, body = sign_acknowledgement(secret, payload["data"]["notice_id"])
        with runtime.sessions() as other:
            acknowledge(runtime, other, headers, body)
            other.commit()

    with receiver(secret, "ack_then_fail", on_notice=acknowledge_now) as endpoint:
        configure_endpoint(runtime, session, "couriers", endpoint.url, actor="key_admin", secret=secret)
        session.commit()
        report = deliver(runtime)
    assert (report.delivered, report.retried) == (0, 1) and len(endpoint.received) == 1
    session.expire_all()
    [delivery] = list_deliveries(session, person_id=person)
    assert (delivery.state, delivery.acknowledgement, delivery.last_error) == ("acknowledged", "done", "http_500")
    assert deliver(runtime, now=utcnow() + timedelta(days=1)).retried == 0  # nothing more is sent
