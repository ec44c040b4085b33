"""Redaction of identifiers and card numbers from free text before it is stored.

Support messages and correspondence are where people paste what should never sit in a ticket: a card
number (PCI DSS forbids keeping it), an Aadhaar number (Aadhaar Act s.29 and the UIDAI rules allow storing
it only masked or tokenised), a PAN, a bank's IFSC or a UPI id (SPDI r.3(ii) financial information). The
vault keeps the message, with each such value replaced by a typed placeholder such as `[CARD_NUMBER]`, so
the message stays useful and the value is never written (DPDP Rule 6(1)(a): masking).

Detection (docs/decisions/0004-pii-detection.md):

- card numbers: our own scanner (`find_card_numbers`), any Luhn-valid 13-19 digit run, contiguous or in
  groups separated by single spaces or dashes. Presidio's CreditCardRecognizer only knows some issuer
  prefixes (it misses 2-series Mastercard and most 19-digit cards), and missing a card is the one mistake
  this module must not make. Card numbers are never suppressed by context.
- pattern recognizers (recognizers.py: Presidio's patterns and validators, without Presidio and its NLP
  stack, decision 0014): Aadhaar (Verhoeff), PAN (holder-type pattern only), e-mail (public-suffix check
  from the bundled snapshot, never fetched), IBAN (mod 97), phone numbers (libphonenumber, the store's
  default country), GSTIN (mod-36 check character), UPI ids (handle@psp), IFSC, Indian mobile numbers
  (+91 / 0 / ten digits starting 6-9, validated by libphonenumber). Nothing is downloaded, no model exists.

False positives cost a useful message, so: toll-free and other non-personal phone numbers are kept, and a
bare 12-digit "Aadhaar" or unformatted phone number preceded closely by "order", "UTR", "ref" and the like
(with no "aadhaar"/"phone" word nearby) is treated as the reference it is. Order numbers, prices and dates
are therefore left alone (tests/vault/test_vault_redaction_corpus.py holds the corpus).

The patterns are compiled on the first redaction (or by `warm_up`), not at import time.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import phonenumbers

from fiduciary.vault.checksums import luhn_valid
from fiduciary.vault.recognizers import (
    AADHAAR_PATTERNS,
    CASE_INSENSITIVE,
    EMAIL_PATTERN,
    GSTIN_PATTERN,
    IBAN_FLAGS,
    IBAN_PATTERN,
    IFSC_PATTERN,
    INDIAN_MOBILE_PATTERN,
    PAN_PATTERN,
    PRESIDIO_FLAGS,
    UPI_PATTERN,
    IbanRecognizer,
    PatternRecognizer,
    PhoneRecognizer,
    Recognizer,
    aadhaar_valid,
    compile_patterns,
    gstin_candidate_valid,
)


@dataclass(frozen=True)
class Finding:
    """One redacted span: its type and its offsets in the *original* text, never its value."""

    entity_type: str
    start: int
    end: int


@dataclass(frozen=True)
class RedactionResult:
    """The text with every finding replaced by `[ENTITY_TYPE]`, and what was replaced where."""

    text: str
    findings: tuple[Finding, ...]


# Entity types, which are also the placeholders. Order is priority when spans overlap (the merged span
# takes the first type in this list).
CARD_NUMBER = "CARD_NUMBER"
AADHAAR = "AADHAAR"
GSTIN = "GSTIN"
IBAN = "IBAN"
PAN = "PAN"
EMAIL = "EMAIL"
UPI_ID = "UPI_ID"
IFSC = "IFSC"
PHONE = "PHONE"
ENTITY_TYPES: tuple[str, ...] = (CARD_NUMBER, AADHAAR, GSTIN, IBAN, PAN, EMAIL, UPI_ID, IFSC, PHONE)
_PRIORITY = {entity: rank for rank, entity in enumerate(ENTITY_TYPES)}

# ------------------------------------------------------------------------------------------ card numbers

# A chain of ASCII digit groups joined by single separators, not glued to a letter or digit on either side
# (so "OD4287…" order ids and hex tokens are not scanned, while "card:4111…" is).
_CHAIN = re.compile(r"(?<!\w)[0-9]+(?:[ \-\u00a0][0-9]+)*(?!\w)")
_GROUP = re.compile(r"[0-9]+")
CARD_MIN_DIGITS = 13
CARD_MAX_DIGITS = 19


_ASCII_DIGITS = b"0123456789"


def count_ascii_digits(text: str) -> int:
    """How many ASCII digits `text` holds, at C speed: most values cannot hold a card and skip the scan.

    Counted in the UTF-8 bytes, where `bytes.translate` is a table lookup per byte (`str.translate` does a
    dictionary lookup per character: 2-15 times slower); multi-byte sequences hold no byte below 0x80, so
    the count is the same. "surrogatepass" lets a lone surrogate through instead of raising.
    """
    raw = text.encode("utf-8", "surrogatepass")
    return len(raw) - len(raw.translate(None, _ASCII_DIGITS))


def find_card_numbers(text: str) -> list[tuple[int, int]]:
    """Spans (start, end) of every Luhn-valid 13-19 digit number in `text`, merged where they overlap.

    A candidate is one digit group of 13-19 digits, or consecutive groups (single space, dash or no-break
    space between them) whose first group has exactly four digits, as every card brand prints them
    ("4111 1111 1111 1111", "3782 822463 10005", "6212 3456 7890 1234 567"). Starting a multi-group
    candidate anywhere else would turn phone numbers and "402-1234567-1234567" order ids into cards one
    time in ten. Sub-chains are tried so that a card followed by an expiry date or preceded by another
    number is still found.
    """
    spans: list[tuple[int, int]] = []
    if count_ascii_digits(text) < CARD_MIN_DIGITS:
        return spans
    for chain in _CHAIN.finditer(text):
        groups = [(match.start(), match.end()) for match in _GROUP.finditer(text, chain.start(), chain.end())]
        for first in range(len(groups)):
            first_len = groups[first][1] - groups[first][0]
            if first_len > CARD_MAX_DIGITS:
                continue
            digits = ""
            for last in range(first, len(groups)):
                start, end = groups[last]
                digits += text[start:end]
                if len(digits) > CARD_MAX_DIGITS:
                    break
                if last > first and first_len != 4:
                    break
                if len(digits) >= CARD_MIN_DIGITS and luhn_valid(digits):
                    spans.append((groups[first][0], end))
    return _merge_spans(spans)


def _merge_spans(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


# ---------------------------------------------------------------------------------------- context rules

# Words that, just before a bare number, say it is a reference of the store or a bank, not a person's id.
_REFERENCE_WORDS = re.compile(
    r"\b(?:order|orders|ord|invoice|inv|bill|utr|rrn|ref|reference|txn|transaction|trans|awb|tracking|"
    r"shipment|consignment|docket|booking|ticket|case|sku|item|product|pnr|refund|receipt|payment id)\b",
    re.IGNORECASE,
)
_POSITIVE_WORDS = {
    AADHAAR: re.compile(r"aadh?aa?r|\buid|\baadh|आधार", re.IGNORECASE),
    PHONE: re.compile(
        r"phone|mobile|\bmob\b|\bcall|contact|whats\s?app|\bsms\b|\bph\b|\btel\b|\bcell|reach me|\botp\b",
        re.IGNORECASE,
    ),
}
_CONTEXT_WINDOW = 32
_BARE_DIGITS = re.compile(r"[0-9]+")


def _looks_like_reference(text: str, start: int, end: int, entity: str) -> bool:
    """A phone- or Aadhaar-shaped number that is really a reference: unless a word naming the identifier
    ("phone", "aadhaar"…) comes just before it, either it is glued to a letter ("INV-2024-000123") or it is
    a bare digit run right after "order", "UTR", "ref" and the like. Formatted values ("98765 43210",
    "+91…", "2345 6789 0123") are never taken for references."""
    window = text[max(0, start - _CONTEXT_WINDOW) : start]
    if _POSITIVE_WORDS[entity].search(window):
        return False
    if _part_of_longer_token(text, start, end):
        return True
    return _BARE_DIGITS.fullmatch(text, start, end) is not None and _REFERENCE_WORDS.search(window) is not None


def _part_of_longer_token(text: str, start: int, end: int) -> bool:
    """ "INV-2024-000123", "AB/9876543210": digits joined to a letter by a dash or slash are a segment of
    a reference, not a number of their own ("9876543210/9123456780" is two phone numbers)."""
    before = text[max(0, start - 2) : start]
    after = text[end : end + 2]
    return (len(before) == 2 and before[1] in "-/_." and before[0].isalpha()) or (
        len(after) == 2 and after[0] in "-/_" and after[1].isalpha()
    )


# Phone number types that belong to businesses, not people; a store's helpline stays in the message.
_NON_PERSONAL_PHONE_TYPES = frozenset(
    {
        phonenumbers.PhoneNumberType.TOLL_FREE,
        phonenumbers.PhoneNumberType.PREMIUM_RATE,
        phonenumbers.PhoneNumberType.SHARED_COST,
        phonenumbers.PhoneNumberType.UAN,
    }
)


def _personal_phone(candidate: str, region: str) -> bool:
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return False
    if not phonenumbers.is_valid_number(number):
        return False
    return phonenumbers.number_type(number) not in _NON_PERSONAL_PHONE_TYPES


# ------------------------------------------------------------------------------------------ recognizers


@functools.cache
def _recognizers(region: str) -> tuple[Recognizer, ...]:
    """Build the recognizers once per default region (recognizers.py holds the patterns and validators)."""
    from tldextract import TLDExtract  # lazy: heavy (public-suffix list), only redaction needs it

    # The bundled public-suffix snapshot only: no suffix_list_urls means no HTTP fetch, no cache_dir means
    # no write to the home directory (tldextract.extract() would try to download the list on first use).
    offline_suffixes = TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)

    def email_valid(candidate: str) -> bool:
        return offline_suffixes(candidate.rsplit("@", 1)[-1]).fqdn != ""

    def indian_mobile_valid(candidate: str) -> bool:
        return _personal_phone(candidate, "IN")

    return (
        PatternRecognizer(AADHAAR, compile_patterns(*AADHAAR_PATTERNS, flags=PRESIDIO_FLAGS), aadhaar_valid),
        PatternRecognizer(PAN, compile_patterns(PAN_PATTERN, flags=PRESIDIO_FLAGS)),
        PatternRecognizer(EMAIL, compile_patterns(EMAIL_PATTERN, flags=PRESIDIO_FLAGS), email_valid),
        IbanRecognizer(IBAN, compile_patterns(IBAN_PATTERN, flags=IBAN_FLAGS)[0]),
        PhoneRecognizer(PHONE, region),
        PatternRecognizer(GSTIN, compile_patterns(GSTIN_PATTERN, flags=CASE_INSENSITIVE), gstin_candidate_valid),
        PatternRecognizer(UPI_ID, compile_patterns(UPI_PATTERN, flags=CASE_INSENSITIVE)),
        PatternRecognizer(IFSC, compile_patterns(IFSC_PATTERN, flags=CASE_INSENSITIVE)),
        PatternRecognizer(PHONE, compile_patterns(INDIAN_MOBILE_PATTERN, flags=CASE_INSENSITIVE), indian_mobile_valid),
    )


def warm_up(default_country: str = "IN") -> None:
    """Compile the patterns and load the public-suffix snapshot now (a service calls this at start to keep
    the first request fast)."""
    _recognizers(default_country.upper())


# ---------------------------------------------------------------------------------------------- redaction


def detect(text: str, *, default_country: str = "IN") -> list[Finding]:
    """Every identifier and card number in `text`, overlapping detections merged, in text order."""
    region = default_country.upper()
    candidates: list[Finding] = [Finding(CARD_NUMBER, start, end) for start, end in find_card_numbers(text)]
    for recognizer in _recognizers(region):
        entity = recognizer.entity_type
        for start, end in recognizer.find(text):
            if entity == PHONE and not _personal_phone(text[start:end], region):
                continue
            if entity in _POSITIVE_WORDS and _looks_like_reference(text, start, end, entity):
                continue
            candidates.append(Finding(entity, start, end))
    return _merge_findings(candidates)


def _merge_findings(candidates: Sequence[Finding]) -> list[Finding]:
    """Overlapping spans become one span (nothing of any detected value may survive), typed by priority."""
    merged: list[Finding] = []
    for finding in sorted(candidates, key=lambda item: (item.start, -item.end)):
        if merged and finding.start < merged[-1].end:
            last = merged[-1]
            entity = min(last.entity_type, finding.entity_type, key=_PRIORITY.__getitem__)
            merged[-1] = Finding(entity, last.start, max(last.end, finding.end))
        else:
            merged.append(finding)
    return merged


def redact_free_text(text: str, *, default_country: str = "IN") -> RedactionResult:
    """Replace every detected identifier and card number by `[ENTITY_TYPE]`.

    The result never contains a detected value; `findings` gives types and original offsets for the audit
    trail ("2 card numbers redacted"), never values.
    """
    findings = detect(text, default_country=default_country)
    return RedactionResult(
        text=_replace(text, findings, lambda finding: f"[{finding.entity_type}]"), findings=tuple(findings)
    )


def _replace(text: str, findings: Sequence[Finding], placeholder: Callable[[Finding], str]) -> str:
    parts: list[str] = []
    position = 0
    for finding in findings:
        parts.append(text[position : finding.start])
        parts.append(placeholder(finding))
        position = finding.end
    parts.append(text[position:])
    return "".join(parts)
