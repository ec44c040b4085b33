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
and nothing at all for values too short to hide the rest: see `_tail_mask` and the per-type notes below.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, NoReturn

import phonenumbers
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from fiduciary.errors import FieldProblem, ValidationFailed
from fiduciary.policy.schema import FieldType
from fiduciary.vault.checksums import (
    GSTIN_STATE_CODES,
    PAN_PATTERN,
    gstin_valid,
    luhn_valid,
    verhoeff_valid,
)
from fiduciary.vault.redaction import (
    CARD_MAX_DIGITS,
    CARD_MIN_DIGITS,
    Finding,
    RedactionResult,
    count_ascii_digits,
    find_card_numbers,
    redact_free_text,
)

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

IdentifierKind = Literal["email", "phone", "customer_id"]


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


def _fail(field: str, message: str, *, code: str, hint: str | None = None) -> NoReturn:
    """Raise the field's error. Callers never call this inside an `except` block: a library exception
    may quote the value, and it would ride along as `__context__` into tracebacks and logs."""
    raise ValidationFailed(f"Field '{field}' {message}.", [FieldProblem(field, message, hint)], code=code)


# ---------------------------------------------------------------------------------------- common checks

_CONTROL_EXCEPT_TAB_NEWLINE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_ANY = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SEPARATORS = re.compile(r"[\s\-]+")
_DIGIT_RUN = re.compile(r"(?<![0-9])[0-9]{13,19}(?![0-9])")


def _check_size(field: str, value: object, limit: int) -> str:
    if not isinstance(value, str):
        _fail(field, "must be a string", code="invalid_type")
    # Characters are at least one byte each: a long string is refused before it is encoded.
    if len(value) > limit:
        _fail(field, f"is too large (at most {limit} bytes)", code="value_too_large")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        size = -1
    if size < 0:
        _fail(field, "is not valid Unicode text (it contains an unpaired surrogate)", code="invalid_text")
    if size > limit:
        _fail(field, f"is too large (at most {limit} bytes)", code="value_too_large")
    return value


def _single_line(field: str, value: str) -> str:
    """Stripped, non-empty, no control characters at all (identifiers, references, tokens)."""
    value = value.strip()
    if not value:
        _fail(field, "must not be empty", code="empty_value")
    if _CONTROL_ANY.search(value):
        _fail(field, "must not contain control characters or line breaks", code="invalid_characters")
    return value


def _multi_line(field: str, value: str) -> str:
    """NFC, line endings as LF, stripped, non-empty; tab and newline are the only control characters."""
    value = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not value:
        _fail(field, "must not be empty", code="empty_value")
    if _CONTROL_EXCEPT_TAB_NEWLINE.search(value):
        _fail(field, "must not contain control characters other than tab and newline", code="invalid_characters")
    return value


def contains_card_number(value: str, *, strict: bool = False) -> bool:
    """A Luhn-valid 13-19 digit number anywhere in `value`.

    Checked three ways: the whole value without spaces and dashes; `find_card_numbers` (word-bounded, as
    typed in text); and, when `strict`, any 13-19 digit run even if glued to letters (payment tokens, where
    a real gateway token never holds such a run).
    """
    if count_ascii_digits(value) < CARD_MIN_DIGITS:
        return False
    compact = _SEPARATORS.sub("", value)
    if CARD_MIN_DIGITS <= len(compact) <= CARD_MAX_DIGITS and compact.isascii() and luhn_valid(compact):
        return True
    if find_card_numbers(value):
        return True
    return strict and any(luhn_valid(match.group()) for match in _DIGIT_RUN.finditer(value))


def _refuse_card_number(field: str, value: str, *, strict: bool = False) -> None:
    if contains_card_number(value, strict=strict):
        _fail(field, CARD_MESSAGE, code="card_number_refused", hint=CARD_HINT)


def _tail_mask(value: str, keep: int = 4) -> str:
    """ "******" + the last `keep` characters, or "******" alone when that would show half the value."""
    if len(value) < 2 * keep:
        return MASK
    return MASK + value[-keep:]


# ------------------------------------------------------------------------------------------- identifiers


