"""Check-digit algorithms: Luhn (cards), Verhoeff (Aadhaar), GSTIN mod 36, and the PAN/GSTIN formats."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fiduciary.vault.checksums import (
    PAN_PATTERN,
    gstin_check_char,
    gstin_checksum_valid,
    gstin_valid,
    luhn_check_digit,
    luhn_valid,
    verhoeff_check_digit,
    verhoeff_valid,
)

# Published test card numbers of the card networks (not real accounts).
TEST_CARDS = [
    "4111111111111111",  # Visa 16
    "4222222222222",  # Visa 13
    "5555555555554444",  # Mastercard
    "2223003122003222",  # Mastercard 2-series
    "378282246310005",  # Amex 15
    "6011111111111117",  # Discover
    "30569309025904",  # Diners 14
    "3530111333300000",  # JCB
]


@pytest.mark.parametrize("number", TEST_CARDS)
def test_luhn_accepts_network_test_cards(number: str) -> None:
    assert luhn_valid(number)


@pytest.mark.parametrize("number", ["4111111111111112", "5555555555554445", "378282246310006", "1234567812345678"])
def test_luhn_rejects_a_wrong_check_digit(number: str) -> None:
    assert not luhn_valid(number)


@pytest.mark.parametrize("bad", ["", "7", "4111 1111 1111 1111", "411111111111111a", "٤١١١١١١١١١١١١١١١"])
def test_luhn_rejects_non_digits(bad: str) -> None:
    assert not luhn_valid(bad)


@given(st.text(alphabet="0123456789", min_size=1, max_size=30))
def test_luhn_check_digit_always_makes_a_valid_number(payload: str) -> None:
    number = payload + luhn_check_digit(payload)
    assert luhn_valid(number)
    wrong = payload + str((int(number[-1]) + 1) % 10)
    assert not luhn_valid(wrong)


def test_verhoeff_known_values() -> None:
    # Classic worked example: 236 has check digit 3.
    assert verhoeff_check_digit("236") == "3"
    assert verhoeff_valid("2363")
    assert not verhoeff_valid("2364")


@given(st.text(alphabet="0123456789", min_size=1, max_size=20), st.data())
def test_verhoeff_catches_every_single_digit_error_and_adjacent_swap(payload: str, data: st.DataObject) -> None:
    number = payload + verhoeff_check_digit(payload)
    assert verhoeff_valid(number)
    index = data.draw(st.integers(0, len(number) - 1))
    replacement = data.draw(st.sampled_from([d for d in "0123456789" if d != number[index]]))
    assert not verhoeff_valid(number[:index] + replacement + number[index + 1 :])
    if len(number) >= 2:
        swap = data.draw(st.integers(0, len(number) - 2))
        if number[swap] != number[swap + 1]:
            swapped = number[:swap] + number[swap + 1] + number[swap] + number[swap + 2 :]
            assert not verhoeff_valid(swapped)


@pytest.mark.parametrize("bad_payload", ["", "12a"])
def test_check_digit_builders_refuse_non_digits(bad_payload: str) -> None:
    with pytest.raises(ValueError):
        verhoeff_check_digit(bad_payload)
    if bad_payload:
        with pytest.raises(ValueError):
            luhn_check_digit(bad_payload)


def test_gstin_check_char_of_the_published_sample() -> None:
    # The sample GSTIN used throughout the GST portal's and CBIC's help pages.
    assert gstin_check_char("27AAPFU0939F1Z") == "V"
    assert gstin_checksum_valid("27AAPFU0939F1ZV")


@pytest.mark.parametrize(
    "body",
    ["29ABCPE1234F1Z", "07AAACM3025E2Z", "38ABCFE1234F9Z", "97ABCTE9999Z1Z", "99AAAGG0000A1Z", "01ZZZPZ0001AAZ"],
)
def test_synthetic_gstins_validate_and_every_other_check_char_fails(body: str) -> None:
    check = gstin_check_char(body)
    assert gstin_valid(body + check)
    for other in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        if other != check:
            assert not gstin_valid(body + other)


@pytest.mark.parametrize(
    ("gstin", "why"),
    [
        ("00ABCPE1234F1Z", "state 00"),
        ("39ABCPE1234F1Z", "state 39"),
        ("96ABCPE1234F1Z", "state 96"),
        ("29ABCXE1234F1Z", "holder type X"),
        ("29ABCPE123451Z", "PAN ends in a digit"),
        ("29ABCPE1234F0Z", "entity number 0"),
        ("29ABCPE1234F1Y", "14th not Z"),
    ],
)
def test_gstin_structure_is_checked_even_with_a_matching_check_char(gstin: str, why: str) -> None:
    candidate = gstin + gstin_check_char(gstin)
    assert gstin_checksum_valid(candidate), why
    assert not gstin_valid(candidate), why


def test_gstin_validity_is_upper_case_and_length_bound() -> None:
    good = "29ABCPE1234F1Z" + gstin_check_char("29ABCPE1234F1Z")
    assert not gstin_valid(good.lower())
    assert not gstin_valid(good + "0")
    assert not gstin_checksum_valid(good[:-1])
    with pytest.raises(ValueError):
        gstin_check_char("29abcpe1234f1z")


@pytest.mark.parametrize("holder", list("PCHFATBLJG"))
def test_pan_holder_types(holder: str) -> None:
    assert PAN_PATTERN.fullmatch(f"ABC{holder}E1234F")


@pytest.mark.parametrize("pan", ["ABCDE1234F", "ABCKE1234F", "ABCPE1234", "ABCP1E234F", "1BCPE1234F", "ABCPE12345"])
def test_pan_pattern_rejects(pan: str) -> None:
    assert not PAN_PATTERN.fullmatch(pan)
