"""inactivity_clocks, inactivity_account_stubs, stored_value_balances (issue 15 item 3)

Revision ID: 0023
Revises: 0022

docs/inactivity.md.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AT = sa.DateTime(timezone=True)


def _person(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f(f"fk_{table}_person_id_people"))


def upgrade() -> None:
    op.create_table(
        "inactivity_clocks",
        sa.Column("person_id", sa.String(length=40), nullable=False),
        sa.Column("last_contact_at", _AT, nullable=False),
        sa.Column("reminder_sent_at", _AT, nullable=True),
        sa.Column("notice_sent_at", _AT, nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        _person("inactivity_clocks"),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_inactivity_clocks")),
    )
    op.create_index("ix_inactivity_clocks_last_contact_at", "inactivity_clocks", ["last_contact_at"])
    op.create_table(
        "inactivity_account_stubs",
        sa.Column("person_id", sa.String(length=40), nullable=False),
        sa.Column("erased_at", _AT, nullable=False),
        sa.Column("last_contact_at", _AT, nullable=False),
        sa.Column("sign_in", sa.JSON(), nullable=False),
        _person("inactivity_account_stubs"),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_inactivity_account_stubs")),
    )
    op.create_table(
        "stored_value_balances",
        sa.Column("person_id", sa.String(length=40), nullable=False),
        sa.Column("instrument", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("reported_at", _AT, nullable=False),
        _person("stored_value_balances"),
        sa.PrimaryKeyConstraint("person_id", "instrument", name=op.f("pk_stored_value_balances")),
    )


def downgrade() -> None:
    op.drop_table("stored_value_balances")
    op.drop_table("inactivity_account_stubs")
    op.drop_index("ix_inactivity_clocks_last_contact_at", table_name="inactivity_clocks")
    op.drop_table("inactivity_clocks")
