"""retention_holds, retention_plans, retention_runs, retention_batches, retention_anonymised (issue 15)

Revision ID: 0021
Revises: 0020

Staff holds, approved retention plans, the sweep's run journal and batches, and the anonymised counts an
anonymising rule keeps. docs/retention.md. No existing row changes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AT = sa.DateTime(timezone=True)
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "retention_holds",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("person_id", sa.String(length=40), nullable=False),
        sa.Column("category", sa.String(length=80), nullable=True),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("placed_by", sa.String(length=100), nullable=False),
        sa.Column("placed_at", _AT, nullable=False),
        sa.Column("until", sa.Date(), nullable=False),
        sa.Column("released_at", _AT, nullable=True),
        sa.Column("released_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_holds")),
    )
    op.create_index("ix_retention_holds_person_active", "retention_holds", ["person_id", "released_at"])
    op.create_table(
        "retention_plans",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("policy_hash", sa.String(length=71), nullable=False),
        sa.Column("planned_at", _AT, nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("approved_by", sa.String(length=100), nullable=True),
        sa.Column("approved_at", _AT, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_plans")),
    )
    op.create_table(
        "retention_runs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("plan_id", sa.String(length=40), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("started_at", _AT, nullable=False),
        sa.Column("now", _AT, nullable=False),
        sa.Column("cursor", sa.JSON(), nullable=False),
        sa.Column("finished_at", _AT, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_runs")),
    )
    op.create_table(
        "retention_batches",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.Column("fields", sa.Integer(), nullable=False),
        sa.Column("ledger_position", sa.BigInteger(), nullable=False),
        sa.Column("at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_batches")),
        sa.UniqueConstraint("run_id", "seq", name=op.f("uq_retention_batches_run_id")),
    )
    op.create_index(op.f("ix_retention_batches_run_id"), "retention_batches", ["run_id"])
    op.create_table(
        "retention_anonymised",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("rule", sa.String(length=80), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=True),
        sa.Column("qi", sa.String(length=400), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_anonymised")),
    )
    op.create_index("ix_retention_anonymised_rule", "retention_anonymised", ["rule", "run_id"])
    # The sweep finds accounts closed long enough by this index, not by reading every person.
    op.create_index("ix_people_closed_at", "people", ["closed_at"])
    # ... and the values of a category collected long enough ago by this one.
    op.create_index("ix_personal_fields_category_created", "personal_fields", ["category", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_personal_fields_category_created", table_name="personal_fields")
    op.drop_index("ix_people_closed_at", table_name="people")
    op.drop_index("ix_retention_anonymised_rule", table_name="retention_anonymised")
    op.drop_table("retention_anonymised")
    op.drop_index(op.f("ix_retention_batches_run_id"), table_name="retention_batches")
    op.drop_table("retention_batches")
    op.drop_table("retention_runs")
    op.drop_table("retention_plans")
    op.drop_index("ix_retention_holds_person_active", table_name="retention_holds")
    op.drop_table("retention_holds")
