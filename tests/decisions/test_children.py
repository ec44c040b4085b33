"""Children and guardians as the law says (DPDP s.2(f), s.9(1)-(5), Rules 10-12; CCPA 1798.120(c)).

Through the real services and HTTP API on SQLite and PostgreSQL: a guardian's consent before any processing,
a store that serves no children (the membership seed's example policy), the edges of coming of age in the
policy's time zone, bad guardians, an erased guardian, a person declared a child later, unknown ages.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from children_support import us_only, variant
from consent_support import adult, api_headers, child, item, ledger_length, snapshot
from fiduciary.config import Settings
from fiduciary.consent.guardians import grant_for_account
from fiduciary.consent.service import ConsentChannel, ConsentService
from fiduciary.decisions.audiences import eligible_people
from fiduciary.decisions.engine import ConsentFact, Reason, SubjectFacts, decide
from fiduciary.decisions.service import DecisionService
from fiduciary.errors import Conflict
from fiduciary.people.models import Person
from fiduciary.people.service import add_years, create_person, redeclare_age
from fiduciary.personal_data.registry import registry_for
from fiduciary.policy.schema import UnknownAge
from fiduciary.runtime import Runtime

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "policies"
ACTOR = "job:children-test"


def guardian_grant(subject: str, purpose: str, guardian: str, action: str = "grant") -> object:
    return item(subject, purpose, action, channel=ConsentChannel.GUARDIAN, guardian_id=guardian)


# ------------------------------------------------------------------------- guardian before any processing


def test_a_child_account_runs_only_on_a_guardians_consent(session: Session, runtime: Runtime) -> None:
    """DPDP s.9(1): contract purposes too; one event per purpose, on the ledger with the guardian's id."""
    kid, parent = child(session, runtime), adult(session, runtime)
    service = DecisionService(runtime)
    for purpose in ("account", "order_fulfilment", "tax_compliance"):
        assert service.decide(session, ACTOR, kid, purpose).reasons == (Reason.GUARDIAN_CONSENT_REQUIRED,)
    before = ledger_length(session)
    results = grant_for_account(ConsentService.for_runtime(runtime), session, kid, parent)
    session.commit()
    assert ledger_length(session) == before + len(results)
    assert {r.purpose for r in results} >= {"account", "order_fulfilment", "tax_compliance"}
    assert all(r.receipt["party"] and r.status == "granted" for r in results)
    for purpose in ("account", "order_fulfilment", "tax_compliance"):
        assert service.decide(session, ACTOR, kid, purpose).allow, purpose
    # a consent purpose is still the guardian's separate choice
    assert Reason.GUARDIAN_CONSENT_REQUIRED in service.decide(session, ACTOR, kid, "marketing.email").reasons
    # the guardian withdraws: the account stops at once
    grant_for_account(ConsentService.for_runtime(runtime), session, kid, parent, action="withdraw")
    session.commit()
    assert service.decide(session, ACTOR, kid, "account").reasons == (Reason.GUARDIAN_CONSENT_REQUIRED,)


def test_guardian_consent_over_http(client: TestClient, session: Session, runtime: Runtime) -> None:
    headers = api_headers(session)
    kid = client.post("/v1/people", json={"is_child": True}, headers=headers).json()["id"]
    parent = client.post("/v1/people", json={"is_child": False}, headers=headers).json()["id"]
    answer = client.post(f"/v1/people/{kid}/guardian-consent", json={"guardian_id": parent}, headers=headers)
    assert answer.status_code == 201, answer.text
    assert "account" in answer.json()["purposes"]
    # the child cannot consent to its own account, nor be its own guardian
    own = client.post(f"/v1/people/{kid}/guardian-consent", json={"guardian_id": kid}, headers=headers)
    assert (own.status_code, own.json()["code"]) == (409, "child_protection")
    assert own.json()["errors"][0]["field"] == "body.guardian_id"
    direct = client.post(
        "/v1/consents",
        json={"subject_id": kid, "channel": "api", "actions": [{"purpose": "account", "action": "grant"}]},
        headers=headers,
    )
    assert (direct.status_code, direct.json()["code"]) == (409, "child_protection")


def test_an_adult_still_cannot_consent_to_a_contract_purpose(session: Session, runtime: Runtime) -> None:
    grown, parent = adult(session, runtime), adult(session, runtime)
    with pytest.raises(Conflict) as raised:
        ConsentService.for_runtime(runtime).record(session, guardian_grant(grown, "account", parent))  # type: ignore[arg-type]
    assert raised.value.code == "purpose_not_consent_based"


