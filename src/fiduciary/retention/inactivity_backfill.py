"""Starting the last-contact clock of people who existed before it (DPDP s.8(8), Rule 8(1) and the Third
Schedule; docs/inactivity.md).

The clock (`inactivity_clock.touch`) starts at a person's first contact after it was introduced; someone
who never came back had no row and was never considered for inactivity erasure, so the store kept their data
for ever, which s.8(8) forbids. `backfill_clocks` gives each of them a clock from the best evidence the
database holds of their last contact — the latest of the sources the clock itself listens to:

- the person's record created (they registered or first dealt with the store: `people.created_at`);
- a customer session opened (a sign-in: `customer_sessions.created_at`);
- an order or other event the store reported (`retention_events.occurred_at`);
- a rights request received (`rights_requests.received_at`);
- a consent granted or withdrawn (`consent_state.updated_at` of the person's own rows).

It is one INSERT … SELECT (set-wise, whatever the number of people), for people with no clock yet and not
erased, so it is idempotent and never moves an existing clock (a clock is moved forward only, by a contact).

It erases no one. A backfilled clock that is already past its period is treated by the sweep like any
other: the notice goes first and the erasure waits its full `advance_notice`, never less than 48 hours
(DPDP Rule 8(2)); a person the store cannot write to is never erased by the sweep.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import Connection, exists, func, select, union_all
from sqlalchemy.orm import Session

from fiduciary.audit.service import AuditEvent
from fiduciary.consent.models import ConsentState
from fiduciary.context import RuntimeContext
from fiduciary.identity.models import CustomerSessionRecord as CustomerSession
from fiduciary.people.models import Person, PersonErasure
from fiduciary.retention.inactivity_models import CLOCKS
from fiduciary.rights.models import RightsRequest
from fiduciary.unit_of_work import unit_of_work
from fiduciary.vault.retention_events import RetentionEventRow

ACTION: Final = "inactivity.backfill"
PERSON_PREFIX: Final = "per\\_%"  # consent_state also holds visitors' rows (vis_…)


def backfill_statement() -> object:
    """The INSERT … SELECT: one clock per person without one and not erased, at their latest evidence."""
    evidence = union_all(
        select(Person.id.label("person_id"), Person.created_at.label("at")),
        select(CustomerSession.person_id, CustomerSession.created_at),
        select(RetentionEventRow.person_id, RetentionEventRow.occurred_at),
        select(RightsRequest.person_id, RightsRequest.received_at),
        select(ConsentState.subject_id, ConsentState.updated_at).where(
            ConsentState.subject_id.like(PERSON_PREFIX, escape="\\")
        ),
    ).subquery("evidence")
    latest = (
        select(evidence.c.person_id, func.max(evidence.c.at).label("at")).group_by(evidence.c.person_id)
    ).subquery("latest")
    chosen = (
        select(latest.c.person_id, latest.c.at)
        .join(Person, Person.id == latest.c.person_id)  # a consent row may name a visitor's future id: people only
        .where(
            ~exists().where(CLOCKS.c.person_id == latest.c.person_id),
            ~exists().where(PersonErasure.person_id == latest.c.person_id),
        )
        .order_by(latest.c.person_id)
    )
    insert = CLOCKS.insert().from_select([CLOCKS.c.person_id, CLOCKS.c.last_contact_at], chosen)
    # RETURNING counts the rows on both engines (an INSERT … SELECT's rowcount is -1 through psycopg here).
    return insert.returning(CLOCKS.c.person_id)


def backfill(bind: Session | Connection) -> int:
    """Run the backfill in the caller's transaction; how many clocks it started."""
    connection = bind.connection() if isinstance(bind, Session) else bind
    result = connection.execute(backfill_statement())  # type: ignore[call-overload]
    return sum(1 for _ in result)


def backfill_clocks(runtime: RuntimeContext, session: Session, *, actor: str = "cli") -> int:
    """Backfill and commit, with one audit event holding the count (never a person)."""
    uow = unit_of_work(runtime, session)
    with uow.step():
        started = backfill(session)
        if started:
            uow.audit(AuditEvent(actor=actor, action=ACTION, count=started, reasons=["no_clock"]))
    session.commit()
    return started
