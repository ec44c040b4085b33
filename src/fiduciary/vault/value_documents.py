"""Document and reference values: Indian documents (PAN, GSTIN, Aadhaar, PIN code), payment tokens, dates,
locations and opaque references, each validated, normalised and masked."""

from __future__ import annotations

import re
from datetime import date

from fiduciary.vault.checksums import (
    GSTIN_STATE_CODES,
    PAN_PATTERN,
    gstin_valid,
    verhoeff_valid,
)
from fiduciary.vault.value_checks import (
    MASK,
    PAYMENT_TOKEN_MAX,
    PAYMENT_TOKEN_MIN,
    ValidatedValue,
    fail,
    refuse_card_number,
    single_line,
    tail_mask,
)

# --------------------------------------------------------------------------------------- indian documents

_PAN_INPUT = re.compile(r"[A-Z]{5}[0-9]{4}[A-Z]")
_PIN = re.compile(r"([1-9][0-9]{2}) ?([0-9]{3})")
_AADHAAR = re.compile(r"([0-9]{4})[ \-]?([0-9]{4})[ \-]?([0-9]{4})")
_AADHAAR_MASKED = re.compile(r"[Xx*]{4}[ \-]?[Xx*]{4}[ \-]?([0-9]{4})")


def pan_value(field: str, value: str) -> ValidatedValue:
    """Ten characters AAAAA9999A; the 4th letter is the holder type (P, C, H, F, A, T, B, L, J, G)."""
    value = single_line(field, value).upper()
    if not _PAN_INPUT.fullmatch(value):
        fail(field, "is not a PAN (five letters, four digits, a letter)", code="invalid_pan")
    if not PAN_PATTERN.fullmatch(value):
        fail(
            field,
            "is not a PAN: the 4th letter must be a holder type (P, C, H, F, A, T, B, L, J or G)",
            code="invalid_pan",
        )
    return ValidatedValue(value, tail_mask(value))


def gstin_value(field: str, value: str) -> ValidatedValue:
    """15 characters: state code, PAN, entity number, 'Z', mod-36 check character (CGST Rules r.10)."""
    value = single_line(field, value).upper()
    if len(value) != 15 or not value.isascii() or not value.isalnum():
        fail(field, "is not a GSTIN (15 letters and digits)", code="invalid_gstin")
    if value[:2] not in GSTIN_STATE_CODES:
        fail(field, "is not a GSTIN: the first two digits must be a state code (01-38, 97 or 99)", code="invalid_gstin")
    if gstin_valid(value):
        return ValidatedValue(value, tail_mask(value))
    if not PAN_PATTERN.fullmatch(value, 2, 12):
        fail(field, "is not a GSTIN: characters 3 to 12 must be the holder's PAN", code="invalid_gstin")
    if value[12] == "0" or value[13] != "Z":
        fail(field, "is not a GSTIN: the 13th character must be 1-9 or A-Z and the 14th 'Z'", code="invalid_gstin")
    fail(field, "is not a GSTIN: the check character does not match (mistyped?)", code="invalid_gstin")


def aadhaar_value(field: str, value: str) -> ValidatedValue:
    """12 digits, first 2-9, Verhoeff check digit; stored and shown only as "XXXXXXXX" + last 4.

    An already-masked number ("XXXX XXXX 1234", as e-KYC and DigiLocker return it) is accepted as is.
    """
    value = single_line(field, value)
    masked_input = _AADHAAR_MASKED.fullmatch(value)
    if masked_input:
        masked = "XXXXXXXX" + masked_input.group(1)
        return ValidatedValue(masked, masked)
    match = _AADHAAR.fullmatch(value)
    if not match:
        fail(field, "is not an Aadhaar number (12 digits)", code="invalid_aadhaar")
    digits = "".join(match.groups())
    if digits[0] in "01":
        fail(field, "is not an Aadhaar number: it cannot start with 0 or 1", code="invalid_aadhaar")
    if not verhoeff_valid(digits):
        fail(field, "is not an Aadhaar number: the check digit does not match (mistyped?)", code="invalid_aadhaar")
    masked = "XXXXXXXX" + digits[-4:]
    return ValidatedValue(masked, masked)


def pin_code_value(field: str, value: str) -> ValidatedValue:
    """Indian PIN: six digits, the first 1-8 a postal region or 9 the Army Postal Service; "560 001" is
    accepted and stored as "560001"."""
    return ValidatedValue(pin(field, single_line(field, value)), MASK)


def pin(field: str, value: str) -> str:
    match = _PIN.fullmatch(value)
    if not match:
        fail(field, "is not an Indian PIN code (six digits, not starting with 0)", code="invalid_pin_code")
    return "".join(match.groups())


# -------------------------------------------------------------------------------------- payment, dates, …


_TOKEN_CHARS = re.compile(r"[!-~]*")  # printable ASCII without the space


def payment_token_value(field: str, value: str) -> ValidatedValue:
    """An opaque gateway token: 8-200 printable ASCII characters without spaces; never a card number."""
    refuse_card_number(field, value, strict=True)
    value = value.strip()
    if not PAYMENT_TOKEN_MIN <= len(value) <= PAYMENT_TOKEN_MAX:
        fail(
            field,
            f"must be a gateway token of {PAYMENT_TOKEN_MIN} to {PAYMENT_TOKEN_MAX} characters",
            code="invalid_payment_token",
        )
    if not _TOKEN_CHARS.fullmatch(value):
        fail(
            field,
            "must be a gateway token of printable ASCII characters without spaces",
            code="invalid_payment_token",
        )
    return ValidatedValue(value, tail_mask(value))


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def date_value(field: str, value: str) -> ValidatedValue:
    """ISO 8601 calendar date YYYY-MM-DD that exists. Masked fully: a date of birth has no safe part."""
    value = single_line(field, value)
    if not _ISO_DATE.fullmatch(value):
        fail(field, "must be a date as YYYY-MM-DD", code="invalid_date")
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None:
        fail(field, "is not a real calendar date", code="invalid_date")
    return ValidatedValue(parsed.isoformat(), "****-**-**")


_COORDINATE = r"([+-]?[0-9]{1,3}(?:\.[0-9]{1,12})?)"
_LOCATION = re.compile(rf"{_COORDINATE}\s*,\s*{_COORDINATE}")


def location_value(field: str, value: str) -> ValidatedValue:
    """ "lat,lon" in decimal degrees (WGS 84); stored to 7 decimals (~1 cm), masked to 1 decimal (~11 km)."""
    match = _LOCATION.fullmatch(single_line(field, value))
    if not match:
        fail(field, "must be 'latitude,longitude' in decimal degrees", code="invalid_location")
    lat, lon = float(match.group(1)), float(match.group(2))
    if not -90 <= lat <= 90:
        fail(field, "has a latitude outside -90 to 90", code="invalid_location")
    if not -180 <= lon <= 180:
        fail(field, "has a longitude outside -180 to 180", code="invalid_location")
    return ValidatedValue(f"{_degrees(lat)},{_degrees(lon)}", f"{lat + 0.0:.1f},{lon + 0.0:.1f}".replace("-0.0", "0.0"))


def _degrees(number: float) -> str:
    text = f"{number:.7f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def opaque_value(field: str, value: str) -> ValidatedValue:
    """Identifiers, device data, document and media references: bounded, one line, never a card number."""
    value = single_line(field, value)
    refuse_card_number(field, value)
    return ValidatedValue(value, tail_mask(value))
