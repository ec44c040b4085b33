"""What every vault value check shares: the validated value, size limits, the mask, the field error, and the
checks that cut across types (size, control characters, card numbers; PCI DSS: a card number is refused).

The validators per type are `value_identifiers`, `value_documents` and `value_text`; `validation`
dispatches on the category's `FieldType`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import NoReturn

from fiduciary.errors import FieldProblem, ValidationFailed
from fiduciary.policy.schema import FieldType
from fiduciary.vault.checksums import (
    luhn_valid,
)
from fiduciary.vault.redaction import (
    CARD_MAX_DIGITS,
    CARD_MIN_DIGITS,
    Finding,
    count_ascii_digits,
    find_card_numbers,
)


@dataclass(frozen=True)
class ValidatedValue:
    """`value` is what the vault encrypts and stores; `masked` is what a role without the full-value need
    sees (support: "******4321"). `redactions` lists what free-text redaction removed (types and offsets
    only), for the audit trail."""

    value: str
    masked: str
    redactions: tuple[Finding, ...] = ()


KIB = 1024
# Largest accepted value per type, in UTF-8 bytes of the input as given.
MAX_BYTES: dict[FieldType, int] = {
    FieldType.TEXT: 1 * KIB,
    FieldType.FREE_TEXT: 64 * KIB,
    FieldType.EMAIL: 1 * KIB,
    FieldType.PHONE: 64,
    FieldType.DATE: 32,
    FieldType.POSTAL_ADDRESS: 4 * KIB,
    FieldType.PIN_CODE: 16,
    FieldType.PAN: 32,
    FieldType.GSTIN: 32,
    FieldType.AADHAAR: 32,
    FieldType.PAYMENT_TOKEN: 1 * KIB,
    FieldType.DOCUMENT_REFERENCE: 1 * KIB,
    FieldType.DEVICE: 1 * KIB,
    FieldType.LOCATION: 64,
    FieldType.IDENTIFIER: 256,
    FieldType.JSON: 64 * KIB,
    FieldType.MEDIA_REFERENCE: 1 * KIB,
}
CUSTOMER_ID_MAX_BYTES = 256
PAYMENT_TOKEN_MIN = 8
PAYMENT_TOKEN_MAX = 200
JSON_MAX_DEPTH = 32
ADDRESS_MAX_LINES = 8
ADDRESS_PART_MAX = 200

MASK = "******"

# ------------------------------------------------------------------------------------------------- errors

CARD_MESSAGE = "looks like a payment card number: store the gateway token, never the card number"
CARD_HINT = "PCI DSS: a Luhn-valid 13-19 digit number is treated as a card number (PAN) and is not stored"


def fail(field: str, message: str, *, code: str, hint: str | None = None) -> NoReturn:
    """Raise the field's error. Callers never call this inside an `except` block: a library exception
    may quote the value, and it would ride along as `__context__` into tracebacks and logs."""
    raise ValidationFailed(f"Field '{field}' {message}.", [FieldProblem(field, message, hint)], code=code)


# ---------------------------------------------------------------------------------------- common checks

CONTROL_EXCEPT_TAB_NEWLINE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
CONTROL_ANY = re.compile(r"[\x00-\x1f\x7f-\x9f]")
SEPARATORS = re.compile(r"[\s\-]+")
DIGIT_RUN = re.compile(r"(?<![0-9])[0-9]{13,19}(?![0-9])")


def check_size(field: str, value: object, limit: int) -> str:
    if not isinstance(value, str):
        fail(field, "must be a string", code="invalid_type")
    # Characters are at least one byte each: a long string is refused before it is encoded.
    if len(value) > limit:
        fail(field, f"is too large (at most {limit} bytes)", code="value_too_large")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        size = -1
    if size < 0:
        fail(field, "is not valid Unicode text (it contains an unpaired surrogate)", code="invalid_text")
    if size > limit:
        fail(field, f"is too large (at most {limit} bytes)", code="value_too_large")
    return value


def single_line(field: str, value: str) -> str:
    """Stripped, non-empty, no control characters at all (identifiers, references, tokens)."""
    value = value.strip()
    if not value:
        fail(field, "must not be empty", code="empty_value")
    if CONTROL_ANY.search(value):
        fail(field, "must not contain control characters or line breaks", code="invalid_characters")
    return value


def multi_line(field: str, value: str) -> str:
    """NFC, line endings as LF, stripped, non-empty; tab and newline are the only control characters."""
    value = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not value:
        fail(field, "must not be empty", code="empty_value")
    if CONTROL_EXCEPT_TAB_NEWLINE.search(value):
        fail(field, "must not contain control characters other than tab and newline", code="invalid_characters")
    return value


def contains_card_number(value: str, *, strict: bool = False) -> bool:
    """A Luhn-valid 13-19 digit number anywhere in `value`.

    Checked three ways: the whole value without spaces and dashes; `find_card_numbers` (word-bounded, as
    typed in text); and, when `strict`, any 13-19 digit run even if glued to letters (payment tokens, where
    a real gateway token never holds such a run).
    """
    if count_ascii_digits(value) < CARD_MIN_DIGITS:
        return False
    compact = SEPARATORS.sub("", value)
    if CARD_MIN_DIGITS <= len(compact) <= CARD_MAX_DIGITS and compact.isascii() and luhn_valid(compact):
        return True
    if find_card_numbers(value):
        return True
    return strict and any(luhn_valid(match.group()) for match in DIGIT_RUN.finditer(value))


def refuse_card_number(field: str, value: str, *, strict: bool = False) -> None:
    if contains_card_number(value, strict=strict):
        fail(field, CARD_MESSAGE, code="card_number_refused", hint=CARD_HINT)


def tail_mask(value: str, keep: int = 4) -> str:
    """ "******" + the last `keep` characters, or "******" alone when that would show half the value."""
    if len(value) < 2 * keep:
        return MASK
    return MASK + value[-keep:]
