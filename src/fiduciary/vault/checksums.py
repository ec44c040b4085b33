"""Formats and check-digit algorithms for the identifiers the vault validates and the redactor detects.

Each function is pure and total: it returns False (or raises ValueError for the `*_check_*` builders) on
input of the wrong shape instead of raising on the caller's data, so a validator can call them on anything
it has already bounded in length. They live apart from the validators because the redactor and the tests
(which build synthetic valid identifiers) need them too.

- Luhn (ISO/IEC 7812-1 Annex B): payment card numbers. PCI DSS forbids storing a card number (PAN) where a
  gateway token will do, so any Luhn-valid 13-19 digit number is treated as one.
- Verhoeff (dihedral group D5): the Aadhaar check digit (UIDAI); catches every single-digit error and
  every adjacent transposition, which Luhn does not.
- GSTIN mod-36 (CBIC): the 15th character of a GSTIN, a Luhn-style "mod N" over base-36 characters.
"""

from __future__ import annotations

import re

# ------------------------------------------------------------------------------------------------- Luhn


def luhn_valid(digits: str) -> bool:
    """True if `digits` (ASCII digits only, at least 2) passes the Luhn check."""
    if len(digits) < 2 or not digits.isascii() or not digits.isdigit():
        return False
    return _luhn_sum(digits) % 10 == 0


def luhn_check_digit(payload: str) -> str:
    """The digit to append to `payload` so that the result is Luhn-valid (for building test data)."""
    if not payload.isascii() or not payload.isdigit():
        raise ValueError("the Luhn payload must be ASCII digits")
    return str((10 - _luhn_sum(payload + "0")) % 10)


def _luhn_sum(digits: str) -> int:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total


# --------------------------------------------------------------------------------------------- Verhoeff

_VERHOEFF_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_VERHOEFF_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)
_VERHOEFF_INV = (0, 4, 3, 2, 1, 5, 6, 7, 8, 9)


def verhoeff_valid(digits: str) -> bool:
    """True if `digits` (ASCII digits only) ends in a correct Verhoeff check digit."""
    if len(digits) < 2 or not digits.isascii() or not digits.isdigit():
        return False
    return _verhoeff_state(digits, offset=0) == 0


def verhoeff_check_digit(payload: str) -> str:
    """The Verhoeff digit to append to `payload` (for building test data)."""
    if not payload or not payload.isascii() or not payload.isdigit():
        raise ValueError("the Verhoeff payload must be ASCII digits")
    return str(_VERHOEFF_INV[_verhoeff_state(payload, offset=1)])


def _verhoeff_state(digits: str, *, offset: int) -> int:
    state = 0
    for index, char in enumerate(reversed(digits)):
        state = _VERHOEFF_D[state][_VERHOEFF_P[(index + offset) % 8][ord(char) - 48]]
    return state


# ------------------------------------------------------------------------------------------ GSTIN mod 36

_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_BASE36_VALUE = {char: index for index, char in enumerate(_BASE36)}


def gstin_check_char(first14: str) -> str:
    """The 15th character of a GSTIN from its first 14 (upper-case ASCII letters and digits).

    Weights alternate 1, 2 from the left; each product p contributes p // 36 + p % 36 (the base-36 digit
    sum), and the check character makes the total a multiple of 36.
    """
    if len(first14) != 14 or any(char not in _BASE36_VALUE for char in first14):
        raise ValueError("a GSTIN body is 14 upper-case letters and digits")
    total = 0
    for index, char in enumerate(first14):
        product = _BASE36_VALUE[char] * (2 if index % 2 else 1)
        total += product // 36 + product % 36
    return _BASE36[(36 - total % 36) % 36]


def gstin_checksum_valid(gstin: str) -> bool:
    """True if the 15-character `gstin` (upper case) ends in its correct check character."""
    if len(gstin) != 15 or any(char not in _BASE36_VALUE for char in gstin):
        return False
    return gstin_check_char(gstin[:14]) == gstin[14]


# ------------------------------------------------------------------------------------------- formats

# PAN: five letters (the 4th is the holder type), four digits, a letter (Income-tax Act s.139A, Rule 114).
# Holder types: P individual, C company, H HUF, F firm/LLP, A AOP, T trust, B BOI, L local authority,
# J artificial juridical person, G government agency. The last letter is a check character whose algorithm
# the Income Tax Department does not publish, so it is not verified.
PAN_HOLDER_TYPES = "PCHFATBLJG"
PAN_PATTERN = re.compile(rf"[A-Z]{{3}}[{PAN_HOLDER_TYPES}][A-Z][0-9]{{4}}[A-Z]")

# GST state codes: 01-38 (38 Ladakh), 97 other territory, 99 centre jurisdiction.
GSTIN_STATE_CODES = frozenset({f"{code:02d}" for code in range(1, 39)} | {"97", "99"})
_GSTIN_ENTITY_NUMBERS = frozenset("123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def gstin_valid(value: str) -> bool:
    """A regular taxpayer's GSTIN (CGST Rules r.10): state code, the holder's PAN, entity number 1-9/A-Z,
    'Z', and the mod-36 check character. `value` must already be upper case."""
    return (
        len(value) == 15
        and value[:2] in GSTIN_STATE_CODES
        and PAN_PATTERN.fullmatch(value, 2, 12) is not None
        and value[12] in _GSTIN_ENTITY_NUMBERS
        and value[13] == "Z"
        and gstin_checksum_valid(value)
    )
