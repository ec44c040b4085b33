"""validate_field and normalise_identifier: valid and invalid values for every FieldType."""

from __future__ import annotations

import json

import pytest

from fiduciary.errors import ValidationFailed
from fiduciary.policy.schema import FieldType
from fiduciary.vault.checksums import gstin_check_char, verhoeff_check_digit
from fiduciary.vault.validation import MAX_BYTES, ValidatedValue, normalise_identifier, validate_field

FIELD = "profile.thing"


def ok(field_type: FieldType | str, value: str, country: str = "IN") -> ValidatedValue:
    return validate_field(FieldType(field_type), value, default_country=country, field=FIELD)


def bad(field_type: FieldType | str, value: str, code: str, country: str = "IN") -> ValidationFailed:
    with pytest.raises(ValidationFailed) as caught:
        validate_field(FieldType(field_type), value, default_country=country, field=FIELD)
    error = caught.value
    assert error.code == code, (error.code, str(error))
    assert error.status == 422
    assert error.fields and error.fields[0].field.startswith(FIELD)
    return error


def aadhaar(payload11: str) -> str:
    return payload11 + verhoeff_check_digit(payload11)


def gstin(body14: str) -> str:
    return body14 + gstin_check_char(body14)


def test_every_field_type_has_a_validator_and_a_size_limit() -> None:
    assert set(MAX_BYTES) == set(FieldType)


# ------------------------------------------------------------------------------------------------ email


@pytest.mark.parametrize(
    ("given", "stored", "masked"),
    [
        ("Ravi.Kumar@Example.COM", "ravi.kumar@example.com", "r****@example.com"),
        ("  asha@example.in \n", "asha@example.in", "a****@example.in"),
        ("user@Bücher.de", "user@xn--bcher-kva.de", "u****@xn--bcher-kva.de"),
        ("user@xn--bcher-kva.de", "user@xn--bcher-kva.de", "u****@xn--bcher-kva.de"),
        ("Ämma@example.com", "ämma@example.com", "ä****@example.com"),
    ],
)
def test_email_normalised(given: str, stored: str, masked: str) -> None:
    result = ok("email", given)
    assert (result.value, result.masked) == (stored, masked)
    assert normalise_identifier("email", given, default_country="IN") == stored


def test_unicode_and_punycode_domains_index_alike() -> None:
    assert normalise_identifier("email", "A@BÜCHER.de", default_country="IN") == normalise_identifier(
        "email", "a@xn--bcher-kva.de", default_country="IN"
    )


@pytest.mark.parametrize(
    "value",
    ["ravi.example.com", "ravi@@example.com", "ravi@localhost", "ravi@example", "ravi@exa mple.com", "@example.com"],
)
def test_email_invalid(value: str) -> None:
    bad("email", value, "invalid_email")


def test_email_check_never_touches_dns() -> None:
    # A syntactically fine address at a domain that cannot exist is accepted: no deliverability lookup.
    assert ok("email", "x@no-such-domain-fiduciary-test.com").value == "x@no-such-domain-fiduciary-test.com"


# ------------------------------------------------------------------------------------------------ phone


