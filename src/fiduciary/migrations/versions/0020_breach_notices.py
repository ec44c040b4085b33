"""breach_notices: the people selected as affected by a breach and whether each was told (issue 16 item 3)

Revision ID: 0020
Revises: 0019

docs/breaches.md.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "breach_notices",
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("person_id", sa.String(length=40), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("selected_at", _AT, nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("channel", sa.String(length=8), nullable=True),
        sa.Column("message_id", sa.String(length=40), nullable=True),
        sa.Column("told_at", _AT, nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_breach_notices_case_id_cases")),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_breach_notices_person_id_people")),
        sa.PrimaryKeyConstraint("case_id", "person_id", name=op.f("pk_breach_notices")),
    )
    op.create_index("ix_breach_notices_person_id", "breach_notices", ["person_id"])


def downgrade() -> None:
    op.drop_index("ix_breach_notices_person_id", table_name="breach_notices")
    op.drop_table("breach_notices")
