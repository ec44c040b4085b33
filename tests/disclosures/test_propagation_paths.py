"""Every path that changes a person's data reaches the recipients that received it, in the transaction of
the change: a consent withdrawal, a correction through the vault, a restriction, an erasure (once, however
often it runs); and a recipient hears only of what it received."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from disclosure_support import consent, customer
from fiduciary.consent.restrictions import add_restriction
from fiduciary.disclosures.flows import DisclosureRequest, disclose
from fiduciary.disclosures.propagation import list_deliveries, propagation_of
from fiduciary.errors import FiduciaryError
from fiduciary.rights.flows import erase_person
from fiduciary.runtime import Runtime
from fiduciary.storage.base import utcnow
from fiduciary.vault.access import VaultAccess


def _share(
    runtime: Runtime, session: Session, recipient: str, purpose: str, categories: list[str], person: str
) -> None:
    request = DisclosureRequest(recipient, purpose, categories, people=[person], include_values=False)
    disclose(runtime, session, request, actor="key_backend")
    session.commit()


def test_a_withdrawal_reaches_the_recipients_of_that_purpose_only(runtime: Runtime, session: Session) -> None:
    person = customer(session, runtime, marketing=True)
    _share(runtime, session, "email_service", "marketing.email", ["contact.email"], person)
    _share(runtime, session, "couriers", "order_fulfilment", ["identity.name"], person)
    consent(session, runtime, person, "marketing.email", "withdraw")
    [notice] = list_deliveries(session, person_id=person)
    assert (notice.recipient_id, notice.event, notice.categories) == ("email_service", "withdrawal", ["contact.email"])


def test_a_correction_reaches_those_that_received_the_category(runtime: Runtime, session: Session) -> None:
    person = customer(session, runtime)
    _share(runtime, session, "couriers", "order_fulfilment", ["contact.address"], person)
    _share(runtime, session, "payment_gateway", "order_fulfilment", ["identity.name"], person)
    access = VaultAccess.for_runtime(runtime)
    access.write_fields(
        session, "key_backend", person, "order_fulfilment", "provided", {"contact.address": "2 Hill Rd"}
    )
    session.commit()
    [notice] = list_deliveries(session, person_id=person)
    assert (notice.recipient_id, notice.event, notice.categories) == ("couriers", "correction", ["contact.address"])


def test_a_restriction_reaches_the_recipients_of_the_purpose(runtime: Runtime, session: Session) -> None:
    person = customer(session, runtime)
    _share(runtime, session, "couriers", "order_fulfilment", ["identity.name", "contact.phone"], person)
    add_restriction(session, runtime.policy(), person, purpose=None, kind="restriction", runtime=runtime)
    session.commit()
    [notice] = list_deliveries(session, person_id=person)
    assert (notice.event, notice.categories) == ("restriction", ["contact.phone", "identity.name"])


def test_an_erasure_tells_every_recipient_once_and_counts_them(runtime: Runtime, session: Session) -> None:
    person = customer(session, runtime)
    since = utcnow()
    _share(runtime, session, "couriers", "order_fulfilment", ["identity.name"], person)
    _share(runtime, session, "payment_gateway", "order_fulfilment", ["identity.name"], person)
    erase_person(runtime, session, actor="key_backend", person_id=person)
    erase_person(runtime, session, actor="key_backend", person_id=person)
    session.commit()
    notices = list_deliveries(session, person_id=person)
    assert sorted(n.recipient_id for n in notices) == ["couriers", "payment_gateway"]
    status = propagation_of(session, person, since=since)
    assert status.summary == "propagated to 0 of 2 recipients"


def test_a_change_that_fails_queues_nothing(runtime: Runtime, session: Session) -> None:
    person = customer(session, runtime)
    _share(runtime, session, "couriers", "order_fulfilment", ["contact.phone"], person)
    access = VaultAccess.for_runtime(runtime)
    with pytest.raises(FiduciaryError):
        access.write_fields(session, "key_backend", person, "order_fulfilment", "provided", {"contact.phone": "12"})
    session.commit()
    assert list_deliveries(session, person_id=person) == []


def test_nobody_is_told_of_data_nobody_received(runtime: Runtime, session: Session) -> None:
    person = customer(session, runtime)
    erase_person(runtime, session, actor="key_backend", person_id=person)
    session.commit()
    assert list_deliveries(session, person_id=person) == []


def test_changes_in_a_row_queue_one_waiting_deliverer(runtime: Runtime, session: Session) -> None:
    person = customer(session, runtime)
    _share(runtime, session, "couriers", "order_fulfilment", ["identity.name", "contact.address"], person)
    access = VaultAccess.for_runtime(runtime)
    access.write_fields(
        session, "key_backend", person, "order_fulfilment", "provided", {"contact.address": "2 Hill Rd"}
    )
    session.commit()
    access.write_fields(session, "key_backend", person, "order_fulfilment", "provided", {"identity.name": "Z. Q."})
    session.commit()
    erase_person(runtime, session, actor="key_backend", person_id=person)
    session.commit()
    events = [n.event for n in list_deliveries(session, person_id=person)]
    assert events == ["correction", "correction", "erasure"]