def test_a_guardian_who_is_a_child_is_refused(session: Session, runtime: Runtime) -> None:
    kid, other_kid = child(session, runtime), child(session, runtime)
    before = snapshot(session)
    with pytest.raises(Conflict) as raised:
        ConsentService.for_runtime(runtime).record(session, guardian_grant(kid, "marketing.email", other_kid))  # type: ignore[arg-type]
    assert raised.value.code == "child_protection"
    session.rollback()
    assert snapshot(session) == before


@pytest.mark.parametrize("purpose", ["analytics", "personalised_ads"])
def test_a_guardian_grant_for_a_barred_purpose_is_refused(session: Session, runtime: Runtime, purpose: str) -> None:
    """DPDP s.9(3): tracking and targeted ads (personalised_ads is also a sale/sharing) whatever the consent."""
    kid, parent = child(session, runtime), adult(session, runtime)
    with pytest.raises(Conflict) as raised:
        ConsentService.for_runtime(runtime).record(session, guardian_grant(kid, purpose, parent))  # type: ignore[arg-type]
    assert raised.value.code == "child_protection"


def test_a_childs_guardian_erased(session: Session, runtime: Runtime) -> None:
    """The grant the guardian gave stays the child's (proof under s.6(10)); the erased guardian gives no more."""
    kid, parent = child(session, runtime), adult(session, runtime)
    service = ConsentService.for_runtime(runtime)
    service.record(session, guardian_grant(kid, "marketing.email", parent))  # type: ignore[arg-type]
    session.commit()
    registry_for(runtime).erase_person(session, parent)
    session.commit()
    assert DecisionService(runtime).decide(session, ACTOR, kid, "marketing.email").allow
    with pytest.raises(Conflict) as raised:
        service.record(session, guardian_grant(kid, "marketing.sms", parent))  # type: ignore[arg-type]
    assert raised.value.code == "child_protection"


# -------------------------------------------------------------------------------------- coming of age


@pytest.mark.parametrize(("days_before", "is_child"), [(0, False), (1, True)])
def test_the_18th_birthday_in_the_policy_time_zone(
    session: Session, runtime: Runtime, days_before: int, is_child: bool
) -> None:
    """Born 2 March 2008: an adult from 2 March 2026 in India, which begins at 2026-03-01T18:30Z."""
    policy = runtime.policy()
    today = policy.today(datetime(2026, 3, 1, 18, 30, tzinfo=UTC))
    assert today == date(2026, 3, 2)
    born = date(2008, 3, 2 + days_before)  # 18 today, or 18 tomorrow
    person = create_person(session, policy=policy, date_of_birth=born, today=today)
    session.commit()
    assert person.age_status == ("child" if is_child else "adult")
    service = DecisionService(runtime, clock=lambda: datetime(2026, 3, 1, 18, 30, tzinfo=UTC))
    expected = (Reason.GUARDIAN_CONSENT_REQUIRED,) if is_child else (Reason.LEGAL_GROUND,)
    assert service.decide(session, ACTOR, person.id, "account").reasons == expected
    # the one who is 18 tomorrow (3 March in India) is an adult from 2 March 18:30 UTC on
    tomorrow = DecisionService(runtime, clock=lambda: datetime(2026, 3, 2, 18, 30, tzinfo=UTC))
    assert tomorrow.decide(session, ACTOR, person.id, "account").allow


def test_declared_a_child_later_stops_processing_and_leaves_audiences(session: Session, runtime: Runtime) -> None:
    policy = runtime.policy()
    pid = adult(session, runtime)
    ConsentService.for_runtime(runtime).record(session, item(pid, "marketing.email"))
    session.commit()
    cp = policy.compiled_purposes["marketing.email"]

    def audience() -> list[str]:
        return [i for c in eligible_people(session, cp, today=policy.today(), policy=policy) for i in c]

    assert pid in audience() and DecisionService(runtime).decide(session, ACTOR, pid, "order_fulfilment").allow
    person = session.get_one(Person, pid)
    assert not redeclare_age(session, person, policy=policy, is_child=True)  # this store serves children
    session.commit()
    assert pid not in audience()
    service = DecisionService(runtime)
    assert Reason.GUARDIAN_CONSENT_REQUIRED in service.decide(session, ACTOR, pid, "marketing.email").reasons
    assert service.decide(session, ACTOR, pid, "order_fulfilment").reasons == (Reason.GUARDIAN_CONSENT_REQUIRED,)


# ------------------------------------------------------------------------------------------ unknown age


