"""Helpers shared by the audit, vault-access and vault-API tests (imported, not collected)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from ruamel.yaml import YAML
from sqlalchemy.orm import Session

from fiduciary.audit.models import AuditEventIndex
from fiduciary.config import DEMO_POLICY_PATH
from fiduciary.ledger.models import LedgerEvent
from fiduciary.vault.records import PersonalField, PersonIdentifier

# full_values_for_roles as the access tests configure the demo policy:
#   customer_support: support sees full values (and the backend); security: nobody does.
FULL_VALUES = {"customer_support": ["service", "support"], "security": []}


def write_policy(tmp_path: Path, full_values: dict[str, list[str]] | None = None) -> Path:
    """The demo policy with `full_values_for_roles` set on some purposes."""
    yaml = YAML()
    document: Any = yaml.load(DEMO_POLICY_PATH.read_text(encoding="utf-8"))
    for purpose in document["purposes"]:
        roles = (full_values if full_values is not None else FULL_VALUES).get(purpose["id"])
        if roles is not None:
            purpose["full_values_for_roles"] = roles
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    path = tmp_path / "policy.yaml"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def audit_rows(session: Session) -> list[dict[str, Any]]:
    """Every audit event as (index columns + the raw ledger payload text), for filters and value scans."""
    session.expire_all()
    rows = session.execute(
        sa.select(
            AuditEventIndex.ledger_position,
            AuditEventIndex.actor,
            AuditEventIndex.action,
            AuditEventIndex.person_id,
            AuditEventIndex.purpose,
            AuditEventIndex.outcome,
            LedgerEvent.payload,
        )
        .join(
            LedgerEvent,
            sa.and_(LedgerEvent.stream == "audit", LedgerEvent.position == AuditEventIndex.ledger_position),
        )
        .order_by(AuditEventIndex.ledger_position)
    ).all()
    return [dict(row._mapping) for row in rows]


def all_audit_text(session: Session) -> str:
    """Every audit payload and index row as one text, to search for values that must never be there."""
    session.expire_all()
    payloads = session.scalars(sa.select(LedgerEvent.payload).where(LedgerEvent.stream == "audit")).all()
    index = session.execute(sa.select(AuditEventIndex)).scalars().all()
    parts = list(payloads) + [
        " ".join(str(getattr(r, c.name)) for c in AuditEventIndex.__table__.columns) for r in index
    ]
    return "\n".join(parts)


def stored_counts(session: Session) -> tuple[int, int]:
    session.expire_all()
    fields = session.scalar(sa.select(sa.func.count()).select_from(PersonalField)) or 0
    identifiers = session.scalar(sa.select(sa.func.count()).select_from(PersonIdentifier)) or 0
    return int(fields), int(identifiers)
