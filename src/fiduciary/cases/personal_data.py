"""How the cases domain answers an access or erasure request: the cases a person opened or that concern
them (an access package lists them, GDPR Art 15 and DPDP s.11, without staff's internal notes), and on
erasure each case's key destroyed (crypto-shredding: the complaint, the notes, the replies become unreadable)
while the case rows, their history and clocks stay, pseudonymous, as the store's proof that it answered in
time (DPDP s.8(10) and Rule 14(3); GDPR Art 5(2))."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fiduciary.cases.clocks import clocks_of
from fiduciary.cases.models import CASES_TABLE, NOTES_TABLE, Case
from fiduciary.cases.workflow import cases_of, history_of
from fiduciary.context import RuntimeContext
from fiduciary.personal_data.registry import EraseReport, PersonalDataRegistry

KEPT_BASIS: Final = "each case is kept, without its text, as proof it was answered in time (DPDP Rule 14(3))"
TABLES: Final = ("cases", "case_events", "case_clocks", "case_notes")


def export_cases(session: Session, person_id: str) -> Mapping[str, Any]:
    return {
        "cases": [
            {
                "id": case.id,
                "kind": case.kind,
                "state": case.state,
                "channel": case.channel,
                "opened_at": case.opened_at.isoformat(),
                "closed_at": case.closed_at.isoformat() if case.closed_at else None,
                "outcome_reason": case.outcome_reason,
                "clocks": [
                    {
                        "name": c.name,
                        "due_at": c.due_at.isoformat(),
                        "met_at": c.met_at.isoformat() if c.met_at else None,
                    }
                    for c in clocks_of(session, case.id)
                ],
                "history": [
                    {"at": e.at.isoformat(), "action": e.action, "state": e.to_state}
                    for e in history_of(session, case.id)
                ],
            }
            for case in cases_of(session, person_id)
        ]
    }


def erase_cases(session: Session, person_id: str) -> EraseReport:
    """Destroy each of the person's cases' keys and ciphertexts; keep codes, dates, history and clocks.
    Idempotent: a second erasure finds nothing left to destroy."""
    ids = list(session.scalars(select(Case.id).where(Case.person_id == person_id)))
    if not ids:
        return EraseReport("cases")
    changed = session.execute(
        update(CASES_TABLE)
        .where(
            CASES_TABLE.c.person_id == person_id,
            CASES_TABLE.c.key_wrapped.is_not(None) | CASES_TABLE.c.sealed.is_not(None),
        )
        .values(key_wrapped=None, kek_id=None, sealed=None)
    ).rowcount  # type: ignore[attr-defined]
    notes = session.execute(
        update(NOTES_TABLE).where(NOTES_TABLE.c.case_id.in_(ids), NOTES_TABLE.c.sealed.is_not(None)).values(sealed=None)
    ).rowcount  # type: ignore[attr-defined]
    return EraseReport(
        "cases", changed=int(changed or 0), kept=len(ids), kept_basis=KEPT_BASIS, detail={"notes": int(notes or 0)}
    )


def register(registry: PersonalDataRegistry, runtime: RuntimeContext) -> None:
    registry.register("cases", export_cases, erase_cases, list(TABLES), order=85)
