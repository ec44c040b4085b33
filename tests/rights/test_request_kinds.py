"""Each kind of rights request end to end, against real databases: what it changes (decisions, the consent
ledger, the vault, the account), and the bad parameters refused at receipt, naming the field and changing
nothing."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.audit.models import AuditEventIndex
from fiduciary.config import Settings
from fiduciary.consent.service import ConsentChannel, ConsentInput, ConsentService, state_for
from fiduciary.decisions.engine import Reason
from fiduciary.decisions.service import DecisionService
from fiduciary.disclosures.log import LogEntry, References, new_disclosure_id, write_log
from fiduciary.errors import Conflict, FiduciaryError, ValidationFailed
from fiduciary.identity.sessions import SessionRefused, authenticate, open_session
from fiduciary.ledger.models import LedgerEvent
from fiduciary.people.models import Person
from fiduciary.people.service import CLOSED
from fiduciary.rights import request_flows as flows
from fiduciary.rights.models import RightsRequest
from fiduciary.rights.nomination import nominees_of
from fiduciary.rights.requests import MadeBy, NewRequest, get_request
from fiduciary.rights.states import State
from fiduciary.runtime import Runtime
from fiduciary.storage.base import utcnow
from fiduciary.unit_of_work import unit_of_work
from fiduciary.vault.service import VaultService
from requests_support import T0, messages, person_with_email, policy_with_rights

ACTOR = "key_backend"
_RIGHT = {
    "identifiers": ["email", "phone"],
    "verification": ["signed_in_session", "email_otp"],
    "channels": ["privacy_center", "email"],
}
# The kinds the demo policy does not offer, as a store serving the EU and California would declare them.
EXTRA = [
    {"kind": "restriction", "deadline": {"respond_within": "30d"}, **_RIGHT},
    {"kind": "objection", "deadline": {"respond_within": "30d"}, **_RIGHT},
    {
        "kind": "deactivation",
        "deadline": {"respond_within": "30d"},
        "waiting_period": "7d",
        "keep_after_deactivation": "30d",
        **_RIGHT,
    },
    {
        "kind": "opt_out_sale_sharing",
        "deadline": {"respond_within": "15 business days"},
        "identifiers": ["email", "phone"],
        "verification": ["none"],
        "channels": ["privacy_center", "email"],
    },
]


@pytest.fixture
def settings(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Settings:
    """The demo policy with the EXTRA rights; a test may pass other deactivation options (indirect)."""
    extra = copy.deepcopy(EXTRA)
    deactivation = next(r for r in extra if r["kind"] == "deactivation")
    for option, value in getattr(request, "param", {}).items():
        deactivation.pop(option, None)
        if value is not None:
            deactivation[option] = value
    policy = policy_with_rights(tmp_path, {}, extra)
    return Settings(database_url=database_url, data_dir=tmp_path / "data", policy_file=policy)


def submit(
    runtime: Runtime, session: Session, kind: str, person: str, *, commit: bool = True, **kw: Any
) -> RightsRequest:
    fields: dict[str, Any] = {"made_by": MadeBy.STORE, "channel": "privacy_center", "verified_by": "signed_in_session"}
    fields.update(kw)
    row = flows.submit(runtime, session, NewRequest(kind=kind, person_id=person, **fields), actor=ACTOR, now=T0)
    if commit:
        session.commit()
    return get_request(session, row.id)


def refused(runtime: Runtime, session: Session, kind: str, person: str, **kw: Any) -> FiduciaryError:
    """The refusal of a request, after checking it left no request behind."""
    count = sa.select(sa.func.count()).select_from(RightsRequest)
    before = session.scalar(count)
    with pytest.raises(FiduciaryError) as caught:
        submit(runtime, session, kind, person, **kw)
    session.rollback()
    assert session.scalar(count) == before
    return caught.value


def decide(runtime: Runtime, session: Session, person: str, purpose: str) -> tuple[bool, tuple[Reason, ...]]:
    decision = DecisionService(runtime).decide(session, "key_test", person, purpose)
    return decision.allow, decision.reasons


def grant(runtime: Runtime, session: Session, person: str, *purposes: str) -> None:
    ConsentService.for_runtime(runtime).record_many(
        session, [ConsentInput(person, p, "grant", ConsentChannel.API) for p in purposes]
    )
    session.commit()


def statuses(session: Session, person: str) -> dict[str, str]:
    return {p: row.status for p, row in state_for(session, [person]).get(person, {}).items()}


def disclosed(runtime: Runtime, session: Session, person: str, recipient: str, purpose: str, *categories: str) -> None:
    """A share logged as `disclosures.flows.disclose` logs it (the log's own write)."""
    kind = runtime.policy().recipients[recipient].kind.value
    entry = LogEntry(
        new_disclosure_id(), recipient, kind, purpose, sorted(categories), "key_test", 1, None, False, 1, utcnow()
    )
    write_log(session, References.for_runtime(runtime), entry, [person])
    session.commit()


# ---------------------------------------------------------------------------------- restriction, objection


def test_a_restriction_makes_decisions_deny_from_completion(runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime)
    disclosed(runtime, session, person, "email_service", "customer_support", "contact.email")
    disclosed(runtime, session, person, "couriers", "order_fulfilment", "contact.address")
    assert decide(runtime, session, person, "customer_support")[0]
    row = submit(runtime, session, "restriction", person, details={"purposes": ["customer_support"]})
    assert row.state == State.COMPLETED
    assert row.details["stopped"] == [{"purpose": "customer_support", "kind": "restriction"}]
    # GDPR Art 19: the recipients the log says received data for that purpose are named for staff to tell.
    assert row.details["propagate_to"] == [{"id": "email_service", "name": "Email delivery service"}]
    assert decide(runtime, session, person, "customer_support") == (False, (Reason.RESTRICTED_BY_PERSON,))
    assert decide(runtime, session, person, "account")[0]
    assert [k for k, _ in messages(session, runtime)] == ["rights.received", "rights.completed"]


def test_a_restriction_of_every_purpose_spares_legal_obligations(runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime)
    disclosed(runtime, session, person, "authorities", "tax_compliance", "identity.name")
    disclosed(runtime, session, person, "couriers", "order_fulfilment", "contact.address")
    row = submit(runtime, session, "restriction", person, details={"purposes": []})
    assert row.state == State.COMPLETED and "purposes" not in row.details
    assert row.details["stopped"] == [{"purpose": None, "kind": "restriction"}]
    # The authority received data for a legal obligation only, which a restriction spares (GDPR Art 18(2)).
    assert [r["id"] for r in row.details["propagate_to"]] == ["couriers"]
    assert decide(runtime, session, person, "account") == (False, (Reason.RESTRICTED_BY_PERSON,))
    assert decide(runtime, session, person, "tax_compliance") == (True, (Reason.LEGAL_GROUND,))  # GDPR Art 18(2)


def test_an_objection_to_a_legal_obligation_is_refused_naming_the_purpose(runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime)
    error = refused(runtime, session, "objection", person, details={"purposes": ["customer_support", "tax_compliance"]})
    assert isinstance(error, ValidationFailed) and error.code == "purpose_is_legal_obligation"
    assert [f.field for f in error.fields] == ["purposes[1]"]
    consent = refused(runtime, session, "objection", person, details={"purposes": ["marketing.email", "nope"]})
    assert [f.field for f in consent.fields] == ["purposes[0]", "purposes[1]"]
    assert consent.code == "validation_failed"  # two different refusals
    nothing = refused(runtime, session, "objection", person)
    assert [f.field for f in nothing.fields] == ["purposes"]
    assert decide(runtime, session, person, "customer_support")[0]


def test_an_objection_stops_its_purpose(runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime)
    row = submit(runtime, session, "objection", person, details={"purposes": ["customer_support"]})
    assert row.state == State.COMPLETED
    assert decide(runtime, session, person, "customer_support") == (False, (Reason.RESTRICTED_BY_PERSON,))


# ------------------------------------------------------------------------------------ consent and opt-outs


def test_a_withdrawal_is_recorded_in_the_consent_ledger_with_a_receipt(runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime)
    grant(runtime, session, person, "marketing.email", "analytics")
    # DPDP s.6(4): no verification where the policy asks none; the request runs at receipt.
    row = submit(
        runtime, session, "withdraw_consent", person, verified_by=None, details={"purposes": ["marketing.email"]}
    )
    assert row.state == State.COMPLETED and row.verified_by == "none"
    assert row.details["withdrawn"] == ["marketing.email"]
    (position,) = row.details["receipts"]
    receipt = ConsentService.for_runtime(runtime).receipt(session, position)
    assert json.dumps(receipt).count("marketing.email") >= 1 and person in json.dumps(receipt)
    entry = session.scalar(
        sa.select(LedgerEvent).where(LedgerEvent.position == position, LedgerEvent.stream == "consent")
    )
    assert entry is not None and entry.event_type == "consent.withdrawn"
    assert decide(runtime, session, person, "marketing.email") == (False, (Reason.WITHDRAWN,))
    assert decide(runtime, session, person, "analytics")[0]


def test_a_withdrawal_without_purposes_withdraws_every_grant(runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime)
    grant(runtime, session, person, "marketing.sms", "analytics")
    row = submit(runtime, session, "withdraw_consent", person, verified_by=None)
    assert row.details["withdrawn"] == ["analytics", "marketing.sms"]
    assert statuses(session, person) == {"analytics": "withdrawn", "marketing.sms": "withdrawn"}


def test_consent_is_withdrawn_only_from_consent_purposes(runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime)
    error = refused(
        runtime, session, "withdraw_consent", person, verified_by=None, details={"purposes": ["analytics", "account"]}
    )
    assert [f.field for f in error.fields] == ["purposes[1]"] and "consent" in error.fields[0].message
    malformed = refused(runtime, session, "withdraw_consent", person, verified_by=None, details={"purposes": "x"})
    assert [f.field for f in malformed.fields] == ["purposes"]


def test_a_marketing_opt_out_withdraws_every_marketing_purpose(runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime)
    grant(runtime, session, person, "marketing.email", "analytics")
    row = submit(runtime, session, "opt_out_marketing", person, verified_by=None, channel="email_link")
    assert row.state == State.COMPLETED
    # Both marketing purposes, the one never asked too: the opt-out is on record before anyone asks.
    assert row.details["withdrawn"] == ["marketing.email", "marketing.sms"] and len(row.details["receipts"]) == 2
    assert statuses(session, person) == {
        "marketing.email": "withdrawn",
        "marketing.sms": "withdrawn",
        "analytics": "granted",
    }
    assert not decide(runtime, session, person, "marketing.email")[0]
    again = submit(runtime, session, "opt_out_marketing", person, verified_by=None, channel="email_link")
    assert "withdrawn" not in again.details  # already withdrawn: nothing more is written
    named = refused(
        runtime, session, "opt_out_marketing", person, verified_by=None, details={"purposes": ["analytics"]}
    )
    assert [f.field for f in named.fields] == ["purposes"]


def test_a_sale_and_sharing_opt_out_withdraws_what_gpc_covers(runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime)
    grant(runtime, session, person, "personalised_ads", "analytics")
    assert decide(runtime, session, person, "personalised_ads")[0]
    row = submit(runtime, session, "opt_out_sale_sharing", person, verified_by=None)
    assert row.state == State.COMPLETED and row.details["withdrawn"] == ["personalised_ads"]
    assert decide(runtime, session, person, "personalised_ads") == (False, (Reason.WITHDRAWN,))
    assert decide(runtime, session, person, "analytics")[0]


# ------------------------------------------------------------------------------------------- correction


def test_a_correction_writes_the_value_and_names_whom_to_tell(runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime)
    vault = VaultService(runtime)
    vault.put_fields(
        session, person, {"contact.phone": "+91 98765 43210"}, purpose="order_fulfilment", source="provided"
    )
    session.commit()
    disclosed(runtime, session, person, "couriers", "order_fulfilment", "identity.name", "contact.phone")
    # Received data of the person, but not the phone: nothing of theirs to correct.
    disclosed(runtime, session, person, "payment_gateway", "order_fulfilment", "identity.name")
    new_phone = "+91 91234 56789"
    row = submit(
        runtime,
        session,
        "correction",
        person,
        personal={"corrections": [{"category": "contact.phone", "value": new_phone}]},
    )
    assert row.state == State.COMPLETED and row.details["corrected"] == ["contact.phone"]
    assert vault.get_fields(session, person, ["contact.phone"]) == {"contact.phone": "+919123456789"}
    assert vault.collected_for(session, person, ["contact.phone"]) == {"contact.phone": "order_fulfilment"}
    assert [r["id"] for r in row.details["propagate_to"]] == ["couriers"]  # GDPR Art 19: the log's recipients
    write = session.scalars(sa.select(AuditEventIndex).where(AuditEventIndex.action == "field.write")).one()
    assert (write.person_id, write.purpose) == (person, "order_fulfilment")
    texts = [e.payload for e in session.scalars(sa.select(LedgerEvent).where(LedgerEvent.stream == "audit"))]
    assert texts and not any("98765" in t or "91234" in t for t in texts)  # neither the old nor the new value


@pytest.mark.parametrize(
    ("corrections", "field"),
    [
        ([{"category": "contact.email", "value": "not an email"}], "corrections[0].value"),
        (
            [{"category": "contact.phone", "value": "+91 91234 56789"}, {"category": "x.y", "value": "1"}],
            "corrections[1].category",
        ),
        ([{"category": "identity.name", "value": "4111 1111 1111 1111"}], "corrections[0].value"),  # a card number
        ([], "corrections"),
    ],
)
def test_a_correction_that_fails_validation_changes_nothing(
    runtime: Runtime, session: Session, corrections: list[dict[str, str]], field: str
) -> None:
    person = person_with_email(session, runtime)
    vault = VaultService(runtime)
    vault.put_fields(session, person, {"contact.phone": "+91 98765 43210"}, purpose="account", source="provided")
    session.commit()
    error = refused(runtime, session, "correction", person, personal={"corrections": corrections})
    assert isinstance(error, ValidationFailed) and field in [f.field for f in error.fields]
    shown = json.dumps([error.detail, [(f.field, f.message, f.hint) for f in error.fields]])
    assert not any(c["value"] in shown for c in corrections if len(c["value"]) > 2)
    assert vault.get_fields(session, person) == {"contact.phone": "+919876543210"}
    assert messages(session, runtime) == []


# ----------------------------------------------------------------------------------------- deactivation


def test_deactivation_closes_the_account_then_erases_after_the_keeping_period(
    runtime: Runtime, session: Session
) -> None:
    person = person_with_email(session, runtime)
    grant(runtime, session, person, "marketing.email")
    row = submit(runtime, session, "deactivation", person)
    # The waiting period first (7 days): nothing changed yet, the person can still cancel.
    assert row.state == State.IN_PROGRESS and row.run_after is not None
    assert session.get(Person, person).status != CLOSED
    assert not flows.resume(runtime, session, row.id, now=row.run_after - timedelta(seconds=1))
    assert flows.resume(runtime, session, row.id, now=row.run_after)
    session.commit()
    row = get_request(session, row.id)
    # Closed: processing stops at once (decisions deny everything but legal obligations).
    assert session.get(Person, person).status == CLOSED and "deactivated" in row.details
    assert decide(runtime, session, person, "marketing.email") == (False, (Reason.ACCOUNT_CLOSED,))
    assert decide(runtime, session, person, "account") == (False, (Reason.ACCOUNT_CLOSED,))
    assert decide(runtime, session, person, "tax_compliance")[0]
    assert row.state == State.IN_PROGRESS and row.run_after is not None
    erase_at = row.run_after
    assert row.details["erase_on"] == erase_at.date().isoformat()
    assert (erase_at - T0).days >= 37  # 7 days' wait, then 30 days kept
    assert [k for k, _ in messages(session, runtime)].count("rights.scheduled") == 2
    assert not VaultService(runtime).is_erased(session, person)
    # At the end of the keeping period every eraser runs, and the person is told what the law keeps.
    assert not flows.resume(runtime, session, row.id, now=erase_at - timedelta(seconds=1))
    assert flows.resume(runtime, session, row.id, now=erase_at)
    session.commit()
    row = get_request(session, row.id)
    assert row.state == State.COMPLETED and "erased" in row.details
    assert VaultService(runtime).is_erased(session, person)
    last_kind, body = messages(session, runtime)[-1]
    assert last_kind == "rights.erased" and row.id in body
    assert not flows.resume(runtime, session, row.id, now=erase_at + timedelta(days=1))  # ran once


@pytest.mark.parametrize("settings", [{"waiting_period": None}], indirect=True)
def test_without_a_waiting_period_the_account_closes_at_once(runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime)
    row = submit(runtime, session, "deactivation", person)
    assert session.get(Person, person).status == CLOSED
    assert row.state == State.IN_PROGRESS and row.run_after is not None
    assert row.details["erase_on"] == row.run_after.date().isoformat()
    assert flows.resume(runtime, session, row.id, now=row.run_after)
    session.commit()
    assert get_request(session, row.id).state == State.COMPLETED
    assert VaultService(runtime).is_erased(session, person)


@pytest.mark.parametrize("settings", [{"waiting_period": None, "keep_after_deactivation": None}], indirect=True)
def test_without_a_keeping_period_deactivation_completes_when_the_account_closes(
    runtime: Runtime, session: Session
) -> None:
    person = person_with_email(session, runtime)
    signed_in = open_session(runtime, session, person_id=person, verified_by="email_otp")
    session.commit()
    row = submit(runtime, session, "deactivation", person)
    assert row.state == State.COMPLETED and row.run_after is None and "deactivated" in row.details
    with pytest.raises(SessionRefused):  # a closed account's sessions end with it
        authenticate(runtime, session, signed_in.token)
    assert session.get(Person, person).status == CLOSED
    assert not VaultService(runtime).is_erased(session, person)  # the retention rules take it from here
    assert decide(runtime, session, person, "account") == (False, (Reason.ACCOUNT_CLOSED,))
    assert [k for k, _ in messages(session, runtime)] == ["rights.received", "rights.completed"]


def test_deactivation_can_be_cancelled_in_its_waiting_period(runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime)
    row = submit(runtime, session, "deactivation", person)
    flows.cancel(runtime, session, row.id, actor="person", now=T0 + timedelta(days=1))
    session.commit()
    assert get_request(session, row.id).state == State.CANCELLED
    assert not flows.resume(runtime, session, row.id, now=T0 + timedelta(days=60))
    assert session.get(Person, person).status != CLOSED


# ------------------------------------------------------------------------------------------- nomination


def test_a_nomination_is_kept_sealed_and_the_latest_is_in_force(runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime)
    first = {"name": "Kabir Iyer", "contact": "Kabir.Iyer@Example.org", "relationship": "brother"}
    row = submit(runtime, session, "nomination", person, personal={"nominee": first})
    assert row.state == State.COMPLETED and row.sealed is not None
    assert "Kabir" not in json.dumps(row.details)
    uow = unit_of_work(runtime, session)
    (nominee,) = nominees_of(uow, person)
    assert nominee == {
        "name": "Kabir Iyer",
        "contact": "kabir.iyer@example.org",
        "contact_kind": "email",
        "relationship": "brother",
    }
    second = {"name": "Asha Iyer", "contact": "98765 43210"}
    submit(runtime, session, "nomination", person, personal={"nominee": second})
    assert [(n["name"], n["contact"], n["contact_kind"]) for n in nominees_of(uow, person)] == [
        ("Asha Iyer", "+919876543210", "phone")
    ]


@pytest.mark.parametrize(
    ("personal", "field"),
    [
        ({}, "nominee"),
        ({"nominee": {"name": "Asha", "contact": "not-a-number"}}, "nominee.contact"),
        ({"nominee": {"name": " ", "contact": "asha@example.org"}}, "nominee.name"),
    ],
)
def test_a_bad_nominee_is_refused(runtime: Runtime, session: Session, personal: dict[str, Any], field: str) -> None:
    person = person_with_email(session, runtime)
    error = refused(runtime, session, "nomination", person, personal=personal)
    assert [f.field for f in error.fields] == [field]
    assert nominees_of(unit_of_work(runtime, session), person) == []


def test_a_closed_account_takes_no_correction(runtime: Runtime, session: Session) -> None:
    person = person_with_email(session, runtime)
    submit(runtime, session, "deactivation", person)
    row = session.scalars(sa.select(RightsRequest)).one()
    flows.resume(runtime, session, row.id, now=row.run_after)
    session.commit()
    with pytest.raises(Conflict) as closed:
        submit(
            runtime,
            session,
            "correction",
            person,
            personal={"corrections": [{"category": "identity.name", "value": "A"}]},
        )
    assert closed.value.code == "person_closed"
    # A withdrawal still completes: a closed account is processed for nothing it could withdraw.
    done = submit(runtime, session, "withdraw_consent", person, verified_by=None)
    assert done.state == State.COMPLETED and done.details["account_closed"] is True


def test_a_correction_of_data_never_disclosed_names_no_recipient(runtime: Runtime, session: Session) -> None:
    """The policy lets the couriers receive the phone, but the log shows they never received this person's:
    no recipient holds a copy to correct (GDPR Art 19 reaches those to whom the data "have been disclosed")."""
    person = person_with_email(session, runtime)
    other = person_with_email(session, runtime, "someone.else.4417@example.org")
    disclosed(runtime, session, other, "couriers", "order_fulfilment", "contact.phone")
    row = submit(
        runtime,
        session,
        "correction",
        person,
        personal={"corrections": [{"category": "contact.phone", "value": "+91 91234 56789"}]},
    )
    assert row.state == State.COMPLETED and row.details["propagate_to"] == []
