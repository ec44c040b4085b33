"""The validators' fast paths give exactly the answers of what they stand in for.

`_fast_email` and `_fast_indian_phone` skip email-validator and libphonenumber for the shapes bulk sign-up
sends (they cost ~45 µs a call each). They may decline anything (the library then decides), but whatever
they answer must be what `_email` / `_phone` derive from the library: these tests compare the two on
generated and enumerated inputs, and check that the fast paths really are taken for common shapes.
"""

from __future__ import annotations

import json
import random
import re
import string
import unicodedata

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from fiduciary.errors import ValidationFailed
from fiduciary.policy.schema import FieldType
from fiduciary.vault.redaction import count_ascii_digits
from fiduciary.vault.validation import contains_card_number, normalise_identifier, validate_field
from fiduciary.vault.value_checks import JSON_MAX_DEPTH
from fiduciary.vault.value_documents import _TOKEN_CHARS
from fiduciary.vault.value_identifiers import _fast_email, _fast_indian_phone

# ------------------------------------------------------------------------------------------- references


def library_email(value: str) -> tuple[str, str] | None:
    """What `_email` derives from email-validator: (normalised address, ASCII domain), None if refused."""
    try:
        info = validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return None
    return f"{info.local_part.lower()}@{info.ascii_domain}", info.ascii_domain


def library_phone(value: str, country: str) -> str | None:
    """What `_phone` derives from libphonenumber: the E.164 form, None if refused."""
    try:
        number = phonenumbers.parse(value, country.upper())
    except phonenumbers.NumberParseException:
        return None
    if number.extension or not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# ------------------------------------------------------------------------------------------------ email

ATEXT = string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-"
LDH = string.ascii_letters + string.digits + "-"
NOISE = ' ."(),:;<>@[\\]\t\x7fé\u0430\uff0e'

# Mostly plausible addresses (so the fast path is taken often and its answers are compared), with the
# edges it must decline or get right mixed in: empty atoms, long parts, "--" labels, special-use names.
atoms = st.one_of(
    st.text(alphabet=st.sampled_from(ATEXT), min_size=1, max_size=10),
    st.text(alphabet=st.sampled_from(ATEXT), min_size=1, max_size=10),
    st.text(alphabet=st.sampled_from(ATEXT), min_size=1, max_size=10),
    st.just(""),  # a leading, trailing or double dot
)
local_parts = st.one_of(
    st.lists(atoms, min_size=1, max_size=4).map(".".join),
    st.lists(atoms, min_size=1, max_size=4).map(".".join),
    st.lists(atoms, min_size=1, max_size=4).map(".".join),
    st.integers(min_value=200, max_value=250).map(lambda n: "a" * n),  # around the 254-character limit
)
labels = st.one_of(
    st.from_regex(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,10}[A-Za-z0-9])?", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,10}[A-Za-z0-9])?", fullmatch=True),
    st.text(alphabet=st.sampled_from(LDH), min_size=0, max_size=12),
    st.integers(min_value=60, max_value=66).map(lambda n: "b" * n),  # around the 63-character label limit
    st.sampled_from(["xn--bcher-kva", "ab--cd", "a--b", "-a", "a-", "EXAMPLE", "mail", "123"]),
)
tlds = st.one_of(
    st.from_regex(r"[A-Za-z]{2,6}", fullmatch=True),
    st.sampled_from(
        ["com", "in", "IN", "co", "org", "test", "Test", "local", "localhost", "onion", "arpa", "invalid", "x", "c0m"]
    ),
    st.text(alphabet=st.sampled_from(LDH), min_size=1, max_size=65),
)
domains = st.builds(lambda parts, tld: ".".join([*parts, tld]), st.lists(labels, min_size=1, max_size=3), tlds)
well_formed = st.builds(lambda local, domain: f"{local}@{domain}", local_parts, domains)
noisy = st.builds(
    lambda address, noise, at: address[:at] + noise + address[at:],
    well_formed,
    st.text(alphabet=st.sampled_from(NOISE), min_size=1, max_size=2),
    st.integers(min_value=0, max_value=80),
)
addresses = st.one_of(
    well_formed, well_formed, well_formed, noisy, st.text(alphabet=st.sampled_from(ATEXT + NOISE), max_size=40)
)


@settings(max_examples=1500, deadline=None)
@given(addresses)
def test_email_fast_path_answers_exactly_as_email_validator(address: str) -> None:
    fast = _fast_email(address)
    if fast is not None:
        assert fast == library_email(address)


