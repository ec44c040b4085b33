"""Recording consent through the service: validation, children, idempotency, ledger + state together."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from consent_support import adult, child, item, ledger_length, new_person, snapshot
from fiduciary.consent.evidence import Evidence
from fiduciary.consent.service import ConsentChannel, ConsentService, state_for
from fiduciary.errors import Conflict, NotFound, ValidationFailed
from fiduciary.people.service import add_years, close_person, new_visitor_id, today_utc
from fiduciary.runtime import Runtime

VIS = "vis_" + "a" * 26


@pytest.fixture
def service(runtime: Runtime) -> ConsentService:
    return ConsentService.for_runtime(runtime)


def test_grant_writes_one_event_state_and_receipt(session: Session, runtime: Runtime, service: ConsentService) -> None:
    person = adult(session, runtime)
    evidence = Evidence(user_agent="Mozilla/5.0 Test", ip_prefix="203.0.113.0/24")
    result = service.record(session, item(person, "marketing.email", evidence=evidence))
    session.commit()
    assert result.status == "granted"
    assert ledger_length(session) == 1
    row = state_for(session, [person])[person]["marketing.email"]
    policy = runtime.policy()
    assert (row.status, row.policy_version, row.notice_hash, row.channel, row.ledger_position) == (
        "granted",
        policy.version,
        policy.content_hash,
        "api",
        result.ledger_position,
    )
    assert result.receipt["header"]["pii_principal_id"] == person
    assert result.receipt["evidence"]["ip_prefix"] == "203.0.113.0/24"
    assert len(result.receipt["evidence"]["user_agent_sha256"]) == 64
    assert "Mozilla" not in str(result.receipt)


def test_withdraw_then_grant_moves_state_forward(session: Session, runtime: Runtime, service: ConsentService) -> None:
    person = adult(session, runtime)
    service.record(session, item(person, "analytics"))
    service.record(session, item(person, "analytics", "withdraw"))
    session.commit()
    assert state_for(session, [person])[person]["analytics"].status == "withdrawn"
    service.record(session, item(person, "analytics", "deny"))
    session.commit()
    assert state_for(session, [person])[person]["analytics"].status == "denied"
    assert ledger_length(session) == 3


def test_withdrawal_never_given_is_recorded_and_harmless(
    session: Session, runtime: Runtime, service: ConsentService
) -> None:
    person = adult(session, runtime)
    result = service.record(session, item(person, "marketing.sms", "withdraw"))
    session.commit()
    assert result.status == "withdrawn"
    assert ledger_length(session) == 1
    assert state_for(session, [person])[person]["marketing.sms"].status == "withdrawn"
    assert result.receipt["event"]["event_state"] == "withdrawn"


def test_unknown_purpose_is_422_listing_valid_purposes(
    session: Session, runtime: Runtime, service: ConsentService
) -> None:
    person = adult(session, runtime)
    before = snapshot(session)
    with pytest.raises(ValidationFailed) as caught:
        service.record_many(session, [item(person, "analytics"), item(person, "marketing.carrier_pigeon")])
    session.rollback()
    error = caught.value
    assert error.status == 422
    assert error.fields[0].field == "items[1].purpose"
    for purpose in ("analytics", "marketing.email", "marketing.sms", "personalised_ads"):
        assert purpose in error.detail
        assert purpose in (error.fields[0].hint or "")
    assert snapshot(session) == before


@pytest.mark.parametrize(("purpose", "ground"), [("account", "contract"), ("tax_compliance", "legal obligation")])
def test_non_consent_purpose_is_409_explaining_why(
    session: Session, runtime: Runtime, service: ConsentService, purpose: str, ground: str
) -> None:
    person = adult(session, runtime)
    before = snapshot(session)
    with pytest.raises(Conflict) as caught:
        service.record(session, item(person, purpose))
    session.rollback()
    assert caught.value.code == "purpose_not_consent_based"
    assert ground in caught.value.detail and "restrictions" in caught.value.detail
    assert snapshot(session) == before


@pytest.mark.parametrize(
    "subject",
    [
        "per_" + "a" * 25,  # too short
        "per_" + "A" * 26,  # upper case
        "per_" + "1" * 26,  # digits outside base32
        "usr_" + "a" * 26,  # unknown prefix
        "",
        "per_" + "a" * 26 + "\n",
    ],
)
def test_malformed_subject_is_422(session: Session, runtime: Runtime, service: ConsentService, subject: str) -> None:
    before = snapshot(session)
    with pytest.raises(ValidationFailed) as caught:
        service.record(session, item(subject, "analytics"))
    session.rollback()
    assert caught.value.fields[0].field == "items[0].subject_id"
    assert snapshot(session) == before


def test_every_invalid_field_reported_at_once(session: Session, runtime: Runtime, service: ConsentService) -> None:
    bad = item("nope", "nope", "grant", language="English!", guardian_id="per_bad")
    with pytest.raises(ValidationFailed) as caught:
        service.record(session, bad)
    fields = {f.field for f in caught.value.fields}
    assert fields == {"items[0].subject_id", "items[0].purpose", "items[0].language", "items[0].guardian_id"}


def test_gpc_channel_cannot_grant_and_guardian_channel_needs_guardian(
    session: Session, runtime: Runtime, service: ConsentService
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        service.record_many(
            session,
            [
                item(VIS, "personalised_ads", channel=ConsentChannel.GPC),
                item(VIS, "analytics", channel=ConsentChannel.GUARDIAN),
            ],
        )
    assert {f.field for f in caught.value.fields} == {"items[0].channel", "items[1].guardian_id"}


def test_unknown_person_is_404_and_closed_person_409(
    session: Session, runtime: Runtime, service: ConsentService
) -> None:
    before = snapshot(session)
    with pytest.raises(NotFound):
        service.record(session, item("per_" + "b" * 26, "analytics"))
    session.rollback()
    person = adult(session, runtime)
    close_person(session, person)
    session.commit()
    with pytest.raises(Conflict) as caught:
        service.record(session, item(person, "analytics", "withdraw"))
    session.rollback()
    assert caught.value.code == "person_closed"
    assert snapshot(session) == before


def test_batch_is_all_or_nothing(session: Session, runtime: Runtime, service: ConsentService) -> None:
    person = adult(session, runtime)
    before = snapshot(session)
    with pytest.raises(NotFound):
        service.record_many(
            session,
            [item(person, "analytics"), item(new_visitor_id(), "analytics"), item("per_" + "c" * 26, "analytics")],
        )
    session.rollback()
    assert snapshot(session) == before


def test_visitor_needs_no_person_row(session: Session, runtime: Runtime, service: ConsentService) -> None:
    visitor = new_visitor_id()
    service.record(session, item(visitor, "analytics", channel=ConsentChannel.BANNER))
    session.commit()
    assert state_for(session, [visitor])[visitor]["analytics"].channel == "banner"


def test_batch_with_repeated_subject_purpose_keeps_the_last(
    session: Session, runtime: Runtime, service: ConsentService
) -> None:
    person = adult(session, runtime)
    results = service.record_many(
        session, [item(person, "analytics"), item(person, "analytics", "withdraw"), item(person, "marketing.email")]
    )
    session.commit()
    assert [r.ledger_position for r in results] == [1, 2, 3]
    state = state_for(session, [person])[person]
    assert state["analytics"].status == "withdrawn" and state["analytics"].ledger_position == 2
    assert state["marketing.email"].status == "granted"


# ------------------------------------------------------------------------------------------------ children


def test_child_grant_needs_guardian_channel_and_adult_guardian(
    session: Session, runtime: Runtime, service: ConsentService
) -> None:
    kid = child(session, runtime)
    parent = adult(session, runtime)
    other_child = child(session, runtime)
    unknown_age = new_person(session, runtime)
    before = snapshot(session)
    attempts = [
        item(kid, "marketing.email"),  # no guardian at all
        item(kid, "marketing.email", guardian_id=parent),  # guardian named but not on the guardian channel
        item(kid, "marketing.email", channel=ConsentChannel.GUARDIAN, guardian_id=other_child),
        item(kid, "marketing.email", channel=ConsentChannel.GUARDIAN, guardian_id=unknown_age),
        item(kid, "marketing.email", channel=ConsentChannel.GUARDIAN, guardian_id="per_" + "z" * 26),
        item(kid, "marketing.email", channel=ConsentChannel.GUARDIAN, guardian_id=kid),
    ]
    for attempt in attempts:
        with pytest.raises(Conflict) as caught:
            service.record(session, attempt)
        session.rollback()
        assert caught.value.code == "child_protection"
    assert snapshot(session) == before
    result = service.record(session, item(kid, "marketing.email", channel=ConsentChannel.GUARDIAN, guardian_id=parent))
    session.commit()
    assert result.status == "granted"
    assert state_for(session, [kid])[kid]["marketing.email"].guardian_id == parent
    assert result.receipt["event"]["entity_id"] == parent
    assert {"party_id": parent, "party_type": "natural person", "party_role": "guardian"} in result.receipt["party"]


@pytest.mark.parametrize("purpose", ["analytics", "personalised_ads"])
def test_barred_purposes_never_granted_for_a_child_even_by_guardian(
    session: Session, runtime: Runtime, service: ConsentService, purpose: str
) -> None:
    kid = child(session, runtime)
    parent = adult(session, runtime)
    before = snapshot(session)
    with pytest.raises(Conflict) as caught:
        service.record(session, item(kid, purpose, channel=ConsentChannel.GUARDIAN, guardian_id=parent))
    session.rollback()
    assert caught.value.code == "child_protection" and "9(3)" in caught.value.detail
    assert snapshot(session) == before


def test_child_can_always_withdraw_or_deny(session: Session, runtime: Runtime, service: ConsentService) -> None:
    kid = child(session, runtime)
    service.record_many(session, [item(kid, "personalised_ads", "deny"), item(kid, "marketing.sms", "withdraw")])
    session.commit()
    assert ledger_length(session) == 2


def test_child_by_date_of_birth_and_coming_of_age(session: Session, runtime: Runtime, service: ConsentService) -> None:
    today = today_utc()
    minor = new_person(session, runtime, date_of_birth=today.replace(year=today.year - 10))
    with pytest.raises(Conflict):
        service.record(session, item(minor, "marketing.email"))
    session.rollback()
    # Came of age yesterday: the stored status still says child, but adult_on has passed.
    grown = new_person(session, runtime, date_of_birth=today.replace(year=today.year - 18) - timedelta(days=1))
    assert service.record(session, item(grown, "marketing.email")).status == "granted"
    session.commit()


def test_coming_of_age_follows_the_policys_calendar_not_utc(
    session: Session, runtime: Runtime, service: ConsentService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An 18th birthday ends childhood on the store's calendar date (as decisions count it), whatever UTC says:
    here the policy's today is two days after UTC's, and the person came of age the day after UTC's today."""
    from fiduciary.policy.compiled import CompiledPolicy

    utc_today = today_utc()
    policy_today = utc_today + timedelta(days=2)
    monkeypatch.setattr(CompiledPolicy, "today", lambda self, now=None: policy_today)
    dob = add_years(utc_today + timedelta(days=1), -18)
    grown = new_person(session, runtime, date_of_birth=dob)
    assert service.record(session, item(grown, "marketing.email")).status == "granted"
    session.commit()
    younger = new_person(session, runtime, date_of_birth=add_years(policy_today + timedelta(days=1), -18))
    with pytest.raises(Conflict) as caught:
        service.record(session, item(younger, "marketing.email"))
    assert caught.value.code == "child_protection"


