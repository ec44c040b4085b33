"""How the breach register answers an access or erasure request: the breaches a person was told of.

Export: each incident the person was selected for, with when and how they were told. Erasure: the rows are
kept (they hold only the pseudonymous id, the outcome and times, and are the evidence for the Board's report
on the intimations given, DPDP Rule 7(2)(b)(vi)); a person not told yet is marked `erased`, so no batch
writes to them after their erasure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from fiduciary.cases.breach.models import BreachNotice
from fiduciary.cases.breach.notices import Outcome
from fiduciary.context import RuntimeContext
from fiduciary.personal_data.registry import Eraser, EraseReport, Exporter, PersonalDataRegistry

KEPT_BASIS: Final = "breach intimation records (incident, outcome, times) kept as proof under DPDP Rule 7(2)(b)(vi)"


def export_notices(session: Session, person_id: str) -> Mapping[str, Any]:
    rows = session.scalars(
        select(BreachNotice).where(BreachNotice.person_id == person_id).order_by(BreachNotice.selected_at)
    )
    return {
        "breach_notices": [
            {
                "incident": row.case_id,
                "selected_at": row.selected_at.isoformat(),
                "outcome": row.outcome,
                "channel": row.channel,
                "told_at": row.told_at.isoformat() if row.told_at else None,
            }
            for row in rows
        ]
    }


def erase_notices(session: Session, person_id: str) -> EraseReport:
    result = session.execute(
        update(BreachNotice)
        .where(BreachNotice.person_id == person_id, BreachNotice.outcome.is_(None))
        .values(outcome=Outcome.ERASED)
    )
    changed = int(getattr(result, "rowcount", 0) or 0)
    kept = int(session.scalar(select(func.count()).where(BreachNotice.person_id == person_id)) or 0)
    return EraseReport("breach", changed=changed, kept=kept, kept_basis=KEPT_BASIS if kept else None)


def register(registry: PersonalDataRegistry, runtime: RuntimeContext) -> None:
    """Before `people`, whose row the notices reference."""
    exporter: Exporter = export_notices
    eraser: Eraser = erase_notices
    registry.register("breach", exporter, eraser, ["breach_notices"], order=52)
