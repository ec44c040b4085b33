"""Validation, normalisation and masking of the personal values the vault stores.

Every value is checked for its category's `FieldType` before it is encrypted (DPDP s.8(3): personal data
used to make decisions must be complete and accurate), normalised so that equal values index equally, and
given a masked form for roles that may see only part of it (DPDP Rule 6(1)(a): masking).

Rules that cut across the types:

- Card numbers: a Luhn-valid 13-19 digit number, with or without spaces or dashes, is refused in every
  structured field (PCI DSS: store the gateway's token, never the card number) and redacted from free text.
  Store-issued customer ids given to `normalise_identifier` are the one exception: they are lookup keys the
  store assigns, and numeric ids of 13+ digits are Luhn-valid one time in ten (decision 0004).
- Aadhaar is never kept in full: the stored value is the masked "XXXXXXXX1234" and the digits are dropped
  after the Verhoeff check (Aadhaar Act 2016 s.29; Aadhaar (Data Security) Regulations 2016; UIDAI's rule
  that requesting entities keep only masked or tokenised numbers).
- Size: each type has a maximum in UTF-8 bytes (`MAX_BYTES`), checked before any other work.
- Errors name the field and say what is wrong, never the value: messages are fixed strings and the
  exception of the library that rejected the value is not chained (it may quote the value).

Masks show the last four meaningful characters after a fixed "******" (so the length is not revealed),
and nothing at all for values too short to hide the rest: see `value_checks.tail_mask` and the per-type notes.

This module is the surface the vault calls (`validate_field`, `normalise_identifier`) and the table from
`FieldType` to validator. The validators live by kind of value: `value_checks` (what every type shares:
limits, the field error, card numbers), `value_identifiers` (email, phone, customer id), `value_documents`
(PAN, GSTIN, Aadhaar, PIN, payment token, date, location, opaque references) and `value_text` (text, free
text, JSON, postal address).
"""

from __future__ import annotations

from collections.abc import Callable

from fiduciary.policy.schema import FieldType
from fiduciary.vault.redaction import (
    Finding,
    RedactionResult,
    find_card_numbers,
    redact_free_text,
)
from fiduciary.vault.value_checks import (
    MASK,
    MAX_BYTES,
    ValidatedValue,
    check_size,
    contains_card_number,
    fail,
)
from fiduciary.vault.value_documents import (
    aadhaar_value,
    date_value,
    gstin_value,
    location_value,
    opaque_value,
    pan_value,
    payment_token_value,
    pin_code_value,
)
from fiduciary.vault.value_identifiers import IdentifierKind, email_value, normalise_identifier, phone_value
from fiduciary.vault.value_text import free_text_value, json_value, postal_address_value, text_value

__all__ = [
    "MASK",
    "MAX_BYTES",
    "Finding",
    "IdentifierKind",
    "RedactionResult",
    "ValidatedValue",
    "contains_card_number",
    "find_card_numbers",
    "normalise_identifier",
    "redact_free_text",
    "validate_field",
]

# ---------------------------------------------------------------------------------------------- dispatch

_Validator = Callable[[str, str, str], ValidatedValue]  # (field, value, default_country)

_VALIDATORS: dict[FieldType, _Validator] = {
    FieldType.TEXT: lambda field, value, _country: text_value(field, value),
    FieldType.FREE_TEXT: free_text_value,
    FieldType.EMAIL: lambda field, value, _country: email_value(field, value),
    FieldType.PHONE: phone_value,
    FieldType.DATE: lambda field, value, _country: date_value(field, value),
    FieldType.POSTAL_ADDRESS: lambda field, value, _country: postal_address_value(field, value),
    FieldType.PIN_CODE: lambda field, value, _country: pin_code_value(field, value),
    FieldType.PAN: lambda field, value, _country: pan_value(field, value),
    FieldType.GSTIN: lambda field, value, _country: gstin_value(field, value),
    FieldType.AADHAAR: lambda field, value, _country: aadhaar_value(field, value),
    FieldType.PAYMENT_TOKEN: lambda field, value, _country: payment_token_value(field, value),
    FieldType.DOCUMENT_REFERENCE: lambda field, value, _country: opaque_value(field, value),
    FieldType.DEVICE: lambda field, value, _country: opaque_value(field, value),
    FieldType.LOCATION: lambda field, value, _country: location_value(field, value),
    FieldType.IDENTIFIER: lambda field, value, _country: opaque_value(field, value),
    FieldType.JSON: lambda field, value, _country: json_value(field, value),
    FieldType.MEDIA_REFERENCE: lambda field, value, _country: opaque_value(field, value),
}


def validate_field(field_type: FieldType, value: str, *, default_country: str, field: str = "value") -> ValidatedValue:
    """Validate `value` as `field_type`; return the normalised value to store and its masked form.

    Raises ValidationFailed (422) naming `field`, with a message that never contains the value.
    """
    if type(field_type) is FieldType:  # the usual case; the enum's lookup costs more than the validator
        kind = field_type
    else:
        try:
            kind = FieldType(field_type)
        except ValueError:
            fail(field, "has an unknown field type", code="invalid_field_type")
    value = check_size(field, value, MAX_BYTES[kind])
    return _VALIDATORS[kind](field, value, default_country)
