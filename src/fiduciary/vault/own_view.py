"""A person's own view of what the vault holds about them, always masked (the privacy center's "my data").

The person is not a staff role reading for a purpose, so the purpose-bound door (`vault.access`) does not fit:
it would withhold a consent purpose's categories after a withdrawal, yet the person is owed a summary of what
is held regardless (DPDP s.11(1)(a), GDPR Art 15(1)(b)). Every value is still masked the way support sees it
(`vault.masking`, DPDP Rule 6(1)(b)): the page may be read over a shoulder or from a shared device, and the full
copy is the access request's package, delivered to the identifier on file. Each view is audited like a read
(`field.read`, the categories shown, reason `data_principal`, `masked`), with no value in the event.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from fiduciary.audit.service import Action, AuditEvent, Outcome
from fiduciary.context import RuntimeContext
from fiduciary.policy.schema import FieldType
from fiduciary.unit_of_work import unit_of_work
from fiduciary.vault.keys.data_keys import PersonErased
from fiduciary.vault.masking import mask_value
from fiduciary.vault.service import VaultService
from fiduciary.vault.validation import MASK


@dataclass(frozen=True)
class MaskedItem:
    """One category the person has data in: its id, the policy's name for it, and the masked value."""

    category: str
    name: str
    masked: str


def _masked(field_type: str, value: str, country: str) -> str:
    try:
        return mask_value(FieldType(field_type), value, country)
    except ValueError:  # not a field type (an identifier kind the policy does not type): the bare mask
        return MASK


def masked_own_view(runtime: RuntimeContext, session: Session, actor: str, person_id: str) -> list[MaskedItem]:
    """Every category with a stored value, and the person's identifiers, masked; audited in the caller's
    unit of work (the caller commits). An erased person has nothing to show."""
    vault = VaultService(runtime)
    policy = runtime.policy()
    country = policy.document.controller.default_country
    try:
        fields = vault.get_fields(session, person_id)
        identifiers = vault.get_identifiers(session, person_id)
    except PersonErased:
        return []
    items = [
        MaskedItem(c, policy.categories[c].name, _masked(policy.categories[c].field_type, v, country))
        for c, v in sorted(fields.items())
        if c in policy.categories  # a category the policy no longer declares is not shown by an unknown name
    ]
    items += [MaskedItem("identifier." + kind, kind, _masked(kind, v, country)) for kind, v in identifiers]
    shown = sorted({i.category for i in items if not i.category.startswith("identifier.")})
    unit_of_work(runtime, session).audit(
        AuditEvent(
            actor=actor,
            action=Action.FIELD_READ,
            outcome=Outcome.ALLOWED,
            person_id=person_id,
            categories=shown,
            reasons=["data_principal", "masked"],
        )
    )
    return items