COMMON_EMAILS = [
    "customer.12345@example.com",
    "Ravi.Kumar@Example.COM",
    "asha_v+orders@mail.example.co.in",
    "o'neil@shop-42.in",
    "x@no-such-domain-fiduciary-test.com",
    "INFO@EXAMPLE.ORG",
    "a@b.cd",
]


@pytest.mark.parametrize("address", COMMON_EMAILS)
def test_common_addresses_take_the_fast_path(address: str) -> None:
    assert _fast_email(address) is not None
    assert _fast_email(address) == library_email(address)
    stored, domain = library_email(address) or ("", "")
    result = validate_field(FieldType.EMAIL, address, default_country="IN")
    assert (result.value, result.masked) == (stored, f"{stored[0]}****@{domain}")
    assert normalise_identifier("email", address, default_country="IN") == stored


def test_generated_sign_up_addresses_take_the_fast_path_with_the_librarys_answer() -> None:
    rng = random.Random(4)
    for _ in range(2000):
        local = ".".join(
            "".join(rng.choice(string.ascii_letters + string.digits + "_+-") for _ in range(rng.randint(1, 10)))
            for _ in range(rng.randint(1, 3))
        )
        domain = ".".join(
            rng.choice(["example", "mail", "shop", "Gmail", "yahoo", "rediffmail", "x1", "in-store"])
            for _ in range(rng.randint(1, 3))
        )
        address = f"{local}@{domain}.{rng.choice(['com', 'in', 'co.in', 'ORG', 'net'])}"
        assert _fast_email(address) is not None, address
        assert _fast_email(address) == library_email(address), address


@pytest.mark.parametrize(
    "address",
    [
        "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 59 + ".com",  # 256 characters: too long
        "a" * 245 + "@example.com",  # 257
        "a" * 242 + "@example.com",  # 254: the longest accepted
        "a" * 243 + "@example.com",  # 255
        "x@" + "b" * 63 + ".com",
        "x@" + "b" * 64 + ".com",
        "x@foo.test",
        "x@foo.localhost",
        "x@example.com.",
        "x@.example.com",
        "x.@example.com",
        ".x@example.com",
        "x..y@example.com",
        "x@exa_mple.com",
        "x@123.com",
        "x@example.c1",
        "x@example.123",
    ],
)
def test_email_fast_path_at_the_edges(address: str) -> None:
    fast = _fast_email(address)
    if fast is not None:
        assert fast == library_email(address)
    expected = library_email(address)
    if expected is None:
        with pytest.raises(Exception, match="valid email"):
            validate_field(FieldType.EMAIL, address, default_country="IN")
    else:
        assert validate_field(FieldType.EMAIL, address, default_country="IN").value == expected[0]


# ------------------------------------------------------------------------------------------------ phone


def test_every_indian_prefix_gives_libphonenumbers_answer() -> None:
    """Every 5-digit prefix (libphonenumber's Indian patterns branch on at most the first six digits), in
    each accepted shape, with a random tail: the fast answer is the library's, invalid numbers included."""
    rng = random.Random(91)
    hits = 0
    for prefix in range(100_000):
        digits = f"{prefix}{rng.randrange(100000):05d}"
        shape = prefix % 6
        spaced = f"{digits[:5]} {digits[5:]}" if prefix % 4 < 2 else f"{digits[:5]}-{digits[5:]}"
        value, country = [
            (digits, "IN"),
            ("+91" + digits, "IN"),
            ("+91" + digits, "US"),
            (spaced, "IN"),
            ("+91 " + spaced, "GB"),
            ("+91-" + digits, "IN"),
        ][shape]
        fast = _fast_indian_phone(value, country)
        if fast is not None:
            hits += 1
            assert fast == library_phone(value, country), value
    assert hits > 60_000  # every mobile and most fixed-line prefixes are fast


phone_texts = st.one_of(
    st.text(alphabet=st.sampled_from("+0123456789 -()x"), min_size=8, max_size=15),
    st.builds(
        lambda plus, sep1, head, sep2, tail: plus + sep1 + head + sep2 + tail,
        st.sampled_from(["", "+91", "+9", "+910", "91", "0"]),
        st.sampled_from(["", " ", "-", "  ", "."]),
        st.text(alphabet=st.sampled_from("0123456789"), min_size=4, max_size=6),
        st.sampled_from(["", " ", "-", "--", "/"]),
        st.text(alphabet=st.sampled_from("0123456789"), min_size=4, max_size=6),
    ),
    st.builds(lambda d: "+91" + d, st.text(alphabet=st.sampled_from("0123456789"), min_size=9, max_size=11)),
    st.text(alphabet=st.sampled_from("0123456789"), min_size=9, max_size=11),
    st.text(alphabet=st.sampled_from("0123456789\u0660\u0966\uff10"), min_size=10, max_size=10),
)


