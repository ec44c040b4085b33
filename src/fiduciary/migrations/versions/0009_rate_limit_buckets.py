"""storage: rate_limit_buckets, the failed-authentication and public-endpoint budgets every API process shares

Revision ID: 0009
Revises: 0008

One row per hashed limiter key (GCRA theoretical arrival time), updated by one UPSERT per hit, so a budget
spent on one worker or machine is spent on all (issue 17; fiduciary.storage.ratelimit).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_buckets",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("tat", sa.Float(), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limit_buckets")),
    )
    op.create_index(op.f("ix_rate_limit_buckets_tat"), "rate_limit_buckets", ["tat"])


def downgrade() -> None:
    op.drop_index(op.f("ix_rate_limit_buckets_tat"), table_name="rate_limit_buckets")
    op.drop_table("rate_limit_buckets")