def test_unknown_age_ask_is_the_default_under_indian_law(session: Session, runtime: Runtime) -> None:
    policy = runtime.policy()
    assert policy.unknown_age is UnknownAge.ASK
    pid = create_person(session, policy=policy).id
    ConsentService.for_runtime(runtime).record(session, item(pid, "marketing.email"))
    session.commit()
    service = DecisionService(runtime)
    assert service.decide(session, ACTOR, pid, "marketing.email").reasons == (Reason.AGE_UNKNOWN,)
    assert service.decide(session, ACTOR, pid, "account").allow  # contract purposes run
    redeclare_age(session, session.get_one(Person, pid), policy=policy, is_child=False)
    session.commit()
    assert service.decide(session, ACTOR, pid, "marketing.email").allow


@pytest.mark.parametrize(
    ("mode", "marketing", "account"),
    [
        (UnknownAge.ASK, (Reason.AGE_UNKNOWN,), (Reason.LEGAL_GROUND,)),
        (UnknownAge.TREAT_AS_ADULT, (Reason.CONSENT_GIVEN,), (Reason.LEGAL_GROUND,)),
        (UnknownAge.TREAT_AS_CHILD, (Reason.GUARDIAN_CONSENT_REQUIRED,), (Reason.GUARDIAN_CONSENT_REQUIRED,)),
    ],
)
def test_unknown_age_modes(
    runtime: Runtime, mode: UnknownAge, marketing: tuple[Reason, ...], account: tuple[Reason, ...]
) -> None:
    policy = variant(runtime.policy().document, unknown_age=mode)
    facts = SubjectFacts("per_u", age_status="unknown", consents={"marketing.email": ConsentFact("granted", 3)})
    today = date(2027, 6, 1)
    assert decide(policy, facts, "marketing.email", (), floors={}, today=today).reasons == marketing
    assert decide(policy, facts, "account", (), floors={}, today=today).reasons == account


def test_unknown_age_defaults_to_adult_outside_india(runtime: Runtime) -> None:
    assert us_only(runtime.policy().document).unknown_age is UnknownAge.TREAT_AS_ADULT


# ---------------------------------------------------------------------------------- sale under 16 (CCPA)


def test_a_sale_for_someone_under_16_needs_their_opt_in(runtime: Runtime) -> None:
    """California-only store, minimum age 13: a 14-year-old is not a child but a sale needs an opt-in."""
    policy = us_only(runtime.policy().document)
    today = date(2027, 6, 1)
    fourteen = add_years(add_years(today, -14), policy.child_age)  # adult_on of someone 14 today
    minor = SubjectFacts("per_m", age_status="adult", adult_on=fourteen)
    sale = "partner_offers" if "partner_offers" in policy.purposes else "personalised_ads"
    assert policy.compiled_purposes[sale].sale_or_sharing
    d = decide(policy, minor, sale, (), floors={}, today=today)
    assert Reason.SALE_OPT_IN_REQUIRED in d.reasons and not d.allow
    opted = SubjectFacts("per_m", age_status="adult", adult_on=fourteen, consents={sale: ConsentFact("granted", 3)})
    assert decide(policy, opted, sale, (), floors={}, today=today).allow
    sixteen = SubjectFacts("per_s", age_status="adult", adult_on=add_years(add_years(today, -16), policy.child_age))
    assert Reason.SALE_OPT_IN_REQUIRED not in decide(policy, sixteen, sale, (), floors={}, today=today).reasons


def test_a_sale_is_barred_for_a_child_where_dpdp_applies(runtime: Runtime) -> None:
    policy = runtime.policy()
    sale = [pid for pid, cp in policy.compiled_purposes.items() if cp.sale_or_sharing]
    assert sale and all(policy.compiled_purposes[p].barred_for_children for p in sale)


# -------------------------------------------------------------------------- a store that serves no children


