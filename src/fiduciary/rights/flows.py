"""Access and erasure of everything about a person: the one home of each, for the API, the CLI and jobs.

`export_person` runs every registered exporter (DPDP s.11; GDPR Art 15, 20) and `erase_person` every
eraser, the vault's crypto-shredding first (DPDP s.8(7), s.12(3); GDPR Art 17). Both are audited through the
unit of work, refused attempts too. Neither knows any other domain's tables: each domain registers its
exporter and eraser in its own `<domain>/rights.py` (`fiduciary.personal_data.registry`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from fiduciary.audit.service import Action, AuditEvent, attach_audit, refusal_event
from fiduciary.codes import safe_request_id, safe_slug
from fiduciary.context import RuntimeContext
from fiduciary.decisions.service import check_actor
from fiduciary.errors import FiduciaryError, FieldProblem, NotFound, ValidationFailed
from fiduciary.people.models import Person
from fiduciary.people.service import PERSON_ID_RE
from fiduciary.personal_data.registry import ErasureSummary, registry_for
from fiduciary.unit_of_work import unit_of_work


def _known_person(session: Session, person_id: object) -> str:
    if not isinstance(person_id, str) or not PERSON_ID_RE.fullmatch(person_id):
        raise ValidationFailed(
            "Malformed person id.", [FieldProblem("person_id", "must be 'per_' followed by 26 characters a-z or 2-7")]
        )
    if session.get(Person, person_id) is None:
        raise NotFound("No person has this id.", code="person_not_found")
    return person_id


def _refused(exc: FiduciaryError, actor: str, action: Action, person_id: object, request_id: str | None) -> Exception:
    audited_person = person_id if isinstance(person_id, str) and PERSON_ID_RE.fullmatch(person_id) else None
    event = refusal_event(exc, actor=actor, action=action, request_id=request_id, person_id=audited_person)
    return attach_audit(exc, event)


def export_person(
    runtime: RuntimeContext, session: Session, *, actor: str, person_id: str, request_id: str | None = None
) -> dict[str, Any]:
    """Everything every registered domain holds about the person, with the position of the audit event that
    records this access (so the package shows its own trace)."""
    check_actor(actor)
    uow = unit_of_work(runtime, session)
    with uow.step():
        try:
            _known_person(session, person_id)
        except FiduciaryError as exc:
            raise _refused(exc, actor, Action.PERSON_EXPORT, person_id, request_id) from None
        uow.audit(
            AuditEvent(
                actor=actor, action=Action.PERSON_EXPORT, person_id=person_id, request_id=safe_request_id(request_id)
            )
        )
        record = uow.flush()[-1]  # this access's event, written now: the package names its position
        exported = registry_for(runtime).export_person(session, person_id)
    exported["audit_position"] = record.position
    return exported


def erase_person(
    runtime: RuntimeContext,
    session: Session,
    *,
    actor: str,
    person_id: str,
    reason: str = "erasure_request",
    request_id: str | None = None,
) -> ErasureSummary:
    """Run every registered eraser in order (the vault crypto-shreds first); audited. Idempotent."""
    check_actor(actor)
    uow = unit_of_work(runtime, session)
    with uow.step():
        try:
            _known_person(session, person_id)
            if safe_slug(reason) is None:
                raise ValidationFailed(
                    "The erasure reason must be a code.", [FieldProblem("reason", "e.g. erasure_request")]
                )
            summary = registry_for(runtime).erase_person(session, person_id, reason=reason)
        except FiduciaryError as exc:
            raise _refused(exc, actor, Action.PERSON_ERASE, person_id, request_id) from None
        uow.audit(
            AuditEvent(
                actor=actor,
                action=Action.PERSON_ERASE,
                person_id=person_id,
                reasons=[reason],
                count=sum(r.deleted + r.changed for r in summary.reports),
                request_id=safe_request_id(request_id),
            )
        )
    return summary
