"""consent: people, consent state projection, visitor links, restrictions, idempotency, re-consent

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "people",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("age_status", sa.String(length=16), server_default="unknown", nullable=False),
        sa.Column("adult_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people")),
    )
    op.create_table(
        "consent_state",
        sa.Column("subject_id", sa.String(length=40), nullable=False),
        sa.Column("purpose", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("notice_hash", sa.String(length=71), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("guardian_id", sa.String(length=40), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ledger_position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("subject_id", "purpose", name=op.f("pk_consent_state")),
    )
    op.create_index("ix_consent_state_purpose_status", "consent_state", ["purpose", "status", "subject_id"])
    op.create_table(
        "visitor_links",
        sa.Column("visitor_id", sa.String(length=40), nullable=False),
        sa.Column("person_id", sa.String(length=40), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_visitor_links_person_id_people")),
        sa.PrimaryKeyConstraint("visitor_id", name=op.f("pk_visitor_links")),
    )
    op.create_table(
        "processing_restrictions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.String(length=40), nullable=False),
        sa.Column("purpose", sa.String(length=80), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_processing_restrictions_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processing_restrictions")),
    )
    op.create_index(op.f("ix_processing_restrictions_person_id"), "processing_restrictions", ["person_id"])
    op.create_table(
        "consent_idempotency",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_consent_idempotency")),
    )
    op.create_table(
        "reconsent_floors",
        sa.Column("purpose", sa.String(length=80), nullable=False),
        sa.Column("min_version", sa.Integer(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("purpose", name=op.f("pk_reconsent_floors")),
    )
    op.create_table(
        "reconsent_notices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.String(length=40), nullable=False),
        sa.Column("purpose", sa.String(length=80), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_reconsent_notices_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconsent_notices")),
        sa.UniqueConstraint("person_id", "purpose", "policy_version", name=op.f("uq_reconsent_notices_person_id")),
    )
    op.create_table(
        "gpc_opt_outs",
        sa.Column("subject_id", sa.String(length=40), nullable=False),
        sa.Column("purpose", sa.String(length=80), nullable=False),
        sa.Column("ledger_position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("subject_id", "purpose", name=op.f("pk_gpc_opt_outs")),
    )


def downgrade() -> None:
    op.drop_table("gpc_opt_outs")
    op.drop_table("reconsent_notices")
    op.drop_table("reconsent_floors")
    op.drop_table("consent_idempotency")
    op.drop_index(op.f("ix_processing_restrictions_person_id"), table_name="processing_restrictions")
    op.drop_table("processing_restrictions")
    op.drop_table("visitor_links")
    op.drop_index("ix_consent_state_purpose_status", table_name="consent_state")
    op.drop_table("consent_state")
    op.drop_table("people")
