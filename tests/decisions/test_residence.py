"""A person's recorded residence (issue 12 item 1): decisions apply that jurisdiction's ground and age band.

The policy serves India (a child under 18, DPDP s.2(f)), the EU (16, GDPR Art 8(1)), the UK (13) and
California (13, with CCPA's sale opt-in under 16 and a parent's under 13: Civ. Code 1798.120(c)); the
policy-wide ages stay 18 and apply to anyone whose residence is unknown (tests/jurisdictions_support.py).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from audit_support import audit_rows
from fiduciary.auth.service import create_api_key
from fiduciary.consent.restrictions import add_restriction
from fiduciary.consent.service import ConsentChannel, ConsentInput, ConsentService
from fiduciary.decisions.service import DecisionService
from fiduciary.errors import Conflict, ValidationFailed
from fiduciary.people.models import Person
from fiduciary.people.rights import erase_people, export_people
from fiduciary.people.service import create_person, record_residence, redeclare_age
from fiduciary.policy import versions
from fiduciary.policy.ages import AgeRules, add_years, child_cutoff
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.schema import Jurisdiction, PolicyDocument
from fiduciary.runtime import Runtime
from jurisdictions_support import DEMO, three_jurisdictions_document

RECS = "recommendations"  # consent in India, legitimate interests in the EU and UK
EMAIL = "marketing.email"  # consent everywhere
ADS = "personalised_ads"  # targeted advertising and a sale or sharing


@pytest.fixture
def three(runtime: Runtime, session: Session) -> Runtime:
    versions.publish(session, three_jurisdictions_document(), "# three jurisdictions (test)\n")
    session.commit()
    return runtime


def clock(day: date) -> datetime:
    """Noon in India on `day` (the policy's calendar is Asia/Kolkata)."""
    return datetime(day.year, day.month, day.day, 6, 30, tzinfo=UTC)


def person_born(session: Session, runtime: Runtime, born: date, today: date, where: str | None) -> str:
    pid = create_person(session, policy=runtime.policy(), date_of_birth=born, today=today, jurisdiction=where).id
    session.commit()
    return pid


# ------------------------------------------------------------------------------------------ the ages


@given(
    adult_on=st.dates(min_value=date(1990, 1, 1), max_value=date(2060, 12, 31)),
    today=st.dates(min_value=date(1990, 1, 1), max_value=date(2060, 12, 31)),
    years=st.integers(min_value=0, max_value=8),
)
def test_the_cutoff_is_the_band_birthday_rule(adult_on: date, today: date, years: int) -> None:
    """`adult_on > cutoff` (what the audience SQL compares) is exactly "the band's birthday is after today"."""
    assert (adult_on > child_cutoff(today, years)) == (add_years(adult_on, -years) > today)


def test_a_29_february_birthday_is_never_an_adult_a_day_early() -> None:
    """adult_on 1 March 2026 is the 18th birthday of someone born on 29 February or on 1 March 2008; the EU
    band (16) then counts from 1 March 2024, the later of the two 16th birthdays."""
    eu = AgeRules.of(18, 16, None, None)
    adult_on = add_years(date(2008, 2, 29), 18)
    assert adult_on == date(2026, 3, 1)
    assert eu.is_child("child", adult_on, date(2024, 2, 29))
    assert not eu.is_child("child", adult_on, date(2024, 3, 1))


def test_compiled_policy_has_a_band_per_jurisdiction() -> None:
    policy = CompiledPolicy.build(three_jurisdictions_document(), "sha256:three")
    assert policy.default_ages.child_age == 18 and not policy.default_ages.sale_rule
    assert policy.ages_for(Jurisdiction.EU).years_earlier == 2
    california = policy.ages_for(Jurisdiction.US_CA)
    assert (california.child_age, california.sale_rule, california.sale_parent_age) == (13, True, 13)
    assert policy.ages_for(None) is policy.default_ages
    assert policy.residence("EU") is Jurisdiction.EU
    assert policy.residence("FR") is None and policy.residence(None) is None


# ---------------------------------------------------------------------------------------- decisions


@pytest.mark.parametrize("where", ["EU", None, "IN"])
def test_the_16th_birthday_in_the_eu_in_the_policy_time_zone(
    three: Runtime, session: Session, where: str | None
) -> None:
    """A 16-year-old living in the EU consents for themselves (GDPR Art 8(1)); living in India or nowhere
    recorded they are a child until 18 (DPDP s.2(f)) and need a guardian's grant."""
    born = date(2010, 6, 15)
    sixteenth = date(2026, 6, 15)
    # The person's own grant, given before the date of birth was declared (as in "late_child" of the
    # audience agreement test): from then on the age decides whether that grant can count.
    pid = create_person(session, policy=three.policy(), is_child=False, jurisdiction=where).id
    ConsentService.for_runtime(three).record_many(session, [ConsentInput(pid, EMAIL, "grant", ConsentChannel.API)])
    redeclare_age(session, session.get_one(Person, pid), policy=three.policy(), date_of_birth=born, today=sixteenth)
    session.commit()
    for day, eu_adult in ((sixteenth - timedelta(days=1), False), (sixteenth, True)):
        service = DecisionService(three, clock=lambda day=day: clock(day))
        decision = service.prepare(session, [pid]).decide(pid, EMAIL)
        adult_here = eu_adult and where == "EU"
        assert decision.allow is adult_here, (day, where, decision.reasons)
        if not adult_here:
            assert decision.reasons == ("guardian_consent_required",)
    # 23:59 in Kolkata on the eve of the birthday is 18:29 UTC: still the eve in the store's calendar
    eve = datetime(2026, 6, 14, 18, 29, tzinfo=UTC)
    assert not DecisionService(three, clock=lambda: eve).prepare(session, [pid]).decide(pid, EMAIL).allow


def test_a_californian_minor_is_asked_to_opt_in_to_a_sale_not_barred_as_a_child(
    three: Runtime, session: Session
) -> None:
    today = date(2026, 12, 4)
    service = DecisionService(three, clock=lambda: clock(today))
    fourteen = person_born(session, three, date(2012, 1, 10), today, "US-CA")
    unknown = person_born(session, three, date(2012, 1, 10), today, None)
    ctx = service.prepare(session, [fourteen, unknown])
    # Barred for a child where Indian law applies to the processing (DPDP s.9(3)): a 14-year-old is a child
    # in California only under 13, so the opt-in rule applies, and the ads' own consent besides.
    assert ctx.decide(fourteen, ADS).reasons == ("sale_opt_in_required", "no_consent")
    assert ctx.decide(unknown, ADS).reasons == ("child_protection", "no_consent")


def test_the_recorded_residence_chooses_the_ground_and_the_request_overrides_it(
    three: Runtime, session: Session
) -> None:
    eu = create_person(session, policy=three.policy(), is_child=False, jurisdiction="EU").id
    india = create_person(session, policy=three.policy(), is_child=False, jurisdiction="IN").id
    session.commit()
    ctx = DecisionService(three).prepare(session, [eu, india])
    assert ctx.decide(eu, RECS).reasons == ("legal_ground",)  # GDPR Art 6(1)(f)
    assert ctx.decide(india, RECS).reasons == ("no_consent",)  # DPDP s.6
    assert ctx.decide(eu, RECS, jurisdiction=Jurisdiction.IN).reasons == ("no_consent",)


def test_a_residence_the_policy_no_longer_serves_decides_as_unknown(three: Runtime, session: Session) -> None:
    eu = create_person(session, policy=three.policy(), is_child=False, jurisdiction="EU").id
    session.commit()
    india_only = CompiledPolicy.build(PolicyDocument.model_validate(DEMO), "sha256:demo")
    assert india_only.document.controller.jurisdictions == [Jurisdiction.IN]
    facts = DecisionService(three).load_facts(session, [eu], india_only)
    assert facts[eu].jurisdiction is None


# ----------------------------------------------------------------------------------- consent and objection


def test_consent_follows_the_band_of_where_the_person_lives(three: Runtime, session: Session) -> None:
    today = three.policy().today()
    born = add_years(today, -17)
    eu = person_born(session, three, born, today, "EU")
    india = person_born(session, three, born, today, "IN")
    service = ConsentService.for_runtime(three)
    service.record_many(session, [ConsentInput(eu, EMAIL, "grant", ConsentChannel.API)])
    session.commit()
    with pytest.raises(Conflict) as refused:
        service.record_many(session, [ConsentInput(india, EMAIL, "grant", ConsentChannel.API)])
    assert refused.value.code == "child_protection"
    session.rollback()


def test_an_objection_follows_the_ground_of_where_the_person_lives(three: Runtime, session: Session) -> None:
    eu = create_person(session, policy=three.policy(), is_child=False, jurisdiction="EU").id
    india = create_person(session, policy=three.policy(), is_child=False, jurisdiction="IN").id
    session.commit()
    _, created = add_restriction(session, three.policy(), eu, purpose=RECS, kind="objection")  # GDPR Art 21
    assert created
    with pytest.raises(Conflict) as refused:
        add_restriction(session, three.policy(), india, purpose=RECS, kind="objection")
    assert refused.value.code == "purpose_is_consent_based"  # in India: withdraw the consent instead
    session.commit()
    assert not DecisionService(three).prepare(session, [eu]).decide(eu, RECS).allow


# ------------------------------------------------------------------------------------- people and rights


def test_residence_is_validated_recorded_exported_and_erased(three: Runtime, session: Session) -> None:
    person = create_person(session, policy=three.policy(), is_child=False)
    with pytest.raises(ValidationFailed) as refused:
        record_residence(session, three.policy(), person, "FR")
    assert [f.field for f in refused.value.fields] == ["body.jurisdiction"]
    assert person.jurisdiction is None
    assert record_residence(session, three.policy(), person, "UK")
    assert not record_residence(session, three.policy(), person, "UK")
    session.commit()
    assert export_people(session, person.id)["jurisdiction"] == "UK"
    erase_people(session, person.id)
    session.commit()
    assert session.get_one(Person, person.id).jurisdiction is None


@pytest.fixture
def people_key(session: Session) -> dict[str, str]:
    _, plaintext = create_api_key(session, "residence-tests", ["people:write", "people:read"])
    session.commit()
    return {"Authorization": f"Bearer {plaintext}"}


def test_the_api_records_residence_and_audits_the_change_without_its_value(
    three: Runtime, session: Session, client: TestClient, people_key: dict[str, str]
) -> None:
    created = client.post("/v1/people", json={"is_child": False, "jurisdiction": "EU"}, headers=people_key)
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    assert created.json()["jurisdiction"] == "EU"
    moved = client.put(f"/v1/people/{pid}/jurisdiction", json={"jurisdiction": "US-CA"}, headers=people_key)
    assert moved.status_code == 200 and moved.json()["jurisdiction"] == "US-CA"
    cleared = client.put(f"/v1/people/{pid}/jurisdiction", json={"jurisdiction": None}, headers=people_key)
    assert cleared.json()["jurisdiction"] is None
    updates = [r for r in audit_rows(session) if r["action"] == "person.update"]
    assert len(updates) == 2 and all(r["person_id"] == pid for r in updates)
    assert all('"target":"jurisdiction"' in r["payload"].replace(" ", "") for r in updates)
    assert not any("US-CA" in r["payload"] or "EU" in r["payload"] for r in updates)


@pytest.mark.parametrize("value", ["FR", "eu", 5])
def test_the_api_refuses_an_unknown_residence_and_creates_nobody(
    three: Runtime, session: Session, client: TestClient, people_key: dict[str, str], value: object
) -> None:
    before = session.scalar(select(func.count()).select_from(Person))
    answer = client.post("/v1/people", json={"jurisdiction": value}, headers=people_key)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert any("jurisdiction" in str(e.get("field", e.get("loc", ""))) for e in answer.json()["errors"])
    assert session.scalar(select(func.count()).select_from(Person)) == before


def test_a_residence_the_policy_does_not_serve_is_refused(
    runtime: Runtime, session: Session, client: TestClient, people_key: dict[str, str]
) -> None:
    """The demo policy serves India only."""
    answer = client.post("/v1/people", json={"jurisdiction": "EU"}, headers=people_key)
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == ["body.jurisdiction"]
