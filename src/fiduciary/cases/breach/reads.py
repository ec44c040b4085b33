"""Reading an incident back: its view with its clocks, the timeline that proves what was done when, and the
regulators' reports (`reports`), each read audited (`breach.viewed`, `breach.report`) as staff reads are."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fiduciary.audit.service import AuditEvent
from fiduciary.cases.breach.flows import facts_of
from fiduciary.cases.breach.kind import KIND, BreachClock, BreachStep, clock_state
from fiduciary.cases.breach.notices import notified_summary
from fiduciary.cases.breach.reports import IncidentRecord, ReportFormat, ReportKind, build_report, render_report
from fiduciary.cases.clocks import clocks_of
from fiduciary.cases.models import Case
from fiduciary.cases.workflow import get_case, history_of
from fiduciary.errors import FieldProblem, ValidationFailed
from fiduciary.storage.base import utcnow
from fiduciary.unit_of_work import UnitOfWork


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def clocks_view(uow: UnitOfWork, case: Case, now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "name": c.name,
            "started_at": _iso(c.started_at),
            "due_at": _iso(c.due_at),
            "met_at": _iso(c.met_at),
            "state": clock_state(c, now).value,
        }
        for c in clocks_of(uow.session, case.id)
    ]


def breach_view(uow: UnitOfWork, case_id: str, *, actor: str, now: datetime | None = None) -> dict[str, Any]:
    """The incident as staff see it: facts (text redacted when stored), clocks and the intimations so far."""
    now = now or utcnow()
    case = get_case(uow.session, case_id, kind=KIND)
    texts, systems = facts_of(uow, case)
    notified = notified_summary(uow.session, case.id)
    uow.audit(AuditEvent(actor=actor, action="breach.viewed", target=case.id))
    return {
        "id": case.id,
        "state": case.state,
        "opened_at": _iso(case.opened_at),
        "aware_at": _iso(case.aware_at),
        "closed_at": _iso(case.closed_at),
        "outcome_reason": case.outcome_reason,
        **{k: v for k, v in case.details.items() if k != "selected"},
        "texts": texts,
        "systems": systems,
        "clocks": clocks_view(uow, case, now),
        "notified": {"selected": notified.selected, "told": notified.told, "without_contact": notified.without_contact},
    }


def timeline(uow: UnitOfWork, case_id: str, *, now: datetime | None = None) -> dict[str, Any]:
    """Every step from the case history with its time and actor, and each clock's end and when it was met."""
    now = now or utcnow()
    case = get_case(uow.session, case_id, kind=KIND)
    events = [
        {"at": _iso(e.at), "step": e.action, "actor": e.actor, "state": e.to_state, "reason": e.reason}
        for e in history_of(uow.session, case.id)
    ]
    return {"id": case.id, "aware_at": _iso(case.aware_at), "events": events, "clocks": clocks_view(uow, case, now)}


def incident_record(uow: UnitOfWork, case: Case) -> IncidentRecord:
    texts, systems = facts_of(uow, case)
    steps: dict[BreachStep, datetime] = {}
    for event in history_of(uow.session, case.id):
        if event.action in BreachStep.__members__.values() and event.action not in steps:
            steps[BreachStep(event.action)] = event.at
    d = case.details
    occurred = d.get("occurred_at")
    return IncidentRecord(
        reference=case.id,
        texts=texts,
        detected_at=datetime.fromisoformat(d["detected_at"]),
        aware_at=case.aware_at or case.opened_at,
        occurred_at=datetime.fromisoformat(occurred) if occurred else None,
        categories=list(d.get("categories", [])),
        people_affected=d.get("people_affected"),
        records_affected=d.get("records_affected"),
        natures=list(d.get("natures", [])),
        systems=systems,
        steps=steps,
        notified=notified_summary(uow.session, case.id) if d.get("selected") else None,
    )


def _choice(value: str, allowed: type[ReportKind] | type[ReportFormat], field_name: str) -> Any:
    try:
        return allowed(value)
    except ValueError:
        hint = ", ".join(m.value for m in allowed)
        raise ValidationFailed("Unknown report.", [FieldProblem(field_name, "not one of the choices", hint)]) from None


def report(
    uow: UnitOfWork, case_id: str, kind: str, fmt: str, *, actor: str, now: datetime | None = None
) -> tuple[str, ReportFormat]:
    """The regulator's report of `kind` in `fmt`; the GDPR one asks for the delay's reasons when the detailed
    report clock ran out unmet (GDPR Art 33(1))."""
    now = now or utcnow()
    report_kind: ReportKind = _choice(kind, ReportKind, "kind")
    report_format: ReportFormat = _choice(fmt, ReportFormat, "format")
    case = get_case(uow.session, case_id, kind=KIND)
    detailed = [c for c in clocks_of(uow.session, case.id) if c.name == BreachClock.AUTHORITY_DETAILED.value]
    late = any((c.met_at or now) > c.due_at for c in detailed)
    built = build_report(report_kind, uow.runtime.policy().document, incident_record(uow, case), now, late=late)
    uow.audit(AuditEvent(actor=actor, action="breach.report", target=case.id, reasons=[report_kind.value]))
    return render_report(built, report_format), report_format