# The common ASCII shapes, answered without email-validator (≈ 45 µs a call, a fifth of bulk sign-up). For
# these the library's answer is known exactly: a dot-atom local part is returned unchanged, an ASCII LDH
# domain comes back from UTS-46 lower-cased, and the length limits reduce to the whole address's 254.
# Anything else (Unicode, quoting, "--" labels such as Punycode, special-use names, odd TLDs) goes to the
# library. tests/vault/test_vault_validation_fastpaths.py proves equality on generated addresses.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LDH_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_FAST_EMAIL = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*@(?:{_LDH_LABEL}\.)+[A-Za-z]{{2,63}}")
_EMAIL_MAX_LENGTH = 254  # RFC 3696 errata 1690, as email-validator enforces it
# email-validator refuses these names and everything under them ("x@foo.test").
_SPECIAL_USE_NAMES = frozenset(SPECIAL_USE_DOMAIN_NAMES)
_SPECIAL_USE_SUFFIXES = tuple("." + name for name in SPECIAL_USE_DOMAIN_NAMES)


def _fast_email(value: str) -> tuple[str, str] | None:
    """(normalised address, ASCII domain) exactly as `_email` derives them from email-validator, or None
    when `value` is not one of the plain shapes this can vouch for (the caller then asks the library)."""
    if len(value) > _EMAIL_MAX_LENGTH or not value.isascii() or not _FAST_EMAIL.fullmatch(value):
        return None
    normalised = value.lower()
    domain = normalised[normalised.index("@") + 1 :]
    if "--" in domain or domain in _SPECIAL_USE_NAMES or domain.endswith(_SPECIAL_USE_SUFFIXES):
        return None
    return normalised, domain


def _email(field: str, value: str) -> ValidatedValue:
    """Syntax only (no DNS: validation must not touch the network). The local part is lower-cased, which
    RFC 5321 does not promise but every mailbox provider the stores meet honours, so "Ravi@x" and "ravi@x"
    find the same person; the domain is kept in its IDNA (ASCII) form so Unicode and punycode spellings
    index alike."""
    value = _single_line(field, value)
    fast = _fast_email(value)
    if fast is not None:
        normalised, domain = fast
        return ValidatedValue(normalised, f"{normalised[0]}****@{domain}")
    try:
        info = validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        info = None
    if info is None:
        hint = "an address needs one @-sign" if value.count("@") != 1 else "check the parts before and after the @"
        _fail(field, "is not a valid email address", code="invalid_email", hint=hint)
    normalised = f"{info.local_part.lower()}@{info.ascii_domain}"
    return ValidatedValue(normalised, f"{normalised[0]}****@{info.ascii_domain}")