@pytest.mark.parametrize(
    ("given", "country", "stored"),
    [
        ("98765 43210", "IN", "+919876543210"),
        ("098765-43210", "IN", "+919876543210"),
        ("+91 98765 43210", "IN", "+919876543210"),
        ("+919876543210", "GB", "+919876543210"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("(415) 555-2671", "US", "+14155552671"),
        ("080 2345 6789", "IN", "+918023456789"),
    ],
)
def test_phone_to_e164_with_default_country(given: str, country: str, stored: str) -> None:
    result = ok("phone", given, country)
    assert result.value == stored
    assert result.masked == "******" + stored[-4:]
    assert normalise_identifier("phone", given, default_country=country) == stored


def test_support_sees_last_four_digits_only() -> None:
    assert ok("phone", "98765 44321").masked == "******4321"


@pytest.mark.parametrize(
    ("value", "country"),
    [
        ("12345", "IN"),  # too short
        ("98765 4321", "IN"),  # nine digits
        ("55555 43210", "IN"),  # Indian mobiles start 6-9; 5 is not a valid prefix
        ("not a phone", "IN"),
        ("+999 1234 5678", "IN"),  # no such country code
        ("98765 43210", "ZZ"),  # no +CC and no usable default country
        ("+91 98765 43210 ext. 12", "IN"),
    ],
)
def test_phone_invalid(value: str, country: str) -> None:
    bad("phone", value, "invalid_phone", country)


# ------------------------------------------------------------------------------------------ customer id


def test_customer_id_is_stripped_only() -> None:
    assert normalise_identifier("customer_id", "  CUST-00042 ", default_country="IN") == "CUST-00042"
    # Store-issued numeric ids are lookup keys: a Luhn-valid one is still accepted (decision 0004).
    assert normalise_identifier("customer_id", "4111111111111111", default_country="IN") == "4111111111111111"


@pytest.mark.parametrize(("value", "code"), [("   ", "empty_value"), ("a\nb", "invalid_characters")])
def test_customer_id_invalid(value: str, code: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        normalise_identifier("customer_id", value, default_country="IN")
    assert caught.value.code == code
    assert caught.value.fields[0].field == "customer_id"


def test_identifier_errors_name_the_kind() -> None:
    for kind, value in (("email", "nope"), ("phone", "nope"), ("customer_id", "x" * 300)):
        with pytest.raises(ValidationFailed) as caught:
            normalise_identifier(kind, value, default_country="IN")  # type: ignore[arg-type]
        assert caught.value.fields[0].field == kind


def test_unknown_identifier_kind_refused() -> None:
    with pytest.raises(ValidationFailed) as caught:
        normalise_identifier("username", "ravi", default_country="IN")  # type: ignore[arg-type]
    assert caught.value.code == "invalid_identifier_kind"


# ------------------------------------------------------------------------------------------------- date


@pytest.mark.parametrize("value", ["1990-05-17", "2000-02-29", "2024-12-31", " 1985-01-01 "])
def test_date_valid(value: str) -> None:
    result = ok("date", value)
    assert result.value == value.strip()
    assert result.masked == "****-**-**"


@pytest.mark.parametrize("value", ["1990-5-17", "17-05-1990", "1990/05/17", "19900517", "1990-05-17T10:00", "May 1990"])
def test_date_wrong_format(value: str) -> None:
    bad("date", value, "invalid_date")


@pytest.mark.parametrize("value", ["2023-02-29", "1900-02-29", "1990-13-01", "1990-04-31", "0000-01-01"])
def test_date_not_a_real_date(value: str) -> None:
    error = bad("date", value, "invalid_date")
    assert "real calendar date" in error.fields[0].message


# --------------------------------------------------------------------------------------------- PIN code


@pytest.mark.parametrize(
    ("value", "stored"), [("560001", "560001"), ("110 001", "110001"), ("999001", "999001"), ("400050", "400050")]
)
def test_pin_code_valid(value: str, stored: str) -> None:
    # 9 is the Army Postal Service region: valid.
    assert ok("pin_code", value).value == stored


@pytest.mark.parametrize("value", ["060001", "56001", "5600011", "56O001", "5600 01", "560-001"])
def test_pin_code_invalid(value: str) -> None:
    bad("pin_code", value, "invalid_pin_code")


# -------------------------------------------------------------------------------------------------- PAN


@pytest.mark.parametrize("holder", list("PCHFATBLJG"))
def test_pan_every_holder_type(holder: str) -> None:
    result = ok("pan", f"abc{holder.lower()}e1234f")
    assert result.value == f"ABC{holder}E1234F"
    assert result.masked == "******234F"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("ABCDE1234F", "holder type"),  # D is not a holder type
        ("ABCPE1234", "five letters"),
        ("ABCPE12345", "five letters"),
        ("ABCP11234F", "five letters"),
        ("ABC PE1234F", "five letters"),
    ],
)
def test_pan_invalid(value: str, fragment: str) -> None:
    assert fragment in bad("pan", value, "invalid_pan").fields[0].message


# ------------------------------------------------------------------------------------------------ GSTIN


