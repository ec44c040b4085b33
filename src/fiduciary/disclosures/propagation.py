"""Propagation: when a person's data is withdrawn, corrected, restricted or erased, every recipient that
received the affected data is told (GDPR Art 17(2) and 19; DPDP s.8(7)(b), s.6(6) and s.12).

`on_change` listens to `personal_data.changes` (consent withdrawals, restrictions and objections, vault
writes, erasure: every path announces there) and, in the transaction of the change, queues one
`webhook_deliveries` row per recipient and person, then the job `disclosures.deliver`. A recipient is told
only of what it received: a withdrawal or restriction reaches those that received data for the purpose, a
correction those that received the category, an erasure every one. The notice carries the recipient's
reference for the person and the categories; never a value.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fiduciary.context import RuntimeContext
from fiduciary.disclosures.models import DELIVERIES_TABLE, Disclosure, DisclosureSubject, WebhookDelivery
from fiduciary.errors import Conflict
from fiduciary.jobs import enqueue
from fiduciary.people.service import new_id
from fiduciary.personal_data.changes import ChangeKind, PersonDataChange
from fiduciary.storage.base import utcnow
from fiduciary.vault.records import bulk_insert

DELIVER_JOB: Final = "disclosures.deliver"
PENDING: Final = "pending"
SENDING: Final = "sending"
DELIVERED: Final = "delivered"  # a 2xx answered the notice: received, not yet confirmed as done
ACKNOWLEDGED: Final = "acknowledged"  # the recipient confirmed, signed, that it acted (disclosures.acknowledgements)
FAILED: Final = "failed"  # never delivered within GIVE_UP_AFTER
STATES: Final = (PENDING, SENDING, DELIVERED, ACKNOWLEDGED, FAILED)
UNACKNOWLEDGED: Final = "unacknowledged"  # a listing filter: every state but acknowledged (delivered included)
# What the recipient is asked to do, by change (the notice's `action`).
ACTIONS: Final = {
    ChangeKind.ERASURE: "erase",
    ChangeKind.CORRECTION: "update",
    ChangeKind.WITHDRAWAL: "stop_processing",
    ChangeKind.RESTRICTION: "restrict_processing",
}


def _received(session: Session, change: PersonDataChange) -> dict[tuple[str, str], tuple[str, set[str], set[str]]]:
    """(recipient, person) -> (reference, categories received, purposes) for the change's people."""
    query = (
        select(DisclosureSubject.person_id, DisclosureSubject.recipient_ref, Disclosure.recipient_id)
        .add_columns(Disclosure.purpose, Disclosure.categories)
        .join(Disclosure, Disclosure.id == DisclosureSubject.disclosure_id)
        .where(DisclosureSubject.person_id.in_(change.person_ids))
    )
    if change.purposes is not None and change.kind in (ChangeKind.WITHDRAWAL, ChangeKind.RESTRICTION):
        query = query.where(Disclosure.purpose.in_(sorted(change.purposes)))
    out: dict[tuple[str, str], tuple[str, set[str], set[str]]] = {}
    for person, ref, recipient, purpose, categories in session.execute(query):
        found = out.setdefault((recipient, person), (ref, set(), set()))
        found[1].update(categories)
        found[2].add(purpose)
    return out


def notices_for(session: Session, change: PersonDataChange, now: datetime) -> list[dict[str, Any]]:
    """The delivery rows a change calls for: one per recipient and person that received affected data."""
    rows: list[dict[str, Any]] = []
    for (recipient, person), (ref, categories, purposes) in sorted(_received(session, change).items()):
        affected = categories if change.categories is None else categories & change.categories
        if not affected:
            continue
        # The purposes it received the data for (for a withdrawal or restriction, those the change stops).
        scope = None if change.kind is ChangeKind.ERASURE else sorted(purposes)
        rows.append(
            {
                "id": new_id("whd"),
                "recipient_id": recipient,
                "person_id": person,
                "recipient_ref": ref,
                "event": change.kind.value,
                "categories": sorted(affected),
                "purposes": scope,
                "state": PENDING,
                "attempts": 0,
                "created_at": now,
                "next_attempt_at": now,
            }
        )
    return rows