def test_date_of_birth_not_stored(session: Session, runtime: Runtime) -> None:
    from fiduciary.people.models import Person

    dob = date(2012, 2, 29)
    person_id = new_person(session, runtime, date_of_birth=dob)
    person = session.get(Person, person_id)
    assert person is not None
    assert person.adult_on == date(2030, 3, 1)  # 29 February + 18 years in a common year
    assert person.age_status == "child"
    assert dob not in [getattr(person, c.key) for c in Person.__table__.columns]


# -------------------------------------------------------------------------------------------- idempotency


def test_same_key_same_request_replays_one_event(session: Session, runtime: Runtime, service: ConsentService) -> None:
    person = adult(session, runtime)
    items = [item(person, "marketing.email"), item(person, "analytics", "deny")]
    first = service.record_many(session, items, idempotency_key="key1:abc")
    session.commit()
    second = service.record_many(session, items, idempotency_key="key1:abc")
    session.commit()
    assert ledger_length(session) == 2
    assert [r.as_dict() for r in first] == [r.as_dict() for r in second]
    assert all(r.replayed for r in second) and not any(r.replayed for r in first)
    assert first[0].receipt["evidence"]["request_ref"] is not None


def test_an_expired_idempotency_key_is_a_new_request(
    session: Session, runtime: Runtime, service: ConsentService
) -> None:
    from fiduciary.consent.models import ConsentIdempotency

    person = adult(session, runtime)
    items = [item(person, "marketing.email")]
    first = service.record_many(session, items, idempotency_key="key1:old")
    session.commit()
    stored = session.get(ConsentIdempotency, "key1:old")
    assert stored is not None
    ttl = timedelta(hours=runtime.settings.idempotency_ttl_hours)
    stored.created_at = stored.created_at - ttl + timedelta(minutes=1)  # not yet expired: replays
    session.commit()
    assert all(r.replayed for r in service.record_many(session, items, idempotency_key="key1:old"))
    stored.created_at = stored.created_at - timedelta(minutes=2)  # now past the TTL: recorded anew
    session.commit()
    again = service.record_many(session, [item(person, "marketing.email", "withdraw")], idempotency_key="key1:old")
    session.commit()
    assert not any(r.replayed for r in again) and again[0].status == "withdrawn"
    assert again[0].ledger_position == first[0].ledger_position + 1 and ledger_length(session) == 2


