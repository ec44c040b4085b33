"""people: a lawful guardian for a person with a disability (DPDP s.9(1), Rule 11)

Revision ID: 0007
Revises: 0006

Four nullable columns on `people`: the guardian's person id, the reference to the order of appointment
(a court, a designated authority or a local-level committee under the RPwD Act 2016 or the National Trust
Act 1999), and who on the staff verified it and when. No existing row changes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("lawful_guardian_id", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("guardianship_order", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("guardianship_verified_by", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("guardianship_verified_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.drop_column("guardianship_verified_at")
        batch.drop_column("guardianship_verified_by")
        batch.drop_column("guardianship_order")
        batch.drop_column("lawful_guardian_id")
