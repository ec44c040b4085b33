"""Verifying the audit trail: the ledger stream's chain and signatures, and that every index row matches its
event and every event has its row (`fiduciary audit verify`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.orm import Session

from fiduciary.audit.service import EVENTS, INDEX, STREAM, VERIFY_BATCH
from fiduciary.ledger.verification import VerificationReport, verify


@dataclass(frozen=True)
class AuditVerification:
    """The ledger chain's verdict, then the index's agreement with the ledger."""

    ledger: VerificationReport
    index_ok: bool
    index_rows_checked: int
    first_bad_position: int | None
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.ledger.ok and self.index_ok


_INDEX_COLUMNS: Final = ("actor", "action", "person_id", "purpose", "outcome")


def _expected(event_type: str, payload_text: str) -> tuple[str | None, ...]:
    try:
        payload = json.loads(payload_text)
    except ValueError:
        payload = {}
    if not isinstance(payload, Mapping):
        payload = {}
    return (payload.get("actor"), event_type, payload.get("person"), payload.get("purpose"), payload.get("outcome"))


def verify_index(
    session: Session, *, up_to: int | None = None, batch: int = VERIFY_BATCH
) -> tuple[int, int | None, str | None]:
    """Check that every audit ledger event up to `up_to` has an index row saying the same, and no index
    row lacks its event. Returns (rows checked, first bad position, problem)."""
    bound = up_to
    if bound is None:
        bound = (
            session.execute(sa.select(sa.func.max(EVENTS.c.position)).where(EVENTS.c.stream == STREAM)).scalar() or 0
        )
    joined = (
        sa.select(
            EVENTS.c.position,
            EVENTS.c.event_type,
            EVENTS.c.payload,
            INDEX.c.ledger_position,
            *(INDEX.c[name] for name in _INDEX_COLUMNS),
        )
        .select_from(EVENTS.outerjoin(INDEX, INDEX.c.ledger_position == EVENTS.c.position))
        .where(EVENTS.c.stream == STREAM, EVENTS.c.position > sa.bindparam("after"), EVENTS.c.position <= bound)
        .order_by(EVENTS.c.position)
        .limit(batch)
    )
    checked = 0
    after = 0
    first_bad: tuple[int, str] | None = None
    while True:
        rows = session.execute(joined, {"after": after}).all()
        for row in rows:
            if row.ledger_position is None:
                first_bad = (row.position, f"the audit index has no row for ledger position {row.position}")
                break
            expected = _expected(row.event_type, row.payload)
            actual = tuple(getattr(row, name) for name in _INDEX_COLUMNS)
            if expected != actual:
                differs = [n for n, e, a in zip(_INDEX_COLUMNS, expected, actual, strict=True) if e != a]
                first_bad = (
                    row.position,
                    f"the audit index row at position {row.position} differs from the ledger in {', '.join(differs)}",
                )
                break
            checked += 1
        if first_bad is not None or len(rows) < batch:
            break
        after = rows[-1].position
    orphan = session.execute(
        sa.select(sa.func.min(INDEX.c.ledger_position)).where(
            ~sa.exists().where(EVENTS.c.stream == STREAM, EVENTS.c.position == INDEX.c.ledger_position)
        )
    ).scalar()
    if orphan is not None and (first_bad is None or orphan < first_bad[0]):
        first_bad = (orphan, f"the audit index has a row at position {orphan} with no ledger event")
    if first_bad is None:
        return checked, None, None
    return checked, first_bad[0], first_bad[1]


def verify_audit(session: Session, public_keys: Sequence[Ed25519PublicKey] | None = None) -> AuditVerification:
    """Verify the audit stream's chain and signatures, then that the index agrees with it.

    The index is checked only up to the last position the chain vouches for; a broken chain is reported
    first, because an index row can only be as trustworthy as the event it points to.
    """
    report = verify(session, STREAM, public_keys)
    if not report.ok:
        return AuditVerification(report, True, 0, report.first_bad_position, report.problem)
    checked, bad, problem = verify_index(session, up_to=report.head_position)
    return AuditVerification(report, bad is None, checked, bad, problem)
