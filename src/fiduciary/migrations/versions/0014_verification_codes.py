"""verification_codes: one-time code challenges (issue 13 item 2)

Revision ID: 0014
Revises: 0013

The identifier as its vault blind index, the code as a keyed hash; docs/identity.md and
docs/decisions/0030-one-time-codes.md.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "verification_codes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.String(length=40), nullable=True),
        sa.Column("identifier_kind", sa.String(length=16), nullable=False),
        sa.Column("identifier_index", sa.LargeBinary(length=16), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_verification_codes_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_codes")),
    )
    op.create_index("ix_verification_codes_person_id", "verification_codes", ["person_id"])
    op.create_index("ix_verification_codes_created_at", "verification_codes", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_verification_codes_created_at", table_name="verification_codes")
    op.drop_index("ix_verification_codes_person_id", table_name="verification_codes")
    op.drop_table("verification_codes")
