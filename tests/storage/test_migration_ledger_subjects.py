"""Migration 0013 on both engines: upgrading a store with consent events fills `ledger_subjects` from their
payloads (so older events stay in exports), and downgrading drops it."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine, make_url

from fiduciary.storage import create_engine_for_url
from fiduciary.storage.migrate import alembic_config

# As in conftest (not imported from it: a test module importing `conftest` gets whichever Python found first).
PG_ADMIN_URL = os.environ.get("FIDUCIARY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PAYLOADS = [
    ("consent", {"subject": "per_one", "purpose": "analytics"}),
    ("consent", {"subject": "vis_two", "person": "per_one", "purpose": "analytics"}),
    ("consent", {"visitor": "vis_two", "person": "per_one", "copied": []}),
    ("consent", {"subject": "per_kid", "guardian": "per_one", "purpose": "analytics"}),
    ("consent", {"subject": "per_one", "guardian": "per_one"}),  # named twice: indexed once
    ("consent", {"purposes": ["x"]}),  # names no one
    ("audit", {"subject": "per_one"}),  # another stream: not backfilled
]


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = create_engine_for_url(f"sqlite:///{tmp_path / 'upgrade.db'}")
        yield engine
        engine.dispose()
        return
    admin = create_engine_for_url(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError:
        admin.dispose()
        pytest.skip("PostgreSQL is not reachable")
    name = f"fiduciary_upgrade_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = create_engine_for_url(make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _insert_events(engine: Engine) -> None:
    positions: dict[str, int] = {}
    with engine.begin() as conn:
        for stream, payload in PAYLOADS:
            position = positions[stream] = positions.get(stream, 0) + 1
            conn.execute(
                sa.text(
                    "INSERT INTO ledger_events (stream, position, event_type, recorded_at, payload, prev_hash, hash) "
                    "VALUES (:stream, :position, 't.a', :at, :payload, :h, :h)"
                ),
                {
                    "stream": stream,
                    "position": position,
                    "at": "2026-01-01 00:00:00+00:00",
                    "payload": json.dumps(payload, sort_keys=True, separators=(",", ":")),
                    "h": "0" * 64,
                },
            )


def test_upgrade_backfills_the_index_and_downgrade_drops_it(fresh_engine: Engine) -> None:
    config = alembic_config(fresh_engine)
    command.upgrade(config, "0012")
    _insert_events(fresh_engine)
    command.upgrade(config, "0013")
    with fresh_engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT stream, subject_id, position FROM ledger_subjects ORDER BY position, subject_id")
        ).all()
    assert [tuple(r) for r in rows] == [
        ("consent", "per_one", 1),
        ("consent", "per_one", 2),
        ("consent", "vis_two", 2),
        ("consent", "per_one", 3),
        ("consent", "vis_two", 3),
        ("consent", "per_kid", 4),
        ("consent", "per_one", 4),
        ("consent", "per_one", 5),
    ]
    command.downgrade(config, "0012")
    assert "ledger_subjects" not in sa.inspect(fresh_engine).get_table_names()
