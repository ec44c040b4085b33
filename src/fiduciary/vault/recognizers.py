"""The pattern recognizers behind free-text redaction: a regular expression, then a validator.

These are the recognizers decision 0004 took from Presidio (InAadhaarRecognizer, InPanRecognizer,
EmailRecognizer, IbanRecognizer, PhoneRecognizer) and our own (GSTIN, UPI id, IFSC, Indian mobile),
implemented here with the same patterns, the same regular-expression engine (the `regex` module, whose
`\\w` and `\\b` know Indic combining marks), the same validators and the same de-duplication, so that the
vault no longer installs Presidio, which requires spaCy, thinc, blis and numpy (≈ 300 MB) for an NLP half
that was never used (docs/decisions/0014-light-install-pii.md). Presidio is MIT-licensed; the patterns
and the IBAN country formats below come from presidio-analyzer 2.2.366.

A recognizer returns (start, end) spans. A span whose validator says no is dropped; a span lying inside
another span of the same recognizer is dropped (Presidio's `remove_duplicates`), so a context rule in
redaction.py judges each value once, by its longest reading.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

import phonenumbers

if TYPE_CHECKING:
    import regex

from fiduciary.vault.checksums import PAN_HOLDER_TYPES, gstin_valid, verhoeff_valid

Span = tuple[int, int]
Validator = Callable[[str], bool]

# Presidio compiles its predefined recognizers' patterns with these flags (IBAN's without IGNORECASE), and
# ours with the last set. `regex` is imported only when patterns are compiled (it takes ~20 ms to import,
# which the CLI's start-up need not pay); its flag bits are those of `re`.
PRESIDIO_FLAGS: Final = re.DOTALL | re.MULTILINE | re.IGNORECASE
IBAN_FLAGS: Final = re.DOTALL | re.MULTILINE
CASE_INSENSITIVE: Final = re.IGNORECASE | re.MULTILINE


@dataclass(frozen=True)
class PatternRecognizer:
    """Spans of `text` that one of `patterns` matches and `validate` (if any) accepts."""

    entity_type: str
    patterns: tuple[regex.Pattern[str], ...]
    validate: Validator | None = None

    def find(self, text: str) -> list[Span]:
        spans: list[Span] = []
        for pattern in self.patterns:
            for match in pattern.finditer(text):
                start, end = match.span()
                if start == end:
                    continue
                if self.validate is None or self.validate(text[start:end]):
                    spans.append((start, end))
        return drop_contained(spans)


def drop_contained(spans: Iterable[Span]) -> list[Span]:
    """Spans in text order, without duplicates and without any span inside an earlier, longer one."""
    kept: list[Span] = []
    reach = -1
    for start, end in sorted(set(spans), key=lambda span: (span[0], span[0] - span[1])):
        if end <= reach:
            continue
        kept.append((start, end))
        reach = end
    return kept


def compile_patterns(*patterns: str, flags: int) -> tuple[regex.Pattern[str], ...]:
    import regex  # lazy: heavy, and only redaction needs it

    return tuple(regex.compile(pattern, flags) for pattern in patterns)


# ------------------------------------------------------------------------------------------------ Aadhaar

AADHAAR_PATTERNS: Final = (r"\b[0-9]{12}\b", r"\b[0-9]{4}[- :][0-9]{4}[- :][0-9]{4}\b")


def aadhaar_valid(candidate: str) -> bool:
    """Aadhaar Act 2016 s.29, UIDAI: 12 digits, the first 2-9, a Verhoeff check digit; Presidio also
    refuses palindromes (test numbers such as 2345 5555 5432 are not anyone's)."""
    digits = candidate.replace("-", "").replace(" ", "").replace(":", "")
    return len(digits) == 12 and digits[0] >= "2" and verhoeff_valid(digits) and digits != digits[::-1]


# --------------------------------------------------------------------------------------------------- IBAN

# Presidio's IBAN pattern: country, check digits, 2-6 groups of four, then an optional fifth group and an
# optional tail of 1-3 characters, each tried longest first until the checksum and country format hold
# ("DE89 3704 0044 0532 0130 00 2 days" ends before " 2").
IBAN_PATTERN: Final = (
    r"(?<![A-Z0-9])([A-Z]{2}[0-9]{2}(?:[ -]?[A-Z0-9]{4}){2,6})"
    r"((?:[ -]?[A-Z0-9]{4})?)((?:[ -]?[A-Z0-9]{1,3})?)(?![A-Z0-9])"
)
# The BBAN after "CCkk" per country (n digit, a letter, c letter or digit, 0 a literal zero), from
# Presidio's iban_patterns.py. As there, the format is checked as a prefix of the IBAN.
IBAN_FORMATS: Final = {
    "AD": "8n 12c", "AE": "19n", "AL": "8n 16c", "AT": "16n", "AZ": "4c 20n", "BA": "16n", "BE": "12n",
    "BG": "4a 6n 8c", "BH": "4a 14c", "BR": "23n 1a 1c", "BY": "4c 4n 16c", "CH": "5n 12c", "CR": "0 17n",
    "CY": "8n 16c", "CZ": "20n", "DE": "18n", "DK": "14n", "DO": "4a 20n", "EE": "16n", "EG": "25n",
    "ES": "20n", "FI": "14n", "FO": "14n", "FR": "10n 11c 2n", "GB": "4a 14n", "GE": "2c 16n",
    "GI": "4a 15c", "GL": "14n", "GR": "7n 16c", "GT": "24c", "HR": "17n", "HU": "24n", "IE": "4c 14n",
    "IL": "19n", "IQ": "4a 15n", "IS": "22n", "IT": "1a 10n 12c", "JO": "4a 22n", "KW": "4a 22c",
    "KZ": "3n 13c", "LB": "4n 20c", "LC": "4a 24c", "LI": "5n 12c", "LT": "16n", "LU": "3n 13c",
    "LV": "4a 13c", "LY": "21n", "MC": "10n 11c 2n", "MD": "20c", "ME": "18n", "MK": "3n 10c 2n",
    "MR": "23n", "MT": "4a 5n 18c", "MU": "4a 19n 1a", "NL": "4a 10n", "NO": "11n", "PK": "4c 16n",
    "PL": "24n", "PS": "4c 21n", "PT": "21n", "QA": "4a 21c", "RO": "4a 16c", "RS": "18n", "SA": "2n 18c",
    "SC": "4a 20n 3a", "SE": "20n", "SI": "15n", "SK": "20n", "SM": "1a 10n 12c", "TL": "19n", "TN": "20n",
    "TR": "5n 17c", "UA": "6n 19c", "VA": "18n", "VG": "4c 16n", "XK": "16n",
}  # fmt: skip
_IBAN_CLASSES: Final = {"n": "[0-9]", "a": "[A-Z]", "c": "[a-zA-Z0-9]"}
_IBAN_LETTER_VALUES: Final = {
    ord(char): str(value) for value, char in enumerate(string.digits + string.ascii_uppercase)
}


@functools.cache
def _iban_format(country: str) -> regex.Pattern[str] | None:
    """The country's IBAN format as a pattern, compiled on first use (76 patterns would slow imports)."""
    bban = IBAN_FORMATS.get(country)
    if bban is None:
        return None
    import regex  # lazy: heavy, and only redaction needs it

    parts = [country, "[0-9]{2}"]
    for run in bban.split():
        parts.append("0" if run == "0" else f"{_IBAN_CLASSES[run[-1]]}{{{run[:-1]}}}")
    return regex.compile("".join(parts))


def iban_valid(candidate: str) -> bool:
    """ISO 13616: the mod-97 check digits (computed as Presidio does) and the country's BBAN format."""
    iban = candidate.replace("-", "").replace(" ", "")
    rearranged = (iban[4:] + iban[:2] + "00").upper().translate(_IBAN_LETTER_VALUES)
    if not rearranged.isdigit() or f"{98 - int(rearranged) % 97:0>2}" != iban[2:4]:
        return False
    country_format = _iban_format(iban[:2])
    return country_format is not None and country_format.match(iban) is not None


@dataclass(frozen=True)
class IbanRecognizer:
    """IBANs; each match is tried at its full length, then without the tail, then without the 5th group."""

    entity_type: str
    pattern: regex.Pattern[str]

    def find(self, text: str) -> list[Span]:
        spans: list[Span] = []
        for match in self.pattern.finditer(text):
            start = match.start()
            for group in (3, 2, 1):
                end = match.end(group) if match.end(group) > 0 else match.end()
                if end > start and iban_valid(text[start:end]):
                    spans.append((start, end))
                    break
        return spans


# -------------------------------------------------------------------------------------------------- phone


@dataclass(frozen=True)
class PhoneRecognizer:
    """libphonenumber's matcher for one default region at Presidio's leniency 1 (VALID: a number valid for
    its region); redaction.py then keeps only numbers of people, not businesses' helplines."""

    entity_type: str
    region: str

    def find(self, text: str) -> list[Span]:
        matcher = phonenumbers.PhoneNumberMatcher(text, self.region, leniency=phonenumbers.Leniency.VALID)
        return drop_contained((match.start, match.end) for match in matcher)


# ------------------------------------------------------------------------------------------ e-mail and the rest

EMAIL_PATTERN: Final = (
    r"\b((([!#$%&'*+\-/=?^_`{|}~\w])|([!#$%&'*+\-/=?^_`{|}~\w][!#$%&'*+\-/=?^_`{|}~\.\w]{0,}"
    r"[!#$%&'*+\-/=?^_`{|}~\w]))[@]\w+(?:-+\w+)*(?:\.\w+(?:-+\w+)*)+)\b"
)
PAN_PATTERN: Final = rf"\b[A-Z]{{3}}[{PAN_HOLDER_TYPES}][A-Z][0-9]{{4}}[A-Z]\b"
GSTIN_PATTERN: Final = r"\b[0-9]{2}[A-Z]{5}[0-9]{4}[A-Z][0-9A-Z]Z[0-9A-Z]\b"
# handle@psp where the PSP part has no dot after it (that would be an e-mail address).
UPI_PATTERN: Final = r"(?<![\w.\-@])[\w.\-]{2,256}@[A-Za-z]{2,64}(?![\w@]|[.\-][\w])"
# RBI IFSC: four letters (bank), a zero, six letters or digits (branch).
IFSC_PATTERN: Final = r"\b[A-Z]{4}0[A-Z0-9]{6}\b"
# +91 / 0091 / 0 or nothing, then ten digits starting 6-9, as 5-5 or 3-3-4 groups or run together.
INDIAN_MOBILE_PATTERN: Final = (
    r"(?<![\w+])(?:(?:\+|00)91[ \-]?|0)?[6-9][0-9]{4}[ \-]?[0-9]{5}(?!\w)"
    r"|(?<![\w+])(?:(?:\+|00)91[ \-]?|0)?[6-9][0-9]{2}[ \-][0-9]{3}[ \-][0-9]{4}(?!\w)"
)


def gstin_candidate_valid(candidate: str) -> bool:
    return gstin_valid(candidate.upper())


class Recognizer(Protocol):
    """What redaction.py needs of a recognizer: the entity it finds and the spans where it finds it."""

    @property
    def entity_type(self) -> str: ...

    def find(self, text: str) -> list[Span]: ...
