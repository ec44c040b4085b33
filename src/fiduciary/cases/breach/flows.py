"""The breach register's steps, each one transaction on the cases core, audited on the ledger.

Called alike by the API (`web.routes.breaches`), the CLI (`fiduciary cases breach …`) and the notify job:

- `open_breach`: the incident checked (`incident.check_incident`: a future moment is refused naming the
  field), its free text redacted and sealed under the case key, its four clocks started at `aware_at`;
- `record_step`: a report sent or people told, at the moment given (never in the future, never before the
  awareness), which meets its clocks (`kind`);
- `update_facts`: consequences, measures and the rest filled in later;
- `notify_affected`: the people selected set-wise and one job per batch queued (`notices`);
- `close_breach`; reads: `breach_view`, `timeline`, `report`.

Every change is audited as `case.breach.<step>` by the core; the selection and each batch add
`breach.selected` and `breach.batch_told` with their counts. No audit event, log line or error carries a
personal value or the incident's text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from fiduciary.audit.service import AuditEvent
from fiduciary.cases.breach.incident import MAX_TEXT, IncidentFacts, aware_moment, check_incident, check_update
from fiduciary.cases.breach.kind import KIND, RECORDED_STEPS, BreachStep
from fiduciary.cases.breach.notices import (
    NoticeContent,
    check_selection,
    enqueue_batches,
    select_affected,
    selected,
)
from fiduciary.cases.models import Case
from fiduciary.cases.sealing import CASE_ITEM, case_key, seal_values
from fiduciary.cases.workflow import NewCase, case_values, get_case, move, open_case
from fiduciary.errors import Conflict, FieldProblem, ValidationFailed
from fiduciary.policy.schema import PolicyDocument
from fiduciary.storage.base import utcnow
from fiduciary.unit_of_work import UnitOfWork
from fiduciary.vault.redaction import redact_free_text

# What each affected person must be told (DPDP Rule 7(1)(a)-(d)); the contact (e) comes from the policy.
NOTICE_FIELDS: Final = ("summary", "likely_consequences", "measures_taken", "safety_measures")
NOTICE_PROBLEM: Final = f"required in the notice to each person (1 to {MAX_TEXT} characters)"


def _country(document: PolicyDocument) -> str:
    return document.controller.address.country or "IN"


def _redacted(document: PolicyDocument, texts: Mapping[str, str]) -> dict[str, str]:
    """Card and identity numbers pasted into the incident's text are masked before it is stored."""
    country = _country(document)
    return {name: redact_free_text(text, default_country=country).text for name, text in texts.items()}


def _details(facts: IncidentFacts) -> dict[str, Any]:
    """The non-personal facts, kept in clear for listings and reports (codes, counts, moments)."""
    return {
        "detected_at": facts.detected_at.isoformat(),
        "occurred_at": facts.occurred_at.isoformat() if facts.occurred_at else None,
        "categories": list(facts.categories),
        "people_affected": facts.people_affected,
        "records_affected": facts.records_affected,
        "natures": [n.value for n in facts.natures],
        "cert_in_reportable": facts.cert_in_reportable,
    }


def open_breach(
    uow: UnitOfWork, values: Mapping[str, Any], *, actor: str, channel: str = "api", now: datetime | None = None
) -> Case:
    """Record an incident and start its clocks at `aware_at` (a moment long past: they are already overdue)."""
    now = now or utcnow()
    document = uow.runtime.policy().document
    facts = check_incident(document, values, now)
    texts = _redacted(document, {"summary": facts.summary, **facts.texts})
    systems = list(_redacted(document, {str(i): s for i, s in enumerate(facts.systems)}).values())
    case = open_case(
        uow,
        NewCase(
            kind=KIND,
            channel=channel,
            aware_at=facts.aware_at,
            details=_details(facts),
            personal={"texts": texts, "systems": systems},
        ),
        actor=actor,
        now=now,
    )
    if not facts.cert_in_reportable:  # triage found no listed incident type: the CERT-In clock is answered
        move(uow, case, BreachStep.CERT_IN_NOT_NEEDED.value, actor=actor, now=now)
    return case


def _moment(value: Any, case: Case, now: datetime) -> datetime:
    """When a step happened: an aware moment, not in the future, not before the store became aware."""
    if value is None:
        return now
    problems: list[FieldProblem] = []
    moment = aware_moment(value, "at", problems)
    if moment is None:
        raise ValidationFailed("Bad step.", problems)
    if moment > now:
        raise ValidationFailed("Bad step.", [FieldProblem("at", "is in the future; give when it was done")])
    if case.aware_at is not None and moment < case.aware_at:
        raise ValidationFailed("Bad step.", [FieldProblem("at", "is before the store became aware of the breach")])
    return moment


