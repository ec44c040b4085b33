"""rights_requests, rights_request_events, rights_request_steps (issue 13 items 1, 3, 6)

Revision ID: 0017
Revises: 0016

docs/rights-requests.md.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "rights_requests",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.String(length=40), nullable=False),
        sa.Column("jurisdiction", sa.String(length=16), nullable=True),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("made_by", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("verified_by", sa.String(length=40), nullable=True),
        sa.Column("verified_at", _AT, nullable=True),
        sa.Column("challenge_id", sa.String(length=40), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=True),
        sa.Column("sealed_key_version", sa.Integer(), nullable=True),
        sa.Column("received_at", _AT, nullable=False),
        sa.Column("acknowledge_by", _AT, nullable=True),
        sa.Column("due_at", _AT, nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("respond_by", _AT, nullable=False),
        sa.Column("extension_limit", _AT, nullable=True),
        sa.Column("extended_at", _AT, nullable=True),
        sa.Column("extension_reason", sa.String(length=500), nullable=True),
        sa.Column("run_after", _AT, nullable=True),
        sa.Column("overdue_flagged_at", _AT, nullable=True),
        sa.Column("reminded_at", _AT, nullable=True),
        sa.Column("closed_at", _AT, nullable=True),
        sa.Column("outcome_reason", sa.String(length=64), nullable=True),
        sa.Column("outcome_note", sa.String(length=500), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", _AT, nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_rights_requests_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rights_requests")),
    )
    op.create_index("ix_rights_requests_state_due_at", "rights_requests", ["state", "due_at"])
    op.create_index("ix_rights_requests_due_at", "rights_requests", ["due_at"])
    op.create_index("ix_rights_requests_person_id", "rights_requests", ["person_id"])
    op.create_table(
        "rights_request_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=40), nullable=False),
        sa.Column("at", _AT, nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_state", sa.String(length=24), nullable=True),
        sa.Column("to_state", sa.String(length=24), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"], ["rights_requests.id"], name=op.f("fk_rights_request_events_request_id_rights_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rights_request_events")),
    )
    op.create_index("ix_rights_request_events_request_id", "rights_request_events", ["request_id"])
    op.create_table(
        "rights_request_steps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=200), nullable=True),
        sa.Column("confirmed_by", sa.String(length=64), nullable=True),
        sa.Column("confirmed_at", _AT, nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"], ["rights_requests.id"], name=op.f("fk_rights_request_steps_request_id_rights_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rights_request_steps")),
    )
    op.create_index(
        "ix_rights_request_steps_request_id", "rights_request_steps", ["request_id", "position"], unique=True
    )


def downgrade() -> None:
    op.drop_index("ix_rights_request_steps_request_id", table_name="rights_request_steps")
    op.drop_table("rights_request_steps")
    op.drop_index("ix_rights_request_events_request_id", table_name="rights_request_events")
    op.drop_table("rights_request_events")
    op.drop_index("ix_rights_requests_person_id", table_name="rights_requests")
    op.drop_index("ix_rights_requests_due_at", table_name="rights_requests")
    op.drop_index("ix_rights_requests_state_due_at", table_name="rights_requests")
    op.drop_table("rights_requests")
