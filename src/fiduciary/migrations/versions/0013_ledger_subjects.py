"""ledger_subjects: the index of ledger events by the pseudonymous ids they name (issue 13, "Benchmarks")

Revision ID: 0013
Revises: 0012

A person's access request found their consent events by scanning every payload; this index makes the
lookup independent of the ledger's size. The ledger's payloads, hashes and verification are unchanged. The
upgrade backfills the index from the consent stream's existing payloads (the same keys the consent writers
index: `fiduciary.consent.projection.SUBJECT_KEYS`, repeated here as a migration must not import code that
may change), so a store upgrading keeps its older events in exports.
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STREAM = "consent"
SUBJECT_KEYS = ("subject", "person", "visitor", "guardian")
MAX_SUBJECT_ID = 40
BATCH = 5000


def _backfill(conn: sa.Connection) -> None:
    events = sa.table("ledger_events", sa.column("stream"), sa.column("position", sa.BigInteger), sa.column("payload"))
    subjects = sa.table(
        "ledger_subjects", sa.column("stream"), sa.column("subject_id"), sa.column("position", sa.BigInteger)
    )
    after = 0
    while True:
        rows = conn.execute(
            sa.select(events.c.position, events.c.payload)
            .where(events.c.stream == STREAM, events.c.position > after)
            .order_by(events.c.position)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        index = []
        for position, text in rows:
            payload = json.loads(text)
            named = (payload.get(key) for key in SUBJECT_KEYS)
            for subject in dict.fromkeys(s for s in named if type(s) is str and 0 < len(s) <= MAX_SUBJECT_ID):
                index.append({"stream": STREAM, "subject_id": subject, "position": position})
        if index:
            conn.execute(sa.insert(subjects), index)
        after = rows[-1][0]


def upgrade() -> None:
    op.create_table(
        "ledger_subjects",
        sa.Column("stream", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("stream", "subject_id", "position", name=op.f("pk_ledger_subjects")),
        sqlite_with_rowid=False,  # the rows live in the key's B-tree: one insert per row, not two
    )
    _backfill(op.get_bind())


def downgrade() -> None:
    op.drop_table("ledger_subjects")
