"""The compiled policy: the in-memory form the runtime decisions read, built once per published version.

Lookups the hot path needs (purpose → categories, which purposes need consent, which are barred for
children) are precomputed into frozensets and dicts so a decision is a few hash lookups.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from fiduciary.policy.schema import (
    Channel,
    DataCategory,
    LegalGround,
    LegitimateUse,
    PolicyDocument,
    Purpose,
    Recipient,
    RetentionRule,
)


@dataclass(frozen=True, slots=True)
class CompiledPurpose:
    id: str
    legal_ground: LegalGround
    needs_consent: bool
    categories: frozenset[str]  # required and optional together: everything the purpose may touch
    marketing_channels: frozenset[Channel]
    barred_for_children: bool  # tracking, profiling or targeted advertising (DPDP s.9(3))
    sale_or_sharing: bool
    targeted_advertising: bool
    objectable: bool  # non-consent grounds a person may object to (DPDP s.7(a), GDPR Art 21)


def _objectable(purpose: Purpose) -> bool:
    """Whether a person's objection or restriction stops this purpose.

    DPDP s.7(a) lasts only until the person says they do not consent (s.7 illustration II); the other s.7
    clauses (State functions, court orders, emergencies, employment) and the s.17(1) exemptions do not
    yield to an objection. GDPR Art 21 covers legitimate interests; Art 18 restriction also reaches
    processing for a contract. Legal obligations are never stopped by the person.
    """
    if purpose.legal_ground is LegalGround.LEGITIMATE_USE:
        return purpose.legitimate_use is LegitimateUse.VOLUNTARILY_PROVIDED
    return purpose.legal_ground in (LegalGround.LEGITIMATE_INTERESTS, LegalGround.CONTRACT)


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    document: PolicyDocument
    content_hash: str
    version: int | None
    categories: dict[str, DataCategory]
    purposes: dict[str, Purpose]
    compiled_purposes: dict[str, CompiledPurpose]
    recipients: dict[str, Recipient]
    retention: dict[str, RetentionRule]
    consent_purposes: frozenset[str]
    child_age: int

    @classmethod
    def build(cls, document: PolicyDocument, content_hash: str, version: int | None = None) -> CompiledPolicy:
        compiled = {
            p.id: CompiledPurpose(
                id=p.id,
                legal_ground=p.legal_ground,
                needs_consent=p.legal_ground is LegalGround.CONSENT,
                categories=frozenset(p.categories) | frozenset(p.optional_categories),
                marketing_channels=frozenset(p.marketing_channels),
                # DPDP s.9(3) bars tracking and targeted ads whatever the file says; a store may bar more.
                barred_for_children=p.barred_for_children or p.children_allowed is False,
                sale_or_sharing=p.sale_or_sharing,
                targeted_advertising=p.targeted_advertising,
                objectable=_objectable(p),
            )
            for p in document.purposes
        }
        return cls(
            document=document,
            content_hash=content_hash,
            version=version,
            categories={c.id: c for c in document.categories},
            purposes={p.id: p for p in document.purposes},
            compiled_purposes=compiled,
            recipients={r.id: r for r in document.recipients},
            retention={r.id: r for r in document.retention},
            consent_purposes=frozenset(pid for pid, cp in compiled.items() if cp.needs_consent),
            child_age=document.children.minimum_age,
        )

    def purpose(self, purpose_id: str) -> CompiledPurpose | None:
        return self.compiled_purposes.get(purpose_id)

    def today(self, now: datetime | None = None) -> date:
        """Today's date in the policy's time zone (`calendar.timezone`, Asia/Kolkata unless declared).

        The one "today" for age rules: a child (DPDP s.2(f): under 18) comes of age on the birthday in
        the store's own calendar, not in UTC's; at 2026-03-01T20:00Z it is already 2 March in India.
        `now` is the instant to date (default: the current time); a naive datetime is refused, because
        it would silently be read in the server's local zone. ZoneInfo caches its instances, so this
        costs a dictionary lookup, not a file read.
        """
        if now is None:
            now = datetime.now(UTC)
        elif now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("now must be a timezone-aware datetime")
        return now.astimezone(ZoneInfo(self.document.calendar.timezone)).date()
