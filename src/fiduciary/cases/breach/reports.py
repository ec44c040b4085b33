"""The documents a regulator asks for about a breach, generated from the incident record.

Each report lists the fields its law asks for, in the law's order, filled from what staff recorded; a field
nobody has filled yet is shown as missing (never guessed), so a report can be filed in phases (GDPR Art
33(4)) and the gaps are visible before it goes. Formats: JSON (for tools), HTML (autoescaped: free text is
shown as text, never run) and Markdown.

- `dpdp_initial`: DPDP Rule 7(2)(a), description of the breach, its nature, extent, timing, location, likely
  impact;
- `dpdp_detailed`: DPDP Rule 7(2)(b), within 72 hours: (i) updated details, (ii) facts, circumstances and
  reasons, (iii) mitigation, (iv) who caused it, (v) remedial measures, (vi) the intimations to the people;
- `cert_in`: CERT-In Directions 2022, direction (ii) and its incident reporting form;
- `gdpr_art33`: GDPR Art 33(3)(a)-(d), and the reasons for a delay beyond 72 hours (Art 33(1)).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final

from jinja2 import Environment

from fiduciary.cases.breach.kind import BreachStep
from fiduciary.policy.schema import Contact, PolicyDocument

MISSING: Final = "missing"


class ReportKind(StrEnum):
    DPDP_INITIAL = "dpdp_initial"
    DPDP_DETAILED = "dpdp_detailed"
    CERT_IN = "cert_in"
    GDPR_ART33 = "gdpr_art33"


class ReportFormat(StrEnum):
    JSON = "json"
    HTML = "html"
    MARKDOWN = "md"


MEDIA_TYPES: Final = {
    ReportFormat.JSON: "application/json",
    ReportFormat.HTML: "text/html; charset=utf-8",
    ReportFormat.MARKDOWN: "text/markdown; charset=utf-8",
}


@dataclass(frozen=True)
class Notified:
    """What the intimations to affected people came to (DPDP Rule 7(2)(b)(vi))."""

    selected: int
    told: int
    without_contact: int
    first_at: datetime | None
    last_at: datetime | None


@dataclass(frozen=True)
class IncidentRecord:
    """What a report is made from: the incident as recorded, its steps and its intimations."""

    reference: str
    texts: Mapping[str, str]  # summary and the other free-text fields, as filled so far
    detected_at: datetime
    aware_at: datetime
    occurred_at: datetime | None
    categories: Sequence[str]
    people_affected: int | None
    records_affected: int | None
    natures: Sequence[str]
    systems: Sequence[str]
    steps: Mapping[BreachStep, datetime] = field(default_factory=dict)
    notified: Notified | None = None


@dataclass(frozen=True)
class ReportField:
    name: str
    label: str
    value: str | None  # None: not filled yet, shown as missing


@dataclass(frozen=True)
class Report:
    kind: ReportKind
    title: str
    law: str
    reference: str
    generated_at: datetime
    fields: tuple[ReportField, ...]

    @property
    def missing(self) -> list[str]:
        return [f.name for f in self.fields if f.value is None]


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="minutes") if moment is not None else None


def _count(n: int | None, what: str) -> str | None:
    return f"about {n:,} {what}" if n is not None else None


def _joined(items: Sequence[str]) -> str | None:
    return ", ".join(items) if items else None


def contact_text(contact: Contact | None) -> str | None:
    if contact is None:
        return None
    who = ", ".join(str(p) for p in (contact.name, contact.designation) if p)
    reach = ", ".join(str(p) for p in (contact.email, contact.phone, contact.url) if p)
    return f"{who}: {reach}" if who and reach else (who or reach or None)


def privacy_contact(document: PolicyDocument) -> Contact | None:
    """Who answers questions about the breach (DPDP Rule 7(1)(e)): the grievance officer, else DPO, else privacy."""
    c = document.contacts
    return c.grievance_officer or c.data_protection_officer or c.privacy_contact


def _categories(document: PolicyDocument, ids: Sequence[str]) -> str | None:
    names = {c.id: c.name for c in document.categories}
    return _joined([f"{names.get(i, i)} ({i})" for i in ids])


def _nature(record: IncidentRecord) -> str | None:
    summary = record.texts.get("summary")
    if summary is None:
        return None
    return f"{summary} [compromised: {', '.join(record.natures)}]" if record.natures else summary


def _description(document: PolicyDocument, record: IncidentRecord) -> list[ReportField]:
    """DPDP Rule 7(2)(a): nature, extent, timing, location, likely impact."""
    extent = "; ".join(
        x for x in (_count(record.people_affected, "people"), _count(record.records_affected, "records")) if x
    )
    return [
        ReportField("nature", "Nature of the breach", _nature(record)),
        ReportField("categories", "Categories of personal data", _categories(document, record.categories)),
        ReportField("extent", "Extent (approximate numbers)", extent or None),
        ReportField("occurred_at", "When it occurred", _when(record.occurred_at)),
        ReportField("detected_at", "When it was detected", _when(record.detected_at)),
        ReportField("aware_at", "When the store became aware", _when(record.aware_at)),
        ReportField("location", "Location", record.texts.get("location")),
        ReportField("likely_impact", "Likely impact", record.texts.get("likely_consequences")),
    ]


def _intimations(record: IncidentRecord) -> str | None:
    n = record.notified
    if n is None:
        return None
    when = f", from {_when(n.first_at)} to {_when(n.last_at)}" if n.first_at and n.last_at else ""
    return f"{n.told:,} of {n.selected:,} affected people told{when}; {n.without_contact:,} with no contact on file"


def _controller(document: PolicyDocument) -> ReportField:
    controller = document.controller
    return ReportField("organisation", "Organisation", controller.legal_name)


def _dpdp_initial(document: PolicyDocument, record: IncidentRecord) -> tuple[ReportField, ...]:
    contact = ReportField("contact", "Contact", contact_text(privacy_contact(document)))
    return (_controller(document), *_description(document, record), contact)  # DPDP Rule 7(2)(a)


def _dpdp_detailed(document: PolicyDocument, record: IncidentRecord) -> tuple[ReportField, ...]:
    t = record.texts
    return (  # DPDP Rule 7(2)(b)(i)-(vi)
        *_dpdp_initial(document, record),
        ReportField("circumstances", "Broad facts, circumstances and reasons", t.get("circumstances")),
        ReportField("measures_taken", "Mitigation measures implemented or proposed", t.get("measures_taken")),
        ReportField("cause", "Findings about the person who caused it", t.get("cause")),
        ReportField("remedial_measures", "Remedial measures to prevent recurrence", t.get("remedial_measures")),
        ReportField("intimations", "Report on the intimations given to affected people", _intimations(record)),
    )


def _cert_in(document: PolicyDocument, record: IncidentRecord) -> tuple[ReportField, ...]:
    t = record.texts
    poc = document.contacts.cert_in_point_of_contact
    return (  # CERT-In Directions 2022, direction (ii) and (iii)
        _controller(document),
        ReportField("point_of_contact", "Point of contact (direction iii)", contact_text(poc)),
        ReportField("incident_type", "Type of incident (Annexure I)", t.get("incident_type")),
        ReportField("occurred_at", "Date and time of occurrence", _when(record.occurred_at)),
        ReportField("detected_at", "Date and time noticed", _when(record.detected_at)),
        ReportField("systems", "Affected systems", _joined(record.systems)),
        ReportField("location", "Location of the affected systems", t.get("location")),
        ReportField("description", "Brief description", t.get("summary")),
        ReportField("measures_taken", "Actions taken", t.get("measures_taken")),
    )


def _gdpr(document: PolicyDocument, record: IncidentRecord, late_reason: str | None) -> tuple[ReportField, ...]:
    t = record.texts
    c = document.contacts
    return (  # GDPR Art 33(3)(a)-(d), Art 33(1)
        _controller(document),
        ReportField("nature", "Nature of the breach", _nature(record)),
        ReportField("categories", "Categories of personal data", _categories(document, record.categories)),
        ReportField("data_subjects", "Approximate number of data subjects", _count(record.people_affected, "people")),
        ReportField("records", "Approximate number of records", _count(record.records_affected, "records")),
        ReportField(
            "contact", "DPO or other contact point", contact_text(c.data_protection_officer or c.privacy_contact)
        ),
        ReportField("likely_consequences", "Likely consequences", t.get("likely_consequences")),
        ReportField("measures_taken", "Measures taken or proposed", t.get("measures_taken")),
        ReportField("aware_at", "When the controller became aware", _when(record.aware_at)),
        *([ReportField("delay_reasons", "Reasons for the delay", t.get("delay_reasons"))] if late_reason else []),
    )


TITLES: Final = {
    ReportKind.DPDP_INITIAL: ("Intimation of personal data breach to the Data Protection Board", "DPDP Rule 7(2)(a)"),
    ReportKind.DPDP_DETAILED: (
        "Detailed report of personal data breach to the Data Protection Board",
        "DPDP Rule 7(2)(b)",
    ),
    ReportKind.CERT_IN: ("Cyber security incident report to CERT-In", "CERT-In Directions 2022, direction (ii)"),
    ReportKind.GDPR_ART33: ("Notification of a personal data breach to the supervisory authority", "GDPR Art 33(3)"),
}


def build_report(
    kind: ReportKind, document: PolicyDocument, record: IncidentRecord, now: datetime, *, late: bool = False
) -> Report:
    """The report of `kind` for `record` as it stands at `now`; `late`: the 72 hours have passed (GDPR Art 33(1))."""
    if kind is ReportKind.DPDP_INITIAL:
        fields = _dpdp_initial(document, record)
    elif kind is ReportKind.DPDP_DETAILED:
        fields = _dpdp_detailed(document, record)
    elif kind is ReportKind.CERT_IN:
        fields = _cert_in(document, record)
    else:
        fields = _gdpr(document, record, "late" if late else None)
    title, law = TITLES[kind]
    return Report(kind, title, law, record.reference, now, fields)


# ------------------------------------------------------------------------------------------------ rendering


def as_json(report: Report) -> str:
    return json.dumps(
        {
            "report": report.kind.value,
            "title": report.title,
            "law": report.law,
            "incident": report.reference,
            "generated_at": report.generated_at.isoformat(timespec="seconds"),
            "fields": [{"name": f.name, "label": f.label, "value": f.value} for f in report.fields],
            "missing": report.missing,
        },
        ensure_ascii=False,
        indent=2,
    )


_HTML: Final = Environment(autoescape=True).from_string(  # autoescaped: staff text is shown, never run
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ r.title }}</title>
<style>body{font-family:sans-serif;max-width:48rem;margin:2rem auto}
th{text-align:left;vertical-align:top;padding-right:1rem}.missing{color:#b00020;font-style:italic}</style>
</head><body>
<h1>{{ r.title }}</h1>
<p>{{ r.law }} · incident <code>{{ r.reference }}</code>
· generated {{ r.generated_at.isoformat(timespec="minutes") }}</p>
{% if r.missing %}<p class="missing">Not filled yet: {{ r.missing | join(", ") }}</p>{% endif %}
<table>
{% for f in r.fields %}<tr><th scope="row">{{ f.label }}</th>
{% if f.value is none %}<td class="missing">missing</td>{% else %}<td>{{ f.value }}</td>{% endif %}</tr>
{% endfor %}</table>
</body></html>
"""
)


def as_html(report: Report) -> str:
    return _HTML.render(r=report)


def _md(text: str) -> str:
    """Markdown that shows the text as text: no HTML, no line breaks that would end the item."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(escaped.split())


def as_markdown(report: Report) -> str:
    lines = [f"# {report.title}", "", f"{report.law} · incident `{report.reference}`", ""]
    if report.missing:
        lines += [f"**Not filled yet:** {', '.join(report.missing)}", ""]
    lines += [f"- **{f.label}**: {_md(f.value) if f.value is not None else '_missing_'}" for f in report.fields]
    return "\n".join(lines) + "\n"


def render_report(report: Report, fmt: ReportFormat) -> str:
    if fmt is ReportFormat.JSON:
        return as_json(report)
    if fmt is ReportFormat.HTML:
        return as_html(report)
    return as_markdown(report)
