"""cases, case_events, case_clocks, case_notes (issue 16 item 4)

Revision ID: 0018
Revises: 0017

docs/cases.md, docs/decisions/0033-cases.md.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AT = sa.DateTime(timezone=True)
_OPEN_CLOCK = "met_at IS NULL AND stopped_at IS NULL"


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.String(length=40), nullable=True),
        sa.Column("assigned_to", sa.String(length=100), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("opened_at", _AT, nullable=False),
        sa.Column("aware_at", _AT, nullable=True),
        sa.Column("closed_at", _AT, nullable=True),
        sa.Column("outcome_reason", sa.String(length=64), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=True),
        sa.Column("key_wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("kek_id", sa.String(length=40), nullable=True),
        sa.Column("updated_at", _AT, nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_cases_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
    )
    op.create_index("ix_cases_kind_state", "cases", ["kind", "state"])
    op.create_index("ix_cases_person_id", "cases", ["person_id"])
    op.create_index("ix_cases_kek_id", "cases", ["kek_id"])
    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("at", _AT, nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_state", sa.String(length=24), nullable=True),
        sa.Column("to_state", sa.String(length=24), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_events_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
    )
    op.create_index("ix_case_events_case_id", "case_events", ["case_id"])
    op.create_table(
        "case_clocks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("started_at", _AT, nullable=False),
        sa.Column("due_at", _AT, nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("escalate_at", _AT, nullable=False),
        sa.Column("met_at", _AT, nullable=True),
        sa.Column("stopped_at", _AT, nullable=True),
        sa.Column("escalated_at", _AT, nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_clocks_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_clocks")),
    )
    op.create_index("ix_case_clocks_case_id_name", "case_clocks", ["case_id", "name"], unique=True)
    op.create_index(
        "ix_case_clocks_open_due",
        "case_clocks",
        ["due_at", "case_id", "name"],
        sqlite_where=sa.text(_OPEN_CLOCK),
        postgresql_where=sa.text(_OPEN_CLOCK),
    )
    op.create_index(
        "ix_case_clocks_open_escalate",
        "case_clocks",
        ["escalate_at"],
        sqlite_where=sa.text(f"{_OPEN_CLOCK} AND escalated_at IS NULL"),
        postgresql_where=sa.text(f"{_OPEN_CLOCK} AND escalated_at IS NULL"),
    )
    op.create_table(
        "case_notes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=True),
        sa.Column("at", _AT, nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_notes_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_notes")),
    )
    op.create_index("ix_case_notes_case_id", "case_notes", ["case_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_case_notes_case_id", table_name="case_notes")
    op.drop_table("case_notes")
    op.drop_index("ix_case_clocks_open_escalate", table_name="case_clocks")
    op.drop_index("ix_case_clocks_open_due", table_name="case_clocks")
    op.drop_index("ix_case_clocks_case_id_name", table_name="case_clocks")
    op.drop_table("case_clocks")
    op.drop_index("ix_case_events_case_id", table_name="case_events")
    op.drop_table("case_events")
    op.drop_index("ix_cases_kek_id", table_name="cases")
    op.drop_index("ix_cases_person_id", table_name="cases")
    op.drop_index("ix_cases_kind_state", table_name="cases")
    op.drop_table("cases")
