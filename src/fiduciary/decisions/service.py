"""Decisions against the database: load a subject's facts once, then apply the pure rules in `engine`.

A request loads everything it needs with one query per table (people, visitor links, consent state,
restrictions), whatever the number of subjects, and then decides in memory; the compiled policy and the
re-consent floors are cached per policy content hash, so a published version brings fresh floors.

Every decision names an actor (an API key id or a staff id): DESIGN principle 2, "every use of personal
data names an actor and a purpose". This service only decides; recording each decision on the audit trail
is `fiduciary.decisions.flows` (`decide_audited`, `decide_many_audited`), which the API, the CLI and
in-process callers share, so no entry point can decide without leaving its audit event.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from fiduciary.consent.facts import linked_persons, people_facts
from fiduciary.consent.models import ConsentState
from fiduciary.consent.reconsent import reconsent_floors
from fiduciary.consent.restrictions import active_restrictions
from fiduciary.context import RuntimeContext
from fiduciary.decisions.engine import (
    ANONYMOUS,
    ConsentFact,
    Decision,
    Reason,
    RestrictionFact,
    SubjectFacts,
    decide,
)
from fiduciary.decisions.ids import ACTOR_RE, PERSON_PREFIX, SUBJECT_ID_RE, VISITOR_PREFIX
from fiduciary.errors import FieldProblem, NotFound, ValidationFailed
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.schema import Jurisdiction
from fiduciary.storage.driver_reads import rows_for_ids
from fiduciary.storage.ids import IDS

MAX_BATCH = 1000
FLOORS_TTL_SECONDS = 5.0
MAX_CATEGORIES = 100


@dataclass(frozen=True, slots=True)
class DecisionRequest:
    subject_id: str
    purpose: str
    categories: Collection[str] = ()
    jurisdiction: Jurisdiction | str | None = None  # where the person lives; None: each purpose's own ground


@dataclass(frozen=True)
class DecisionContext:
    """State cached for one request: decide as often as needed without touching the database again."""

    policy: CompiledPolicy
    floors: Mapping[str, int]
    today: date
    facts: Mapping[str, SubjectFacts] = field(default_factory=dict)

    def decide(
        self,
        subject_id: str,
        purpose: str,
        categories: Collection[str] = (),
        *,
        strict: bool = False,
        jurisdiction: Jurisdiction | None = None,
    ) -> Decision:
        """`jurisdiction` must be one the policy declares (`CompiledPolicy.declared_jurisdiction`)."""
        facts = self.facts.get(subject_id) or SubjectFacts(subject_id, exists=False)
        return decide(
            self.policy,
            facts,
            purpose,
            categories,
            floors=self.floors,
            today=self.today,
            strict=strict,
            jurisdiction=jurisdiction,
        )


# People and visitor links come from the one reader consent writes use too (`consent.facts`). The consent
# state is read as they are, straight on the driver with the ids as one parameter (`storage.driver_reads`):
# through `Session.execute` the statement cost several times what SQLite spends running it. Only what a
# decision reads of `consent_state` (status, version, guardian), not the whole row.
_STATE = ConsentState.__table__.c
_CONSENTS_SQL = {
    "sqlite": "SELECT subject_id, purpose, status, policy_version, guardian_id FROM consent_state "
    "WHERE subject_id IN (SELECT value FROM json_each(?))",
    "postgresql": "SELECT subject_id, purpose, status, policy_version, guardian_id FROM consent_state "
    "WHERE subject_id = ANY(%s)",
}
_CONSENTS_QUERY = select(
    _STATE.subject_id, _STATE.purpose, _STATE.status, _STATE.policy_version, _STATE.guardian_id
).where(_STATE.subject_id.in_(bindparam(IDS, expanding=True)))


def _read_consents(session: Session, subject_ids: Collection[str]) -> dict[str, dict[str, ConsentFact]]:
    """subject → purpose → current consent, for subjects with any; no query without ids."""
    out: dict[str, dict[str, ConsentFact]] = {}
    if subject_ids:
        for subject, purpose, status, version, guardian in rows_for_ids(
            session, _CONSENTS_SQL, _CONSENTS_QUERY, subject_ids
        ):
            out.setdefault(subject, {})[purpose] = ConsentFact(status, version, guardian)
    return out


def check_subject_id(value: str, field_name: str = "subject_id") -> str:
    if not isinstance(value, str) or not SUBJECT_ID_RE.match(value):
        raise ValidationFailed(
            "The subject id is malformed.",
            [FieldProblem(field_name, "must be a person id (per_…) or a visitor id (vis_…)")],
        )
    return value


def check_actor(value: str, field_name: str = "actor") -> str:
    if not isinstance(value, str) or not ACTOR_RE.match(value):
        raise ValidationFailed(
            "The actor is malformed.",
            [FieldProblem(field_name, "must name an API key id or a staff id (letters, digits, _.:@-)")],
        )
    return value


class DecisionService:
    def __init__(self, runtime: RuntimeContext, *, clock: Callable[[], datetime] | None = None) -> None:
        self._runtime = runtime
        self._clock = clock or (lambda: datetime.now(UTC))
        self._floors: tuple[str, float, Mapping[str, int]] | None = None

    @classmethod
    def for_runtime(cls, runtime: RuntimeContext) -> DecisionService:
        """The runtime's shared service, so the floors cache outlives a request."""
        return runtime.shared("decisions.service", DecisionService, lambda: cls(runtime))

    # ------------------------------------------------------------------------------------- cached parts

    def policy(self) -> CompiledPolicy:
        return self._runtime.policy()

    def floors(self, session: Session, policy: CompiledPolicy) -> Mapping[str, int]:
        """Re-consent floors, reloaded when the policy in force changes (floors are written on publish).

        A short time-to-live also picks up floors written by another process, or by a publish whose
        version takes effect later, within seconds.
        """
        cached = self._floors
        now = time.monotonic()
        if cached is not None and cached[0] == policy.content_hash and now - cached[1] < FLOORS_TTL_SECONDS:
            return cached[2]
        floors = dict(reconsent_floors(session))
        self._floors = (policy.content_hash, now, floors)
        return floors

    def invalidate(self) -> None:
        """Drop the cached floors (call after writing reconsent_floors outside a policy publish)."""
        self._floors = None

    def today(self, policy: CompiledPolicy) -> date:
        """The date in the policy's time zone (`CompiledPolicy.today`): a child comes of age on a local birthday."""
        return policy.today(self._clock())

    # -------------------------------------------------------------------------------------------- facts

    def load_facts(
        self, session: Session, subject_ids: Iterable[str], policy: CompiledPolicy | None = None
    ) -> dict[str, SubjectFacts]:
        """Facts for every subject, with one query per table.

        A visitor id that has been linked to a person (they signed in) is decided as that person: the
        link copied the visitor's consents to the person, who is now the one whose choices count.
        A recorded residence counts only while the policy in force declares it (`policy`; default: the
        runtime's): a jurisdiction the store no longer serves decides as an unknown residence.
        """
        known = policy or self.policy()
        wanted = set(subject_ids)
        visitors = [s for s in wanted if s.startswith(VISITOR_PREFIX)]
        links = linked_persons(session, visitors) if visitors else {}
        resolved = {s: links.get(s, s) for s in wanted}
        targets = set(resolved.values())
        person_ids = [t for t in targets if t.startswith(PERSON_PREFIX)]
        people = {p.id: p for p in people_facts(session, person_ids)} if person_ids else {}
        consents = _read_consents(session, targets)
        restrictions = active_restrictions(session, list(people)) if people else {}

        out: dict[str, SubjectFacts] = {}
        for subject, target in resolved.items():
            held = consents.get(target, {})
            if target.startswith(PERSON_PREFIX):
                person = people.get(target)
                if person is None:
                    out[subject] = SubjectFacts(subject, exists=False)
                    continue
                _, status, age_status, adult_on, guardian, where = person
                out[subject] = SubjectFacts(
                    subject,
                    exists=True,
                    closed=status == "closed",
                    age_status=age_status,
                    adult_on=adult_on,
                    consents=held,
                    restrictions=tuple(RestrictionFact(r.purpose, r.kind) for r in restrictions.get(target, ())),
                    lawful_guardian=guardian,
                    jurisdiction=known.residence(where),
                )
            else:
                # An unlinked visitor is anonymous: no account and no age to ask for (decision 0015).
                out[subject] = SubjectFacts(subject, age_status=ANONYMOUS, consents=held)
        return out

    def prepare(self, session: Session, subject_ids: Iterable[str]) -> DecisionContext:
        """Load policy, floors and facts once; the context then decides without further queries."""
        policy = self.policy()
        return DecisionContext(
            policy=policy,
            floors=self.floors(session, policy),
            today=self.today(policy),
            facts=self.load_facts(session, subject_ids, policy),
        )

    # -------------------------------------------------------------------------------------- decisions

    def decide(
        self,
        session: Session,
        actor: str,
        subject_id: str,
        purpose: str,
        categories: Collection[str] = (),
        *,
        strict: bool = False,
        jurisdiction: Jurisdiction | str | None = None,
    ) -> Decision:
        """One decision; an unknown person asked about a non-consent purpose is a 404, not a deny."""
        request = DecisionRequest(subject_id, purpose, categories, jurisdiction)
        decision = self.decide_many(session, actor, [request], strict=strict)[0]
        if Reason.UNKNOWN_SUBJECT in decision.reasons:
            raise NotFound("No person has this id.", code="person_not_found")
        return decision

    def decide_many(
        self,
        session: Session,
        actor: str,
        requests: Sequence[DecisionRequest],
        *,
        strict: bool = False,
    ) -> list[Decision]:
        """Decisions for a batch, in request order; an unknown person answers `unknown_subject`."""
        check_actor(actor)
        if len(requests) > MAX_BATCH:
            raise ValidationFailed(
                "Too many decisions in one batch.",
                [FieldProblem("requests", f"at most {MAX_BATCH} decisions per batch")],
            )
        policy = self.policy()
        jurisdictions: list[Jurisdiction | None] = []
        for i, req in enumerate(requests):
            prefix = f"requests[{i}]." if len(requests) > 1 else ""
            check_subject_id(req.subject_id, prefix + "subject_id")
            if len(req.categories) > MAX_CATEGORIES:
                raise ValidationFailed(
                    "Too many categories.",
                    [FieldProblem(prefix + "categories", f"at most {MAX_CATEGORIES} categories")],
                )
            jurisdictions.append(policy.declared_jurisdiction(req.jurisdiction, prefix + "jurisdiction"))
        ctx = self.prepare(session, (r.subject_id for r in requests))
        return [
            ctx.decide(r.subject_id, r.purpose, r.categories, strict=strict, jurisdiction=j)
            for r, j in zip(requests, jurisdictions, strict=True)
        ]