def test_gstin_valid_and_masked() -> None:
    value = gstin("29ABCPE1234F1Z")
    result = ok("gstin", value.lower())
    assert result.value == value
    assert result.masked == "******" + value[-4:]
    assert ok("gstin", "27AAPFU0939F1ZV").value == "27AAPFU0939F1ZV"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("27AAPFU0939F1ZW", "check character"),
        ("27AAPFU0939F1Z", "15 letters and digits"),
        ("27AAPFU0939F1ZV0", "15 letters and digits"),
        ("27AAPFU-939F1ZV", "15 letters and digits"),
        ("40ABCPE1234F1Z0", "state code"),
        ("29ABCXE1234F1Z0", "PAN"),
        ("29ABCPE1234F0Z0", "13th"),
        ("29ABCPE1234F1A0", "14th"),
    ],
)
def test_gstin_invalid(value: str, fragment: str) -> None:
    assert fragment in bad("gstin", value, "invalid_gstin").fields[0].message


# ---------------------------------------------------------------------------------------------- Aadhaar


@pytest.mark.parametrize("layout", ["{}", "{} ", "{a} {b} {c}", "{a}-{b}-{c}"])
def test_aadhaar_stored_only_masked(layout: str) -> None:
    number = aadhaar("23456789012")
    text = layout.format(number, a=number[:4], b=number[4:8], c=number[8:])
    result = ok("aadhaar", text)
    assert result.value == "XXXXXXXX" + number[-4:]
    assert result.masked == result.value
    assert number not in result.value and number[:8] not in result.value


def test_aadhaar_already_masked_input_accepted() -> None:
    assert ok("aadhaar", "XXXX XXXX 1234").value == "XXXXXXXX1234"
    assert ok("aadhaar", "xxxxxxxx9876").value == "XXXXXXXX9876"


def test_aadhaar_wrong_check_digit() -> None:
    number = aadhaar("98765432109")
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert "check digit" in bad("aadhaar", wrong, "invalid_aadhaar").fields[0].message


@pytest.mark.parametrize("first", ["0", "1"])
def test_aadhaar_cannot_start_with_0_or_1(first: str) -> None:
    number = aadhaar(first + "3456789012")  # Verhoeff-valid, but UIDAI never issues these
    assert "start with 0 or 1" in bad("aadhaar", number, "invalid_aadhaar").fields[0].message


@pytest.mark.parametrize(
    "value", ["23456789012", "2345678901234", "2345 6789 012a", "XXXX XXXX XXXX", "2345  6789 0123"]
)
def test_aadhaar_wrong_shape(value: str) -> None:
    bad("aadhaar", value, "invalid_aadhaar")


# ---------------------------------------------------------------------------------------- payment token


@pytest.mark.parametrize("token", ["tok_1NzA2b3C4dEf", "pm_1MqLiJ2eZvKYlo2C", "token_HQmiTzIyBmkTze", "x" * 200])
def test_payment_token_valid(token: str) -> None:
    result = ok("payment_token", token)
    assert result.value == token
    assert result.masked == "******" + token[-4:]


@pytest.mark.parametrize("token", ["tok_123", "x" * 201, "tok 1NzA2b3C", "tok_1NzA2b3C\x00", "tok_ä1NzA2b3C"])
def test_payment_token_invalid(token: str) -> None:
    bad("payment_token", token, "invalid_payment_token")


# -------------------------------------------------------------------------------------- postal address


def test_structured_indian_address_normalises_pin() -> None:
    given = {"lines": [" 12, MG Road ", "Flat 4"], "city": "Bengaluru", "postal_code": "560 001", "country": "in"}
    result = ok("postal_address", json.dumps(given))
    stored = json.loads(result.value)
    assert stored == {
        "lines": ["12, MG Road", "Flat 4"],
        "city": "Bengaluru",
        "postal_code": "560001",
        "country": "IN",
    }
    assert result.masked == "******, Bengaluru, IN"


def test_structured_foreign_address_pin_not_required() -> None:
    given = {
        "lines": ["10 Downing St"],
        "city": "London",
        "region": "England",
        "postal_code": "SW1A 2AA",
        "country": "GB",
    }
    assert json.loads(ok("postal_address", json.dumps(given)).value)["postal_code"] == "SW1A 2AA"


def test_plain_address_lines_normalised() -> None:
    assert ok("postal_address", "  12 MG Road\r\n\r\n Bengaluru 560001 \n").value == "12 MG Road\nBengaluru 560001"