def record_step(
    uow: UnitOfWork, case_id: str, step: str, *, actor: str, at: Any = None, now: datetime | None = None
) -> Case:
    """Record that a report was sent or people were told, at `at` (default now); meets the step's clocks."""
    now = now or utcnow()
    if step not in {s.value for s in RECORDED_STEPS}:
        hint = ", ".join(s.value for s in RECORDED_STEPS)
        raise ValidationFailed("Unknown step.", [FieldProblem("step", "not a step that can be recorded", hint)])
    case = get_case(uow.session, case_id, kind=KIND, for_update=True)
    return move(uow, case, step, actor=actor, now=_moment(at, case, now))


def facts_of(uow: UnitOfWork, case: Case) -> tuple[dict[str, str], list[str]]:
    """The incident's free text and systems (opened under the case key; empty once erased)."""
    values = case_values(uow, case)
    return dict(values.get("texts", {})), list(values.get("systems", []))


def update_facts(
    uow: UnitOfWork, case_id: str, values: Mapping[str, Any], *, actor: str, now: datetime | None = None
) -> Case:
    """Fill in or correct the free-text facts (the likely consequences, the measures…), sealed again."""
    texts = check_update(values)
    case = get_case(uow.session, case_id, kind=KIND, for_update=True)
    key = case_key(uow.runtime, uow.session, case)
    if key is None:
        raise Conflict("The incident's text was erased.", code="case_erased")
    current, systems = facts_of(uow, case)
    merged = {**current, **_redacted(uow.runtime.policy().document, texts)}
    sealed = seal_values(key, case.id, CASE_ITEM, {"texts": merged, "systems": systems})
    return move(uow, case, BreachStep.UPDATE.value, actor=actor, now=now, values={"sealed": sealed})


def notice_content(uow: UnitOfWork, case: Case) -> NoticeContent:
    """What every affected person is told (DPDP Rule 7(1)(a)-(d)); 422 naming each field not filled yet."""
    texts, _ = facts_of(uow, case)
    missing = [name for name in NOTICE_FIELDS if not texts.get(name)]
    if missing:
        raise ValidationFailed(
            "Fill these in before telling people (DPDP Rule 7(1)).",
            [
                FieldProblem(name, f"required in the notice to each person (1 to {MAX_TEXT} characters)")
                for name in missing
            ],
        )
    occurred = case.details.get("occurred_at")
    when = datetime.fromisoformat(occurred) if occurred else case.aware_at or case.opened_at
    zone = uow.runtime.policy().document.calendar.timezone
    return NoticeContent(
        what_happened=texts["summary"],
        when=_local_day(when, zone),
        consequences=texts["likely_consequences"],
        measures=texts["measures_taken"],
        safety_steps=texts["safety_measures"],
    )


def _local_day(moment: datetime, zone: str) -> date:
    return moment.astimezone(ZoneInfo(zone)).date()


@dataclass(frozen=True)
class NotifyResult:
    added: int  # people new to the set
    selected: int  # everyone in the set
    jobs: int  # batches queued


def notify_affected(
    uow: UnitOfWork, case_id: str, values: Mapping[str, Any], *, actor: str, now: datetime | None = None
) -> NotifyResult:
    """Select the affected people set-wise and queue one job per batch to tell them (DPDP s.8(6), Rule 7(1))."""
    now = now or utcnow()
    case = get_case(uow.session, case_id, kind=KIND, for_update=True)
    notice_content(uow, case)  # refused before anything is written when the notice cannot be complete
    document = uow.runtime.policy().document
    selection = check_selection(document, values, case.details.get("categories", []))
    added = select_affected(uow.session, case.id, selection, now=now)
    total = selected(uow.session, case.id)
    jobs = enqueue_batches(uow, case.id)
    details = {**case.details, "selected": total}
    move(uow, case, BreachStep.SELECT_AFFECTED.value, actor=actor, now=now, values={"details": details})
    uow.audit(
        AuditEvent(actor=actor, action="breach.selected", target=case.id, categories=selection.categories, count=added),
        AuditEvent(actor=actor, action="breach.batches_queued", target=case.id, count=jobs),
    )
    return NotifyResult(added, total, jobs)


def close_breach(uow: UnitOfWork, case_id: str, reason: Any, *, actor: str, now: datetime | None = None) -> Case:
    case = get_case(uow.session, case_id, kind=KIND, for_update=True)
    return move(uow, case, BreachStep.CLOSE.value, actor=actor, reason=reason, now=now)
