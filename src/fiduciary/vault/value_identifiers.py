"""Identifier values: email addresses, phone numbers and store customer ids, validated, normalised so that
equal values index equally (exact-match lookup), and masked."""

from __future__ import annotations

import re
from typing import Literal

import phonenumbers
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from fiduciary.policy.schema import FieldType
from fiduciary.vault.value_checks import (
    CUSTOMER_ID_MAX_BYTES,
    MASK,
    MAX_BYTES,
    ValidatedValue,
    check_size,
    fail,
    single_line,
)

IdentifierKind = Literal["email", "phone", "customer_id"]


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
    """(normalised address, ASCII domain) exactly as `email_value` derives them from email-validator, or None
    when `value` is not one of the plain shapes this can vouch for (the caller then asks the library)."""
    if len(value) > _EMAIL_MAX_LENGTH or not value.isascii() or not _FAST_EMAIL.fullmatch(value):
        return None
    normalised = value.lower()
    domain = normalised[normalised.index("@") + 1 :]
    if "--" in domain or domain in _SPECIAL_USE_NAMES or domain.endswith(_SPECIAL_USE_SUFFIXES):
        return None
    return normalised, domain


def email_value(field: str, value: str) -> ValidatedValue:
    """Syntax only (no DNS: validation must not touch the network). The local part is lower-cased, which
    RFC 5321 does not promise but every mailbox provider the stores meet honours, so "Ravi@x" and "ravi@x"
    find the same person; the domain is kept in its IDNA (ASCII) form so Unicode and punycode spellings
    index alike."""
    value = single_line(field, value)
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
        fail(field, "is not a valid email address", code="invalid_email", hint=hint)
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


def phone_value(field: str, value: str, default_country: str) -> ValidatedValue:
    """E.164, parsed with the store's default country for numbers written without +CC
    ("98765 43210" → "+919876543210"); only numbers libphonenumber considers valid."""
    value = single_line(field, value)
    fast = _fast_indian_phone(value, default_country)
    if fast is not None:
        return ValidatedValue(fast, MASK + fast[-4:])
    try:
        number = phonenumbers.parse(value, default_country.upper())
    except phonenumbers.NumberParseException:
        number = None
    if number is None:
        fail(
            field,
            "is not a phone number",
            code="invalid_phone",
            hint=f"give it with its country code (+91…) or as a {default_country.upper()} number",
        )
    if number.extension:
        fail(field, "must not contain an extension", code="invalid_phone")
    if not phonenumbers.is_valid_number(number):
        fail(field, "is not a valid phone number for its country", code="invalid_phone")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return ValidatedValue(e164, MASK + e164[-4:])


def _customer_id(field: str, value: str) -> str:
    return single_line(field, check_size(field, value, CUSTOMER_ID_MAX_BYTES))


def normalise_identifier(kind: IdentifierKind, value: str, *, default_country: str) -> str:
    """The form an identifier is stored and blind-indexed in, so exact-match lookup finds the person.

    Emails lower-cased with an IDNA domain, phones in E.164 with the policy's default country, customer ids
    stripped. Raises ValidationFailed naming `kind` as the field.
    """
    if kind == "email":
        return email_value(kind, check_size(kind, value, MAX_BYTES[FieldType.EMAIL])).value
    if kind == "phone":
        return phone_value(kind, check_size(kind, value, MAX_BYTES[FieldType.PHONE]), default_country).value
    if kind == "customer_id":
        return _customer_id(kind, value)
    fail("kind", "is not an identifier kind (email, phone or customer_id)", code="invalid_identifier_kind")