@settings(max_examples=1500, deadline=None)
@given(phone_texts, st.sampled_from(["IN", "in", "US", "GB", "ZZ"]))
def test_phone_fast_path_answers_exactly_as_libphonenumber(value: str, country: str) -> None:
    fast = _fast_indian_phone(value, country)
    if fast is not None:
        assert fast == library_phone(value, country)


@pytest.mark.parametrize(
    ("value", "country", "fast"),
    [
        ("9876543210", "IN", True),
        ("9876543210", "in", True),
        ("+919876543210", "IN", True),
        ("+919876543210", "GB", True),
        ("9876543210", "GB", False),  # not India by default: the library decides (+44…)
        ("9198765432", "IN", True),  # starts with the country code but is a whole mobile number
        ("0987654321", "IN", False),  # national prefix: the library strips it
        ("8023456789", "IN", True),  # a Bengaluru landline
        ("5555543210", "IN", False),  # neither a mobile nor a fixed line: the library refuses it
        ("+91987654321", "IN", False),  # nine digits
        ("\u0669876543210", "IN", False),  # a non-ASCII digit
        ("98765 43210", "IN", True),
        ("+91 98765 43210", "US", True),
        ("+91-98765-43210", "IN", True),
        ("98765  43210", "IN", False),  # two spaces: the library decides
        ("9876 543210", "IN", False),  # split elsewhere: the library decides
        ("98765 43210", "GB", False),
    ],
)
def test_phone_fast_path_shapes(value: str, country: str, fast: bool) -> None:
    answer = _fast_indian_phone(value, country)
    assert (answer is not None) is fast
    if answer is not None:
        assert answer == library_phone(value, country)
        result = validate_field(FieldType.PHONE, value, default_country=country)
        assert (result.value, result.masked) == (answer, "******" + answer[-4:])
        assert normalise_identifier("phone", value, default_country=country) == answer


# ------------------------------------------------------------------- json, postal address, digit counting
#
# `_json` skips its card-number walk when the text has fewer than 13 digits and fewer than JSON_MAX_DEPTH
# brackets, `_postal_address` skips the per-part card checks below 13 digits, JSON is parsed by a decoder
# built once, and digits are counted in UTF-8 bytes. The references below are the straightforward versions
# (always walk, always check, `json.loads` per call, count characters): the answers must not differ.


class _Repeated(ValueError):
    pass


def _reference_parse(value: str) -> tuple[str, object]:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "error", "unpaired surrogate"  # refused by the size check before any parsing

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        result: dict[str, object] = {}
        for key, item in items:
            if key in result:
                raise _Repeated
            result[key] = item
        return result

    def constant(_name: str) -> object:
        raise ValueError

    try:
        return "ok", json.loads(value, object_pairs_hook=pairs, parse_constant=constant)
    except _Repeated:
        return "error", "repeats a key"
    except RecursionError:
        return "error", "nested too deeply"
    except ValueError:
        return "error", "not valid JSON"


def _reference_walk_has_card(document: object) -> str | None:
    stack: list[tuple[object, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > JSON_MAX_DEPTH:
            return "nested too deeply"
        if isinstance(node, dict):
            for key, item in node.items():
                if contains_card_number(key):
                    return "card"
                stack.append((item, depth + 1))
        elif isinstance(node, list):
            stack.extend((item, depth + 1) for item in node)
        elif isinstance(node, str) and contains_card_number(node):
            return "card"
    return None


def reference_json(value: str) -> tuple[str, str]:
    status, document = _reference_parse(value)
    if status == "error":
        return "error", str(document)
    if not isinstance(document, dict | list):
        return "error", "object or array"
    problem = _reference_walk_has_card(document)
    if problem == "card":
        return "error", "payment card"
    if problem is not None:
        return "error", problem
    return "ok", json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def outcome(field_type: FieldType, value: str) -> tuple[str, str]:
    try:
        return "ok", validate_field(field_type, value, default_country="IN").value
    except ValidationFailed as exc:
        return "error", exc.fields[0].message


def same_outcome(actual: tuple[str, str], expected: tuple[str, str]) -> bool:
    if actual[0] != expected[0]:
        return False
    return actual == expected if actual[0] == "ok" else expected[1] in actual[1]


CARD_TEXTS = ["4111 1111 1111 1111", "4111111111111111", "card 5500-0000-0000-0004 exp 12/29", "3782 822463 10005"]
texts = st.one_of(
    st.text(max_size=12),
    st.text(alphabet=st.sampled_from("0123456789 -x"), max_size=24),
    st.sampled_from(CARD_TEXTS),
    st.sampled_from(["ORD-123456", "₹1,499.00", "९८७६", "\u0660\u0661", "a\ud800b"]),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), texts)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(texts, children, max_size=4)),
    max_leaves=30,
)
deep = st.builds(
    lambda depth, leaf: "[" * depth + leaf + "]" * depth,
    st.integers(min_value=28, max_value=34),
    st.sampled_from(["", "1", '"x"', '"4111111111111111"', "{}", '{"a": 1}']),
)


