"""DecisionService against real databases: facts loading, every reason through real state, batching, caches."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from database_support import sent_statements
from fiduciary.consent.linking import link_visitor
from fiduciary.consent.models import ProcessingRestriction, ReconsentFloor
from fiduciary.consent.restrictions import active_restrictions, add_restriction, lift_restriction
from fiduciary.consent.service import ConsentChannel, ConsentInput, ConsentService
from fiduciary.decisions.engine import Reason
from fiduciary.decisions.service import DecisionRequest, DecisionService
from fiduciary.errors import NotFound, ValidationFailed
from fiduciary.people.models import Person
from fiduciary.people.service import close_person, create_person, new_person_id, new_visitor_id
from fiduciary.runtime import Runtime

ACTOR = "key_test"


def person(session: Session, runtime: Runtime, **age: object) -> str:
    p = create_person(session, policy=runtime.policy(), **age)  # type: ignore[arg-type]
    session.commit()
    return p.id


def consent(
    session: Session,
    runtime: Runtime,
    subject: str,
    purpose: str,
    action: str = "grant",
    *,
    channel: ConsentChannel = ConsentChannel.API,
    guardian_id: str | None = None,
) -> None:
    ConsentService.for_runtime(runtime).record(
        session,
        ConsentInput(subject, purpose, action, channel, guardian_id=guardian_id),  # type: ignore[arg-type]
    )
    session.commit()


def test_grant_then_withdraw(session: Session, runtime: Runtime) -> None:
    service = DecisionService(runtime)
    pid = person(session, runtime, is_child=False)
    d = service.decide(session, ACTOR, pid, "marketing.email", ["contact.email"])
    assert (d.allow, d.reasons) == (False, (Reason.NO_CONSENT,))
    consent(session, runtime, pid, "marketing.email")
    d = service.decide(session, ACTOR, pid, "marketing.email", ["contact.email"])
    assert (d.allow, d.reasons, d.allowed_categories) == (True, (Reason.CONSENT_GIVEN,), frozenset({"contact.email"}))
    consent(session, runtime, pid, "marketing.email", "withdraw")
    assert service.decide(session, ACTOR, pid, "marketing.email").reasons == (Reason.WITHDRAWN,)
    consent(session, runtime, pid, "analytics", "deny")
    assert service.decide(session, ACTOR, pid, "analytics").reasons == (Reason.WITHDRAWN,)


def test_undeclared_purpose_and_foreign_categories(session: Session, runtime: Runtime) -> None:
    service = DecisionService(runtime)
    pid = person(session, runtime)
    d = service.decide(session, ACTOR, pid, "telepathy", ["contact.email"])
    assert (d.allow, d.reasons) == (False, (Reason.PURPOSE_NOT_DECLARED,))
    d = service.decide(session, ACTOR, pid, "order_fulfilment", ["contact.address", "usage.browsing"])
    assert d.allow and d.reasons == (Reason.CATEGORY_NOT_IN_PURPOSE, Reason.LEGAL_GROUND)
    assert d.denied_categories == frozenset({"usage.browsing"})


def test_unknown_person(session: Session, runtime: Runtime) -> None:
    service = DecisionService(runtime)
    ghost = new_person_id()
    assert service.decide(session, ACTOR, ghost, "marketing.email").reasons == (Reason.NO_CONSENT,)
    with pytest.raises(NotFound) as err:
        service.decide(session, ACTOR, ghost, "account")
    assert err.value.code == "person_not_found"
    [d] = service.decide_many(session, ACTOR, [DecisionRequest(ghost, "account")])
    assert (d.allow, d.reasons) == (False, (Reason.UNKNOWN_SUBJECT,))
    # an undeclared purpose is still a decision, even for an unknown person
    assert service.decide(session, ACTOR, ghost, "nope").reasons == (Reason.PURPOSE_NOT_DECLARED,)


@pytest.mark.parametrize(
    "bad", ["", "per_", "per_UPPERCASEUPPERCASEUPPERCA", "usr_abcdefghijklmnopqrstuvwxyz", "per_1"]
)
def test_malformed_subject_id(session: Session, runtime: Runtime, bad: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        DecisionService(runtime).decide(session, ACTOR, bad, "account")
    assert err.value.fields[0].field == "subject_id"


@pytest.mark.parametrize("bad", ["", " spaced", "a" * 101, "x/y", "\u00e9"])
def test_malformed_actor(session: Session, runtime: Runtime, bad: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        DecisionService(runtime).decide(session, bad, new_person_id(), "account")
    assert err.value.fields[0].field == "actor"


def test_batch_limits(session: Session, runtime: Runtime) -> None:
    service = DecisionService(runtime)
    with pytest.raises(ValidationFailed):
        service.decide_many(session, ACTOR, [DecisionRequest(new_person_id(), "account")] * 1001)
    with pytest.raises(ValidationFailed) as err:
        service.decide_many(
            session, ACTOR, [DecisionRequest(new_person_id(), "account"), DecisionRequest("bad", "account")]
        )
    assert err.value.fields[0].field == "requests[1].subject_id"
    with pytest.raises(ValidationFailed):
        service.decide(session, ACTOR, new_person_id(), "account", [f"c{i}" for i in range(101)])


def test_closed_account(session: Session, runtime: Runtime) -> None:
    service = DecisionService(runtime)
    pid = person(session, runtime, is_child=False)
    consent(session, runtime, pid, "marketing.email")
    close_person(session, pid)
    session.commit()
    assert service.decide(session, ACTOR, pid, "marketing.email").reasons == (Reason.ACCOUNT_CLOSED,)
    assert service.decide(session, ACTOR, pid, "account").reasons == (Reason.ACCOUNT_CLOSED,)
    assert service.decide(session, ACTOR, pid, "tax_compliance").allow


def test_children(session: Session, runtime: Runtime) -> None:
    service = DecisionService(runtime)
    parent = person(session, runtime, is_child=False)
    kid = person(session, runtime, date_of_birth=date.today() - timedelta(days=365 * 10))
    assert service.decide(session, ACTOR, kid, "marketing.email").reasons == (
        Reason.GUARDIAN_CONSENT_REQUIRED,
        Reason.NO_CONSENT,
    )
    consent(session, runtime, kid, "marketing.email", channel=ConsentChannel.GUARDIAN, guardian_id=parent)
    assert service.decide(session, ACTOR, kid, "marketing.email").allow
    # tracking and targeted advertising: denied whatever consent says (the consent service refuses it too)
    for purpose in ("analytics", "personalised_ads"):
        assert service.decide(session, ACTOR, kid, purpose).reasons == (Reason.CHILD_PROTECTION, Reason.NO_CONSENT)
    # the same child, decided on a day after coming of age: the guardian's grant still counts, nothing is barred
    later = DecisionService(runtime, clock=lambda: datetime.now(UTC) + timedelta(days=365 * 9))
    assert later.decide(session, ACTOR, kid, "marketing.email").allow
    assert later.decide(session, ACTOR, kid, "analytics").reasons == (Reason.NO_CONSENT,)


def test_coming_of_age_is_counted_in_the_policy_time_zone(session: Session, runtime: Runtime) -> None:
    """adult_on 2 March 2026: at 2026-03-01T20:00Z it is already 2 March in India (the demo policy's zone)."""
    policy = runtime.policy()
    assert policy.document.calendar.timezone == "Asia/Kolkata"
    kid = person(session, runtime, date_of_birth=date(2026 - policy.child_age, 3, 2), today=date(2026, 3, 1))

    def at(instant: datetime) -> DecisionService:
        return DecisionService(runtime, clock=lambda: instant)

    before = at(datetime(2026, 3, 1, 18, 29, tzinfo=UTC))  # 23:59 IST on 1 March
    after = at(datetime(2026, 3, 1, 20, 0, tzinfo=UTC))  # 01:30 IST on 2 March, still 1 March in UTC
    assert (before.today(policy), after.today(policy)) == (date(2026, 3, 1), date(2026, 3, 2))
    assert before.decide(session, ACTOR, kid, "analytics").reasons == (Reason.CHILD_PROTECTION, Reason.NO_CONSENT)
    assert after.decide(session, ACTOR, kid, "analytics").reasons == (Reason.NO_CONSENT,)
    assert after.prepare(session, [kid]).today == policy.today(datetime(2026, 3, 1, 20, 0, tzinfo=UTC))


def test_facts_see_rows_added_but_not_yet_flushed(session: Session, runtime: Runtime) -> None:
    """The fact queries are Core statements; Session.execute autoflushes them as it did the ORM queries."""
    service = DecisionService(runtime)
    pid = person(session, runtime, is_child=False)
    assert service.decide(session, ACTOR, pid, "account").allow  # warms the floors cache (an ORM query)
    session.add(ProcessingRestriction(person_id=pid, purpose=None, kind="restriction", created_at=datetime.now(UTC)))
    assert service.decide(session, ACTOR, pid, "account").reasons == (Reason.RESTRICTED_BY_PERSON,)
    with session.no_autoflush:
        other = Person(id=new_person_id(), status="active", age_status="adult", created_at=datetime.now(UTC))
        session.add(other)
        [d] = service.decide_many(session, ACTOR, [DecisionRequest(other.id, "account")])
    assert d.reasons == (Reason.UNKNOWN_SUBJECT,)  # no_autoflush is respected


def test_active_restrictions_of_many_people(session: Session, runtime: Runtime) -> None:
    """One query for any number of people: each person's active ones, oldest first; lifted ones gone."""
    policy = runtime.policy()
    ids = [person(session, runtime, is_child=False) for _ in range(4)]
    first, _ = add_restriction(session, policy, ids[0], purpose="customer_support", kind="objection")
    second, _ = add_restriction(session, policy, ids[0], purpose=None, kind="restriction")
    add_restriction(session, policy, ids[1], purpose="customer_support", kind="objection")
    lift_restriction(session, ids[1], purpose="customer_support")
    add_restriction(session, policy, ids[2], purpose=None, kind="restriction")
    session.commit()
    with sent_statements(session) as statements:
        active = active_restrictions(session, [*ids, new_person_id(), ids[0]])
        assert active_restrictions(session, []) == {}
    assert len(statements) == 1
    assert set(active) == {ids[0], ids[2]}
    assert active[ids[0]] == [first, second]
    assert [(r.person_id, r.purpose, r.kind) for r in active[ids[2]]] == [(ids[2], None, "restriction")]


def test_restrictions_and_legal_obligations(session: Session, runtime: Runtime) -> None:
    service = DecisionService(runtime)
    pid = person(session, runtime, is_child=False)
    add_restriction(session, runtime.policy(), pid, purpose="customer_support", kind="objection")
    session.commit()
    assert service.decide(session, ACTOR, pid, "customer_support").reasons == (Reason.RESTRICTED_BY_PERSON,)
    assert service.decide(session, ACTOR, pid, "account").allow
    add_restriction(session, runtime.policy(), pid, purpose=None, kind="restriction")
    session.commit()
    assert service.decide(session, ACTOR, pid, "account").reasons == (Reason.RESTRICTED_BY_PERSON,)
    assert service.decide(session, ACTOR, pid, "tax_compliance").reasons == (Reason.LEGAL_GROUND,)
    assert service.decide(session, ACTOR, pid, "security").allow


def test_material_change_floor(session: Session, runtime: Runtime) -> None:
    service = DecisionService(runtime)
    pid = person(session, runtime, is_child=False)
    consent(session, runtime, pid, "marketing.email")
    assert service.decide(session, ACTOR, pid, "marketing.email").allow
    version = runtime.policy().version
    assert version is not None
    session.add(ReconsentFloor(purpose="marketing.email", min_version=version + 1, since=datetime.now(UTC)))
    session.commit()
    service.invalidate()
    d = service.decide(session, ACTOR, pid, "marketing.email")
    assert (d.allow, d.reasons) == (False, (Reason.CONSENT_PREDATES_MATERIAL_CHANGE,))
    assert service.decide(session, ACTOR, pid, "analytics").reasons == (Reason.NO_CONSENT,)


def test_linked_visitor_is_decided_as_the_person(session: Session, runtime: Runtime) -> None:
    service = DecisionService(runtime)
    visitor = new_visitor_id()
    consent(session, runtime, visitor, "analytics", channel=ConsentChannel.BANNER)
    assert service.decide(session, ACTOR, visitor, "analytics").allow
    # an unlinked visitor is anonymous: no person facts, never "unknown"
    assert service.decide(session, ACTOR, new_visitor_id(), "security").allow
    pid = person(session, runtime, is_child=False)
    link_visitor(ConsentService.for_runtime(runtime), session, pid, visitor)
    session.commit()
    assert service.decide(session, ACTOR, pid, "analytics").allow  # copied to the person
    close_person(session, pid)
    session.commit()
    assert service.decide(session, ACTOR, visitor, "analytics").reasons == (Reason.ACCOUNT_CLOSED,)


def test_batch_is_one_query_per_table_and_floors_are_cached(session: Session, runtime: Runtime) -> None:
    service = DecisionService(runtime)
    ids = [person(session, runtime, is_child=False) for _ in range(30)]
    for pid in ids[:10]:
        consent(session, runtime, pid, "marketing.email")
    visitors = [new_visitor_id() for _ in range(5)]
    requests = [DecisionRequest(s, "marketing.email") for s in ids + visitors] + [
        DecisionRequest(s, "account", ("contact.email",)) for s in ids
    ]
    service.decide_many(session, ACTOR, requests[:1])  # warm the policy and floors caches
    with sent_statements(session) as statements:
        made = service.decide_many(session, ACTOR, requests)
    # visitor links, people, consent state, restrictions; nothing for the cached policy and floors
    assert len(statements) == 4, statements
    assert not any("reconsent_floors" in s for s in statements)
    assert [d.allow for d in made[:35]] == [True] * 10 + [False] * 25
    assert all(d.allow for d in made[35:])


def test_prepared_context_decides_without_queries(session: Session, runtime: Runtime) -> None:
    service = DecisionService(runtime)
    pid = person(session, runtime, is_child=False)
    consent(session, runtime, pid, "marketing.sms")
    ctx = service.prepare(session, [pid])
    with sent_statements(session) as statements:
        assert ctx.decide(pid, "marketing.sms", ["contact.phone"]).allow
        assert not ctx.decide(pid, "marketing.email").allow
        assert ctx.decide(new_person_id(), "account").reasons == (Reason.UNKNOWN_SUBJECT,)
    assert statements == []