@pytest.fixture
def membership(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    """The example policy of the seed store that admits no one under 18 (children.guardian_consent: false)."""
    settings = Settings(
        database_url=database_url, data_dir=tmp_path / "data", policy_file=EXAMPLES / "02_membership_shop.yaml"
    )
    rt = Runtime.start(settings, migrate=False)
    try:
        yield rt
    finally:
        rt.close()


@pytest.fixture
def membership_client(membership: Runtime) -> Iterator[TestClient]:
    from fiduciary.web.app import create_app

    with TestClient(create_app(runtime=membership)) as c:
        yield c


def test_no_children_a_child_is_refused_at_collection(membership: Runtime, membership_client: TestClient) -> None:
    assert not membership.policy().guardian_consent
    with membership.sessions() as session:
        headers = api_headers(session)
        before = snapshot(session)
    for body, field in (({"is_child": True}, "body.is_child"), ({"date_of_birth": "2015-01-01"}, "body.date_of_birth")):
        answer = membership_client.post("/v1/people", json=body, headers=headers)
        assert (answer.status_code, answer.json()["code"]) == (409, "children_not_served"), answer.text
        assert answer.json()["errors"][0]["field"] == field
        echoed = {k: v for k, v in answer.json().items() if k != "instance"}  # the request id is random hex
        assert "2015" not in str(echoed)
    with membership.sessions() as session:
        assert snapshot(session) == before


def test_no_children_a_false_age_found_later_closes_the_account(
    membership: Runtime, membership_client: TestClient
) -> None:
    with membership.sessions() as session:
        headers = api_headers(session)
    pid = membership_client.post("/v1/people", json={"is_child": False}, headers=headers).json()["id"]
    answer = membership_client.post(f"/v1/people/{pid}/age", json={"is_child": True}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["status"], answer.json()["age_status"]) == ("closed", "child")


def test_no_children_every_decision_denies_and_no_guardian_grant_is_taken(membership: Runtime) -> None:
    """On the example policy: three contract purposes and a consent purpose, a guardian's grant refused."""
    policy = membership.policy()
    with membership.sessions() as session:
        parent = create_person(session, policy=policy, is_child=False).id
        kid = create_person(session, policy=policy, is_child=False)
        kid.age_status = "child"  # declared a child by a path that bypasses collection (e.g. an old row)
        session.commit()
        contract = [p for p, cp in policy.compiled_purposes.items() if cp.legal_ground.value == "contract"][:3]
        consent = sorted(policy.consent_purposes)[0]
        service = DecisionService(membership)
        for purpose in [*contract, consent]:
            d = service.decide(session, ACTOR, kid.id, purpose)
            assert not d.allow and Reason.CHILDREN_NOT_SERVED in d.reasons, purpose
        for purpose in [consent, contract[0]]:
            with pytest.raises(Conflict) as raised:
                ConsentService.for_runtime(membership).record(session, guardian_grant(kid.id, purpose, parent))  # type: ignore[arg-type]
            assert raised.value.code == "children_not_served"
            session.rollback()


# ------------------------------------------------------------ lawful guardians (disability, DPDP Rule 11)


def test_a_lawful_guardian_consents_once_staff_verified_the_order(
    client: TestClient, session: Session, runtime: Runtime
) -> None:
    headers = api_headers(session)
    ward = client.post("/v1/people", json={"is_child": False}, headers=headers).json()["id"]
    guardian = client.post("/v1/people", json={"is_child": False}, headers=headers).json()["id"]
    stranger = client.post("/v1/people", json={"is_child": False}, headers=headers).json()["id"]
    ConsentService.for_runtime(runtime).record(session, item(ward, "marketing.email"))
    session.commit()
    service = DecisionService(runtime)
    assert service.decide(session, ACTOR, ward, "marketing.email").allow  # the person's own choice, for now
    body = {"guardian_id": guardian, "order_reference": "District Court Pune G.P. 12/2026"}
    pending = client.post(f"/v1/people/{ward}/guardianship", json=body, headers=headers)
    assert pending.json()["guardianship"] == "pending", pending.text
    assert service.decide(session, ACTOR, ward, "marketing.email").allow  # not in force before verification
    verified = client.post(f"/v1/people/{ward}/guardianship/verify", json={"verified_by": "staff:dpo"}, headers=headers)
    assert verified.json()["guardianship"] == "verified"
    session.expire_all()
    for purpose in ("marketing.email", "account"):
        assert service.decide(session, ACTOR, ward, purpose).reasons[0] is Reason.GUARDIAN_CONSENT_REQUIRED
    # the ward's own grant, and a grant by someone else, are refused; the lawful guardian's counts
    for guardian_id, channel in ((None, "api"), (stranger, "guardian")):
        answer = client.post(
            "/v1/consents",
            json={
                "subject_id": ward,
                "channel": channel,
                **({"guardian_id": guardian_id} if guardian_id else {}),
                "actions": [{"purpose": "marketing.email", "action": "grant"}],
            },
            headers=headers,
        )
        assert (answer.status_code, answer.json()["code"]) == (409, "guardian_consent_required"), answer.text
    ok = client.post(f"/v1/people/{ward}/guardian-consent", json={"guardian_id": guardian}, headers=headers)
    assert ok.status_code == 201, ok.text
    assert service.decide(session, ACTOR, ward, "account").allow
    policy = runtime.policy()
    cp = policy.compiled_purposes["account"]
    assert ward in [i for c in eligible_people(session, cp, today=policy.today(), policy=policy) for i in c]
    # tracking is not barred for an adult ward (s.9(3) is about children), but needs the guardian's grant
    assert service.decide(session, ACTOR, ward, "analytics").reasons[0] is Reason.GUARDIAN_CONSENT_REQUIRED


def test_a_guardianship_with_bad_input_changes_nothing(client: TestClient, session: Session) -> None:
    headers = api_headers(session)
    ward = client.post("/v1/people", json={"is_child": False}, headers=headers).json()["id"]
    kid = client.post("/v1/people", json={"is_child": True}, headers=headers).json()["id"]
    before = snapshot(session)
    bad_order = client.post(
        f"/v1/people/{ward}/guardianship", json={"guardian_id": kid, "order_reference": "x\ny"}, headers=headers
    )
    assert (bad_order.status_code, bad_order.json()["errors"][0]["field"]) == (422, "body.order_reference")
    child_guardian = client.post(
        f"/v1/people/{ward}/guardianship", json={"guardian_id": kid, "order_reference": "Order 1/2026"}, headers=headers
    )
    assert (child_guardian.status_code, child_guardian.json()["code"]) == (409, "guardian_not_adult")
    unverifiable = client.post(
        f"/v1/people/{ward}/guardianship/verify", json={"verified_by": "staff:a"}, headers=headers
    )
    assert (unverifiable.status_code, unverifiable.json()["code"]) == (409, "no_guardianship")
    session.expire_all()
    assert snapshot(session) == before


def test_a_banner_grant_is_not_copied_onto_a_ward_at_sign_in(
    client: TestClient, session: Session, runtime: Runtime
) -> None:
    """Linking a visitor: as for a child, a grant is the lawful guardian's to give (DPDP Rule 11)."""
    headers = api_headers(session)
    ward = client.post("/v1/people", json={"is_child": False}, headers=headers).json()["id"]
    guardian = client.post("/v1/people", json={"is_child": False}, headers=headers).json()["id"]
    body = {"guardian_id": guardian, "order_reference": "Local Level Committee Pune 7/2026"}
    assert client.post(f"/v1/people/{ward}/guardianship", json=body, headers=headers).status_code == 200
    verify = client.post(f"/v1/people/{ward}/guardianship/verify", json={"verified_by": "staff:dpo"}, headers=headers)
    assert verify.status_code == 200
    banner = client.post(
        "/v1/banner/consents",
        json={"actions": [{"purpose": "analytics", "action": "grant"}]},
        headers={"Origin": "http://127.0.0.1:8000"},
    )
    assert banner.status_code == 201, banner.text
    visitor = banner.json()["visitor_id"]
    linked = client.post(f"/v1/people/{ward}/link-visitor", json={"visitor_id": visitor}, headers=headers)
    assert linked.status_code == 200, linked.text
    assert linked.json()["copied_purposes"] == []


def test_marking_a_purpose_part_b_is_a_material_change(runtime: Runtime) -> None:
    from fiduciary.policy.diff import diff_policies

    old = runtime.policy().document
    data = old.model_dump(mode="json")
    for purpose in data["purposes"]:
        if purpose["id"] == "account":
            purpose["children_exemption"] = "email_only_account"
    new = type(old).model_validate(data)
    changes = [c for c in diff_policies(old, new) if c.path.endswith("children_exemption")]
    assert len(changes) == 1 and changes[0].material


def test_policy_check_refuses_a_false_part_b_purpose_with_file_and_line(tmp_path: Path) -> None:
    """Marking order fulfilment as Fourth Schedule Part B would let a child's orders run without a parent."""
    from typer.testing import CliRunner

    from fiduciary.cli.main import app
    from fiduciary.config import DEMO_POLICY_PATH

    text = DEMO_POLICY_PATH.read_text(encoding="utf-8").replace(
        "    legal_ground: contract\n    required_for_service: true\n",
        "    legal_ground: contract\n    required_for_service: true\n    children_exemption: confirm_not_child\n",
        1,
    )
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    line = next(i for i, t in enumerate(text.splitlines(), start=1) if "children_exemption" in t)
    result = CliRunner().invoke(app, ["policy", "check", str(path)])
    assert result.exit_code == 1
    errors = [out for out in result.output.splitlines() if "children_exemption" in out or "Part B" in out]
    assert errors and all(out.startswith(f"{path}:{line}:") for out in errors), result.output
