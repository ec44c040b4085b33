"""Free-text redaction: each identifier type, card numbers in every layout, overlaps, and a property test."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fiduciary.vault.checksums import gstin_check_char, luhn_check_digit, luhn_valid, verhoeff_check_digit
from fiduciary.vault.validation import Finding, find_card_numbers, redact_free_text

AADHAAR = "98765432109" + verhoeff_check_digit("98765432109")
GSTIN = "29ABCPE1234F1Z" + gstin_check_char("29ABCPE1234F1Z")
VISA = "4111111111111111"


def card(prefix: str, length: int) -> str:
    payload = prefix + "7" * (length - len(prefix) - 1)
    return payload + luhn_check_digit(payload)


def grouped(number: str, separator: str = " ") -> str:
    return separator.join(number[i : i + 4] for i in range(0, len(number), 4))


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (f"card {VISA} please", "card [CARD_NUMBER] please"),
        (f"Aadhaar {AADHAAR[:4]} {AADHAAR[4:8]} {AADHAAR[8:]}.", "Aadhaar [AADHAAR]."),
        (f"my aadhaar is {AADHAAR}", "my aadhaar is [AADHAAR]"),
        ("PAN: ABCPE1234F, thanks", "PAN: [PAN], thanks"),
        ("pan abcpe1234f", "pan [PAN]"),
        (f"GSTIN {GSTIN} for the invoice", "GSTIN [GSTIN] for the invoice"),
        ("write to Ravi.Kumar+orders@example.co.in.", "write to [EMAIL]."),
        ("pay to ravi.k@okhdfcbank, not me", "pay to [UPI_ID], not me"),
        ("UPI 9876543210@ybl", "UPI [UPI_ID]"),
        ("IFSC SBIN0001234 branch Indiranagar", "IFSC [IFSC] branch Indiranagar"),
        ("call me on 98765 43210", "call me on [PHONE]"),
        ("call me on +91-98765-43210 after 6", "call me on [PHONE] after 6"),
        ("whatsapp 9876543210", "whatsapp [PHONE]"),
        ("phone 09876543210 or 080 2345 6789", "phone [PHONE] or [PHONE]"),
        ("UK number +44 20 7946 0958", "UK number [PHONE]"),
        ("IBAN DE89 3704 0044 0532 0130 00 for the refund", "IBAN [IBAN] for the refund"),
    ],
)
def test_each_entity_is_redacted(message: str, expected: str) -> None:
    result = redact_free_text(message)
    assert result.text == expected


def test_findings_give_type_and_original_offsets_never_values() -> None:
    message = f"card {VISA}, pan ABCPE1234F"
    result = redact_free_text(message)
    assert result.findings == (Finding("CARD_NUMBER", 5, 21), Finding("PAN", 27, 37))
    assert message[5:21] == VISA
    for finding in result.findings:
        assert set(vars(finding)) == {"entity_type", "start", "end"}
    assert VISA not in repr(result) and "ABCPE1234F" not in repr(result)


def test_invalid_checksums_are_not_redacted() -> None:
    wrong_aadhaar = AADHAAR[:-1] + str((int(AADHAAR[-1]) + 1) % 10)
    wrong_gstin = GSTIN[:-1] + ("A" if GSTIN[-1] != "A" else "B")
    message = f"aadhaar {wrong_aadhaar} gstin {wrong_gstin} card 4111111111111112"
    assert redact_free_text(message).text == message


def test_gstin_is_one_finding_not_a_pan_inside_it() -> None:
    result = redact_free_text(f"GST {GSTIN}")
    assert result.findings == (Finding("GSTIN", 4, 19),)


def test_overlapping_detections_merge_so_nothing_survives() -> None:
    # The card number sits inside an e-mail address: the whole address goes, typed by priority.
    result = redact_free_text(f"mail john.{VISA}@example.com now")
    assert result.text == "mail [CARD_NUMBER] now"
    assert VISA not in result.text and "example.com" not in result.text


def test_redaction_is_idempotent() -> None:
    message = f"card {grouped(VISA)} aadhaar {AADHAAR} mail a@example.com upi a@ybl pan ABCPE1234F"
    once = redact_free_text(message).text
    twice = redact_free_text(once)
    assert twice.text == once
    assert twice.findings == ()


def test_empty_and_plain_text() -> None:
    assert redact_free_text("") == redact_free_text("")
    assert redact_free_text("").text == ""
    assert redact_free_text("nothing to see here").findings == ()


def test_default_country_changes_how_bare_numbers_are_read() -> None:
    # A French mobile written nationally: a phone number in France, nothing in particular in India.
    assert redact_free_text("ring 06 12 34 56 78", default_country="FR").text == "ring [PHONE]"
    assert redact_free_text("ring 06 12 34 56 78", default_country="IN").text == "ring 06 12 34 56 78"


def test_toll_free_helpline_is_not_personal() -> None:
    message = "your helpline 1800 123 4567 never answers"
    assert redact_free_text(message).text == message


# ------------------------------------------------------------------------------------- card numbers


@pytest.mark.parametrize("length", range(13, 20))
@pytest.mark.parametrize("separator", ["", " ", "-"])
def test_find_card_numbers_every_length_and_layout(length: int, separator: str) -> None:
    number = card("5", length)
    written = grouped(number, separator) if separator else number
    text = f"x {written} y"
    assert find_card_numbers(text) == [(2, 2 + len(written))]


@pytest.mark.parametrize(
    "written",
    [
        "3782 822463 10005",  # Amex as printed, 4-6-5
        "3056 930902 5904",  # Diners, 4-6-4
        "2223 0031 2200 3222",  # Mastercard 2-series, which Presidio's own card pattern misses
        "6212 3456 7890 1234 560"[:-1] + luhn_check_digit("621234567890123456"),  # 19-digit UnionPay
    ],
)
def test_find_card_numbers_brand_layouts(written: str) -> None:
    assert find_card_numbers(f"card: {written}.") == [(6, 6 + len(written))]


def test_card_followed_by_expiry_or_preceded_by_a_number_is_still_found() -> None:
    text = f"qty 2 {grouped(VISA)} 1226 cvv ok"
    spans = find_card_numbers(text)
    assert len(spans) == 1
    start, end = spans[0]
    assert grouped(VISA) in text[start:end]
    assert redact_free_text(text).text.count("[CARD_NUMBER]") == 1
    assert VISA[:4] not in redact_free_text(text).text


@pytest.mark.parametrize(
    "text",
    [
        "order 1234567812345678",  # 16 digits, not Luhn-valid
        "order 402-1234567-1234567",  # 17 digits in 3-7-7 groups: never read as a card
        "98765 43210 98765 43210",  # two phone numbers side by side
        "ORD4111111111111111",  # glued to letters: an order id, not a typed card
        "a 411111111111111111111 b",  # 21 digits: too long for a card
        "4111 1111 1111",  # 12 digits: too short
    ],
)
def test_find_card_numbers_leaves_non_cards(text: str) -> None:
    assert find_card_numbers(text) == []


def test_luhn_valid_digits_in_non_card_layouts_are_not_cards() -> None:
    """The layouts are what keep these out, not luck: all digits together pass Luhn."""
    order = "402123456712345" + "6"
    order += luhn_check_digit(order)  # 17 digits, Luhn-valid, written 3-7-7 like a marketplace order id
    phones = "98765432109876" + "54"
    phones = phones[:-1] + luhn_check_digit(phones[:-1])  # 16 digits, Luhn-valid, as two 5-5 groups + 5-1
    for text in (
        f"order {order[:3]}-{order[3:10]}-{order[10:]}",
        f"numbers {phones[:5]} {phones[5:10]} {phones[10:]}",
    ):
        assert luhn_valid(re.sub(r"[^0-9]", "", text))
        assert find_card_numbers(text) == []


def test_several_cards_in_one_message() -> None:
    text = f"{VISA} and {grouped(card('37', 15), '-')} and 5555555555554444"
    assert len(find_card_numbers(text)) == 3
    assert redact_free_text(text).text == "[CARD_NUMBER] and [CARD_NUMBER] and [CARD_NUMBER]"


_luhn_numbers = st.builds(
    lambda length, digits: digits[: length - 1] + luhn_check_digit(digits[: length - 1]),
    st.integers(13, 19),
    st.text(alphabet="0123456789", min_size=18, max_size=18),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    before=st.text(max_size=120),
    after=st.text(max_size=120),
    number=_luhn_numbers,
    layout=st.sampled_from(["plain", "spaces", "dashes"]),
)
def test_property_embedded_luhn_number_never_survives_redaction(
    before: str, after: str, number: str, layout: str
) -> None:
    # The surrounding text must not itself spell the number (Hypothesis likes to reuse drawn digits).
    assume(number not in re.sub(r"[^0-9]", "", before + after))
    written = {"plain": number, "spaces": grouped(number, " "), "dashes": grouped(number, "-")}[layout]
    text = f"{before} {written} {after}"
    result = redact_free_text(text)
    assert written not in result.text
    assert number not in re.sub(r"[^0-9]", "", result.text)
    start = len(before) + 1
    assert any(f.start <= start and f.end >= start + len(written) for f in result.findings)