@pytest.mark.parametrize(
    ("address", "field_suffix", "code"),
    [
        (
            {"lines": ["12 MG Road"], "city": "Bengaluru", "postal_code": "060001", "country": "IN"},
            ".postal_code",
            "invalid_pin_code",
        ),
        ({"lines": ["12 MG Road"], "city": "Bengaluru", "country": "IN"}, ".postal_code", "invalid_pin_code"),
        ({"lines": ["12 MG Road"], "postal_code": "560001", "country": "IN"}, ".city", "invalid_postal_address"),
        ({"lines": ["12 MG Road"], "city": "Bengaluru", "postal_code": "560001"}, ".country", "invalid_postal_address"),
        (
            {"lines": ["12 MG Road"], "city": "Bengaluru", "postal_code": "560001", "country": "IND"},
            ".country",
            "invalid_postal_address",
        ),
        ({"lines": [], "city": "Bengaluru", "country": "GB"}, "", "invalid_postal_address"),
        ({"lines": "12 MG Road", "city": "Bengaluru", "country": "GB"}, "", "invalid_postal_address"),
        ({"lines": ["  "], "city": "Bengaluru", "country": "GB"}, ".lines[0]", "empty_value"),
        ({"lines": [7], "city": "Bengaluru", "country": "GB"}, ".lines[0]", "invalid_postal_address"),
        ({"lines": ["a\nb"], "city": "Bengaluru", "country": "GB"}, ".lines[0]", "invalid_characters"),
        ({"lines": ["x" * 201], "city": "Bengaluru", "country": "GB"}, ".lines[0]", "value_too_large"),
        ({"lines": ["12 MG Road"], "city": "Bengaluru", "country": "GB", "phone": "1"}, "", "invalid_postal_address"),
    ],
)
def test_structured_address_invalid(address: dict[str, object], field_suffix: str, code: str) -> None:
    error = bad("postal_address", json.dumps(address), code)
    assert error.fields[0].field == FIELD + field_suffix


@pytest.mark.parametrize(
    ("value", "code"), [("   \n ", "empty_value"), ("{not json", "invalid_json"), ("a\x00b", "invalid_characters")]
)
def test_address_invalid(value: str, code: str) -> None:
    bad("postal_address", value, code)


# ------------------------------------------------------------------------------------------------- text


def test_text_normalised() -> None:
    assert ok("text", "  Ravi\u0301 Kumar\r\nline two\tcol  ").value == "Raví Kumar\nline two\tcol"
    assert ok("text", "Ravi Kumar").masked == "******"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", "empty_value"),
        (" \n\t ", "empty_value"),
        ("Ravi\x00", "invalid_characters"),
        ("Ravi\x1b[31m", "invalid_characters"),
        ("a\x85b", "invalid_characters"),
    ],
)
def test_text_invalid(value: str, code: str) -> None:
    bad("text", value, code)


def test_lone_surrogate_refused() -> None:
    bad("text", "Ravi\ud800", "invalid_text")


def test_non_string_refused() -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_field(FieldType.TEXT, 42, default_country="IN", field=FIELD)  # type: ignore[arg-type]
    assert caught.value.code == "invalid_type"


def test_unknown_field_type_refused() -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_field("blob", "x", default_country="IN", field=FIELD)  # type: ignore[arg-type]
    assert caught.value.code == "invalid_field_type"


def test_field_type_given_as_plain_string_works() -> None:
    assert validate_field("pan", "ABCPE1234F", default_country="IN").value == "ABCPE1234F"  # type: ignore[arg-type]


def test_default_field_name_is_value() -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_field(FieldType.PAN, "nope", default_country="IN")
    assert caught.value.fields[0].field == "value"


# ----------------------------------------------------------------------------------------- free text


def test_free_text_redacted_and_findings_kept() -> None:
    result = ok("free_text", "Hi,\r\nmy PAN is ABCPE1234F and mail ravi@example.com\n")
    assert result.value == "Hi,\nmy PAN is [PAN] and mail [EMAIL]"
    assert [finding.entity_type for finding in result.redactions] == ["PAN", "EMAIL"]
    assert result.masked == "******"


def test_free_text_without_identifiers_unchanged() -> None:
    message = "Order #4521 arrived late on 2024-03-05; the ₹1,299 kurta was the wrong size."
    result = ok("free_text", message)
    assert result.value == message
    assert result.redactions == ()


# ------------------------------------------------------------------------------------------------- json


