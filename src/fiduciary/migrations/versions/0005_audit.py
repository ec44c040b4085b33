"""audit: the audit_events index over the "audit" ledger stream, append-only like the ledger

Revision ID: 0005
Revises: 0004

The index rows are written in the same transaction as their ledger events; triggers refuse UPDATE and
DELETE so that an event cannot be hidden from GET /v1/audit by editing the index (and `fiduciary audit
verify` cross-checks the index against the ledger in case the triggers were bypassed). TRUNCATE stays
possible on PostgreSQL for the test suite, as for the ledger tables.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "audit_events"
INDEXES = {
    "ix_audit_events_actor_position": ["actor", "ledger_position"],
    "ix_audit_events_person_id_position": ["person_id", "ledger_position"],
    "ix_audit_events_action_position": ["action", "ledger_position"],
    "ix_audit_events_purpose_position": ["purpose", "ledger_position"],
    "ix_audit_events_outcome_position": ["outcome", "ledger_position"],
    "ix_audit_events_recorded_at": ["recorded_at"],
}


def create_sqlite_triggers() -> None:
    """Also call after any batch ALTER of audit_events on SQLite, which recreates the table without them."""
    for operation in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {TABLE}_no_{operation.lower()} BEFORE {operation} ON {TABLE} "
            f"BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: {operation} refused'); END"
        )


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("ledger_position", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("person_id", sa.String(length=40), nullable=True),
        sa.Column("purpose", sa.String(length=80), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("ledger_position", name=op.f("pk_audit_events")),
    )
    for name, columns in INDEXES.items():
        op.create_index(name, TABLE, columns)
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        # fiduciary_ledger_append_only() comes from migration 0002.
        op.execute(
            f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION fiduciary_ledger_append_only()"
        )
    elif dialect == "sqlite":
        create_sqlite_triggers()


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE}")
    elif dialect == "sqlite":
        for operation in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_{operation}")
    for name in reversed(list(INDEXES)):
        op.drop_index(name, table_name=TABLE)
    op.drop_table(TABLE)
