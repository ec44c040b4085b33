"""How the disclosures domain answers an access or erasure request, and how it hears of changes.

Export: the person's disclosures — which recipient (its name and kind), for which purpose, which categories,
when, under which policy version — and the notices sent to recipients about them, with their state (DPDP
s.11(1)(b): "the identities of all other Data Fiduciaries and Data Processors with whom the personal data
has been shared … along with a description of the personal data so shared"; GDPR Art 15(1)(c)). An
authority's order reference is not shown to the person.

Erasure: the rows are kept. They hold the pseudonymous person id, the recipient's reference and category
names, never a value, and they are the store's proof of what it disclosed and that it told each recipient
of the erasure (GDPR Art 5(2), 17(2) and 19; DPDP s.8(7)(b)). The erasure itself is announced to the
listener below by the registry (`personal_data.registry.erase_person`), after every eraser ran.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fiduciary.context import RuntimeContext
from fiduciary.disclosures.log import disclosures_of
from fiduciary.disclosures.models import DisclosureSubject, WebhookDelivery
from fiduciary.disclosures.propagation import list_deliveries, listener
from fiduciary.personal_data.registry import EraseReport, Exporter, PersonalDataRegistry

TABLES: Final = ("disclosure_subjects", "webhook_deliveries")
KEPT_BASIS: Final = (
    "the disclosure log and the notices to recipients hold pseudonymous ids and category names only; kept as "
    "proof of what was shared and that every recipient was told (GDPR Art 5(2), 17(2), 19; DPDP s.8(7))"
)
MAX_EXPORTED_NOTICES: Final = 10_000


def _exporter(runtime: RuntimeContext) -> Exporter:
    def export_disclosures(session: Session, person_id: str) -> Mapping[str, Any]:
        recipients = runtime.policy().recipients
        shared = []
        for entry, ref in disclosures_of(session, person_id):
            recipient = recipients.get(entry.recipient_id)
            shared.append(
                {
                    "disclosure_id": entry.id,
                    "recipient": entry.recipient_id,
                    "recipient_name": recipient.name if recipient is not None else entry.recipient_id,
                    "recipient_kind": entry.recipient_kind,
                    "purpose": entry.purpose,
                    "categories": ", ".join(entry.categories),
                    "disclosed_at": entry.disclosed_at.isoformat(),
                    "policy_version": entry.policy_version,
                    "your_reference_there": ref,
                }
            )
        notices = [
            {
                "notice_id": d.id,
                "recipient": d.recipient_id,
                "event": d.event,
                "categories": ", ".join(d.categories),
                "state": d.state,
                "created_at": d.created_at.isoformat(),
                "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None,
                "acknowledged_at": d.acknowledged_at.isoformat() if d.acknowledged_at else None,
                "acknowledgement": d.acknowledgement,  # what the recipient said it did: done, not_held
            }
            for d in list_deliveries(session, person_id=person_id, limit=MAX_EXPORTED_NOTICES)
        ]
        return {"disclosures": shared, "notices": notices}

    return export_disclosures


def keep_disclosures(session: Session, person_id: str) -> EraseReport:
    """Nothing to erase: the rows hold no value (see the module docstring); counted as kept."""
    disclosed = session.scalar(select(func.count()).where(DisclosureSubject.person_id == person_id)) or 0
    notices = session.scalar(select(func.count()).where(WebhookDelivery.person_id == person_id)) or 0
    kept = int(disclosed) + int(notices)
    return EraseReport("disclosures", kept=kept, kept_basis=KEPT_BASIS if kept else None)


def register(registry: PersonalDataRegistry, runtime: RuntimeContext) -> None:
    registry.register("disclosures", _exporter(runtime), keep_disclosures, TABLES, order=60)
    registry.add_change_listener(listener(runtime))
