"""Several writer PROCESSES on one database, on both engines (issue 17, `fiduciary serve --workers N`).

Each writer is a real process with its own runtime and connection pool, as a server worker is. SQLite must
stay correct with them all writing (WAL, busy_timeout, `write_transaction`'s retries on a busy database);
the ledger's head lock must serialise appends across processes (the head row's `SELECT … FOR UPDATE` on
PostgreSQL, SQLite's single write lock). Afterwards every acknowledged write is there, positions are
exactly 1..N with no gap or fork, and `fiduciary ledger verify` and `audit verify` pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from fiduciary.cli.main import app
from fiduciary.consent.models import ConsentState
from fiduciary.ledger.models import LedgerEvent
from fiduciary.runtime import Runtime
from writer_support import acknowledged, start_writers

pytestmark = pytest.mark.slow

WRITERS = 4


def _positions(session: Session, stream: str) -> list[int]:
    rows = session.scalars(
        sa.select(LedgerEvent.position).where(LedgerEvent.stream == stream).order_by(LedgerEvent.position)
    )
    return list(rows)


def _verify_cli() -> None:
    for command in (["ledger", "verify"], ["audit", "verify"]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 0, result.output
        assert "ok" in result.output or "nothing to verify" in result.output, result.output


def test_concurrent_consent_writers_lose_nothing(cli_env: None, runtime: Runtime, tmp_path: Path) -> None:
    per_writer = 60
    procs = start_writers("consents", runtime.settings.resolved_database_url, tmp_path / "data", WRITERS, per_writer)
    acks = acknowledged(procs)

    assert len(acks) == WRITERS * per_writer  # every writer finished every write (none gave up as busy)
    with runtime.sessions() as session:
        positions = _positions(session, "consent")
        assert positions == list(range(1, WRITERS * per_writer + 1))  # no gap, no duplicate position
        assert sorted(int(str(a["position"])) for a in acks) == positions  # each acknowledged write is stored
        subjects = set(session.scalars(sa.select(ConsentState.subject_id)))
        assert {str(a["subject"]) for a in acks} <= subjects
    _verify_cli()


def test_concurrent_appenders_share_one_chain(cli_env: None, runtime: Runtime, tmp_path: Path) -> None:
    per_writer = 200
    procs = start_writers("ledger", runtime.settings.resolved_database_url, tmp_path / "data", WRITERS, per_writer)
    acks = acknowledged(procs)

    total = WRITERS * per_writer
    assert len(acks) == total
    with runtime.sessions() as session:
        assert _positions(session, "multiproc") == list(range(1, total + 1))
    assert sorted(int(str(a["position"])) for a in acks) == list(range(1, total + 1))
    # Each writer's own appends got increasing positions: its transactions were serialised, not reordered.
    for writer in {str(a["writer"]) for a in acks}:
        mine = [int(str(a["position"])) for a in acks if a["writer"] == writer]
        assert mine == sorted(mine)
    _verify_cli()
