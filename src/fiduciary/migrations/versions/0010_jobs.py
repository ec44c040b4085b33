"""jobs: the embedded queue (job_queue), periodic clocks, job effects; procrastinate's schema on PostgreSQL

Revision ID: 0010
Revises: 0009

On PostgreSQL, procrastinate's own schema (its tables, types, functions and triggers, from the installed
package's schema.sql) is applied here, in the migration's transaction, unless it is already there; a later
procrastinate release that changes its schema ships migration files, which a later migration of ours runs.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROCRASTINATE_TABLES = (
    "procrastinate_events",
    "procrastinate_periodic_defers",
    "procrastinate_jobs",
    "procrastinate_workers",
)


def _apply_procrastinate_schema() -> None:
    from procrastinate.schema import SchemaManager  # lazy: heavy, and needed on PostgreSQL only

    bind = op.get_bind()
    if bind.scalar(sa.text("SELECT to_regclass('procrastinate_jobs')")) is not None:
        return
    # Through the driver: the schema is several statements with '%' in them and no parameters.
    driver = bind.connection.driver_connection
    assert driver is not None
    driver.execute(SchemaManager.get_schema())


def upgrade() -> None:
    op.create_table(
        "job_queue",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("task_name", sa.String(length=100), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lock", sa.String(length=200), nullable=True),
        sa.Column("queueing_lock", sa.String(length=200), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_queue")),
    )
    op.create_index("ix_job_queue_status_scheduled_at", "job_queue", ["status", "scheduled_at"])
    op.create_index("ix_job_queue_lock", "job_queue", ["lock"])
    op.create_index(
        "uq_job_queue_queueing_lock",
        "job_queue",
        ["queueing_lock"],
        unique=True,
        sqlite_where=sa.text("status = 'todo'"),
        postgresql_where=sa.text("status = 'todo'"),
    )
    op.create_table(
        "job_periodic",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("last_due", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_periodic")),
    )
    op.create_table(
        "job_effects",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("task_name", sa.String(length=100), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_job_effects")),
    )
    if op.get_bind().dialect.name == "postgresql":
        _apply_procrastinate_schema()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE IF EXISTS " + ", ".join(PROCRASTINATE_TABLES) + " CASCADE")
        functions = op.get_bind().execute(
            sa.text(
                "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                " WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate%'"
            )
        )
        for (signature,) in functions.all():
            op.execute(f"DROP FUNCTION IF EXISTS {signature} CASCADE")
        op.execute(
            "DROP TYPE IF EXISTS procrastinate_job_status, procrastinate_job_event_type, procrastinate_job_to_defer_v1 CASCADE"
        )
    op.drop_table("job_effects")
    op.drop_table("job_periodic")
    op.drop_index("uq_job_queue_queueing_lock", table_name="job_queue")
    op.drop_index("ix_job_queue_lock", table_name="job_queue")
    op.drop_index("ix_job_queue_status_scheduled_at", table_name="job_queue")
    op.drop_table("job_queue")
