"""Records of processing (GDPR Art 30(1); DPDP Rule 6(1)(c) and s.8(5) expect the same knowledge): generated
from the policy in force — each purpose with its categories, legal ground, recipients, retention and
transfers, and the security measures — and from the disclosure log, which says which recipients actually
received data, for which purposes, how often and in which countries they process it. Nothing about the
store's practices is written twice (DESIGN principle 1).

As JSON (`records`), CSV (one row per processing activity) and a standalone HTML page; no personal value
appears in any of them.
"""

from __future__ import annotations

import csv
import html
import io
from collections import defaultdict
from datetime import datetime
from typing import Any, Final

from sqlalchemy.orm import Session

from fiduciary.disclosures.log import actual_recipients
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.schema import RetentionRule, trigger_code

FORMATS: Final = ("json", "csv", "html")
CSV_COLUMNS: Final = (
    "purpose",
    "name",
    "legal_ground",
    "legal_basis",
    "categories",
    "recipients_declared",
    "recipients_actual",
    "retention",
    "transfers",
)


def _retention(rule: RetentionRule) -> str:
    kept = f"{rule.keep_for} after {trigger_code(rule.trigger)}" if rule.keep_for else trigger_code(rule.trigger)
    return f"{rule.id}: {rule.action.value} ({kept})"


def records(policy: CompiledPolicy, session: Session, *, now: datetime) -> dict[str, Any]:
    """The record: controller, activities per purpose, recipients as declared and as disclosed, security."""
    document = policy.document
    home = document.controller.address.country
    actual: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
    for recipient, purpose, count, people in actual_recipients(session):
        actual[purpose][recipient] = (count, people)
    recipients = []
    for r in document.recipients:
        sent = [(p, counts) for p, by in actual.items() for rid, counts in by.items() if rid == r.id]
        recipients.append(
            {
                "id": r.id,
                "name": r.name,
                "kind": r.kind.value,
                "countries": list(r.countries),
                "purposes": list(r.purposes),
                "categories": list(r.categories),
                "contract_reference": r.contract_reference,
                "transfer_safeguard": r.transfer_safeguard,
                "disclosures": sum(c for _, (c, _) in sent),
                "people_reached": sum(n for _, (_, n) in sent),
                "purposes_disclosed_for": sorted(p for p, _ in sent),
            }
        )
    activities = []
    for activity in document.purposes:
        declared = [r for r in document.recipients if activity.id in r.purposes]
        rules = [
            rule
            for rule in document.retention
            if (not rule.purposes or activity.id in rule.purposes) and set(rule.categories) & set(activity.categories)
        ]
        activities.append(
            {
                "purpose": activity.id,
                "name": activity.name,
                "description": activity.description,
                "legal_ground": activity.legal_ground.value,
                "legal_basis": activity.legal_basis_reference,
                "categories": [*activity.categories, *activity.optional_categories],
                "data_subjects": "customers and visitors of the store",
                "recipients_declared": [r.id for r in declared],
                "recipients_actual": sorted(actual.get(activity.id, {})),
                "retention": [_retention(rule) for rule in rules],
                "transfers": [
                    {
                        "recipient": r.id,
                        "countries": [c for c in r.countries if c != home],
                        "safeguard": r.transfer_safeguard,
                    }
                    for r in declared
                    if any(c != home for c in r.countries)
                ],
            }
        )
    return {
        "controller": {
            "legal_name": document.controller.legal_name,
            "country": home,
            "jurisdictions": [str(j) for j in document.controller.jurisdictions],
        },
        "policy_version": policy.version,
        "generated_at": now.isoformat(),
        "activities": activities,
        "recipients": recipients,
        "security_measures": [{"name": m.name, "description": m.description} for m in document.security_measures],
    }


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return f"{value['recipient']} ({', '.join(value['countries'])}; {value['safeguard'] or 'no safeguard stated'})"
    return "" if value is None else str(value)


def as_csv(record: dict[str, Any]) -> str:
    """One row per processing activity; lists joined with '; '."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for activity in record["activities"]:
        writer.writerow([_cell(activity[c]) for c in CSV_COLUMNS])
    return out.getvalue()


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def as_html(record: dict[str, Any]) -> str:
    """A standalone, printable page (no script, no external resource)."""
    controller = record["controller"]
    activities = _table(list(CSV_COLUMNS), [[a[c] for c in CSV_COLUMNS] for a in record["activities"]])
    recipient_columns = ["id", "name", "kind", "countries", "purposes", "categories", "disclosures", "people_reached"]
    recipients = _table(recipient_columns, [[r[c] for c in recipient_columns] for r in record["recipients"]])
    security = _table(["name", "description"], [[m["name"], m["description"]] for m in record["security_measures"]])
    title = f"Records of processing — {controller['legal_name']}"
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}"
        "td,th{border:1px solid #999;padding:4px;vertical-align:top;text-align:left}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p>Policy version {html.escape(str(record['policy_version']))}, "
        f"generated {html.escape(record['generated_at'])} (GDPR Art 30(1)).</p>"
        f"<h2>Processing activities</h2>{activities}<h2>Recipients</h2>{recipients}"
        f"<h2>Security measures</h2>{security}</body></html>\n"
    )
