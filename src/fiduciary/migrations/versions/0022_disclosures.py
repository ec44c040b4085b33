"""recipient_endpoints, disclosures, disclosure_subjects, webhook_deliveries, webhook_attempts (issue 15
items 4-6)

Revision ID: 0022
Revises: 0021

docs/disclosures.md.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "recipient_endpoints",
        sa.Column("recipient_id", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("secret_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("secret_key_wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("kek_id", sa.String(length=64), nullable=False),
        sa.Column("configured_by", sa.String(length=64), nullable=False),
        sa.Column("configured_at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("recipient_id", name=op.f("pk_recipient_endpoints")),
    )
    op.create_table(
        "disclosures",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("recipient_id", sa.String(length=64), nullable=False),
        sa.Column("recipient_kind", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("order_reference", sa.String(length=200), nullable=True),
        sa.Column("audience", sa.Boolean(), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.Column("disclosed_at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disclosures")),
    )
    op.create_index("ix_disclosures_recipient_id_disclosed_at", "disclosures", ["recipient_id", "disclosed_at"])
    op.create_table(
        "disclosure_subjects",
        sa.Column("disclosure_id", sa.String(length=40), nullable=False),
        sa.Column("person_id", sa.String(length=40), nullable=False),
        sa.Column("recipient_ref", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["disclosure_id"], ["disclosures.id"], name=op.f("fk_disclosure_subjects_disclosure_id_disclosures")
        ),
        sa.PrimaryKeyConstraint("disclosure_id", "person_id", name=op.f("pk_disclosure_subjects")),
    )
    op.create_index("ix_disclosure_subjects_person_id", "disclosure_subjects", ["person_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("recipient_id", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.String(length=40), nullable=False),
        sa.Column("recipient_ref", sa.String(length=40), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("purposes", sa.JSON(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("next_attempt_at", _AT, nullable=False),
        sa.Column("claimed_at", _AT, nullable=True),
        sa.Column("acknowledged_at", _AT, nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index("ix_webhook_deliveries_state_next_attempt_at", "webhook_deliveries", ["state", "next_attempt_at"])
    op.create_index("ix_webhook_deliveries_person_id", "webhook_deliveries", ["person_id"])
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("delivery_id", sa.String(length=40), nullable=False),
        sa.Column("at", _AT, nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=64), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"], ["webhook_deliveries.id"], name=op.f("fk_webhook_attempts_delivery_id_webhook_deliveries")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
    )
    op.create_index("ix_webhook_attempts_delivery_id", "webhook_attempts", ["delivery_id"])


def downgrade() -> None:
    op.drop_index("ix_webhook_attempts_delivery_id", table_name="webhook_attempts")
    op.drop_table("webhook_attempts")
    op.drop_index("ix_webhook_deliveries_person_id", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_state_next_attempt_at", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_disclosure_subjects_person_id", table_name="disclosure_subjects")
    op.drop_table("disclosure_subjects")
    op.drop_index("ix_disclosures_recipient_id_disclosed_at", table_name="disclosures")
    op.drop_table("disclosures")
    op.drop_table("recipient_endpoints")