def _indian_number_patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]] | None:
    """libphonenumber's own patterns for India: the numbering plan, mobile and fixed-line numbers; None if
    this version's metadata no longer fits the fast path's assumptions (every number then takes the slow
    path)."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("IN")
    if (
        metadata is None
        or metadata.country_code != 91
        or metadata.national_prefix_for_parsing != "0"
        or metadata.international_prefix != "00"
        or phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(91) != ("IN",)
        or 9 in phonenumbers.COUNTRY_CODE_TO_REGION_CODE  # "+91…" must not read as country code 9
    ):
        return None
    descs = (metadata.general_desc, metadata.mobile, metadata.fixed_line)
    patterns = []
    for desc in descs:
        if desc is None or not desc.national_number_pattern or 10 not in (desc.possible_length or ()):
            return None
        patterns.append(re.compile(desc.national_number_pattern))
    return patterns[0], patterns[1], patterns[2]


_IN_PATTERNS = _indian_number_patterns()


# "+91" (optionally followed by a space or dash), then ten digits, optionally split 5-5 by a space or a
# dash: how Indian numbers are written on forms ("98765 43210", "+91 98765-43210").
_IN_PHONE_SHAPE = re.compile(r"(\+91[ \-]?)?([0-9]{5})[ \-]?([0-9]{5})")


def _fast_indian_phone(value: str, default_country: str) -> str | None:
    """The E.164 form libphonenumber gives for an Indian mobile or fixed-line number written as "+91" and
    ten digits, or as ten bare digits with India as the default country (spaces or dashes only where
    `_IN_PHONE_SHAPE` allows them); None for anything else, which the caller hands to libphonenumber.

    Why the answer is the library's: `parse` drops those spaces and dashes; ten ASCII digits not starting
    with 0 hold no national prefix ("0") and no IDD ("00"); when they match India's general pattern,
    `parse` never reads a leading "91" as the country code; so the national number is the digits as
    given, and `is_valid_number` holds whenever the mobile or fixed-line pattern matches. Matching the
    library's own patterns here skips its ~45 µs of parsing, type probing and formatting.
    tests/vault/test_vault_validation_fastpaths.py compares the two."""
    if _IN_PATTERNS is None or not value.isascii():
        return None
    shape = _IN_PHONE_SHAPE.fullmatch(value)
    if shape is None:
        return None
    international, head, tail = shape.groups()
    if international is None and default_country.upper() != "IN":
        return None
    digits = head + tail
    if digits[0] == "0":
        return None
    general, mobile, fixed_line = _IN_PATTERNS
    if general.fullmatch(digits) is None or (mobile.fullmatch(digits) is None and fixed_line.fullmatch(digits) is None):
        return None
    return "+91" + digits


def _phone(field: str, value: str, default_country: str) -> ValidatedValue:
    """E.164, parsed with the store's default country for numbers written without +CC
    ("98765 43210" → "+919876543210"); only numbers libphonenumber considers valid."""
    value = _single_line(field, value)
    fast = _fast_indian_phone(value, default_country)
    if fast is not None:
        return ValidatedValue(fast, MASK + fast[-4:])
    try:
        number = phonenumbers.parse(value, default_country.upper())
    except phonenumbers.NumberParseException:
        number = None
    if number is None:
        _fail(
            field,
            "is not a phone number",
            code="invalid_phone",
            hint=f"give it with its country code (+91…) or as a {default_country.upper()} number",
        )
    if number.extension:
        _fail(field, "must not contain an extension", code="invalid_phone")
    if not phonenumbers.is_valid_number(number):
        _fail(field, "is not a valid phone number for its country", code="invalid_phone")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return ValidatedValue(e164, MASK + e164[-4:])


def _customer_id(field: str, value: str) -> str:
    return _single_line(field, _check_size(field, value, CUSTOMER_ID_MAX_BYTES))


def normalise_identifier(kind: IdentifierKind, value: str, *, default_country: str) -> str:
    """The form an identifier is stored and blind-indexed in, so exact-match lookup finds the person.

    Emails lower-cased with an IDNA domain, phones in E.164 with the policy's default country, customer ids
    stripped. Raises ValidationFailed naming `kind` as the field.
    """
    if kind == "email":
        return _email(kind, _check_size(kind, value, MAX_BYTES[FieldType.EMAIL])).value
    if kind == "phone":
        return _phone(kind, _check_size(kind, value, MAX_BYTES[FieldType.PHONE]), default_country).value
    if kind == "customer_id":
        return _customer_id(kind, value)
    _fail("kind", "is not an identifier kind (email, phone or customer_id)", code="invalid_identifier_kind")


# --------------------------------------------------------------------------------------- indian documents

_PAN_INPUT = re.compile(r"[A-Z]{5}[0-9]{4}[A-Z]")
_PIN = re.compile(r"([1-9][0-9]{2}) ?([0-9]{3})")
_AADHAAR = re.compile(r"([0-9]{4})[ \-]?([0-9]{4})[ \-]?([0-9]{4})")
_AADHAAR_MASKED = re.compile(r"[Xx*]{4}[ \-]?[Xx*]{4}[ \-]?([0-9]{4})")


def _pan(field: str, value: str) -> ValidatedValue:
    """Ten characters AAAAA9999A; the 4th letter is the holder type (P, C, H, F, A, T, B, L, J, G)."""
    value = _single_line(field, value).upper()
    if not _PAN_INPUT.fullmatch(value):
        _fail(field, "is not a PAN (five letters, four digits, a letter)", code="invalid_pan")
    if not PAN_PATTERN.fullmatch(value):
        _fail(
            field,
            "is not a PAN: the 4th letter must be a holder type (P, C, H, F, A, T, B, L, J or G)",
            code="invalid_pan",
        )
    return ValidatedValue(value, _tail_mask(value))


def _gstin(field: str, value: str) -> ValidatedValue:
    """15 characters: state code, PAN, entity number, 'Z', mod-36 check character (CGST Rules r.10)."""
    value = _single_line(field, value).upper()
    if len(value) != 15 or not value.isascii() or not value.isalnum():
        _fail(field, "is not a GSTIN (15 letters and digits)", code="invalid_gstin")
    if value[:2] not in GSTIN_STATE_CODES:
        _fail(
            field, "is not a GSTIN: the first two digits must be a state code (01-38, 97 or 99)", code="invalid_gstin"
        )
    if gstin_valid(value):
        return ValidatedValue(value, _tail_mask(value))
    if not PAN_PATTERN.fullmatch(value, 2, 12):
        _fail(field, "is not a GSTIN: characters 3 to 12 must be the holder's PAN", code="invalid_gstin")
    if value[12] == "0" or value[13] != "Z":
        _fail(field, "is not a GSTIN: the 13th character must be 1-9 or A-Z and the 14th 'Z'", code="invalid_gstin")
    _fail(field, "is not a GSTIN: the check character does not match (mistyped?)", code="invalid_gstin")


def _aadhaar(field: str, value: str) -> ValidatedValue:
    """12 digits, first 2-9, Verhoeff check digit; stored and shown only as "XXXXXXXX" + last 4.

    An already-masked number ("XXXX XXXX 1234", as e-KYC and DigiLocker return it) is accepted as is.
    """
    value = _single_line(field, value)
    masked_input = _AADHAAR_MASKED.fullmatch(value)
    if masked_input:
        masked = "XXXXXXXX" + masked_input.group(1)
        return ValidatedValue(masked, masked)
    match = _AADHAAR.fullmatch(value)
    if not match:
        _fail(field, "is not an Aadhaar number (12 digits)", code="invalid_aadhaar")
    digits = "".join(match.groups())
    if digits[0] in "01":
        _fail(field, "is not an Aadhaar number: it cannot start with 0 or 1", code="invalid_aadhaar")
    if not verhoeff_valid(digits):
        _fail(field, "is not an Aadhaar number: the check digit does not match (mistyped?)", code="invalid_aadhaar")
    masked = "XXXXXXXX" + digits[-4:]
    return ValidatedValue(masked, masked)


def _pin_code(field: str, value: str) -> ValidatedValue:
    """Indian PIN: six digits, the first 1-8 a postal region or 9 the Army Postal Service; "560 001" is
    accepted and stored as "560001"."""
    return ValidatedValue(_pin(field, _single_line(field, value)), MASK)


def _pin(field: str, value: str) -> str:
    match = _PIN.fullmatch(value)
    if not match:
        _fail(field, "is not an Indian PIN code (six digits, not starting with 0)", code="invalid_pin_code")
    return "".join(match.groups())


# -------------------------------------------------------------------------------------- payment, dates, …


_TOKEN_CHARS = re.compile(r"[!-~]*")  # printable ASCII without the space


def _payment_token(field: str, value: str) -> ValidatedValue:
    """An opaque gateway token: 8-200 printable ASCII characters without spaces; never a card number."""
    _refuse_card_number(field, value, strict=True)
    value = value.strip()
    if not PAYMENT_TOKEN_MIN <= len(value) <= PAYMENT_TOKEN_MAX:
        _fail(
            field,
            f"must be a gateway token of {PAYMENT_TOKEN_MIN} to {PAYMENT_TOKEN_MAX} characters",
            code="invalid_payment_token",
        )
    if not _TOKEN_CHARS.fullmatch(value):
        _fail(
            field,
            "must be a gateway token of printable ASCII characters without spaces",
            code="invalid_payment_token",
        )
    return ValidatedValue(value, _tail_mask(value))


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _date(field: str, value: str) -> ValidatedValue:
    """ISO 8601 calendar date YYYY-MM-DD that exists. Masked fully: a date of birth has no safe part."""
    value = _single_line(field, value)
    if not _ISO_DATE.fullmatch(value):
        _fail(field, "must be a date as YYYY-MM-DD", code="invalid_date")
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None:
        _fail(field, "is not a real calendar date", code="invalid_date")
    return ValidatedValue(parsed.isoformat(), "****-**-**")


_COORDINATE = r"([+-]?[0-9]{1,3}(?:\.[0-9]{1,12})?)"
_LOCATION = re.compile(rf"{_COORDINATE}\s*,\s*{_COORDINATE}")


def _location(field: str, value: str) -> ValidatedValue:
    """ "lat,lon" in decimal degrees (WGS 84); stored to 7 decimals (~1 cm), masked to 1 decimal (~11 km)."""
    match = _LOCATION.fullmatch(_single_line(field, value))
    if not match:
        _fail(field, "must be 'latitude,longitude' in decimal degrees", code="invalid_location")
    lat, lon = float(match.group(1)), float(match.group(2))
    if not -90 <= lat <= 90:
        _fail(field, "has a latitude outside -90 to 90", code="invalid_location")
    if not -180 <= lon <= 180:
        _fail(field, "has a longitude outside -180 to 180", code="invalid_location")
    return ValidatedValue(f"{_degrees(lat)},{_degrees(lon)}", f"{lat + 0.0:.1f},{lon + 0.0:.1f}".replace("-0.0", "0.0"))


def _degrees(number: float) -> str:
    text = f"{number:.7f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _opaque(field: str, value: str) -> ValidatedValue:
    """Identifiers, device data, document and media references: bounded, one line, never a card number."""
    value = _single_line(field, value)
    _refuse_card_number(field, value)
    return ValidatedValue(value, _tail_mask(value))


# ----------------------------------------------------------------------------------------- text and json


def _text(field: str, value: str) -> ValidatedValue:
    value = _multi_line(field, value)
    _refuse_card_number(field, value)
    return ValidatedValue(value, MASK)


def _free_text(field: str, value: str, default_country: str) -> ValidatedValue:
    """Redacted, not refused: a support message stays useful without the card or Aadhaar pasted into it."""
    value = _multi_line(field, value)
    result = redact_free_text(value, default_country=default_country)
    return ValidatedValue(result.text, MASK, result.findings)


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)  # at C speed; a repeated key leaves fewer entries than pairs
    if len(result) != len(pairs):
        raise _DuplicateKey
    return result


def _no_constant(_name: str) -> NoReturn:
    raise ValueError("NaN and Infinity are not JSON")


# Built once (`json.loads` with options constructs a decoder per call). A BOM, which `json.loads` refuses
# by name, is refused here as invalid JSON all the same.
_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constant)


def _parse_json(field: str, value: str) -> Any:
    problem: str
    try:
        return _DECODER.decode(value)
    except _DuplicateKey:
        problem = "is not acceptable JSON: an object repeats a key"
    except RecursionError:
        problem = f"is nested too deeply (at most {JSON_MAX_DEPTH} levels)"
    except ValueError:  # json.JSONDecodeError quotes the document: it is dropped here
        problem = "is not valid JSON"
    _fail(field, problem, code="invalid_json")


def _walk_json(field: str, document: Any, visit: Callable[[str], None]) -> None:
    """Depth-first over every string (keys included), iteratively so depth is bounded by us, not the stack."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > JSON_MAX_DEPTH:
            _fail(field, f"is nested too deeply (at most {JSON_MAX_DEPTH} levels)", code="invalid_json")
        if isinstance(node, dict):
            for key, item in node.items():
                visit(key)
                stack.append((item, depth + 1))
        elif isinstance(node, list):
            stack.extend((item, depth + 1) for item in node)
        elif isinstance(node, str):
            visit(node)


