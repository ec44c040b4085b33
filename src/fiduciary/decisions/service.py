"""Decisions against the database: load a subject's facts once, then apply the pure rules in `engine`.

A request loads everything it needs with one query per table (people, visitor links, consent state,
restrictions), whatever the number of subjects, and then decides in memory; the compiled policy and the
re-consent floors are cached per policy content hash, so a published version brings fresh floors.

Every decision names an actor (an API key id or a staff id): DESIGN principle 2, "every use of personal
data names an actor and a purpose". The audit trail that records them comes with the audit issue; its
call goes in `DecisionService.decide_many`, the one path every decision takes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, String, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute, Session

from fiduciary.consent.models import VisitorLink
from fiduciary.consent.service import active_restrictions, reconsent_floors, state_for
from fiduciary.decisions.engine import (
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
from fiduciary.runtime import Runtime
from fiduciary.vault.models import Person

MAX_BATCH = 1000
FLOORS_TTL_SECONDS = 5.0
MAX_CATEGORIES = 100


@dataclass(frozen=True, slots=True)
class DecisionRequest:
    subject_id: str
    purpose: str
    categories: Collection[str] = ()


@dataclass(frozen=True)
class DecisionContext:
    """State cached for one request: decide as often as needed without touching the database again."""

    policy: CompiledPolicy
    floors: Mapping[str, int]
    today: date
    facts: Mapping[str, SubjectFacts] = field(default_factory=dict)

    def decide(
        self, subject_id: str, purpose: str, categories: Collection[str] = (), *, strict: bool = False
    ) -> Decision:
        facts = self.facts.get(subject_id) or SubjectFacts(subject_id, exists=False)
        return decide(self.policy, facts, purpose, categories, floors=self.floors, today=self.today, strict=strict)


def _among(column: InstrumentedAttribute[str], values: Sequence[str], postgres: bool) -> ColumnElement[bool]:
    """`column = ANY(:array)` on PostgreSQL (one parameter; 3x faster than IN at 1,000 ids), else IN."""
    if postgres:
        return column == any_(bindparam(None, list(values), type_=ARRAY(String)))
    return column.in_(values)


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
    def __init__(self, runtime: Runtime, *, clock: Callable[[], datetime] | None = None) -> None:
        self._runtime = runtime
        self._clock = clock or (lambda: datetime.now(UTC))
        self._floors: tuple[str, float, Mapping[str, int]] | None = None
        self._zones: dict[str, ZoneInfo] = {}

    @classmethod
    def for_runtime(cls, runtime: Runtime) -> DecisionService:
        """The runtime's shared service, so the floors cache outlives a request."""
        service = runtime.extras.get("decisions.service")
        if not isinstance(service, DecisionService):
            service = cls(runtime)
            runtime.extras["decisions.service"] = service
        return service

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
        """The date in the store's own time zone: a child comes of age on a local birthday."""
        tz_name = policy.document.calendar.timezone
        zone = self._zones.get(tz_name)
        if zone is None:
            zone = self._zones[tz_name] = ZoneInfo(tz_name)
        return self._clock().astimezone(zone).date()

    # -------------------------------------------------------------------------------------------- facts

    def load_facts(self, session: Session, subject_ids: Iterable[str]) -> dict[str, SubjectFacts]:
        """Facts for every subject, with one query per table.

        A visitor id that has been linked to a person (they signed in) is decided as that person: the
        link copied the visitor's consents to the person, who is now the one whose choices count.
        """
        wanted = set(subject_ids)
        visitors = [s for s in wanted if s.startswith(VISITOR_PREFIX)]
        links: dict[str, str] = {}
        if visitors:
            links = {
                visitor: person
                for visitor, person in session.execute(
                    select(VisitorLink.visitor_id, VisitorLink.person_id).where(VisitorLink.visitor_id.in_(visitors))
                )
            }
        resolved = {s: links.get(s, s) for s in wanted}
        person_ids = sorted({r for r in resolved.values() if r.startswith(PERSON_PREFIX)})
        people: dict[str, tuple[str, str, date | None]] = {}
        if person_ids:
            for pid, status, age_status, adult_on in session.execute(
                select(Person.id, Person.status, Person.age_status, Person.adult_on).where(Person.id.in_(person_ids))
            ):
                people[pid] = (status, age_status, adult_on)
        state = state_for(session, sorted(set(resolved.values())))
        restrictions = active_restrictions(session, list(people)) if people else {}

        out: dict[str, SubjectFacts] = {}
        for subject, target in resolved.items():
            consents = {
                purpose: ConsentFact(row.status, row.policy_version, row.guardian_id)
                for purpose, row in state.get(target, {}).items()
            }
            if target.startswith(PERSON_PREFIX):
                person = people.get(target)
                if person is None:
                    out[subject] = SubjectFacts(subject, exists=False)
                    continue
                status, age_status, adult_on = person
                out[subject] = SubjectFacts(
                    subject,
                    exists=True,
                    closed=status == "closed",
                    age_status=age_status,
                    adult_on=adult_on,
                    consents=consents,
                    restrictions=tuple(RestrictionFact(r.purpose, r.kind) for r in restrictions.get(target, ())),
                )
            else:
                out[subject] = SubjectFacts(subject, consents=consents)
        return out

    def prepare(self, session: Session, subject_ids: Iterable[str]) -> DecisionContext:
        """Load policy, floors and facts once; the context then decides without further queries."""
        policy = self.policy()
        return DecisionContext(
            policy=policy,
            floors=self.floors(session, policy),
            today=self.today(policy),
            facts=self.load_facts(session, subject_ids),
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
    ) -> Decision:
        """One decision; an unknown person asked about a non-consent purpose is a 404, not a deny."""
        decision = self.decide_many(session, actor, [DecisionRequest(subject_id, purpose, categories)], strict=strict)[
            0
        ]
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
        for i, req in enumerate(requests):
            prefix = f"requests[{i}]." if len(requests) > 1 else ""
            check_subject_id(req.subject_id, prefix + "subject_id")
            if len(req.categories) > MAX_CATEGORIES:
                raise ValidationFailed(
                    "Too many categories.",
                    [FieldProblem(prefix + "categories", f"at most {MAX_CATEGORIES} categories")],
                )
        ctx = self.prepare(session, (r.subject_id for r in requests))
        return [ctx.decide(r.subject_id, r.purpose, r.categories, strict=strict) for r in requests]
