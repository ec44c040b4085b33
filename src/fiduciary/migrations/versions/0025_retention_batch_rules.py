"""retention_batches: unique per run, batch and rule (issue 15 item 1)

Revision ID: 0025
Revises: 0023

A batch writes one row per rule it acted under, all with the batch's sequence number; the constraint on
(run_id, seq) alone refused the second rule's row, so a window with values due under two rules failed.
docs/retention.md.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = "uq_retention_batches_run_id"


def upgrade() -> None:
    with op.batch_alter_table("retention_batches") as batch:
        batch.drop_constraint(_NAME, type_="unique")
        batch.create_unique_constraint(_NAME, ["run_id", "seq", "rule"])


def downgrade() -> None:
    with op.batch_alter_table("retention_batches") as batch:
        batch.drop_constraint(_NAME, type_="unique")
        batch.create_unique_constraint(_NAME, ["run_id", "seq"])