def _already_told_of_erasure(session: Session, rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """An erasure run twice (erasure is idempotent) tells each recipient once."""
    people = sorted({r["person_id"] for r in rows})
    found = session.execute(
        select(WebhookDelivery.recipient_id, WebhookDelivery.person_id).where(
            WebhookDelivery.person_id.in_(people), WebhookDelivery.event == ChangeKind.ERASURE.value
        )
    )
    return {(recipient, person) for recipient, person in found}


def queue_notices(session: Session, change: PersonDataChange) -> int:
    """Queue the deliveries a change calls for, and the job that sends them; in the caller's transaction."""
    rows = notices_for(session, change, utcnow())
    if rows and change.kind is ChangeKind.ERASURE:
        told = _already_told_of_erasure(session, rows)
        rows = [r for r in rows if (r["recipient_id"], r["person_id"]) not in told]
    if not rows:
        return 0
    bulk_insert(session, DELIVERIES_TABLE, rows)
    with suppress(Conflict):  # a deliverer already waiting to run takes these too
        enqueue(session, DELIVER_JOB, {}, queueing_lock=DELIVER_JOB)
    return len(rows)


def listener(runtime: RuntimeContext) -> Any:
    """The change listener the disclosures registrar installs (`personal_data.registry.add_change_listener`)."""

    def on_change(session: Session, change: PersonDataChange) -> None:
        queue_notices(session, change)

    return on_change


# ----------------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Delivery:
    id: str
    recipient_id: str
    person_id: str
    event: str
    categories: list[str]
    state: str
    attempts: int
    created_at: datetime
    delivered_at: datetime | None
    acknowledged_at: datetime | None
    acknowledgement: str | None
    last_status: int | None
    last_error: str | None

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        for name in ("created_at", "delivered_at", "acknowledged_at"):
            at = out[name]
            out[name] = at.isoformat() if at is not None else None
        return out


def _delivery(row: WebhookDelivery) -> Delivery:
    return Delivery(
        row.id,
        row.recipient_id,
        row.person_id,
        row.event,
        list(row.categories),
        row.state,
        row.attempts,
        row.created_at,
        row.delivered_at,
        row.acknowledged_at,
        row.acknowledgement,
        row.last_status,
        row.last_error,
    )


def list_deliveries(
    session: Session, *, state: str | None = None, person_id: str | None = None, limit: int = 50
) -> list[Delivery]:
    """Deliveries, oldest first: `unacknowledged` lists every one a recipient has not acknowledged yet."""
    query = select(WebhookDelivery).order_by(WebhookDelivery.created_at, WebhookDelivery.id).limit(limit)
    if state == UNACKNOWLEDGED:
        query = query.where(WebhookDelivery.state != ACKNOWLEDGED)
    elif state is not None:
        query = query.where(WebhookDelivery.state == state)
    if person_id is not None:
        query = query.where(WebhookDelivery.person_id == person_id)
    return [_delivery(row) for row in session.scalars(query)]


@dataclass(frozen=True)
class PropagationStatus:
    """How far a person's change reached: "propagated to 3 of 4 recipients", counting the recipients that
    acknowledged; `delivered` counts those whose every notice was at least received (a 2xx)."""

    recipients: int
    acknowledged: int
    delivered: int
    failed: int
    deliveries: list[Delivery]

    @property
    def summary(self) -> str:
        return f"propagated to {self.acknowledged} of {self.recipients} recipients"

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "recipients": self.recipients,
            "acknowledged": self.acknowledged,
            "delivered": self.delivered,
            "failed": self.failed,
            "deliveries": [d.to_dict() for d in self.deliveries],
        }


def propagation_of(
    session: Session, person_id: str, *, since: datetime, events: Sequence[str] | None = None
) -> PropagationStatus:
    """The deliveries queued for the person since `since` (a request's receipt), per recipient: a recipient
    counts as reached when it acknowledged every one of its notices (a 2xx alone is delivered, not reached)."""
    query = select(WebhookDelivery).where(WebhookDelivery.person_id == person_id, WebhookDelivery.created_at >= since)
    if events is not None:
        query = query.where(WebhookDelivery.event.in_(list(events)))
    rows = [_delivery(r) for r in session.scalars(query.order_by(WebhookDelivery.created_at, WebhookDelivery.id))]
    by_recipient: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        by_recipient[row.recipient_id].append(row.state)
    acknowledged = sum(all(s == ACKNOWLEDGED for s in states) for states in by_recipient.values())
    delivered = sum(all(s in (DELIVERED, ACKNOWLEDGED) for s in states) for states in by_recipient.values())
    failed = sum(any(s == FAILED for s in states) for states in by_recipient.values())
    return PropagationStatus(len(by_recipient), acknowledged, delivered, failed, rows)


def backlog(session: Session) -> int:
    count = session.scalar(
        select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.state.in_((PENDING, SENDING)))
    )
    return int(count or 0)
