"""webhook_deliveries.delivered_at and .acknowledgement; inactivity clocks backfilled (issue 15 items 3 and 5)

Revision ID: 0024
Revises: 0023

A recipient's acknowledgement is now its own signed call (`POST /v1/propagations/acknowledgements`,
decision 0037), distinct from the 2xx that answered the notice. A notice a 2xx answered before this
revision was delivered, not acknowledged: it becomes `delivered` (its `acknowledged_at` moves to
`delivered_at`), so staff see it among the unacknowledged until the recipient confirms.

The upgrade also starts the last-contact clock of every person without one (created before migration 0023
and never seen since) at the latest contact the database shows: the record's creation, a sign-in, a
reported event, a rights request, a consent change. One INSERT … SELECT; existing clocks are left as they
are; erased people get none. It is a copy of `fiduciary.retention.inactivity_backfill.backfill_statement`
frozen here (a migration must not import code that may change); `fiduciary retention inactivity backfill`
runs the current one. Nobody is erased by it: the sweep gives its notice first (DPDP Rule 8(2)).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AT = sa.DateTime(timezone=True)


def _table(name: str, *columns: str) -> sa.TableClause:
    return sa.table(name, *(sa.column(c) for c in columns))


def _backfill(conn: sa.Connection) -> None:
    people = _table("people", "id", "created_at")
    sessions = _table("customer_sessions", "person_id", "created_at")
    events = _table("retention_events", "person_id", "occurred_at")
    requests = _table("rights_requests", "person_id", "received_at")
    consent = _table("consent_state", "subject_id", "updated_at")
    clocks = _table("inactivity_clocks", "person_id", "last_contact_at")
    erasures = _table("vault_erasures", "person_id")
    evidence = sa.union_all(
        sa.select(people.c.id.label("person_id"), people.c.created_at.label("at")),
        sa.select(sessions.c.person_id, sessions.c.created_at),
        sa.select(events.c.person_id, events.c.occurred_at),
        sa.select(requests.c.person_id, requests.c.received_at),
        sa.select(consent.c.subject_id, consent.c.updated_at).where(consent.c.subject_id.like("per\\_%", escape="\\")),
    ).subquery("evidence")
    latest = (
        sa.select(evidence.c.person_id, sa.func.max(evidence.c.at).label("at")).group_by(evidence.c.person_id)
    ).subquery("latest")
    chosen = (
        sa.select(latest.c.person_id, latest.c.at)
        .join(people, people.c.id == latest.c.person_id)
        .where(
            ~sa.exists().where(clocks.c.person_id == latest.c.person_id),
            ~sa.exists().where(erasures.c.person_id == latest.c.person_id),
        )
        .order_by(latest.c.person_id)
    )
    conn.execute(sa.insert(clocks).from_select(["person_id", "last_contact_at"], chosen))


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("delivered_at", _AT, nullable=True))
        batch.add_column(sa.Column("acknowledgement", sa.String(length=16), nullable=True))
    deliveries = _table("webhook_deliveries", "state", "delivered_at", "acknowledged_at")
    op.execute(
        deliveries.update()
        .where(deliveries.c.state == "acknowledged")
        .values(state="delivered", delivered_at=deliveries.c.acknowledged_at, acknowledged_at=None)
    )
    _backfill(op.get_bind())


def downgrade() -> None:
    deliveries = _table("webhook_deliveries", "state", "delivered_at", "acknowledged_at")
    op.execute(  # before 0024 a 2xx was the acknowledgement
        deliveries.update()
        .where(deliveries.c.state == "delivered")
        .values(state="acknowledged", acknowledged_at=deliveries.c.delivered_at)
    )
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("acknowledgement")
        batch.drop_column("delivered_at")
