"""retention events: what a store's backend reports that starts a retention clock (issue 12)

Revision ID: 0008
Revises: 0007

One new table, `retention_events`: the person's pseudonymous id, the id of an event the policy declares
(`retention_events` in the policy file), when it happened and when it was recorded. A report repeated with the
same instant is one row (unique person, event, instant). No existing row changes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "retention_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.String(length=40), nullable=False),
        sa.Column("event", sa.String(length=80), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_retention_events_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_events")),
        sa.UniqueConstraint("person_id", "event", "occurred_at", name=op.f("uq_retention_events_person_id")),
    )
    op.create_index(op.f("ix_retention_events_person_id"), "retention_events", ["person_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_retention_events_person_id"), table_name="retention_events")
    op.drop_table("retention_events")
