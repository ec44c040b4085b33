"""What staff record about a personal-data breach, checked before anything is written.

`check_incident` takes what was sent (the API body, the CLI's options) and either returns `IncidentFacts` or
raises one ValidationFailed naming every bad field, so a bad incident changes nothing. The rules:

- the moments are aware datetimes and never in the future (a clock cannot start later than now: a breach
  "detected tomorrow" is a typing error); a moment long past is accepted, its clocks are then already overdue;
- `aware_at` (when the store became aware it is a personal-data breach, DPDP Rule 7(2)(b) and GDPR Art 33(1)
  count from it) is kept apart from `detected_at` (when something was first noticed; CERT-In's six hours run
  from noticing or being told); it defaults to `detected_at` and cannot be before it;
- categories are the policy's category ids (GDPR Art 33(3)(a): the categories of data concerned);
- the approximate numbers of people and records are counts (GDPR Art 33(3)(a)).

Free text (what happened, consequences, measures) is sealed by the case store, never logged or audited.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from fiduciary.errors import FieldProblem, ValidationFailed
from fiduciary.policy.schema import PolicyDocument

CLOCK_SKEW: Final = timedelta(minutes=2)  # a caller's clock a little ahead of ours is not "the future"
MAX_TEXT: Final = 8000  # a paragraph or a page, not a document
MAX_SHORT: Final = 300
MAX_ITEMS: Final = 100
MAX_COUNT: Final = 10_000_000_000  # more people than there are


class BreachNature(StrEnum):
    """What the breach compromised (DPDP s.2(u): confidentiality, integrity or availability, incl. loss of access)."""

    CONFIDENTIALITY = "confidentiality"
    INTEGRITY = "integrity"
    AVAILABILITY = "availability"


# The free-text parts of an incident: filled at opening or later, shown as missing in a report until then.
TEXT_FIELDS: Final = (
    "summary",  # what happened (DPDP Rule 7(2)(a): nature)
    "location",  # where (DPDP Rule 7(2)(a))
    "incident_type",  # the type from the CERT-In Directions 2022 Annexure I list (data breach, ransomware…)
    "likely_consequences",  # DPDP Rule 7(1)(b), 7(2)(a) "likely impact"; GDPR Art 33(3)(c)
    "measures_taken",  # DPDP Rule 7(1)(c), 7(2)(b)(iii); GDPR Art 33(3)(d)
    "safety_measures",  # what people can do themselves, DPDP Rule 7(1)(d)
    "circumstances",  # broad facts, circumstances and reasons, DPDP Rule 7(2)(b)(ii)
    "cause",  # findings about who or what caused it, DPDP Rule 7(2)(b)(iv)
    "remedial_measures",  # against recurrence, DPDP Rule 7(2)(b)(v)
    "delay_reasons",  # why the authority was told after 72 hours, GDPR Art 33(1)
)


@dataclass(frozen=True)
class IncidentFacts:
    summary: str
    detected_at: datetime
    aware_at: datetime
    categories: tuple[str, ...]
    people_affected: int | None
    occurred_at: datetime | None = None
    records_affected: int | None = None
    natures: tuple[BreachNature, ...] = ()
    systems: tuple[str, ...] = ()
    cert_in_reportable: bool = True
    texts: Mapping[str, str] = field(default_factory=dict)  # the other TEXT_FIELDS given


def aware_moment(value: Any, name: str, problems: list[FieldProblem]) -> datetime | None:
    """An aware datetime from an ISO 8601 string (or a datetime); a problem naming `name` otherwise."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            value = None
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        problems.append(FieldProblem(name, "a date and time with its offset (e.g. 2026-05-01T10:30:00+05:30)"))
        return None
    return value


def _moment(values: Mapping[str, Any], name: str, now: datetime, problems: list[FieldProblem]) -> datetime | None:
    if values.get(name) is None:
        return None
    value = aware_moment(values[name], name, problems)
    if value is not None and value > now + CLOCK_SKEW:
        problems.append(FieldProblem(name, "is in the future; give the moment it happened"))
        return None
    return value


def _text(values: Mapping[str, Any], name: str, limit: int, problems: list[FieldProblem]) -> str | None:
    value = values.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        problems.append(FieldProblem(name, f"1 to {limit} characters"))
        return None
    return value.strip()


def _count(values: Mapping[str, Any], name: str, problems: list[FieldProblem]) -> int | None:
    value = values.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        problems.append(FieldProblem(name, "a whole number, 0 or more (an approximate count)"))
        return None
    return value