def test_json_canonical_and_order_preserved() -> None:
    result = ok("json", '{ "b": 1, "a": [true, null, "x"], "ü": 1.5 }')
    assert result.value == '{"b":1,"a":[true,null,"x"],"ü":1.5}'
    assert ok("json", "[]").value == "[]"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("{", "not valid JSON"),
        ("{'a': 1}", "not valid JSON"),
        ('{"a": NaN}', "not valid JSON"),
        ('{"a": Infinity}', "not valid JSON"),
        ('{"a": 1, "a": 2}', "repeats a key"),
        ('"just a string"', "object or array"),
        ("42", "object or array"),
        ("[" * 33 + "]" * 33, "nested too deeply"),
        ("[" * 5000 + "]" * 5000, "nested too deeply"),
    ],
)
def test_json_invalid(value: str, fragment: str) -> None:
    assert fragment in bad("json", value, "invalid_json").fields[0].message


def test_json_at_depth_limit_accepted() -> None:
    assert ok("json", "[" * 32 + "]" * 32).value == "[" * 32 + "]" * 32


# --------------------------------------------------------------------------------------------- location


@pytest.mark.parametrize(
    ("value", "stored", "masked"),
    [
        ("12.9716,77.5946", "12.9716,77.5946", "13.0,77.6"),
        (" 12.97160 , 77.59460 ", "12.9716,77.5946", "13.0,77.6"),
        ("-33.8688,151.2093", "-33.8688,151.2093", "-33.9,151.2"),
        ("90,-180", "90,-180", "90.0,-180.0"),
        ("0.000000001,-0.01", "0,-0.01", "0.0,0.0"),
    ],
)
def test_location_valid(value: str, stored: str, masked: str) -> None:
    result = ok("location", value)
    assert (result.value, result.masked) == (stored, masked)


@pytest.mark.parametrize("value", ["91,0", "0,181", "-90.5,0", "12.9", "lat,lon", "12.9;77.5", "1e2,3", "nan,0"])
def test_location_invalid(value: str) -> None:
    bad("location", value, "invalid_location")


# ---------------------------------------------------------------------------------- opaque references


@pytest.mark.parametrize("field_type", ["identifier", "device", "document_reference", "media_reference"])
def test_opaque_values(field_type: str) -> None:
    result = ok(field_type, "  kyc/2024/doc_8f3a21.pdf ")
    assert result.value == "kyc/2024/doc_8f3a21.pdf"
    assert result.masked == "******.pdf"
    assert ok(field_type, "abc").masked == "******"  # too short to show any of it
    bad(field_type, "line\nbreak", "invalid_characters")
    bad(field_type, "   ", "empty_value")


# ---------------------------------------------------------------------------------------- idempotence

SAMPLES: dict[FieldType, str] = {
    FieldType.TEXT: " Ravi\r\nKumar ",
    FieldType.FREE_TEXT: "call me on 98765 43210, card 4111 1111 1111 1111",
    FieldType.EMAIL: "Ravi@Bücher.DE",
    FieldType.PHONE: "098765-43210",
    FieldType.DATE: "1990-05-17",
    FieldType.POSTAL_ADDRESS: json.dumps(
        {"lines": ["12 MG Road"], "city": "Pune", "postal_code": "411 001", "country": "in"}
    ),
    FieldType.PIN_CODE: "411 001",
    FieldType.PAN: "abcpe1234f",
    FieldType.GSTIN: "27aapfu0939f1zv",
    FieldType.AADHAAR: aadhaar("23456789012"),
    FieldType.PAYMENT_TOKEN: " tok_1NzA2b3C4dEf ",
    FieldType.DOCUMENT_REFERENCE: "kyc/doc-1.pdf",
    FieldType.DEVICE: "Pixel 8; Android 14",
    FieldType.LOCATION: "18.52040, 73.85670",
    FieldType.IDENTIFIER: "CUST-42",
    FieldType.JSON: '{ "a" : [1, 2] }',
    FieldType.MEDIA_REFERENCE: "media/p.jpg",
}


@pytest.mark.parametrize("field_type", list(FieldType))
def test_validating_a_stored_value_gives_it_back_with_the_same_mask(field_type: FieldType) -> None:
    """The vault masks stored values by validating them again: that must be a fixed point."""
    first = ok(field_type, SAMPLES[field_type])
    second = ok(field_type, first.value)
    assert (second.value, second.masked) == (first.value, first.masked)
