"""Card numbers are refused in every structured field and redacted in free text; oversized values are
refused; no error ever repeats the value it refused."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fiduciary.errors import ValidationFailed
from fiduciary.policy.schema import FieldType
from fiduciary.vault.checksums import gstin_check_char, luhn_check_digit, luhn_valid, verhoeff_check_digit
from fiduciary.vault.validation import MAX_BYTES, contains_card_number, normalise_identifier, validate_field

FIELD = "customer.details"


def card(prefix: str, length: int) -> str:
    payload = prefix + "3" * (length - len(prefix) - 1)
    return payload + luhn_check_digit(payload)


def grouped(number: str, separator: str) -> str:
    return separator.join(number[i : i + 4] for i in range(0, len(number), 4))


CARDS = [card("4", 13), card("37", 15), card("4", 16), card("2221", 16), card("62", 17), card("6", 18), card("4", 19)]
CARD_FORMS = [
    form
    for number in CARDS
    for form in (number, grouped(number, " "), grouped(number, "-"), f" {grouped(number, ' ')} ")
]
# Field types whose content is free-form enough to hold a card number: the card rule is what refuses it.
GENERAL_TYPES = [
    FieldType.TEXT,
    FieldType.IDENTIFIER,
    FieldType.DEVICE,
    FieldType.DOCUMENT_REFERENCE,
    FieldType.MEDIA_REFERENCE,
    FieldType.PAYMENT_TOKEN,
    FieldType.POSTAL_ADDRESS,
]
# Field types with a strict format: a card number fails the format check.
FORMAT_TYPES = [
    FieldType.EMAIL,
    FieldType.PHONE,
    FieldType.DATE,
    FieldType.PIN_CODE,
    FieldType.PAN,
    FieldType.GSTIN,
    FieldType.AADHAAR,
    FieldType.LOCATION,
    FieldType.JSON,
]


def refuse(field_type: FieldType, value: str) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as caught:
        validate_field(field_type, value, default_country="IN", field=FIELD)
    return caught.value


def test_test_cards_are_luhn_valid_and_cover_13_to_19_digits() -> None:
    assert all(luhn_valid(number) for number in CARDS)
    assert {len(number) for number in CARDS} == {13, 15, 16, 17, 18, 19}


@pytest.mark.parametrize("value", CARD_FORMS)
@pytest.mark.parametrize("field_type", GENERAL_TYPES)
def test_card_number_refused_in_general_fields(field_type: FieldType, value: str) -> None:
    error = refuse(field_type, value)
    assert error.code == "card_number_refused"
    assert "store the gateway token, never the card number" in error.fields[0].message
    assert error.fields[0].field == FIELD


@pytest.mark.parametrize("field_type", GENERAL_TYPES)
def test_card_number_inside_a_longer_value_refused(field_type: FieldType) -> None:
    value = f"ref:{grouped(CARDS[2], ' ')}/x" if field_type is not FieldType.PAYMENT_TOKEN else f"tok_{CARDS[2]}"
    assert refuse(field_type, value).code == "card_number_refused"


@pytest.mark.parametrize("field_type", FORMAT_TYPES)
def test_card_number_fails_strict_formats(field_type: FieldType) -> None:
    refuse(field_type, grouped(CARDS[2], " "))


@pytest.mark.parametrize(
    "document",
    [
        {"card": CARDS[2]},
        {"items": [{"note": f"paid with {grouped(CARDS[3], '-')}"}]},
        {CARDS[0]: "the card number as a key"},
        [1, 2, [3, [f"x {CARDS[-1]} y"]]],
    ],
)
def test_card_number_in_json_strings_refused(document: object) -> None:
    assert refuse(FieldType.JSON, json.dumps(document)).code == "card_number_refused"


def test_card_number_in_structured_address_refused() -> None:
    address = {"lines": [f"Card {CARDS[2]}"], "city": "Pune", "postal_code": "411001", "country": "IN"}
    error = refuse(FieldType.POSTAL_ADDRESS, json.dumps(address))
    assert error.code == "card_number_refused"
    assert error.fields[0].field == f"{FIELD}.lines[0]"


@pytest.mark.parametrize("value", CARD_FORMS)
def test_card_number_redacted_in_free_text(value: str) -> None:
    result = validate_field(FieldType.FREE_TEXT, f"please refund my card {value.strip()} thanks", default_country="IN")
    assert result.value == "please refund my card [CARD_NUMBER] thanks"
    assert [finding.entity_type for finding in result.redactions] == ["CARD_NUMBER"]


# A 16-digit order id that is not Luhn-valid is an order id.
ORDER_IDS = ["1234567812345678", "4111111111111112", "4111 1111 1111 1112", "402-1234567-1234567"]


@pytest.mark.parametrize("order_id", ORDER_IDS)
def test_non_luhn_numbers_left_alone(order_id: str) -> None:
    assert not contains_card_number(order_id)
    for field_type in (FieldType.TEXT, FieldType.IDENTIFIER, FieldType.DOCUMENT_REFERENCE):
        assert validate_field(field_type, order_id, default_country="IN").value == order_id
    assert validate_field(FieldType.JSON, json.dumps({"order": order_id}), default_country="IN").value == json.dumps(
        {"order": order_id}, separators=(",", ":")
    )
    message = f"Where is order {order_id}?"
    assert validate_field(FieldType.FREE_TEXT, message, default_country="IN").value == message


def test_luhn_valid_digits_glued_to_letters_refused_only_as_payment_token() -> None:
    # In text, "OD4111…" is a marketplace order id, not a typed card number; a payment token is held to
    # the stricter rule because a real gateway token never contains a 13-19 digit run.
    glued = "OD" + CARDS[2]
    assert validate_field(FieldType.IDENTIFIER, glued, default_country="IN").value == glued
    assert refuse(FieldType.PAYMENT_TOKEN, glued).code == "card_number_refused"


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from([13, 14, 15, 16, 17, 18, 19]),
    st.text(alphabet="0123456789", min_size=19, max_size=19),
    st.sampled_from(["", " ", "-"]),
    st.sampled_from(GENERAL_TYPES),
)
def test_any_luhn_valid_number_refused_in_general_fields(
    length: int, digits: str, separator: str, field_type: FieldType
) -> None:
    number = digits[: length - 1] + luhn_check_digit(digits[: length - 1])
    value = grouped(number, separator) if separator else number
    assert refuse(field_type, value).code == "card_number_refused"


# ------------------------------------------------------------------------------------------- oversize


@pytest.mark.parametrize("field_type", list(FieldType))
def test_oversized_value_refused_for_every_type(field_type: FieldType) -> None:
    limit = MAX_BYTES[field_type]
    error = refuse(field_type, "a" * (limit + 1))
    assert error.code == "value_too_large"
    assert str(limit) in error.fields[0].message


@pytest.mark.parametrize("field_type", [FieldType.TEXT, FieldType.FREE_TEXT, FieldType.POSTAL_ADDRESS])
def test_size_is_counted_in_utf8_bytes(field_type: FieldType) -> None:
    limit = MAX_BYTES[field_type]
    # 'क' is 3 bytes: fewer characters than the limit, more bytes.
    assert refuse(field_type, "क" * (limit // 3 + 1)).code == "value_too_large"
    assert validate_field(field_type, "क" * (limit // 3), default_country="IN").value == "क" * (limit // 3)


def test_free_text_at_its_limit_accepted() -> None:
    text = ("Where is my order? " * 4000)[: MAX_BYTES[FieldType.FREE_TEXT]]
    assert validate_field(FieldType.FREE_TEXT, text, default_country="IN").value == text.strip()


def test_oversized_identifiers_refused() -> None:
    for kind, value in (("email", "a" * 2000 + "@example.com"), ("phone", "9" * 100), ("customer_id", "c" * 257)):
        with pytest.raises(ValidationFailed) as caught:
            normalise_identifier(kind, value, default_country="IN")  # type: ignore[arg-type]
        assert caught.value.code == "value_too_large"


# ------------------------------------------------------------------------------------ no value in errors

_AADHAAR_GOOD = "98765432109" + verhoeff_check_digit("98765432109")
BAD_VALUES: list[tuple[FieldType, str]] = [
    (FieldType.EMAIL, "Ravi.Secret@@exämple.com"),
    (FieldType.EMAIL, "ravi.secret.example.com"),
    (FieldType.PHONE, "98765 4321"),
    (FieldType.PHONE, "+91 98765 43210 ext. 77"),
    (FieldType.DATE, "1990-02-30"),
    (FieldType.DATE, "17/05/1990"),
    (FieldType.PIN_CODE, "060017"),
    (FieldType.PAN, "ZQXWE7788K"),
    (FieldType.PAN, "ZQXPE778"),
    (FieldType.GSTIN, "29ZQXPE7788K1ZQ" if gstin_check_char("29ZQXPE7788K1Z") != "Q" else "29ZQXPE7788K1ZR"),
    (FieldType.GSTIN, "45ZQXPE7788K1Z7"),
    (FieldType.AADHAAR, _AADHAAR_GOOD[:-1] + str((int(_AADHAAR_GOOD[-1]) + 1) % 10)),
    (FieldType.AADHAAR, "1876 5432 1098"),
    (FieldType.PAYMENT_TOKEN, grouped(CARDS[2], " ")),
    (FieldType.PAYMENT_TOKEN, "tok 7788 zqxw"),
    (FieldType.TEXT, f"Ravi Secretkumar {CARDS[3]}"),
    (FieldType.TEXT, "Ravi Secretkumar\x07"),
    (FieldType.JSON, '{"secretkey": "zqxw7788", "secretkey": 1}'),
    (FieldType.JSON, '{"secretkey": zqxw7788}'),
    (FieldType.JSON, json.dumps({"pan": "ZQXPE7788K", "card": CARDS[1]})),
    (FieldType.LOCATION, "123.4567,77.7788"),
    (FieldType.LOCATION, "zqxw7788"),
    (FieldType.POSTAL_ADDRESS, json.dumps({"lines": ["7788 Secret Lane"], "city": "Zqxw", "country": "IN"})),
    (
        FieldType.POSTAL_ADDRESS,
        json.dumps({"lines": ["7788 Secret Lane"], "city": "Zqxw", "postal_code": "077881", "country": "IN"}),
    ),
    (FieldType.IDENTIFIER, "zqxw-7788\nsecret"),
    (FieldType.DEVICE, "Mozilla/5.0 " + "zqxw7788" * 200),
    (FieldType.FREE_TEXT, "secret \x00 zqxw7788"),
]


def _windows(value: str, size: int = 6) -> set[str]:
    """Every run of `size` characters of the value that holds a digit or an upper-case letter."""
    return {
        value[i : i + size]
        for i in range(len(value) - size + 1)
        if any(char.isdigit() or char.isupper() for char in value[i : i + size])
    }


@pytest.mark.parametrize(("field_type", "value"), BAD_VALUES)
def test_errors_never_contain_the_value(field_type: FieldType, value: str) -> None:
    error = refuse(field_type, value)
    texts = [str(error), error.detail] + [problem.message for problem in error.fields]
    texts += [problem.hint for problem in error.fields if problem.hint]
    for text in texts:
        assert value.strip() not in text
        for window in _windows(value.strip()):
            assert window not in text, (window, text)
    # A library's exception may quote the value; it must not ride along in a traceback.
    assert error.__cause__ is None
    assert error.__context__ is None


def test_values_for_the_no_echo_test_are_really_invalid_for_the_right_reason() -> None:
    gstin = next(value for field_type, value in BAD_VALUES if field_type is FieldType.GSTIN)
    assert "check character" in refuse(FieldType.GSTIN, gstin).fields[0].message
    aadhaar = next(value for field_type, value in BAD_VALUES if field_type is FieldType.AADHAAR)
    assert "check digit" in refuse(FieldType.AADHAAR, aadhaar).fields[0].message