def _items(values: Mapping[str, Any], name: str, problems: list[FieldProblem]) -> tuple[str, ...]:
    value = values.get(name) or []
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) > MAX_ITEMS:
        problems.append(FieldProblem(name, f"a list of at most {MAX_ITEMS} items"))
        return ()
    found: list[str] = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip() or len(item) > MAX_SHORT:
            problems.append(FieldProblem(f"{name}[{i}]", f"1 to {MAX_SHORT} characters"))
        elif item.strip() not in found:
            found.append(item.strip())
    return tuple(found)


def check_categories(document: PolicyDocument, value: Any, problems: list[FieldProblem]) -> tuple[str, ...]:
    """The policy's category ids named; each unknown one is a problem naming its place in the list."""
    known = {c.id for c in document.categories}
    if not isinstance(value, Sequence) or isinstance(value, str) or not value or len(value) > MAX_ITEMS:
        problems.append(FieldProblem("categories", "a list of the policy's category ids (at least one)"))
        return ()
    for i, item in enumerate(value):
        if item not in known:
            problems.append(FieldProblem(f"categories[{i}]", "not a category of the policy", hint="see GET /v1/policy"))
    return tuple(dict.fromkeys(str(v) for v in value))


def _natures(values: Mapping[str, Any], problems: list[FieldProblem]) -> tuple[BreachNature, ...]:
    natures = _items(values, "natures", problems)
    allowed = {n.value for n in BreachNature}
    bad = [i for i, n in enumerate(natures) if n not in allowed]
    for i in bad:
        problems.append(FieldProblem(f"natures[{i}]", "confidentiality, integrity or availability"))
    return () if bad else tuple(BreachNature(n) for n in natures)


def _moments(values: Mapping[str, Any], now: datetime, problems: list[FieldProblem]) -> tuple[datetime | None, ...]:
    detected = _moment(values, "detected_at", now, problems)
    if detected is None and values.get("detected_at") is None:
        problems.append(FieldProblem("detected_at", "required: when the breach was first noticed or reported"))
    aware = _moment(values, "aware_at", now, problems) if values.get("aware_at") is not None else detected
    occurred = _moment(values, "occurred_at", now, problems)
    if detected is not None and aware is not None and aware < detected:
        problems.append(FieldProblem("aware_at", "cannot be before detected_at"))
    if occurred is not None and detected is not None and occurred > detected:
        problems.append(FieldProblem("occurred_at", "cannot be after detected_at"))
    return detected, aware, occurred


def check_incident(document: PolicyDocument, values: Mapping[str, Any], now: datetime) -> IncidentFacts:
    """The incident described by `values`, or ValidationFailed naming every bad field (nothing is written)."""
    problems: list[FieldProblem] = []
    summary = _text(values, "summary", MAX_TEXT, problems)
    if summary is None and values.get("summary") is None:
        problems.append(FieldProblem("summary", "required: what happened"))
    detected, aware, occurred = _moments(values, now, problems)
    categories = check_categories(document, values.get("categories"), problems)
    people = _count(values, "people_affected", problems)
    records = _count(values, "records_affected", problems)
    texts = {name: text for name in TEXT_FIELDS[1:] if (text := _text(values, name, MAX_TEXT, problems))}
    systems = _items(values, "systems", problems)
    natures = _natures(values, problems)
    reportable = values.get("cert_in_reportable", True)
    if not isinstance(reportable, bool):
        problems.append(FieldProblem("cert_in_reportable", "true or false"))
    if problems or summary is None or detected is None or aware is None:
        raise ValidationFailed("The incident was refused.", problems)
    return IncidentFacts(
        summary=summary,
        detected_at=detected,
        aware_at=aware,
        categories=categories,
        people_affected=people,
        occurred_at=occurred,
        records_affected=records,
        natures=natures,
        systems=systems,
        cert_in_reportable=bool(reportable),
        texts=texts,
    )


def check_update(values: Mapping[str, Any]) -> dict[str, str]:
    """Free text filled in later (consequences, measures…): only TEXT_FIELDS, each 1 to MAX_TEXT characters."""
    problems = [
        FieldProblem(name, "not a field that can be filled in later") for name in values if name not in TEXT_FIELDS
    ]
    texts = {name: text for name in TEXT_FIELDS if (text := _text(values, name, MAX_TEXT, problems))}
    if not texts and not problems:
        problems.append(FieldProblem("body", "give at least one of: " + ", ".join(TEXT_FIELDS)))
    if problems:
        raise ValidationFailed("The update was refused.", problems)
    return texts
