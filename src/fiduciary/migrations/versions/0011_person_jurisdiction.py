"""people.jurisdiction: where a person lives, so decisions apply that jurisdiction's ground and age band

Revision ID: 0011
Revises: 0010

Nullable, no default: a person whose residence the store never recorded is decided on each purpose's own
ground and the policy-wide ages, as before (issue 12 item 1; fiduciary.policy.ages).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("jurisdiction", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.drop_column("jurisdiction")
