"""Publishing a policy version and what must follow it in the same transaction.

A material change to a consent purpose means earlier consents stop counting and the people who gave them
are asked again (ISO/IEC 29184 5.5.3, DPDP s.6). Doing both in one transaction means a version is never
in force without its re-consent floors.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from fiduciary.consent.reconsent import ReconsentOutcome, handle_published
from fiduciary.policy import versions
from fiduciary.policy.schema import PolicyDocument
from fiduciary.policy.versions import PublishedPolicy


@dataclass(frozen=True)
class PublishOutcome:
    published: PublishedPolicy
    created: bool
    reconsent: ReconsentOutcome | None


def publish_policy(
    session: Session, document: PolicyDocument, source_yaml: str, effective_from: datetime | None = None
) -> PublishOutcome:
    """Publish (idempotently) and apply re-consent against the version it follows."""
    previous = versions.latest(session)
    published, created = versions.publish_or_get(session, document, source_yaml, effective_from)
    outcome = handle_published(session, previous, published) if created else None
    return PublishOutcome(published, created, outcome)
