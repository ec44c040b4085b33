"""Durations as policy authors write them: `30min`, `6h`, `30d`, `1y`, `10 business days`, or ISO 8601
(`PT30M`, `PT6H`, `P2Y`), one unit each.

Minutes exist for cookies and sessions that last half an hour (issue 12). `m` alone is refused: in a policy it
could mean minutes or months, so the author writes `min` or `mo`.

Durations are kept as (amount, unit) rather than a timedelta because "1 year" and "1 month" are calendar
lengths (the GDPR "one month" runs to the same date next month) and business days depend on a calendar.
`approx_days` gives a comparable figure for validation (e.g. "is this retention shorter than the legal
minimum?").
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, model_serializer, model_validator


class DurationUnit(StrEnum):
    MINUTES = "minutes"  # `30min`, `PT30M`: cookies and sessions
    HOURS = "hours"
    DAYS = "days"
    BUSINESS_DAYS = "business_days"
    WEEKS = "weeks"
    MONTHS = "months"
    YEARS = "years"


_APPROX_DAYS = {
    DurationUnit.MINUTES: 1 / (24 * 60),
    DurationUnit.HOURS: 1 / 24,
    DurationUnit.DAYS: 1.0,
    DurationUnit.BUSINESS_DAYS: 7 / 5,
    DurationUnit.WEEKS: 7.0,
    DurationUnit.MONTHS: 365.25 / 12,
    DurationUnit.YEARS: 365.25,
}

_UNIT_WORDS = {
    "min": DurationUnit.MINUTES, "mins": DurationUnit.MINUTES,
    "minute": DurationUnit.MINUTES, "minutes": DurationUnit.MINUTES,
    "h": DurationUnit.HOURS, "hour": DurationUnit.HOURS, "hours": DurationUnit.HOURS,
    "d": DurationUnit.DAYS, "day": DurationUnit.DAYS, "days": DurationUnit.DAYS,
    "bd": DurationUnit.BUSINESS_DAYS, "business day": DurationUnit.BUSINESS_DAYS,
    "business days": DurationUnit.BUSINESS_DAYS, "business_days": DurationUnit.BUSINESS_DAYS,
    "w": DurationUnit.WEEKS, "week": DurationUnit.WEEKS, "weeks": DurationUnit.WEEKS,
    "mo": DurationUnit.MONTHS, "month": DurationUnit.MONTHS, "months": DurationUnit.MONTHS,
    "y": DurationUnit.YEARS, "year": DurationUnit.YEARS, "years": DurationUnit.YEARS,
}  # fmt: skip

_FRIENDLY = re.compile(r"^\s*(-?\d+)\s*([a-z_ ]+?)\s*$", re.IGNORECASE)
_ISO = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")
_AMBIGUOUS = {"m": "'m' could mean minutes or months: write 'min' for minutes or 'mo' for months"}

# Nothing a privacy policy promises is measured in centuries; a larger figure is a typo (e.g. 3650y).
MAX_DAYS = 100 * 365.25


class Duration(BaseModel):
    """A positive length of time in one unit. Accepts `"30d"`, `"2 years"`, `"P1Y"` or a mapping."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: int
    unit: DurationUnit

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_duration(value)
        if isinstance(value, bool | int | float):
            raise ValueError(f"a duration needs a unit, e.g. '{value}d' or '{value} years'")
        return value

    @model_validator(mode="after")
    def _check_range(self) -> Duration:
        if self.amount <= 0:
            raise ValueError("a duration must be longer than zero")
        if self.approx_days > MAX_DAYS:
            raise ValueError("a duration longer than 100 years is not a plausible retention or deadline")
        return self

    @model_serializer
    def _serialize(self) -> str:
        return str(self)

    @property
    def approx_days(self) -> float:
        return self.amount * _APPROX_DAYS[self.unit]

    def __str__(self) -> str:
        suffix = {
            DurationUnit.MINUTES: "min", DurationUnit.HOURS: "h", DurationUnit.DAYS: "d", DurationUnit.WEEKS: "w",
            DurationUnit.MONTHS: "mo", DurationUnit.YEARS: "y",
        }.get(self.unit)  # fmt: skip
        return f"{self.amount}{suffix}" if suffix else f"{self.amount} business days"

    def describe(self) -> str:
        """Plain English, e.g. `1 year`, `10 business days`."""
        word = self.unit.value.replace("_", " ")
        if self.amount == 1:
            word = word[:-1]
        return f"{self.amount} {word}"


def parse_duration(text: str) -> dict[str, Any]:
    """`(amount, unit)` of a duration written as text; a zero amount is returned for the range check to refuse.

    ISO 8601 seconds are read only so that `PT0S` gets the "longer than zero" message; any other number of
    seconds is refused (nothing a policy promises is measured in seconds).
    """
    text = text.strip()
    iso = _ISO.match(text.upper()) if text[:1].upper() == "P" and len(text) > 1 else None
    if iso:
        parts = [(iso.group(i), unit) for i, unit in (
            (1, DurationUnit.YEARS), (2, DurationUnit.MONTHS), (3, DurationUnit.WEEKS),
            (4, DurationUnit.DAYS), (5, DurationUnit.HOURS), (6, DurationUnit.MINUTES), (7, None),
        ) if iso.group(i)]  # fmt: skip
        if len(parts) != 1:
            raise ValueError(f"'{text}': use a single unit, e.g. P1Y, P30D or PT30M")
        amount, unit = int(parts[0][0]), parts[0][1]
        if unit is None:
            if amount:
                raise ValueError(f"'{text}': seconds are not a policy unit; write minutes, e.g. PT30M")
            unit = DurationUnit.MINUTES
        return {"amount": amount, "unit": unit}
    friendly = _FRIENDLY.match(text)
    if friendly:
        word = friendly.group(2).strip().lower()
        if friendly.group(1).startswith("-"):
            raise ValueError(f"'{text}': a duration cannot be negative")
        if word in _AMBIGUOUS:
            raise ValueError(f"'{text}': {_AMBIGUOUS[word]}")
        unit = _UNIT_WORDS.get(word)
        if unit is not None:
            return {"amount": int(friendly.group(1)), "unit": unit}
    if text.startswith("-"):
        raise ValueError(f"'{text}': a duration cannot be negative")
    raise ValueError(
        f"'{text}' is not a duration; write e.g. '30min', '6h', '30d', '1y', '10 business days' or ISO 8601 "
        "'PT30M', 'P1Y'"
    )