def _dump(document: object, ascii_only: bool) -> str:
    try:
        return json.dumps(document, ensure_ascii=ascii_only)
    except UnicodeEncodeError:
        return "[]"


json_texts = st.one_of(
    st.builds(_dump, documents, st.booleans()),  # ensure_ascii=True turns digits into \u escapes sometimes not
    deep,
    st.sampled_from(['{"a": 1, "a": 2}', '{"a": NaN}', "[Infinity]", "\ufeff[]", "[1,]", '"4111111111111111"', "42"]),
    st.builds(lambda digits: '{"n": "\\u0034' + digits + '"}', st.text(alphabet="0123456789", max_size=14)),
)


@settings(max_examples=600, deadline=None)
@given(json_texts)
def test_json_answers_as_the_straightforward_version(value: str) -> None:
    assert same_outcome(outcome(FieldType.JSON, value), reference_json(value)), value


address_parts = st.one_of(texts, st.sampled_from(["12 MG Road", "Flat 4111 1111 1111 1111", "Indiranagar"]))
addresses_json = st.builds(
    lambda lines, city, pin, country, ascii_only: _dump(
        {"lines": lines, "city": city, "postal_code": pin, "country": country}, ascii_only
    ),
    st.lists(address_parts, min_size=1, max_size=3),
    address_parts,
    st.sampled_from(["560038", "560 038", "4111111111111111", "012345"]),
    st.sampled_from(["IN", "in", "GB"]),
    st.booleans(),
)


def reference_address(value: str) -> tuple[str, str]:
    """The JSON branch of `_postal_address` as it was: every part checked for a card number."""
    status, document = _reference_parse(value)
    if status == "error":
        return "error", str(document)
    assert isinstance(document, dict)

    def part(item: object) -> str:
        if not isinstance(item, str):
            raise _Refused("must be a string")
        text = unicodedata.normalize("NFC", item).strip()
        if not text:
            raise _Refused("must not be empty")
        if len(text) > 200:
            raise _Refused("is too long")
        if any(ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F for char in text):
            raise _Refused("control characters")
        if contains_card_number(text):
            raise _Refused("payment card")
        return text

    try:
        address: dict[str, object] = {"lines": [part(line) for line in document["lines"]]}
        for key in ("city", "region", "postal_code", "country"):
            if document.get(key) is not None:
                address[key] = part(document[key])
        country = str(address["country"]).upper()
        address["country"] = country
        if country == "IN":
            pin = str(address["postal_code"])
            if not re.fullmatch(r"[1-9][0-9]{2} ?[0-9]{3}", pin):
                raise _Refused("not an Indian PIN code")
            address["postal_code"] = pin.replace(" ", "")
    except _Refused as refused:
        return "error", str(refused)
    return "ok", json.dumps(address, ensure_ascii=False, separators=(",", ":"))


class _Refused(Exception):
    pass


@settings(max_examples=600, deadline=None)
@given(addresses_json)
def test_postal_address_answers_as_the_straightforward_version(value: str) -> None:
    """Below 13 digits the per-part card checks are skipped; the answer is the same (a card in any part is
    still refused, and the parts are checked in the same order)."""
    assert same_outcome(outcome(FieldType.POSTAL_ADDRESS, value), reference_address(value)), value


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=()), max_size=60))
def test_ascii_digits_are_counted_exactly(text: str) -> None:
    assert count_ascii_digits(text) == sum(char in "0123456789" for char in text)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=30))
def test_payment_token_characters_as_before(token: str) -> None:
    assert (_TOKEN_CHARS.fullmatch(token) is not None) == all("!" <= char <= "~" for char in token)
