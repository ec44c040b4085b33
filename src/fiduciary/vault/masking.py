"""Masking by role: what a role sees of a stored value (DPDP s.8(5) and Rule 6(1)(b); GDPR Art 32(1)).

Roles see masked values (support sees ******4321) unless the purpose lists the role in
`full_values_for_roles`; unset, only `service`, the store backend's own processing, sees full values.
The mask of each type is the one `fiduciary.vault.validation` defines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from fiduciary.errors import FiduciaryError
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.schema import AccessRole, FieldType
from fiduciary.vault.validation import MASK, validate_field

DEFAULT_FULL_VALUE_ROLES: Final = frozenset({AccessRole.SERVICE})
# Types whose mask is a constant: no need to re-validate the stored value to mask it (free text would
# otherwise run the recognisers again on every masked read).
_CONSTANT_MASKS: Final[Mapping[FieldType, str]] = {
    FieldType.TEXT: MASK,
    FieldType.FREE_TEXT: MASK,
    FieldType.JSON: MASK,
    FieldType.PIN_CODE: MASK,
    FieldType.DATE: "****-**-**",
}


def mask_value(field_type: FieldType | str, stored: str, default_country: str) -> str:
    """The masked form of a stored (already normalised) value, as validation defines it per type.

    Falls back to the bare mask when the stored value no longer validates (e.g. the policy changed the
    category's type): a masked read must never fail or leak.
    """
    kind = FieldType(field_type)
    constant = _CONSTANT_MASKS.get(kind)
    if constant is not None:
        return constant
    try:
        return validate_field(kind, stored, default_country=default_country).masked
    except FiduciaryError:
        return MASK


def full_value_roles(policy: CompiledPolicy, purpose: str) -> frozenset[str]:
    declared = policy.purposes.get(purpose)
    if declared is None or declared.full_values_for_roles is None:
        return frozenset(r.value for r in DEFAULT_FULL_VALUE_ROLES)
    return frozenset(r.value for r in declared.full_values_for_roles)


def reveal(
    policy: CompiledPolicy, allowed: Sequence[str], stored: Mapping[str, str], full: bool
) -> tuple[dict[str, str], list[str]]:
    """The allowed fields as the role may see them (full, or masked), and which were masked."""
    fields: dict[str, str] = {}
    masked: list[str] = []
    country = policy.document.controller.default_country
    for category in allowed:
        if category not in stored:
            continue
        if full:
            fields[category] = stored[category]
        else:
            fields[category] = mask_value(policy.categories[category].field_type, stored[category], country)
            masked.append(category)
    return fields, masked
