"""consent: index consent_idempotency.created_at, which housekeeping's purge of expired answers filters on

Revision ID: 0006
Revises: 0005

Without it the periodic purge (`fiduciary housekeeping`, job idempotency_purge) scans the whole table.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_consent_idempotency_created_at", "consent_idempotency", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_consent_idempotency_created_at", table_name="consent_idempotency")