# Built once: `json.dumps` with options constructs an encoder per call. Same output as those calls.
_CANONICAL_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_CANONICAL_ADDRESS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _json(field: str, value: str) -> ValidatedValue:
    """A JSON object or array; strings inside (keys too) must not hold a card number.

    The walk is skipped when it cannot fail: every digit of a decoded string is a digit in the text (as
    itself or inside a \\u00XX escape), so text with fewer than 13 digits holds no string with a card
    number; and a value nested n containers deep needs n brackets in the text, so fewer than
    JSON_MAX_DEPTH brackets cannot exceed the depth limit.
    """
    document = _parse_json(field, value)
    if not isinstance(document, dict | list):
        _fail(field, "must be a JSON object or array", code="invalid_json")
    if count_ascii_digits(value) >= CARD_MIN_DIGITS or value.count("[") + value.count("{") >= JSON_MAX_DEPTH:
        _walk_json(field, document, lambda text: _refuse_card_number(field, text))
    return ValidatedValue(_CANONICAL_JSON.encode(document), MASK)


_ADDRESS_KEYS = frozenset({"lines", "city", "region", "postal_code", "country"})
_COUNTRY = re.compile(r"[A-Z]{2}")


def _postal_address(field: str, value: str) -> ValidatedValue:
    """Plain multi-line text, or a JSON object {lines, city, region?, postal_code?, country} whose PIN is
    checked when the country is IN. Masked to city and country, which a courier query needs."""
    if not value.lstrip().startswith("{"):
        text = "\n".join(line.strip() for line in _multi_line(field, value).split("\n") if line.strip())
        _refuse_card_number(field, text)
        return ValidatedValue(text, MASK)
    document = _parse_json(field, value)
    if not isinstance(document, dict) or not set(document) <= _ADDRESS_KEYS:
        _fail(
            field,
            "must be an object with lines, city, region, postal_code and country only",
            code="invalid_postal_address",
        )
    lines = document.get("lines")
    if not isinstance(lines, list) or not 1 <= len(lines) <= ADDRESS_MAX_LINES:
        _fail(field, f"needs 'lines': a list of 1 to {ADDRESS_MAX_LINES} address lines", code="invalid_postal_address")
    # No part can hold a card number when the whole text has fewer than 13 digits: JSON escapes only add
    # digits to the text, and NFC never creates an ASCII digit.
    cards = count_ascii_digits(value) >= CARD_MIN_DIGITS
    address: dict[str, Any] = {
        "lines": [_address_part(f"{field}.lines[{i}]", line, cards) for i, line in enumerate(lines)]
    }
    for key in ("city", "region", "postal_code", "country"):
        if document.get(key) is not None:
            address[key] = _address_part(f"{field}.{key}", document[key], cards)
        elif key in ("city", "country"):
            _fail(f"{field}.{key}", "is required", code="invalid_postal_address")
    country: str = address["country"].upper()
    address["country"] = country
    if not _COUNTRY.fullmatch(country):
        _fail(f"{field}.country", "must be a two-letter ISO 3166 country code", code="invalid_postal_address")
    if country == "IN":
        if "postal_code" not in address:
            _fail(f"{field}.postal_code", "is required for an Indian address", code="invalid_pin_code")
        address["postal_code"] = _pin(f"{field}.postal_code", address["postal_code"])
    return ValidatedValue(_CANONICAL_ADDRESS.encode(address), f"{MASK}, {address['city']}, {country}")


