"""ledger: hash-chained events, stream heads, signed checkpoints, append-only triggers

Revision ID: 0002
Revises: 0001

The triggers make `ledger_events` and `ledger_checkpoints` refuse UPDATE and DELETE on both engines
(DESIGN.md principle 3). TRUNCATE stays possible on PostgreSQL (row triggers do not fire on it) because the
test suite empties tables between tests; `fiduciary ledger verify` still notices a truncated stream through
its head row and checkpoints.

SQLite caution for later migrations: a batch ALTER of these tables recreates them and silently drops the
triggers; recreate them with `create_sqlite_triggers()` afterwards.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY_TABLES = ("ledger_events", "ledger_checkpoints")


def create_sqlite_triggers() -> None:
    for table in APPEND_ONLY_TABLES:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {operation} refused'); END"
            )


def create_postgresql_triggers() -> None:
    op.execute(
        """
        CREATE FUNCTION fiduciary_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'restrict_violation';
        END
        $$
        """
    )
    for table in APPEND_ONLY_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION fiduciary_ledger_append_only()"
        )


def upgrade() -> None:
    op.create_table(
        "ledger_events",
        sa.Column("stream", sa.String(length=32), nullable=False),
        sa.Column("position", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("event_type", sa.String(length=80), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("position >= 1", name=op.f("ck_ledger_events_position_positive")),
        sa.CheckConstraint("length(hash) = 64 AND length(prev_hash) = 64", name=op.f("ck_ledger_events_hash_length")),
        sa.PrimaryKeyConstraint("stream", "position", name=op.f("pk_ledger_events")),
    )
    op.create_table(
        "ledger_heads",
        sa.Column("stream", sa.String(length=32), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checkpoint_position", sa.BigInteger(), nullable=False),
        sa.Column("checkpoint_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("stream", name=op.f("pk_ledger_heads")),
    )
    op.create_table(
        "ledger_checkpoints",
        sa.Column("stream", sa.String(length=32), nullable=False),
        sa.Column("position", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.String(length=88), nullable=False),
        sa.CheckConstraint("position >= 1", name=op.f("ck_ledger_checkpoints_position_positive")),
        sa.PrimaryKeyConstraint("stream", "position", name=op.f("pk_ledger_checkpoints")),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        create_postgresql_triggers()
    elif dialect == "sqlite":
        create_sqlite_triggers()


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for table in APPEND_ONLY_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS fiduciary_ledger_append_only()")
    elif dialect == "sqlite":
        for table in APPEND_ONLY_TABLES:
            for operation in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{operation}")
    op.drop_table("ledger_checkpoints")
    op.drop_table("ledger_heads")
    op.drop_table("ledger_events")
