"""Recording consent: validate, append to the "consent" ledger, update the state, return signed receipts.

The rules each write enforces, and why:

- Only a clear affirmative action grants (DPDP s.6(1), GDPR Art 4(11) and 7): every purpose is an explicit
  action in the request; nothing is defaulted, pre-ticked or bundled. A request that grants several
  purposes lists each one.
- Only purposes whose legal ground is consent take consent. A purpose on another ground runs without it;
  a person who disagrees objects or restricts instead (DPDP s.7(a) illustration II, GDPR Art 18, 21).
- Withdrawing is one call, as easy as granting (DPDP s.6(4), GDPR Art 7(3)); a withdrawal of a consent
  never given is recorded too, harmlessly.
- Each event cites the policy version and the content hash of the notice in force (DPDP s.5, s.6(10)).
- A child (DPDP s.2(f)) is granted consent only by a verified adult guardian (s.9(1), Rule 10), and never
  for tracking, profiling or targeted advertising (s.9(3)), whoever asks.
- Everything is validated before anything is written; a failed request changes nothing.
- Ledger events, state rows, idempotency record: one transaction (the caller's session).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, NamedTuple, cast, get_args

from sqlalchemy import Table, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fiduciary.consent import children, projection
from fiduciary.consent.evidence import Evidence, evidence_from, truncate_ip
from fiduciary.consent.facts import PersonFacts, linked_persons, people_facts
from fiduciary.consent.models import ConsentIdempotency, ConsentState, GpcOptOut
from fiduciary.consent.payloads import PayloadWriter
from fiduciary.consent.receipt_signing import sign_receipts
from fiduciary.consent.receipts import RECEIPT_EVENT_TYPES, ReceiptEvent, build_receipt, signed_receipt_texts
from fiduciary.consent.reconsent import reconsent_floors
from fiduciary.consent.restrictions import Restriction, active_restrictions
from fiduciary.context import RuntimeContext
from fiduciary.errors import Conflict, FiduciaryError, FieldProblem, NotFound, ValidationFailed
from fiduciary.ledger.reads import checkpoint_covering
from fiduciary.ledger.reads import entries as ledger_entries
from fiduciary.ledger.service import Ledger
from fiduciary.ledger.signing import Signer, load_signer
from fiduciary.people.service import ACTIVE, SUBJECT_ID_RE
from fiduciary.personal_data.changes import ChangeKind, PersonDataChange
from fiduciary.personal_data.registry import announce
from fiduciary.policy import versions as policy_versions
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.storage.base import utcnow
from fiduciary.storage.ids import IDS, bind_ids, dialect_of, ids_in, per_dialect

__all__ = [
    "ConsentAction",
    "ConsentChannel",
    "ConsentInput",
    "ConsentResult",
    "ConsentService",
    "ConsentStateRow",
    "Evidence",
    "Restriction",
    "active_restrictions",
    "evidence_from",
    "reconsent_floors",
    "state_for",
    "truncate_ip",
]

WITHDRAWN = projection.EVENT_BY_ACTION["withdraw"]
ConsentAction = Literal["grant", "withdraw", "deny"]
ACTIONS: frozenset[str] = frozenset(get_args(ConsentAction))
LANGUAGE_MAX = 16
IDEMPOTENCY_KEY_MAX = 64
IDEMPOTENCY_KEY_PATTERN = r"^[ -~]{1,64}$"  # printable ASCII, as check_idempotency_key demands
_LANGUAGE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


class ConsentChannel(StrEnum):
    BANNER = "banner"
    CHECKOUT = "checkout"
    PRIVACY_CENTER = "privacy_center"
    API = "api"
    EMAIL_LINK = "email_link"
    GPC = "gpc"
    GUARDIAN = "guardian"


# Channel by value; a StrEnum member hashes and compares as its value, so members and strings both find it.
_CHANNELS: dict[str, ConsentChannel] = {channel.value: channel for channel in ConsentChannel}
_CHANNEL_VALUES: dict[str, str] = {channel.value: str(channel.value) for channel in ConsentChannel}  # plain str


@dataclass(frozen=True)
class ConsentInput:
    subject_id: str
    purpose: str
    action: ConsentAction
    channel: ConsentChannel
    language: str = "en"
    evidence: Evidence | None = None
    guardian_id: str | None = None


class ConsentResult(NamedTuple):
    """One recorded event. `receipt_json` is the signed receipt as canonical JSON text; `receipt` parses it
    (a fresh dict on every access, so no caller can change what another one sees). A named tuple: a batch
    returns one per event, and a frozen dataclass cost a microsecond each to build."""

    subject_id: str
    purpose: str
    status: str
    ledger_position: int
    receipt_json: str
    replayed: bool = False

    @property
    def receipt(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.receipt_json)
        return parsed

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject_id": self.subject_id,
            "purpose": self.purpose,
            "status": self.status,
            "ledger_position": self.ledger_position,
            "receipt_json": self.receipt_json,
        }


@dataclass(frozen=True, slots=True)
class ConsentStateRow:
    """One `consent_state` row, detached from the session."""

    subject_id: str
    purpose: str
    status: str
    policy_version: int
    notice_hash: str
    channel: str
    language: str
    guardian_id: str | None
    updated_at: datetime
    ledger_position: int


Locate = Callable[[int, str], str]


def _fields_look_valid(policy: CompiledPolicy, items: Sequence[ConsentInput]) -> bool:
    """True when every field of every item is certainly valid, checked set-wise (the usual batch).

    False only means "check item by item" (`_field_problems`), which names each problem, or finds none
    for the rarer shapes this pass leaves to it (guardians, the guardian and GPC channels).
    """
    try:
        fullmatch = SUBJECT_ID_RE.fullmatch
        if not all([type(i.subject_id) is str and fullmatch(i.subject_id) for i in items]):
            return False
        if any([i.guardian_id is not None for i in items]):
            return False
        channels = {_CHANNELS.get(i.channel) for i in items}
        return (
            None not in channels
            and ConsentChannel.GUARDIAN not in channels
            and ConsentChannel.GPC not in channels
            and {i.purpose for i in items} <= policy.purposes.keys()
            and {i.action for i in items} <= ACTIONS
            and all(type(tag) is str and _valid_language(tag) for tag in {i.language for i in items})
        )
    except TypeError:  # an unhashable value where a string belongs
        return False


def _default_locate(index: int, name: str) -> str:
    return f"items[{index}].{name}"


_languages_seen: set[str] = set()


def _valid_language(tag: str) -> bool:
    """BCP 47-ish: `en`, `hi`, `hi-IN`, `ta-Latn`; the language of the notice shown (DPDP s.5(3))."""
    if tag in _languages_seen:
        return True
    if _check_language(tag):
        if len(_languages_seen) < 1000:
            _languages_seen.add(tag)
        return True
    return False


def _check_language(tag: str) -> bool:
    if not tag or len(tag) > LANGUAGE_MAX or not set(tag) <= _LANGUAGE_CHARS:
        return False
    first, *rest = tag.split("-")
    return 2 <= len(first) <= 3 and first.isalpha() and first.islower() and all(2 <= len(p) <= 8 for p in rest)


def request_hash(items: Sequence[ConsentInput], gpc_subjects: Sequence[str] = ()) -> str:
    """What makes two requests "the same" for idempotency: the actions (and which subjects' browsers sent a
    Global Privacy Control signal with them), not the evidence of the transport."""
    body: list[Any] = [[i.subject_id, i.purpose, i.action, str(i.channel), i.language, i.guardian_id] for i in items]
    if gpc_subjects:
        body.append(["gpc", *sorted(set(gpc_subjects))])
    return hashlib.sha256(json.dumps(body, separators=(",", ":")).encode()).hexdigest()


def check_idempotency_key(client_key: str, field: str = "header.Idempotency-Key") -> None:
    if not (1 <= len(client_key) <= IDEMPOTENCY_KEY_MAX) or not client_key.isascii() or not client_key.isprintable():
        raise ValidationFailed(
            "Malformed Idempotency-Key.",
            [FieldProblem(field, f"must be 1 to {IDEMPOTENCY_KEY_MAX} printable ASCII characters")],
        )


class ConsentService:
    """Consent writes for one runtime; cheap to build, but `for_runtime` shares one per runtime."""

    def __init__(self, runtime: RuntimeContext) -> None:
        self.runtime = runtime
        self.signer: Signer = load_signer(runtime.settings)
        self.ledger = Ledger.from_settings(projection.STREAM, runtime.settings, self.signer)
        self.base_url = runtime.public_base_url
        self._idempotency_ttl = timedelta(hours=runtime.settings.idempotency_ttl_hours)
        self._compiled: dict[int, CompiledPolicy] = {}

    @classmethod
    def for_runtime(cls, runtime: RuntimeContext) -> ConsentService:
        return runtime.shared("consent.service", ConsentService, lambda: cls(runtime))

    def policy(self) -> CompiledPolicy:
        policy = self.runtime.policy()
        if policy.version is None:
            raise FiduciaryError(
                detail="No policy version is published; consent cannot cite a notice.",
                status=503,
                title="No published policy",
                code="no_published_policy",
            )
        return policy

    # ------------------------------------------------------------------------------------------ writes

    def record(self, session: Session, item: ConsentInput, *, idempotency_key: str | None = None) -> ConsentResult:
        return self.record_many(session, [item], idempotency_key=idempotency_key)[0]

    def record_many(
        self,
        session: Session,
        items: Sequence[ConsentInput],
        *,
        idempotency_key: str | None = None,
        locate: Locate = _default_locate,
        gpc_subjects: Sequence[str] = (),
        base_url: str | None = None,
        new_visitors: AbstractSet[str] = frozenset(),
    ) -> list[ConsentResult]:
        """Record every item or none. `idempotency_key` is already scoped ("<api key id>:<client key>").
        `base_url` is the origin of the receipts' notice links (default: the runtime's public base URL).
        `new_visitors` are visitor ids minted for this very request: nobody can be linked to them yet, so
        their links are not looked up (a banner's first answer, the most frequent consent write).

        The same key with the same items answers the stored results (`replayed=True`) and writes nothing;
        the same key with different items is a 409.
        """
        if not items:
            raise ValidationFailed("No consent actions given.", [FieldProblem("items", "give at least one action")])
        fingerprint = ""
        if idempotency_key is not None:
            if not 1 <= len(idempotency_key) <= 100:
                raise ValidationFailed(
                    "Malformed Idempotency-Key.", [FieldProblem("header.Idempotency-Key", "too long")]
                )
            fingerprint = request_hash(items, gpc_subjects)
            replayed = self._replay(session, idempotency_key, fingerprint)
            if replayed is not None:
                return replayed
        policy = self.policy()
        # Check everything before writing anything: 422 first (every invalid field at once), then 404, then 409.
        if not _fields_look_valid(policy, items):
            self._field_problems(policy, items, locate)
        people, links = self._check_people(session, policy, items, locate, new_visitors)
        ref = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32] if idempotency_key else None
        events, texts = _consent_events(policy, items, people, links, ref)
        results = self._append(session, policy, events, texts, base_url or self.base_url)
        if idempotency_key is not None:
            _remember_results(session, idempotency_key, fingerprint, results)
        return results

    def _replay(self, session: Session, idempotency_key: str, fingerprint: str) -> list[ConsentResult] | None:
        """The stored results of an earlier request with this key (None if there is none, or it expired);
        a 409 if the key was used for a different request."""
        stored = session.get(ConsentIdempotency, idempotency_key)
        if stored is not None and stored.created_at < utcnow() - self._idempotency_ttl:
            # Expired: the key is a new request (housekeeping deletes such rows; this one first).
            session.delete(stored)
            session.flush()
            stored = None
        if stored is None:
            return None
        if stored.request_hash != fingerprint:
            raise Conflict(
                "This Idempotency-Key was already used for a different request; use a new key.",
                code="idempotency_key_reused",
                fields=[FieldProblem("header.Idempotency-Key", "already used with another body")],
            )
        return [ConsentResult(**{**r, "replayed": True}) for r in stored.response["results"]]

    def _append(
        self,
        session: Session,
        policy: CompiledPolicy,
        events: Sequence[tuple[str, dict[str, Any]]],
        texts: Sequence[str],
        base_url: str,
    ) -> list[ConsentResult]:
        batch = self.ledger.append_texts(
            session,
            [event_type for event_type, _ in events],
            texts,
            subjects=[projection.payload_subjects(payload) for _, payload in events],
        )
        moment, first = batch.recorded_at, batch.first_position
        status_by_event = projection.STATUS_BY_EVENT
        rows: list[projection.StateTuple] = []
        for position, (event_type, payload) in enumerate(events, first):
            row: projection.StateTuple = (
                payload["subject"],
                payload["purpose"],
                status_by_event[event_type],
                payload["version"],
                payload["notice"],
                payload["channel"],
                payload["lang"],
                payload.get("guardian"),
                moment,
                position,
            )
            rows.append(row)
            if "person" in payload:
                rows.append((payload["person"], *row[1:]))
        projection.upsert_state_rows(session, rows)
        self._announce_withdrawals(session, events)
        signed = signed_receipt_texts(
            policy,
            [
                (position, hash_, event_type, payload)
                for position, hash_, (event_type, payload) in zip(
                    range(first, first + len(events)), batch.hashes, events, strict=True
                )
            ],
            moment,
            self.signer,
            base_url=base_url,
            stream=batch.stream,
        )
        return [
            ConsentResult(payload["subject"], payload["purpose"], status_by_event[event_type], position, text)
            for position, (event_type, payload), text in zip(
                range(first, first + len(events)), events, signed, strict=True
            )
        ]

    def _announce_withdrawals(self, session: Session, events: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Every withdrawal reaches the recipients that received data for its purpose (DPDP s.6(6): the
        store causes its processors to cease processing; GDPR Art 7(3), 19), whichever door it came through."""
        by_purpose: dict[str, set[str]] = {}
        for event_type, payload in events:
            if event_type != WITHDRAWN:
                continue
            person = payload.get("person") or payload["subject"]
            if isinstance(person, str) and person.startswith("per_"):
                by_purpose.setdefault(payload["purpose"], set()).add(person)
        for purpose, people in sorted(by_purpose.items()):
            announce(self.runtime, session, PersonDataChange.of(ChangeKind.WITHDRAWAL, people, purposes=[purpose]))

    # ----------------------------------------------------------------------------------------- receipts

    def receipt(self, session: Session, position: int, *, base_url: str | None = None) -> dict[str, Any]:
        """The receipt of the consent event at `position`, rebuilt from the ledger and signed afresh.

        Identical in content to the one returned at write time; carries the signed checkpoint that covers
        it once the ledger has been sealed past it.
        """
        entry = next(ledger_entries(session, projection.STREAM, position, position), None) if position >= 1 else None
        if entry is None or entry.event_type not in RECEIPT_EVENT_TYPES:
            raise NotFound("No consent receipt at this ledger position.", code="receipt_not_found")
        policy = self._policy_version(session, int(entry.payload["version"]))
        receipt = build_receipt(
            policy,
            ReceiptEvent(entry.position, entry.hash, entry.event_type, entry.recorded_at, entry.payload),
            base_url=base_url or self.base_url,
        )
        sign_receipts([receipt], self.signer)
        checkpoint = checkpoint_covering(session, projection.STREAM, position)
        if checkpoint is not None:
            receipt["checkpoint"] = checkpoint.to_dict()
        return receipt

    def _policy_version(self, session: Session, version: int) -> CompiledPolicy:
        compiled = self._compiled.get(version)
        if compiled is None:
            published = policy_versions.get(session, version)
            compiled = CompiledPolicy.build(published.document, published.content_hash, published.version)
            self._compiled[version] = compiled
        return compiled

    # -------------------------------------------------------------------------------------- validation

    @staticmethod
    def _field_problems(policy: CompiledPolicy, items: Sequence[ConsentInput], locate: Locate) -> None:
        """Every malformed field of every item at once (422), each named by its place in the request."""
        problems: list[FieldProblem] = []
        valid_purposes = ", ".join(sorted(policy.consent_purposes))
        unknown_purpose = False
        for index, item in enumerate(items):
            if not isinstance(item.subject_id, str) or not SUBJECT_ID_RE.fullmatch(item.subject_id):
                problems.append(
                    FieldProblem(
                        locate(index, "subject_id"),
                        "must be a person id 'per_…' or a visitor id 'vis_…' with 26 characters a-z or 2-7",
                    )
                )
            if item.purpose not in policy.purposes:
                unknown_purpose = True
                problems.append(
                    FieldProblem(
                        locate(index, "purpose"),
                        "is not a purpose of the policy in force",
                        hint=f"valid purposes for consent: {valid_purposes}",
                    )
                )
            if item.action not in ACTIONS:
                problems.append(FieldProblem(locate(index, "action"), "must be grant, withdraw or deny"))
            try:
                channel = _CHANNELS.get(item.channel)
            except TypeError:  # unhashable
                channel = None
            if channel is None:
                problems.append(
                    FieldProblem(
                        locate(index, "channel"), "must be one of " + ", ".join(c.value for c in ConsentChannel)
                    )
                )
            if not isinstance(item.language, str) or not _valid_language(item.language):
                problems.append(
                    FieldProblem(locate(index, "language"), "must be a language tag such as 'en', 'hi' or 'ta-IN'")
                )
            if item.guardian_id is not None and (
                not isinstance(item.guardian_id, str)
                or not item.guardian_id.startswith("per_")
                or not SUBJECT_ID_RE.fullmatch(item.guardian_id)
            ):
                problems.append(
                    FieldProblem(locate(index, "guardian_id"), "must be a person id 'per_' + 26 characters a-z or 2-7")
                )
            if channel is ConsentChannel.GUARDIAN and not item.guardian_id:
                problems.append(FieldProblem(locate(index, "guardian_id"), "is required on the guardian channel"))
            if channel is ConsentChannel.GPC and item.action == "grant":
                problems.append(
                    FieldProblem(locate(index, "channel"), "a Global Privacy Control signal can only opt out")
                )
        if problems:
            detail = "The consent request has invalid fields."
            if unknown_purpose:
                detail = f"Unknown purpose. Valid purposes for consent: {valid_purposes}."
            raise ValidationFailed(detail, problems)

    def _check_people(
        self,
        session: Session,
        policy: CompiledPolicy,
        items: Sequence[ConsentInput],
        locate: Locate,
        new_visitors: AbstractSet[str] = frozenset(),
    ) -> tuple[dict[str, PersonFacts], dict[str, str]]:
        """Unknown people (404), closed accounts, guardians and children (409)."""
        subject_ids = {i.subject_id for i in items}
        person_ids = {s for s in subject_ids if s.startswith("per_")}
        guardian_ids = {i.guardian_id for i in items if i.guardian_id}
        visitor_ids = subject_ids - person_ids - new_visitors
        links = linked_persons(session, list(visitor_ids)) if visitor_ids else {}
        ids = person_ids | guardian_ids | set(links.values())
        people = {row.id: row for row in people_facts(session, list(ids))} if ids else {}
        if not person_ids <= people.keys():
            raise NotFound("No person has this id.", code="person_not_found")
        today = policy.today()  # the store's calendar, as decisions use (a birthday ends childhood there)
        if (
            not guardian_ids
            and not children.needs_people_check(policy, items)
            and all(p.status == ACTIVE for p in map(people.__getitem__, person_ids))
            and not children.any_guarded(policy, people, list(person_ids), today)
        ):
            return people, links  # the usual batch: active adults and visitors, no guardian; nothing below applies
        for index, item in enumerate(items):
            subject = people.get(item.subject_id)
            if subject is not None and subject.status != ACTIVE:
                raise Conflict(
                    "The person's account is closed; it takes no new consent.",
                    code="person_closed",
                    fields=[FieldProblem(locate(index, "subject_id"), "account closed")],
                )
            guardian = children.check_guardian(
                index, item, people.get(item.guardian_id) if item.guardian_id else None, today, locate
            )
            children.check_item(policy, index, item, subject, guardian, today, locate)
        return people, links


# ------------------------------------------------------------------------------------------------- reads


def state_for(session: Session, subject_ids: Sequence[str]) -> dict[str, dict[str, ConsentStateRow]]:
    """subject → purpose → current row, for the subjects that have any state."""
    out: dict[str, dict[str, ConsentStateRow]] = {}
    if not subject_ids:
        return out
    dialect = dialect_of(session)
    for row in session.execute(_state_query(dialect), {IDS: bind_ids(set(subject_ids), dialect)}):
        state = ConsentStateRow(*row)
        out.setdefault(state.subject_id, {})[state.purpose] = state
    return out


def gpc_covered(session: Session, subject_ids: Sequence[str]) -> dict[str, set[str]]:
    """subject → purposes a GPC signal already opted out."""
    out: dict[str, set[str]] = {}
    if subject_ids:
        dialect = dialect_of(session)
        for subject, purpose in session.execute(_gpc_query(dialect), {IDS: bind_ids(set(subject_ids), dialect)}):
            out.setdefault(subject, set()).add(purpose)
    return out


@per_dialect
def _state_query(dialect: str) -> Any:
    table = cast(Table, ConsentState.__table__)
    return select(*(table.c[c] for c in projection.STATE_COLUMNS)).where(ids_in(table.c.subject_id, dialect))


@per_dialect
def _gpc_query(dialect: str) -> Any:
    table = cast(Table, GpcOptOut.__table__)
    return select(table.c.subject_id, table.c.purpose).where(ids_in(table.c.subject_id, dialect))


def _consent_events(
    policy: CompiledPolicy,
    items: Sequence[ConsentInput],
    people: Mapping[str, PersonFacts],
    links: Mapping[str, str],
    ref: str | None,
) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    """Each item's ledger event (type, payload) and the payload's canonical text, in item order."""
    writer = PayloadWriter(cast(int, policy.version), policy.content_hash, ref)
    events: list[tuple[str, dict[str, Any]]] = []
    texts: list[str] = []
    event_by_action = projection.EVENT_BY_ACTION
    for item in items:
        person: str | None = None
        if links and item.action != "grant":
            # A withdrawal or refusal from a signed-out device of a linked visitor reaches the person too:
            # withdrawing must be as easy as consenting (DPDP s.6(4)). Grants do not travel: we cannot
            # know who is at a signed-out device.
            person = links.get(item.subject_id)
            linked = people.get(person) if person is not None else None
            if linked is None or linked.status != ACTIVE:
                person = None
        evidence = item.evidence
        payload, text = writer.build(
            item.subject_id,
            item.purpose,
            item.language,
            _CHANNEL_VALUES[item.channel],
            guardian=item.guardian_id or None,
            ua=writer.user_agent_hash(evidence.user_agent) if evidence is not None else None,
            ip_prefix=evidence.ip_prefix if evidence is not None else None,
            person=person,
        )
        events.append((event_by_action[item.action], payload))
        texts.append(text)
    return events, texts


def _remember_results(
    session: Session, idempotency_key: str, fingerprint: str, results: Sequence[ConsentResult]
) -> None:
    """Store the results under the idempotency key, so a retry answers them; a concurrent twin is a 409."""
    session.add(
        ConsentIdempotency(
            key=idempotency_key,
            request_hash=fingerprint,
            response={"results": [r.as_dict() for r in results]},
            created_at=utcnow(),
        )
    )
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(
            "Another request with this Idempotency-Key is being processed; retry shortly.",
            code="idempotency_key_in_use",
        ) from None