def test_same_key_different_request_is_409(session: Session, runtime: Runtime, service: ConsentService) -> None:
    person = adult(session, runtime)
    service.record(session, item(person, "marketing.email"), idempotency_key="key1:abc")
    session.commit()
    before = snapshot(session)
    with pytest.raises(Conflict) as caught:
        service.record(session, item(person, "marketing.email", "withdraw"), idempotency_key="key1:abc")
    session.rollback()
    assert caught.value.code == "idempotency_key_reused"
    assert snapshot(session) == before


def test_failed_request_does_not_burn_the_key(session: Session, runtime: Runtime, service: ConsentService) -> None:
    person = adult(session, runtime)
    with pytest.raises(ValidationFailed):
        service.record(session, item(person, "nope"), idempotency_key="key1:retry")
    session.rollback()
    service.record(session, item(person, "analytics"), idempotency_key="key1:retry")
    session.commit()
    assert ledger_length(session) == 1


BAD_FIELDS = [
    ("subject_id", {"subject_id": "vis_" + "A" * 26}),
    ("subject_id", {"subject_id": 12345}),
    ("purpose", {"purpose": "marketing.fax"}),
    ("action", {"action": "maybe"}),
    ("channel", {"channel": "carrier_pigeon"}),
    ("channel", {"channel": ["banner"]}),
    ("language", {"language": "EN_us!"}),
    ("language", {"language": ["en"]}),
    ("guardian_id", {"guardian_id": "vis_" + "a" * 26}),
    ("guardian_id", {"channel": ConsentChannel.GUARDIAN}),
    ("channel", {"channel": ConsentChannel.GPC}),
]


