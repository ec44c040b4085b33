"""The disclosure log: who shared which categories of whose data with whom, when, under which policy
version and legal order; never a value (DPDP s.11(1)(b), GDPR Art 15(1)(c) and 30(1)(d)).

A disclosure is one `disclosures` row plus one `disclosure_subjects` row per person, written with one
multi-row INSERT per `BATCH` people (bench/disclosures.py: the batched rate). Each person is named to the
recipient by a reference of their own (`recipient_ref`): a keyed hash of the recipient and the person id
under the service secret, stable per recipient, so two recipients cannot join their copies on it and
neither learns the person id.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fiduciary.context import RuntimeContext
from fiduciary.disclosures.models import SUBJECTS_TABLE, Disclosure, DisclosureSubject
from fiduciary.people.service import new_id
from fiduciary.vault.records import bulk_insert

BATCH: Final = 5000
MAX_PAGE: Final = 1000
_REF_LABEL: Final = b"fiduciary/recipient-ref/v1"
SUBJECT_COLUMNS: Final = ("disclosure_id", "person_id", "recipient_ref")


@dataclass(frozen=True)
class LogEntry:
    """A disclosure as it is logged (and listed to staff and to the person)."""

    id: str
    recipient_id: str
    recipient_kind: str
    purpose: str
    categories: list[str]
    actor: str
    policy_version: int
    order_reference: str | None
    audience: bool
    people: int
    disclosed_at: datetime

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["disclosed_at"] = self.disclosed_at.isoformat()
        return out


def _entry(row: Disclosure) -> LogEntry:
    return LogEntry(
        row.id,
        row.recipient_id,
        row.recipient_kind,
        row.purpose,
        list(row.categories),
        row.actor,
        row.policy_version,
        row.order_reference,
        row.audience,
        row.people,
        row.disclosed_at,
    )


class References:
    """The per-recipient references of people: HMAC-SHA256 under a key derived from the service secret."""

    def __init__(self, runtime: RuntimeContext) -> None:
        self._key = hmac.new(runtime.settings.resolved_secret_key(), _REF_LABEL, hashlib.sha256).digest()

    def of(self, recipient_id: str, person_id: str) -> str:
        # hmac.digest is the one-shot C path: a third of the cost of hmac.new(...).digest() per person.
        return "ref_" + hmac.digest(self._key, f"{recipient_id}\n{person_id}".encode(), "sha256")[:16].hex()

    @classmethod
    def for_runtime(cls, runtime: RuntimeContext) -> References:
        return runtime.shared("disclosures.references", References, lambda: cls(runtime))


def write_log(
    session: Session,
    references: References,
    entry: LogEntry,
    person_ids: Sequence[str],
) -> None:
    """Write the disclosure and its people in the caller's transaction, `BATCH` rows per `bulk_insert` (one
    executemany on SQLite, one COPY on PostgreSQL)."""
    session.add(
        Disclosure(
            id=entry.id,
            recipient_id=entry.recipient_id,
            recipient_kind=entry.recipient_kind,
            purpose=entry.purpose,
            categories=entry.categories,
            actor=entry.actor,
            policy_version=entry.policy_version,
            order_reference=entry.order_reference,
            audience=entry.audience,
            people=entry.people,
            disclosed_at=entry.disclosed_at,
        )
    )
    session.flush()
    recipient, ref = entry.recipient_id, references.of
    for start in range(0, len(person_ids), BATCH):
        rows = [(entry.id, p, ref(recipient, p)) for p in person_ids[start : start + BATCH]]
        bulk_insert(session, SUBJECTS_TABLE, rows, columns=SUBJECT_COLUMNS)


def new_disclosure_id() -> str:
    return new_id("dsc")


def disclosures_of(session: Session, person_id: str) -> list[tuple[LogEntry, str]]:
    """The person's disclosures, newest first, each with the reference the recipient knows them by."""
    rows = session.execute(
        select(Disclosure, DisclosureSubject.recipient_ref)
        .join(DisclosureSubject, DisclosureSubject.disclosure_id == Disclosure.id)
        .where(DisclosureSubject.person_id == person_id)
        .order_by(Disclosure.disclosed_at.desc(), Disclosure.id)
    ).all()
    return [(_entry(row), ref) for row, ref in rows]


def list_disclosures(
    session: Session, *, person_id: str | None = None, recipient_id: str | None = None, limit: int = 50
) -> list[LogEntry]:
    """Staff's view of the log, newest first, filtered by person or recipient."""
    query = select(Disclosure).order_by(Disclosure.disclosed_at.desc(), Disclosure.id).limit(min(limit, MAX_PAGE))
    if person_id is not None:
        query = query.where(
            Disclosure.id.in_(select(DisclosureSubject.disclosure_id).where(DisclosureSubject.person_id == person_id))
        )
    if recipient_id is not None:
        query = query.where(Disclosure.recipient_id == recipient_id)
    return [_entry(row) for row in session.scalars(query)]


def actual_recipients(session: Session) -> Iterator[tuple[str, str, int, int]]:
    """(recipient, purpose, disclosures, people) as the log records them: for the records of processing."""
    rows = session.execute(
        select(Disclosure.recipient_id, Disclosure.purpose, func.count(), func.sum(Disclosure.people))
        .group_by(Disclosure.recipient_id, Disclosure.purpose)
        .order_by(Disclosure.recipient_id, Disclosure.purpose)
    )
    for recipient, purpose, count, people in rows:
        yield recipient, purpose, int(count), int(people or 0)


def recipients_of(
    session: Session, person_id: str, *, categories: Collection[str] = (), purposes: Collection[str] = ()
) -> list[str]:
    """The recipients the log says received any of the person's `categories`, or data of theirs for any of
    `purposes`, sorted: those a correction, restriction or objection must reach (GDPR Art 19: "each
    recipient to whom the personal data have been disclosed"; DPDP s.8(3)). None when nothing was disclosed.
    The same rows `propagation.notices_for` reads, so the request names whom the notices go to."""
    if not categories and not purposes:
        return []
    rows = session.execute(
        select(Disclosure.recipient_id, Disclosure.purpose, Disclosure.categories)
        .join(DisclosureSubject, DisclosureSubject.disclosure_id == Disclosure.id)
        .where(DisclosureSubject.person_id == person_id)
    )
    wanted_categories, wanted_purposes = set(categories), set(purposes)
    return sorted(
        {
            recipient
            for recipient, purpose, received in rows
            if purpose in wanted_purposes or not wanted_categories.isdisjoint(received)
        }
    )
