"""How retention answers an access or erasure request: the staff holds on the person (listed on their access
package, with reason, who, and until when); on erasure, the values a hold in force covers are first kept as
legal-hold records (`holds.preserve_held`, before the vault destroys the key), and the hold rows stay as the
reason they are kept (GDPR Art 17(3)(e); DPDP s.8(7))."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from sqlalchemy.orm import Session

from fiduciary.context import RuntimeContext
from fiduciary.personal_data.registry import EraseReport, PersonalDataRegistry
from fiduciary.retention.holds import holds_of, preserve_held

KEPT_BASIS: Final = "a staff hold for a dispute or an authority's order keeps the data it covers until it ends"


def export_holds(session: Session, person_id: str) -> Mapping[str, Any]:
    return {"holds": [h.to_dict() for h in holds_of(session, person_id)]}


def register(registry: PersonalDataRegistry, runtime: RuntimeContext) -> None:
    def erase_holds(session: Session, person_id: str) -> EraseReport:
        kept_values = preserve_held(runtime, session, person_id)
        holds = len(holds_of(session, person_id))
        return EraseReport(
            "retention_holds",
            kept=holds,
            kept_basis=KEPT_BASIS if holds else None,
            detail={"values_kept": kept_values} if kept_values else {},
        )

    # order 5: before the vault (10) destroys the key the held values are read with
    registry.register("retention_holds", export_holds, erase_holds, ["retention_holds"], order=5)
