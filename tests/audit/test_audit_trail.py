"""The audit trail service: events on the "audit" ledger stream with an index row in the same transaction,
strict shapes (no field a value could go in), filters and keyset pagination, verification."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.audit.models import AuditEventIndex
from fiduciary.audit.reads import AuditFilter, events_about, iter_events, list_events
from fiduciary.audit.service import Action, AuditEvent, AuditTrail, Outcome
from fiduciary.audit.verification import verify_audit
from fiduciary.errors import ValidationFailed
from fiduciary.ledger.models import LedgerEvent
from fiduciary.ledger.service import Ledger
from fiduciary.ledger.signing import Signer
from fiduciary.runtime import Runtime
from fiduciary.storage.base import utcnow

P1 = "per_" + "a" * 26
P2 = "per_" + "b" * 26
V1 = "vis_" + "c" * 26


@pytest.fixture
def signer() -> Signer:
    return Signer.generate()


@pytest.fixture
def trail(signer: Signer) -> AuditTrail:
    return AuditTrail(ledger=Ledger("audit", signer, checkpoint_every=5))


def counts(session: Session) -> tuple[int, int]:
    events = session.scalar(sa.select(sa.func.count()).select_from(LedgerEvent).where(LedgerEvent.stream == "audit"))
    index = session.scalar(sa.select(sa.func.count()).select_from(AuditEventIndex))
    return int(events or 0), int(index or 0)


def fill(session: Session, trail: AuditTrail) -> None:
    """Twelve events: two actors, two people and a visitor, reads and writes, all three outcomes."""
    events = []
    for i in range(12):
        events.append(
            AuditEvent(
                actor="keyAAAAAAAAA" if i % 2 == 0 else "stf_support1",
                action=Action.FIELD_READ if i % 3 else Action.FIELD_WRITE,
                outcome=[Outcome.ALLOWED, Outcome.DENIED, Outcome.ERROR][i % 3],
                person_id=[P1, P2, V1][i % 3],
                purpose="account" if i < 6 else "customer_support",
                categories=["contact.email", "identity.name"],
                reasons=["legal_ground"],
                request_id=f"req_{i}",
            )
        )
    trail.record_many(session, events)
    session.commit()


def test_record_writes_ledger_event_and_index_row_together(session: Session, trail: AuditTrail) -> None:
    record = trail.record(
        session,
        actor="keyAAAAAAAAA",
        action=Action.FIELD_READ,
        person_id=P1,
        purpose="account",
        categories=["identity.name", "contact.email", "contact.email"],
        reasons=["legal_ground"],
        request_id="req-1",
        role="support",
        on_behalf_of="stf_42",
    )
    session.commit()
    assert record.position == 1 and len(record.hash) == 64
    row = session.get(AuditEventIndex, 1)
    assert row is not None
    assert (row.actor, row.action, row.person_id, row.purpose, row.outcome) == (
        "keyAAAAAAAAA",
        "field.read",
        P1,
        "account",
        "allowed",
    )
    event = list_events(session).events[0]
    assert event.categories == ("contact.email", "identity.name")  # sorted, de-duplicated
    assert event.role == "support" and event.on_behalf_of == "stf_42" and event.request_id == "req-1"
    assert event.hash == record.hash
    stored = session.execute(sa.select(LedgerEvent.event_type).where(LedgerEvent.stream == "audit")).scalar_one()
    assert stored == "field.read"


def test_events_roll_back_with_the_callers_transaction(session: Session, trail: AuditTrail) -> None:
    trail.record(session, actor="keyAAAAAAAAA", action=Action.DECISION, person_id=P1, purpose="account")
    session.rollback()
    assert counts(session) == (0, 0)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"actor": "Ravi Kumar"}, "actor"),
        ({"actor": ""}, "actor"),
        ({"action": "Field Read"}, "action"),
        ({"person_id": "ravi@example.com"}, "person_id"),
        ({"person_id": "per_short"}, "person_id"),
        ({"purpose": "send to ravi@example.com"}, "purpose"),
        ({"categories": ["contact.email", "+91 98765 43210"]}, "categories"),
        ({"categories": "contact.email"}, "categories"),
        ({"reasons": ["because Ravi asked"]}, "reasons"),
        ({"request_id": "ravi@example.com"}, "request_id"),
        ({"role": "Support Lead"}, "role"),
        ({"target": "ravi kumar"}, "target"),
        ({"count": -1}, "count"),
        ({"count": True}, "count"),
        ({"outcome": "maybe"}, "outcome"),
    ],
)
def test_malformed_events_are_refused_before_anything_is_written(
    session: Session, trail: AuditTrail, change: dict[str, Any], field: str
) -> None:
    base: dict[str, Any] = {"actor": "keyAAAAAAAAA", "action": "field.read", "person_id": P1}
    good = AuditEvent(**base)
    with pytest.raises(ValueError) as caught:
        trail.record_many(session, [good, AuditEvent(**{**base, **change})])
    assert field in str(caught.value)
    for value in change.values():  # the error names the field, never the value
        if isinstance(value, str) and value:
            assert value not in str(caught.value)
    session.rollback()
    assert counts(session) == (0, 0)


def test_filters_each_narrow_and_combine(session: Session, trail: AuditTrail) -> None:
    fill(session, trail)

    def positions(**kw: Any) -> list[int]:
        return [e.position for e in list_events(session, AuditFilter(**kw), limit=100).events]

    assert positions() == list(range(1, 13))
    assert positions(actor="stf_support1") == [2, 4, 6, 8, 10, 12]
    assert positions(person_id=P2) == [2, 5, 8, 11]
    assert positions(person_id=V1) == [3, 6, 9, 12]
    assert positions(action="field.write") == [1, 4, 7, 10]
    assert positions(outcome="denied") == [2, 5, 8, 11]
    assert positions(purpose="customer_support") == [7, 8, 9, 10, 11, 12]
    assert positions(actor="keyAAAAAAAAA", purpose="customer_support", outcome="error") == [9]
    assert positions(actor="nobody") == []


def test_time_window_filters(session: Session, trail: AuditTrail) -> None:
    start = utcnow() - timedelta(seconds=1)
    fill(session, trail)
    assert len(list_events(session, AuditFilter(since=start)).events) == 12
    assert list_events(session, AuditFilter(until=start)).events == []
    assert list_events(session, AuditFilter(since=utcnow() + timedelta(seconds=5))).events == []


def test_keyset_pagination_in_both_directions(session: Session, trail: AuditTrail) -> None:
    fill(session, trail)
    seen: list[int] = []
    cursor = None
    while True:
        page = list_events(session, AuditFilter(actor="keyAAAAAAAAA"), cursor=cursor, limit=2)
        seen += [e.position for e in page.events]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [1, 3, 5, 7, 9, 11]
    newest = list_events(session, limit=5, order="desc")
    assert [e.position for e in newest.events] == [12, 11, 10, 9, 8] and newest.next_cursor == 8
    older = list_events(session, cursor=8, limit=5, order="desc")
    assert [e.position for e in older.events] == [7, 6, 5, 4, 3]
    # A page that ends exactly at the last event says so: no cursor to an empty page.
    assert list_events(session, limit=12).next_cursor is None
    assert [e.position for e in iter_events(session, AuditFilter(person_id=P1), batch=1)] == [1, 4, 7, 10]


@pytest.mark.parametrize(
    ("filters", "kwargs", "field"),
    [
        (AuditFilter(actor="two words"), {}, "query.actor"),
        (AuditFilter(person_id="ravi@example.com"), {}, "query.person_id"),
        (AuditFilter(action="DROP TABLE"), {}, "query.action"),
        (AuditFilter(purpose="Not A Slug"), {}, "query.purpose"),
        (AuditFilter(outcome="maybe"), {}, "query.outcome"),
        (AuditFilter(since=utcnow().replace(tzinfo=None)), {}, "query.since"),
        (AuditFilter(since=utcnow(), until=utcnow() - timedelta(days=1)), {}, "query.until"),
        (AuditFilter(), {"limit": 0}, "query.limit"),
        (AuditFilter(), {"limit": 1001}, "query.limit"),
        (AuditFilter(), {"cursor": -1}, "query.cursor"),
    ],
)
def test_bad_filters_are_422_naming_the_field(
    session: Session, filters: AuditFilter, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        list_events(session, filters, **kwargs)
    assert [p.field for p in caught.value.fields] == [field]


def test_events_about_a_person_for_their_access_request(session: Session, trail: AuditTrail) -> None:
    fill(session, trail)
    about = events_about(session, P1)
    assert [e["position"] for e in about] == [1, 4, 7, 10]
    assert all(e["person_id"] == P1 and len(e["hash"]) == 64 for e in about)


def test_verify_checks_chain_signatures_and_index(session: Session, trail: AuditTrail, signer: Signer) -> None:
    fill(session, trail)
    result = verify_audit(session, [signer.public_key])
    assert result.ok and result.ledger.events_checked == 12 and result.index_rows_checked == 12
    assert result.ledger.checkpoints_checked == 1  # one batch of 12 > 5: sealed at its end
    other = Signer.generate()
    assert not verify_audit(session, [other.public_key]).ok  # an unknown key vouches for nothing


def test_for_runtime_shares_one_trail_on_the_configured_ledger(runtime: Runtime) -> None:
    trail = AuditTrail.for_runtime(runtime)
    assert AuditTrail.for_runtime(runtime) is trail
    assert trail.ledger.stream == "audit" and trail.ledger.signer is not None
    with pytest.raises(ValueError, match="audit"):
        AuditTrail(ledger=Ledger("consent"))
    with pytest.raises(ValueError):
        AuditTrail()
