"""Rights requests under test: a policy whose rights can be reshaped per test, a person with an email on
file, and the messages the outbox holds for them, opened."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.audit.models import AuditEventIndex
from fiduciary.comms.models import OutboxMessage
from fiduciary.comms.sealing import open_sealed
from fiduciary.people.service import create_person
from fiduciary.runtime import Runtime
from fiduciary.vault.service import VaultService
from jurisdictions_support import DEMO, dump_yaml

EMAIL = "meera.requests@example.org"
T0 = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)  # a Monday, 11:30 in Asia/Kolkata


def policy_with_rights(
    tmp_path: Path, changes: dict[str, dict[str, Any]], extra: list[dict[str, Any]] | None = None
) -> Path:
    """The demo policy with some rights' entries changed (by kind) and others added; written to a file."""
    data = copy.deepcopy(DEMO)
    for right in data["rights"]:
        right.update(changes.get(right["kind"], {}))
    data["rights"].extend(extra or [])
    path = tmp_path / "policy.yaml"
    path.write_text(dump_yaml(data), encoding="utf-8")
    return path


def person_with_email(session: Session, runtime: Runtime, email: str = EMAIL) -> str:
    person = create_person(session, policy=runtime.policy(), is_child=False)
    VaultService(runtime).add_identifiers(session, person.id, {"email": email})
    session.commit()
    return person.id


def messages(session: Session, runtime: Runtime) -> list[tuple[str, str]]:
    """(kind, body) of every outbox message, oldest first; bodies sealed under an erased key read as ''."""
    out = []
    for row in session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.created_at, OutboxMessage.id)):
        body = ""
        if row.body is not None:
            try:
                body = open_sealed(runtime, session, row.person_id, row.key_version, row.id, "body", row.body)
            except Exception:
                body = ""
        out.append((row.kind, body))
    return out


def last_code(session: Session, runtime: Runtime) -> str:
    codes = [re.search(r"\b(\d{6})\b", body) for kind, body in messages(session, runtime) if kind == "rights.code"]
    found = [c.group(1) for c in codes if c]
    assert found, "no code in the outbox"
    return found[-1]


def actions(session: Session, target: str | None = None) -> list[str]:
    query = sa.select(AuditEventIndex.action).order_by(AuditEventIndex.ledger_position)
    return [a for a in session.scalars(query) if a.startswith(("request.", "person."))]
