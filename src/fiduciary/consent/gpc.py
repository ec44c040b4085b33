"""Global Privacy Control: `Sec-GPC: 1` is an opt-out of sale/sharing and targeted advertising.

CCPA regulations 11 CCR §7025(b)-(c) make a GPC signal a valid request to opt out of sale and sharing for
the browser and for any profile associated with it, including a pseudonymous one; no further information
may be demanded. DPDP has no "sale" concept, so for Indian stores we treat GPC as the withdrawal of consent
for the purposes the policy flags `sale_or_sharing` or `targeted_advertising` (a deployment choice the
W3C GPC specification leaves to the publisher).

Only the exact header value "1" counts (GPC spec §3; any other value, including "1 " or "true", is
ignored). The opt-out is recorded once per subject and purpose: a `gpc.signal` event naming the purposes
it covered, and a `consent.withdrawn` on channel `gpc` for each purpose that was granted or never asked.
A browser that sends the header on every request therefore writes nothing more, and a person who later
opts in explicitly is not overridden on the next request (§7025(c)(3) lets a business ask for consent
after a GPC opt-out). A visitor linked to a person opts the person out too (the "associated profile").

A store backend that calls the API on a browser's behalf forwards the signal: as the `Sec-GPC` header of a
single-subject request, or as `evidence.gpc: true` on each item of a batch, where `apply_gpc_many` records
every signalled subject in one ledger append. A batch may name several people, so its own `Sec-GPC` header
cannot say whose browser sent it; the web layer refuses that header rather than guess (docs/consent.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from fiduciary.consent import projection
from fiduciary.consent.evidence import Evidence, hash_user_agent
from fiduciary.consent.facts import linked_persons, people_facts
from fiduciary.consent.service import (
    ConsentChannel,
    ConsentService,
    gpc_covered,
    state_for,
)
from fiduciary.people.service import ACTIVE, SUBJECT_ID_RE

GPC_JSON_LAST_UPDATE = "2026-11-23"  # change when the handling of GPC changes (GPC spec §4.1)


def gpc_enabled(header_values: Iterable[str]) -> bool:
    """True only if a `Sec-GPC` field value is exactly "1" (several fields: any exact "1" counts)."""
    return any(value == "1" for value in header_values)


def applicable_purposes(service: ConsentService) -> list[str]:
    policy = service.policy()
    return sorted(
        pid
        for pid in policy.consent_purposes
        if policy.compiled_purposes[pid].sale_or_sharing or policy.compiled_purposes[pid].targeted_advertising
    )


@dataclass(frozen=True)
class GpcOutcome:
    subjects: tuple[str, ...]  # the subjects newly opted out by this signal
    withdrawn: int  # consent.withdrawn events written


def apply_gpc(
    service: ConsentService, session: Session, subject_id: str, evidence: Evidence | None = None
) -> GpcOutcome:
    """Record the opt-out for `subject_id` (and a person it is linked to) unless already recorded.

    A malformed id, an unknown or closed person is skipped silently: the request's own validation
    answers that, and GPC must never make a request fail.
    """
    return apply_gpc_many(service, session, [(subject_id, evidence)])


def apply_gpc_many(
    service: ConsentService, session: Session, signals: Iterable[tuple[str, Evidence | None]]
) -> GpcOutcome:
    """Record the opt-outs of several subjects at once, each exactly as `apply_gpc` would.

    `signals` pairs each subject whose browser sent GPC with that browser's evidence. A subject named more
    than once keeps its first evidence; a person reached only through a linked visitor gets the visitor's.
    Set-wise (a few queries and one ledger append whatever the number of subjects), so a batch of a thousand
    signalled items costs about what one does.
    """
    targets = _gpc_targets(session, signals)
    if not targets:
        return GpcOutcome((), 0)
    purposes = applicable_purposes(service)
    if not purposes:
        return GpcOutcome((), 0)
    subjects = list(targets)
    covered = gpc_covered(session, subjects)
    states = state_for(session, subjects)
    policy = service.policy()
    language = policy.document.language
    events: list[tuple[str, dict[str, Any]]] = []
    opted: list[str] = []
    withdrawn = 0
    for subject, evidence in targets.items():
        new = [p for p in purposes if p not in covered.get(subject, set())]
        if not new:
            continue
        opted.append(subject)
        common: dict[str, Any] = {"subject": subject, "version": policy.version, "notice": policy.content_hash}
        ua = hash_user_agent(evidence.user_agent) if evidence else None
        ip_prefix = evidence.ip_prefix if evidence else None
        if ua:
            common["ua"] = ua
        if ip_prefix:
            common["ip_prefix"] = ip_prefix
        events.append((projection.GPC_SIGNAL, {**common, "purposes": new}))
        current = states.get(subject, {})
        for purpose in new:
            row = current.get(purpose)
            if row is None or row.status == "granted":
                events.append(
                    (
                        "consent.withdrawn",
                        {**common, "purpose": purpose, "lang": language, "channel": ConsentChannel.GPC.value},
                    )
                )
                withdrawn += 1
    if not events:
        return GpcOutcome((), 0)
    entries = service.ledger.append_many(
        session, events, subjects=[projection.payload_subjects(payload) for _, payload in events]
    )
    rows: list[dict[str, Any]] = []
    opt_outs: list[dict[str, Any]] = []
    for entry, (event_type, payload) in zip(entries, events, strict=True):
        if event_type == projection.GPC_SIGNAL:
            opt_outs.extend(
                {"subject_id": payload["subject"], "purpose": p, "ledger_position": entry.position}
                for p in payload["purposes"]
            )
        else:
            rows.append(
                projection.state_row(payload["subject"], payload, "withdrawn", entry.recorded_at, entry.position)
            )
    projection.upsert_states(session, rows)
    projection.insert_gpc_opt_outs(session, opt_outs)
    return GpcOutcome(tuple(opted), withdrawn)


def _gpc_targets(session: Session, signals: Iterable[tuple[str, Evidence | None]]) -> dict[str, Evidence | None]:
    """subject → evidence for every subject a signal reaches, in order: the signalled subjects first, then
    the persons linked to signalled visitors (§7025(c)(1): "any profile associated with" the browser).

    Malformed ids and persons that are unknown or no longer active are left out.
    """
    direct: dict[str, Evidence | None] = {}
    for subject, evidence in signals:
        if SUBJECT_ID_RE.fullmatch(subject) and subject not in direct:
            direct[subject] = evidence
    if not direct:
        return {}
    targets = dict(direct)
    visitors = [s for s in direct if s.startswith("vis_")]
    links = linked_persons(session, visitors) if visitors else {}
    for visitor in visitors:
        person = links.get(visitor)
        if person is not None:
            targets.setdefault(person, direct[visitor])
    persons = [s for s in targets if s.startswith("per_")]
    active = {p.id for p in people_facts(session, persons) if p.status == ACTIVE} if persons else set()
    return {s: e for s, e in targets.items() if not s.startswith("per_") or s in active}
