"""Re-consent after a material change: older consents stop counting, and the people who gave them are asked.

Consent is "specific" and "informed" (DPDP s.6(1), GDPR Art 4(11)): it covers the purpose as described
when it was given. When a new policy version changes a consent purpose materially (new data categories,
new recipients, longer retention …, as classified by `fiduciary.policy.diff`), consent given under an
older version no longer counts for it (ISO/IEC 29184 5.5.3 renewing consent). We record that as a floor
per purpose, which decisions read, and queue one notice per person who had granted it, so the
communications outbox can ask them again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from fiduciary.consent.models import ConsentState, ReconsentFloor, ReconsentNotice
from fiduciary.people.models import Person
from fiduciary.policy.diff import materially_changed_purposes
from fiduciary.policy.schema import LegalGround, PolicyDocument
from fiduciary.storage.base import utcnow

if TYPE_CHECKING:
    from fiduciary.policy.versions import PublishedPolicy


@dataclass(frozen=True)
class ReconsentOutcome:
    version: int
    purposes: frozenset[str]
    notices_queued: int


def _document(published: Any) -> PolicyDocument:
    document = published.document
    if isinstance(document, PolicyDocument):
        return document
    return PolicyDocument.model_validate(document)


def _insert(session: Session, table: Any) -> Any:
    return (postgresql if session.get_bind().dialect.name == "postgresql" else sqlite).insert(table)


def handle_published(
    session: Session, previous: PublishedPolicy | None, new: PublishedPolicy, *, now: datetime | None = None
) -> ReconsentOutcome:
    """Apply a newly published version: floors for materially changed consent purposes, notices queued.

    Set-wise: one upsert for the floors and one INSERT … SELECT for the notices, whatever the number of
    people. Running it twice for the same version changes nothing the second time.
    """
    now = now or utcnow()
    if previous is None:
        return ReconsentOutcome(new.version, frozenset(), 0)
    new_doc = _document(new)
    if not new_doc.policy_changes.material_changes_require_reconsent:
        return ReconsentOutcome(new.version, frozenset(), 0)
    changed = materially_changed_purposes(_document(previous), new_doc)
    consent_purposes = {p.id for p in new_doc.purposes if p.legal_ground is LegalGround.CONSENT}
    purposes = frozenset(changed & consent_purposes)
    if not purposes:
        return ReconsentOutcome(new.version, purposes, 0)

    floors = ReconsentFloor.__table__
    assert isinstance(floors, Table)
    upsert = _insert(session, floors)
    upsert = upsert.on_conflict_do_update(
        index_elements=[floors.c.purpose],
        set_={"min_version": upsert.excluded.min_version, "since": upsert.excluded.since},
        where=floors.c.min_version < upsert.excluded.min_version,
    )
    session.execute(upsert, [{"purpose": p, "min_version": new.version, "since": now} for p in sorted(purposes)])

    notices = ReconsentNotice.__table__
    assert isinstance(notices, Table)
    eligible = (
        select(
            ConsentState.subject_id,
            ConsentState.purpose,
            literal(new.version),
            literal(now, type_=notices.c.created_at.type),
        )
        .join(Person, Person.id == ConsentState.subject_id)
        .where(
            ConsentState.purpose.in_(sorted(purposes)),
            ConsentState.status == "granted",
            ConsentState.policy_version < new.version,
            Person.status == "active",
        )
    )
    queue = _insert(session, notices).from_select(["person_id", "purpose", "policy_version", "created_at"], eligible)
    queue = queue.on_conflict_do_nothing(index_elements=["person_id", "purpose", "policy_version"])
    queued = len(session.execute(queue.returning(notices.c.id)).all())
    return ReconsentOutcome(new.version, purposes, queued)


def reconsent_floors(session: Session) -> dict[str, int]:
    """purpose → the oldest policy version whose consent still counts for it."""
    return {p: v for p, v in session.execute(select(ReconsentFloor.purpose, ReconsentFloor.min_version))}
