"""Text values: single-line text, free text (redacted, not refused), JSON documents and postal addresses."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from typing import Any, NoReturn

from fiduciary.vault.redaction import (
    CARD_MIN_DIGITS,
    count_ascii_digits,
    redact_free_text,
)
from fiduciary.vault.value_checks import (
    ADDRESS_MAX_LINES,
    ADDRESS_PART_MAX,
    CONTROL_ANY,
    JSON_MAX_DEPTH,
    MASK,
    ValidatedValue,
    fail,
    multi_line,
    refuse_card_number,
)
from fiduciary.vault.value_documents import pin

# ----------------------------------------------------------------------------------------- text and json


def text_value(field: str, value: str) -> ValidatedValue:
    value = multi_line(field, value)
    refuse_card_number(field, value)
    return ValidatedValue(value, MASK)


def free_text_value(field: str, value: str, default_country: str) -> ValidatedValue:
    """Redacted, not refused: a support message stays useful without the card or Aadhaar pasted into it."""
    value = multi_line(field, value)
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
    fail(field, problem, code="invalid_json")


def _walk_json(field: str, document: Any, visit: Callable[[str], None]) -> None:
    """Depth-first over every string (keys included), iteratively so depth is bounded by us, not the stack."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > JSON_MAX_DEPTH:
            fail(field, f"is nested too deeply (at most {JSON_MAX_DEPTH} levels)", code="invalid_json")
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


def json_value(field: str, value: str) -> ValidatedValue:
    """A JSON object or array; strings inside (keys too) must not hold a card number.

    The walk is skipped when it cannot fail: every digit of a decoded string is a digit in the text (as
    itself or inside a \\u00XX escape), so text with fewer than 13 digits holds no string with a card
    number; and a value nested n containers deep needs n brackets in the text, so fewer than
    JSON_MAX_DEPTH brackets cannot exceed the depth limit.
    """
    document = _parse_json(field, value)
    if not isinstance(document, dict | list):
        fail(field, "must be a JSON object or array", code="invalid_json")
    if count_ascii_digits(value) >= CARD_MIN_DIGITS or value.count("[") + value.count("{") >= JSON_MAX_DEPTH:
        _walk_json(field, document, lambda text: refuse_card_number(field, text))
    return ValidatedValue(_CANONICAL_JSON.encode(document), MASK)


_ADDRESS_KEYS = frozenset({"lines", "city", "region", "postal_code", "country"})
_COUNTRY = re.compile(r"[A-Z]{2}")


def postal_address_value(field: str, value: str) -> ValidatedValue:
    """Plain multi-line text, or a JSON object {lines, city, region?, postal_code?, country} whose PIN is
    checked when the country is IN. Masked to city and country, which a courier query needs."""
    if not value.lstrip().startswith("{"):
        text = "\n".join(line.strip() for line in multi_line(field, value).split("\n") if line.strip())
        refuse_card_number(field, text)
        return ValidatedValue(text, MASK)
    document = _parse_json(field, value)
    if not isinstance(document, dict) or not set(document) <= _ADDRESS_KEYS:
        fail(
            field,
            "must be an object with lines, city, region, postal_code and country only",
            code="invalid_postal_address",
        )
    lines = document.get("lines")
    if not isinstance(lines, list) or not 1 <= len(lines) <= ADDRESS_MAX_LINES:
        fail(field, f"needs 'lines': a list of 1 to {ADDRESS_MAX_LINES} address lines", code="invalid_postal_address")
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
            fail(f"{field}.{key}", "is required", code="invalid_postal_address")
    country: str = address["country"].upper()
    address["country"] = country
    if not _COUNTRY.fullmatch(country):
        fail(f"{field}.country", "must be a two-letter ISO 3166 country code", code="invalid_postal_address")
    if country == "IN":
        if "postal_code" not in address:
            fail(f"{field}.postal_code", "is required for an Indian address", code="invalid_pin_code")
        address["postal_code"] = pin(f"{field}.postal_code", address["postal_code"])
    return ValidatedValue(_CANONICAL_ADDRESS.encode(address), f"{MASK}, {address['city']}, {country}")


def _address_part(field: str, part: Any, cards: bool = True) -> str:
    if not isinstance(part, str):
        fail(field, "must be a string", code="invalid_postal_address")
    text = unicodedata.normalize("NFC", part).strip()
    if not text:
        fail(field, "must not be empty", code="empty_value")
    if len(text) > ADDRESS_PART_MAX:
        fail(field, f"is too long (at most {ADDRESS_PART_MAX} characters)", code="value_too_large")
    if CONTROL_ANY.search(text):
        fail(field, "must not contain control characters or line breaks", code="invalid_characters")
    if cards:
        refuse_card_number(field, text)
    return text