def _address_part(field: str, part: Any, cards: bool = True) -> str:
    if not isinstance(part, str):
        _fail(field, "must be a string", code="invalid_postal_address")
    text = unicodedata.normalize("NFC", part).strip()
    if not text:
        _fail(field, "must not be empty", code="empty_value")
    if len(text) > ADDRESS_PART_MAX:
        _fail(field, f"is too long (at most {ADDRESS_PART_MAX} characters)", code="value_too_large")
    if _CONTROL_ANY.search(text):
        _fail(field, "must not contain control characters or line breaks", code="invalid_characters")
    if cards:
        _refuse_card_number(field, text)
    return text


# ---------------------------------------------------------------------------------------------- dispatch

_Validator = Callable[[str, str, str], ValidatedValue]  # (field, value, default_country)

_VALIDATORS: dict[FieldType, _Validator] = {
    FieldType.TEXT: lambda field, value, _country: _text(field, value),
    FieldType.FREE_TEXT: _free_text,
    FieldType.EMAIL: lambda field, value, _country: _email(field, value),
    FieldType.PHONE: _phone,
    FieldType.DATE: lambda field, value, _country: _date(field, value),
    FieldType.POSTAL_ADDRESS: lambda field, value, _country: _postal_address(field, value),
    FieldType.PIN_CODE: lambda field, value, _country: _pin_code(field, value),
    FieldType.PAN: lambda field, value, _country: _pan(field, value),
    FieldType.GSTIN: lambda field, value, _country: _gstin(field, value),
    FieldType.AADHAAR: lambda field, value, _country: _aadhaar(field, value),
    FieldType.PAYMENT_TOKEN: lambda field, value, _country: _payment_token(field, value),
    FieldType.DOCUMENT_REFERENCE: lambda field, value, _country: _opaque(field, value),
    FieldType.DEVICE: lambda field, value, _country: _opaque(field, value),
    FieldType.LOCATION: lambda field, value, _country: _location(field, value),
    FieldType.IDENTIFIER: lambda field, value, _country: _opaque(field, value),
    FieldType.JSON: lambda field, value, _country: _json(field, value),
    FieldType.MEDIA_REFERENCE: lambda field, value, _country: _opaque(field, value),
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
            _fail(field, "has an unknown field type", code="invalid_field_type")
    value = _check_size(field, value, MAX_BYTES[kind])
    return _VALIDATORS[kind](field, value, default_country)
