"""How inactivity erasure answers an access or erasure request (docs/inactivity.md).

Export: the person's clock (last contact, when the reminder and notice went), the account stub (the kinds
of identifier it signs in with, never the blind index) and the stored-value balances the store reported.

Erasure: the clock is deleted. An erasure with reason `retention.inactivity` keeps what the Third Schedule
exempts (DPDP Rules 2025 Third Schedule: "the account" and "any virtual token"): the account stub the sweep
wrote just before and the stored-value balances, reported as kept with that basis. Any other erasure (the
person's own request) deletes them too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from fiduciary.context import RuntimeContext
from fiduciary.personal_data.registry import Eraser, EraseReport, Exporter, PersonalDataRegistry, erasure_reason
from fiduciary.retention import inactivity_clock as _clock  # noqa: F401 (listens for contacts)
from fiduciary.retention.inactivity_models import BALANCES, CLOCKS, STUBS

INACTIVITY_REASON: Final = "retention.inactivity"
EXEMPT_BASIS: Final = "DPDP Rules 2025 Third Schedule (account access, virtual tokens)"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def export_inactivity(session: Session, person_id: str) -> Mapping[str, Any]:
    clock = session.execute(select(CLOCKS).where(CLOCKS.c.person_id == person_id)).first()
    stub = session.execute(select(STUBS).where(STUBS.c.person_id == person_id)).first()
    balances = session.execute(
        select(BALANCES).where(BALANCES.c.person_id == person_id).order_by(BALANCES.c.instrument)
    ).all()
    return {
        "clock": None
        if clock is None
        else {
            "last_contact_at": _iso(clock.last_contact_at),
            "reminder_sent_at": _iso(clock.reminder_sent_at),
            "notice_sent_at": _iso(clock.notice_sent_at),
            "language": clock.language,
        },
        "account_stub": None
        if stub is None
        else {
            "erased_at": _iso(stub.erased_at),
            "last_contact_at": _iso(stub.last_contact_at),
            "sign_in_kinds": sorted({entry["kind"] for entry in stub.sign_in}),
        },
        "stored_value_balances": [
            {
                "instrument": row.instrument,
                "currency": row.currency,
                "amount_minor": row.amount_minor,
                "reported_at": _iso(row.reported_at),
            }
            for row in balances
        ],
    }


def _deleted(session: Session, statement: Any) -> int:
    return int(getattr(session.execute(statement), "rowcount", 0) or 0)


def erase_inactivity(session: Session, person_id: str) -> EraseReport:
    deleted = _deleted(session, delete(CLOCKS).where(CLOCKS.c.person_id == person_id))
    if erasure_reason() == INACTIVITY_REASON:
        kept = sum(
            int(session.scalar(select(func.count()).select_from(t).where(t.c.person_id == person_id)) or 0)
            for t in (STUBS, BALANCES)
        )
        return EraseReport("inactivity", deleted=deleted, kept=kept, kept_basis=EXEMPT_BASIS if kept else None)
    for table in (STUBS, BALANCES):
        deleted += _deleted(session, delete(table).where(table.c.person_id == person_id))
    return EraseReport("inactivity", deleted=deleted)


def register(registry: PersonalDataRegistry, runtime: RuntimeContext) -> None:
    """Before `people`, after the vault (whose identifiers the sweep reads into the stub beforehand)."""
    exporter: Exporter = export_inactivity
    eraser: Eraser = erase_inactivity
    registry.register(
        "inactivity",
        exporter,
        eraser,
        ["inactivity_clocks", "inactivity_account_stubs", "stored_value_balances"],
        order=60,
    )
