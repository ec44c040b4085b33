"""customer_sessions: short-lived customer sessions after identity verification (issue 13 item 2)

Revision ID: 0015
Revises: 0014

Only the SHA-256 of each bearer secret is stored; docs/identity.md ("Customer sessions").
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_sessions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("person_id", sa.String(length=40), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("verified_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("client_hash", sa.LargeBinary(length=32), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_customer_sessions_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_sessions")),
    )
    op.create_index("ix_customer_sessions_person_id", "customer_sessions", ["person_id"])
    op.create_index("ix_customer_sessions_expires_at", "customer_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_customer_sessions_expires_at", table_name="customer_sessions")
    op.drop_index("ix_customer_sessions_person_id", table_name="customer_sessions")
    op.drop_table("customer_sessions")
