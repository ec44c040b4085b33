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
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fiduciary.audit.service import Action, AuditEvent, Outcome
from fiduciary.context import RuntimeContext
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.schema import FieldType
from fiduciary.unit_of_work import unit_of_work
from fiduciary.vault.keys.data_keys import PersonErased
from fiduciary.vault.masking import mask_value
from fiduciary.vault.records import PersonalField
from fiduciary.vault.service import VaultService
from fiduciary.vault.validation import MASK

RECORDS_SHOWN: Final = 50  # a multi-valued category's newest records shown; the rest are counted (the download has all)


@dataclass(frozen=True)
class MaskedItem:
    """One category the person has data in: its id, the policy's name for it, and every value held, masked
    (several for a multi-valued category such as addresses or orders, or for two phone numbers on file)."""

    category: str
    name: str
    values: tuple[str, ...]
    more: int = 0  # records held beyond those shown


def _masked(field_type: str, value: str, country: str) -> str:
    try:
        return mask_value(FieldType(field_type), value, country)
    except ValueError:  # not a field type (an identifier kind the policy does not type): the bare mask
        return MASK


def _record_counts(session: Session, person_id: str) -> dict[str, int]:
    """category → how many records of a multi-valued category the person has; nothing is decrypted."""
    rows = session.execute(
        select(PersonalField.category, func.count())
        .where(PersonalField.person_id == person_id, PersonalField.item != "")
        .group_by(PersonalField.category)
    )
    return {category: count for category, count in rows}


def _records(
    vault: VaultService, session: Session, person_id: str, policy: CompiledPolicy, country: str
) -> list[MaskedItem]:
    items = []
    for category, count in sorted(_record_counts(session, person_id).items()):
        if category not in policy.categories:
            continue  # a category the policy no longer declares is not shown by an unknown name
        offset = max(0, count - RECORDS_SHOWN)  # the newest, oldest first among them
        records = vault.get_records(session, person_id, category, limit=RECORDS_SHOWN, offset=offset)
        kind = policy.categories[category].field_type
        values = tuple(_masked(kind, r.value, country) for r in records)
        items.append(MaskedItem(category, policy.categories[category].name, values, more=offset))
    return items


def masked_own_view(runtime: RuntimeContext, session: Session, actor: str, person_id: str) -> list[MaskedItem]:
    """Every category with a stored value (each record of a multi-valued one), and the person's identifiers,
    masked; audited in the caller's unit of work (the caller commits). An erased person has nothing to show."""
    vault = VaultService(runtime)
    policy = runtime.policy()
    country = policy.document.controller.default_country
    try:
        fields = vault.get_fields(session, person_id)
        identifiers = vault.get_identifiers(session, person_id)
        records = {r.category: r for r in _records(vault, session, person_id, policy, country)}
    except PersonErased:
        return []
    items = []
    for category in sorted({c for c in fields if c in policy.categories} | set(records)):
        # A category the policy no longer declares is not shown by an unknown name (`_records` skips it too).
        held = records.get(category)
        single = fields.get(category)
        one = (_masked(policy.categories[category].field_type, single, country),) if single is not None else ()
        values = one + (held.values if held else ())
        items.append(MaskedItem(category, policy.categories[category].name, values, held.more if held else 0))
    by_kind: dict[str, list[str]] = {}
    for kind, value in identifiers:
        by_kind.setdefault(kind, []).append(_masked(kind, value, country))
    items += [MaskedItem("identifier." + kind, kind, tuple(values)) for kind, values in by_kind.items()]
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
