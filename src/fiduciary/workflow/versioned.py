"""The engine that applies a workflow's transition to its row: one conditional UPDATE on the row's version.

No `SELECT … FOR UPDATE` (SQLite has none, and a held lock would make a slow step block every reader): the
row is read, the step decided, and the UPDATE carries `WHERE version = <the version read>`. Of two
concurrent changes of one row exactly one matches; the other gets the workflow's 409 and its whole
transaction rolls back, so nothing it did is left behind (decisions 0031 and 0033).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Table, update
from sqlalchemy.orm import Session

from fiduciary.errors import Conflict, FieldProblem
from fiduciary.workflow.machine import StateMachine


def advance(
    session: Session,
    table: Table,
    row: Any,
    machine: StateMachine,
    changes: Mapping[str, Any],
    now: datetime,
    *,
    id_field: str,
) -> None:
    """Write `changes` (and the next version, `updated_at`) to `row` if nobody changed it since it was read;
    else 409 `machine.changed_code` naming `id_field`. The ORM object is refreshed from the database."""
    done = session.execute(
        update(table)
        .where(table.c.id == row.id, table.c.version == row.version)
        .values(version=row.version + 1, updated_at=now, **changes)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(
            f"The {machine.noun} changed while this was being done; read it again.",
            code=machine.changed_code,
            fields=[FieldProblem(id_field, f"another change to this {machine.noun} won")],
        )
    session.refresh(row)