@pytest.mark.parametrize(("field", "change"), BAD_FIELDS)
def test_one_bad_field_in_a_large_batch_is_found_and_named(
    session: Session, runtime: Runtime, service: ConsentService, field: str, change: dict[str, Any]
) -> None:
    """The set-wise check that lets a valid batch through quickly must not let one bad field slip by."""
    person = adult(session, runtime)
    items = [
        item(person if i % 2 else new_visitor_id(), "analytics", "withdraw" if i % 3 else "grant") for i in range(40)
    ]
    items[17] = dataclasses.replace(items[17], **{"action": "grant", **change})
    before = snapshot(session)
    with pytest.raises(ValidationFailed) as info:
        service.record_many(session, items)
    assert [p.field for p in info.value.fields] == [f"items[17].{field}"]
    session.rollback()
    assert snapshot(session) == before


@pytest.mark.parametrize("who", ["closed", "child"])
def test_one_closed_or_child_subject_in_a_large_batch_is_refused(
    session: Session, runtime: Runtime, service: ConsentService, who: str
) -> None:
    """The set-wise pass that skips the per-item people checks must not skip a batch holding one such subject."""
    adults = [adult(session, runtime) for _ in range(5)]
    odd = child(session, runtime) if who == "child" else adult(session, runtime)
    if who == "closed":
        close_person(session, odd)
    session.commit()
    items = [item(adults[i % 5] if i % 2 else new_visitor_id(), "analytics") for i in range(30)]
    items[13] = item(odd, "analytics")
    before = snapshot(session)
    with pytest.raises(Conflict) as caught:
        service.record_many(session, items)
    session.rollback()
    assert caught.value.code == ("person_closed" if who == "closed" else "child_protection")
    assert caught.value.fields[0].field.startswith("items[13].")
    assert snapshot(session) == before
