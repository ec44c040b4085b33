"""The pattern engine behind redaction (decision 0014): the behaviours it keeps from Presidio's recognizers."""

from __future__ import annotations

import re

import pytest

from fiduciary.vault.checksums import verhoeff_check_digit, verhoeff_valid
from fiduciary.vault.recognizers import aadhaar_valid, drop_contained, iban_valid
from fiduciary.vault.redaction import redact_free_text

AADHAAR = "98765432109" + verhoeff_check_digit("98765432109")


def test_iban_is_tried_longest_first_so_a_trailing_word_or_number_survives() -> None:
    assert redact_free_text("IBAN DE89370400440532013000 2 days").text == "IBAN [IBAN] 2 days"
    assert redact_free_text("GB82 WEST 1234 5698 7654 32, thanks").text == "[IBAN], thanks"


def with_check_digits(country: str, bban: str) -> str:
    """An IBAN with correct ISO 7064 mod-97 check digits, so that only its format is under test."""
    number = int("".join(str(int(char, 36)) for char in bban + country + "00"))
    return f"{country}{98 - number % 97:02d}{bban}"


@pytest.mark.parametrize(
    ("candidate", "valid"),
    [
        ("DE89370400440532013000", True),
        ("DE89 3704 0044 0532 0130 00", True),
        ("DE88370400440532013000", False),  # wrong check digits
        (with_check_digits("NL", "ABNA0417164300"), True),
        (with_check_digits("NL", "A0NA0417164300"), False),  # the Dutch bank code is four letters
        (with_check_digits("QQ", "370400440532013000"), False),  # no such country
        (with_check_digits("CR", "015202001026284066"), True),  # Costa Rica: a literal zero first
        (with_check_digits("CR", "115202001026284066"), False),
    ],
)
def test_iban_check_digits_and_country_format(candidate: str, valid: bool) -> None:
    assert iban_valid(candidate) is valid


def test_aadhaar_validator_refuses_palindromes_and_a_first_digit_below_two() -> None:
    palindrome = "234574475432"
    assert verhoeff_valid(palindrome) and palindrome == palindrome[::-1]
    assert not aadhaar_valid(palindrome)
    assert redact_free_text(f"aadhaar {palindrome}").text == f"aadhaar {palindrome}"
    low = "1" + "2345678901"
    low += verhoeff_check_digit(low)
    assert verhoeff_valid(low) and not aadhaar_valid(low)
    assert aadhaar_valid(AADHAAR) and aadhaar_valid(f"{AADHAAR[:4]}:{AADHAAR[4:8]}:{AADHAAR[8:]}")


def test_word_boundaries_know_indic_combining_marks() -> None:
    """`regex`'s \\w includes the vowel sign at the end of "सीमा"; `re`'s does not, and would miss the
    address whose local part ends with it."""
    assert re.fullmatch(r"\w", "\u093e") is None  # what the stdlib engine would have done
    assert redact_free_text("mail सीमा@example.com now").text == "mail [EMAIL] now"


def test_drop_contained_keeps_the_longest_reading_once() -> None:
    assert drop_contained([(5, 9), (0, 12), (0, 12), (3, 4), (12, 20), (11, 13)]) == [(0, 12), (11, 13), (12, 20)]
    assert drop_contained([]) == []
