"""Purpose-bound access over the vault: decisions choose the fields, roles choose full or masked values,
every attempt is audited (allowed, denied and failed), bad input is refused with nothing written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from audit_support import all_audit_text, audit_rows, stored_counts, write_policy
from fiduciary.config import Settings
from fiduciary.consent.restrictions import add_restriction
from fiduciary.consent.service import ConsentChannel, ConsentInput, ConsentService
from fiduciary.errors import Conflict, FiduciaryError, Forbidden, NotFound, ValidationFailed
from fiduciary.people.service import close_person, create_person
from fiduciary.runtime import Runtime
from fiduciary.vault.access import VaultAccess
from fiduciary.vault.keys.data_keys import PersonErased
from fiduciary.vault.masking import mask_value
from fiduciary.vault.service import VaultService

ACTOR = "keyAAAAAAAAA"
NAME = "Meera Iyer"
EMAIL = "meera.iyer@example.in"
PHONE_IN = "98450 12345"
PHONE = "+919845012345"
CARD = "4111 1111 1111 1111"
VALUES = (NAME, EMAIL, PHONE, "9845012345", "98450 12345", "4111111111111111", CARD)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path / "data", policy_file=write_policy(tmp_path))


@pytest.fixture
def access(runtime: Runtime) -> VaultAccess:
    return VaultAccess.for_runtime(runtime)


@pytest.fixture
def person(session: Session, runtime: Runtime, access: VaultAccess) -> str:
    person_id = create_person(session, policy=runtime.policy(), is_child=False).id
    access.write_fields(
        session,
        ACTOR,
        person_id,
        "account",
        "provided",
        {"identity.name": NAME, "contact.email": EMAIL, "contact.phone": PHONE_IN},
        identifiers={"email": EMAIL},
    )
    session.commit()
    return person_id


def attempt(session: Session, access: VaultAccess, call: Any, *args: Any, **kw: Any) -> FiduciaryError:
    """Run a refused call as any caller does, wrapping nothing: the unit of work records the refusal."""
    with pytest.raises(FiduciaryError) as caught:
        call(session, *args, **kw)
    return caught.value


def last_events(session: Session, n: int = 1) -> list[dict[str, Any]]:
    return audit_rows(session)[-n:]


# ----------------------------------------------------------------------------------------------- reads


def test_the_backend_reads_full_values_for_a_contract_purpose(
    session: Session, access: VaultAccess, person: str
) -> None:
    result = access.read_fields(session, ACTOR, None, person, "account", [])
    session.commit()
    assert result.fields == {"identity.name": NAME, "contact.email": EMAIL, "contact.phone": PHONE}
    assert result.masked == [] and result.denied == {} and result.absent == ["identity.date_of_birth"]
    assert result.role == "service" and result.reasons == ["legal_ground"]
    event = last_events(session)[0]
    assert (event["action"], event["outcome"], event["person_id"], event["purpose"]) == (
        "field.read",
        "allowed",
        person,
        "account",
    )
    assert '"full_values"' in event["payload"] and '"role":"service"' in event["payload"]


def test_support_sees_masked_values_unless_the_purpose_says_otherwise(
    session: Session, access: VaultAccess, person: str
) -> None:
    fulfilment = access.read_fields(
        session, ACTOR, "support", person, "order_fulfilment", ["contact.phone", "identity.name"]
    )
    assert fulfilment.fields == {"contact.phone": "******2345", "identity.name": "******"}
    assert fulfilment.masked == ["contact.phone", "identity.name"]
    # The policy lists support in customer_support's full_values_for_roles.
    support = access.read_fields(session, ACTOR, "support", person, "customer_support", ["contact.email"])
    assert support.fields == {"contact.email": EMAIL} and support.masked == []
    # An auditor reading for customer support is not listed: masked.
    auditor = access.read_fields(session, ACTOR, "auditor", person, "customer_support", ["contact.email"])
    assert auditor.fields == {"contact.email": "m****@example.in"}
    session.commit()
    payloads = [e["payload"] for e in last_events(session, 3)]
    assert '"masked"' in payloads[0] and '"full_values"' in payloads[1] and '"masked"' in payloads[2]


def test_an_empty_full_values_list_masks_even_the_backend(
    session: Session, access: VaultAccess, runtime: Runtime
) -> None:
    person_id = create_person(session, policy=runtime.policy(), is_child=False).id
    access.write_fields(session, ACTOR, person_id, "security", "automatic", {"device.identifiers": "device-7f3a9c21"})
    result = access.read_fields(session, ACTOR, None, person_id, "security", ["device.identifiers"])
    assert result.fields == {"device.identifiers": "******9c21"} and result.masked == ["device.identifiers"]


def test_categories_outside_the_purpose_are_denied_and_the_rest_returned(
    session: Session, access: VaultAccess, person: str
) -> None:
    result = access.read_fields(session, ACTOR, None, person, "customer_support", ["contact.email", "contact.phone"])
    session.commit()
    assert result.fields == {"contact.email": EMAIL}
    assert result.denied == {"contact.phone": ["category_not_in_purpose"]}
    allowed, denied = last_events(session, 2)
    assert allowed["outcome"] == "allowed" and '"categories":["contact.email"]' in allowed["payload"]
    assert denied["outcome"] == "denied" and '"categories":["contact.phone"]' in denied["payload"]
    assert '"reasons":["category_not_in_purpose"]' in denied["payload"]


def test_consent_purposes_follow_the_consent_state(
    session: Session, access: VaultAccess, runtime: Runtime, person: str
) -> None:
    before = access.read_fields(session, ACTOR, None, person, "marketing.email", [])
    assert before.fields == {} and before.denied == {
        "contact.email": ["no_consent"],
        "identity.name": ["no_consent"],
    }
    consent = ConsentService.for_runtime(runtime)
    consent.record(session, ConsentInput(person, "marketing.email", "grant", ConsentChannel.API))
    granted = access.read_fields(session, ACTOR, None, person, "marketing.email", [])
    assert granted.fields == {"contact.email": EMAIL, "identity.name": NAME}
    assert granted.reasons == ["consent_given"]
    consent.record(session, ConsentInput(person, "marketing.email", "withdraw", ConsentChannel.API))
    withdrawn = access.read_fields(session, ACTOR, None, person, "marketing.email", ["contact.email"])
    assert withdrawn.fields == {} and withdrawn.denied == {"contact.email": ["withdrawn"]}
    session.commit()
    assert [e["outcome"] for e in last_events(session, 3)] == ["denied", "allowed", "denied"]


def test_an_objection_stops_reads_for_that_purpose(
    session: Session, access: VaultAccess, runtime: Runtime, person: str
) -> None:
    add_restriction(session, runtime.policy(), person, purpose="customer_support", kind="objection")
    result = access.read_fields(session, ACTOR, "support", person, "customer_support", ["contact.email"])
    assert result.fields == {} and result.denied == {"contact.email": ["restricted_by_person"]}
    assert access.read_fields(session, ACTOR, None, person, "account", ["contact.email"]).fields == {
        "contact.email": EMAIL
    }


def test_an_undeclared_purpose_is_a_recorded_deny(session: Session, access: VaultAccess, person: str) -> None:
    result = access.read_fields(session, ACTOR, None, person, "resale", ["contact.email"])
    assert result.fields == {} and result.denied == {"contact.email": ["purpose_not_declared"]}
    nothing = access.read_fields(session, ACTOR, None, person, "resale", [])
    assert nothing.fields == {} and nothing.denied == {} and nothing.reasons == ["purpose_not_declared"]
    session.commit()
    assert [(e["outcome"], e["purpose"]) for e in last_events(session, 2)] == [
        ("denied", "resale"),
        ("denied", "resale"),
    ]


@pytest.mark.parametrize(
    ("kwargs", "error", "field", "code"),
    [
        ({"purpose": None}, ValidationFailed, "purpose", "purpose_required"),
        ({"purpose": "  "}, ValidationFailed, "purpose", "purpose_required"),
        ({"purpose": "Ship it to Meera"}, ValidationFailed, "purpose", "validation_failed"),
        ({"categories": ["contact.fax"]}, ValidationFailed, "categories.contact.fax", "unknown_category"),
        ({"categories": ["meera@example.in"]}, ValidationFailed, "categories", "unknown_category"),
        ({"role": "intern"}, ValidationFailed, "role", "validation_failed"),
        ({"person_id": "per_nope"}, ValidationFailed, "person_id", "validation_failed"),
        ({"person_id": "per_" + "z" * 26}, NotFound, None, "person_not_found"),
    ],
)
def test_bad_reads_are_refused_audited_and_change_nothing_else(
    session: Session,
    access: VaultAccess,
    person: str,
    kwargs: dict[str, Any],
    error: type[FiduciaryError],
    field: str | None,
    code: str,
) -> None:
    args: dict[str, Any] = {"role": None, "person_id": person, "purpose": "account", "categories": []} | kwargs
    before = stored_counts(session), len(audit_rows(session))
    exc = attempt(
        session, access, access.read_fields, ACTOR, args["role"], args["person_id"], args["purpose"], args["categories"]
    )
    assert isinstance(exc, error) and exc.code == code
    if field is not None:
        assert [p.field for p in exc.fields] == [field]
    if code == "unknown_category":
        assert "Valid categories: commerce.orders, contact.address, contact.email" in exc.detail
    assert stored_counts(session) == before[0]
    events = audit_rows(session)
    assert len(events) == before[1] + 1  # the refusal is the one thing the attempt wrote
    assert events[-1]["outcome"] == "error" and events[-1]["action"] == "field.read"
    assert code in events[-1]["payload"]


# ---------------------------------------------------------------------------------------------- writes


def test_a_write_is_validated_encrypted_and_audited(session: Session, access: VaultAccess, person: str) -> None:
    result = access.write_fields(
        session, ACTOR, person, "order_fulfilment", "provided", {"contact.address": "12 MG Road\nBengaluru"}
    )
    session.commit()
    assert result.categories == ["contact.address"] and result.reasons == ["legal_ground"]
    assert VaultService(access.runtime).get_fields(session, person, ["contact.address"]) == {
        "contact.address": "12 MG Road\nBengaluru"
    }
    event = last_events(session)[0]
    assert (event["action"], event["outcome"], event["purpose"]) == ("field.write", "allowed", "order_fulfilment")


@pytest.mark.parametrize(
    ("purpose", "fields", "identifiers", "error", "code", "outcome"),
    [
        (None, {"identity.name": NAME}, {}, ValidationFailed, "purpose_required", "error"),
        ("account", {}, {}, ValidationFailed, "validation_failed", "error"),
        ("account", {"contact.fax": "0802345678"}, {}, ValidationFailed, "unknown_category", "error"),
        ("resale", {"identity.name": NAME}, {}, Forbidden, "purpose_not_declared", "denied"),
        ("customer_support", {"contact.phone": PHONE}, {}, Forbidden, "category_not_in_purpose", "denied"),
        ("marketing.email", {"contact.email": EMAIL}, {}, Forbidden, "no_consent", "denied"),
        ("security", {}, {"email": EMAIL}, Forbidden, "category_not_in_purpose", "denied"),
        ("account", {"contact.email": "not an email"}, {}, ValidationFailed, "invalid_email", "error"),
        ("order_fulfilment", {"financial.payment_token": CARD}, {}, ValidationFailed, "card_number_refused", "error"),
        ("account", {"identity.name": f"{NAME} {CARD}"}, {}, ValidationFailed, "card_number_refused", "error"),
        ("account", {"identity.name": "x" * 70_000}, {}, ValidationFailed, "validation_failed", "error"),
        ("account", {}, {"passport": "Z1234567"}, ValidationFailed, "validation_failed", "error"),
    ],
)
def test_bad_writes_are_refused_audited_and_store_nothing(
    session: Session,
    access: VaultAccess,
    runtime: Runtime,
    purpose: str | None,
    fields: dict[str, str],
    identifiers: dict[str, str],
    error: type[FiduciaryError],
    code: str,
    outcome: str,
) -> None:
    person_id = create_person(session, policy=runtime.policy(), is_child=False).id
    session.commit()
    before = stored_counts(session), len(audit_rows(session))
    exc = attempt(
        session, access, access.write_fields, ACTOR, person_id, purpose, "provided", fields, identifiers=identifiers
    )
    assert isinstance(exc, error), exc
    assert exc.code == code or (code == "validation_failed" and exc.status == 422), (exc.code, exc.detail)
    if code == "unknown_category":
        assert exc.fields[0].field == "fields.contact.fax" and "Valid categories:" in exc.detail
    assert stored_counts(session) == before[0]
    events = audit_rows(session)
    assert len(events) == before[1] + 1
    assert (events[-1]["action"], events[-1]["outcome"], events[-1]["person_id"]) == ("field.write", outcome, person_id)
    assert NAME not in exc.detail and EMAIL not in exc.detail and "4111" not in exc.detail


def test_writes_for_closed_erased_and_unknown_people_are_refused(
    session: Session, access: VaultAccess, runtime: Runtime, person: str
) -> None:
    closed = create_person(session, policy=runtime.policy(), is_child=False).id
    close_person(session, closed)
    VaultService(runtime).erase_person(session, person, "erasure_request")
    session.commit()
    for person_id, error, code in (
        (closed, Conflict, "person_closed"),
        (person, Conflict, "person_erased"),
        ("per_" + "q" * 26, NotFound, "person_not_found"),
    ):
        exc = attempt(
            session, access, access.write_fields, ACTOR, person_id, "account", "provided", {"identity.name": NAME}
        )
        assert isinstance(exc, error) and exc.code == code
    with pytest.raises(PersonErased):
        access.read_fields(session, ACTOR, None, person, "tax_compliance", ["identity.name"])


def test_free_text_is_redacted_not_refused(session: Session, access: VaultAccess, person: str) -> None:
    access.write_fields(
        session, ACTOR, person, "customer_support", "provided", {"support.messages": f"charged twice on {CARD}"}
    )
    value = access.read_fields(session, ACTOR, None, person, "customer_support", ["support.messages"]).fields
    assert "4111" not in value["support.messages"] and value["support.messages"].startswith("charged twice on")


def test_identifiers_make_a_person_findable_and_are_unique(
    session: Session, access: VaultAccess, runtime: Runtime, person: str
) -> None:
    assert access.lookup(session, ACTOR, "email", "  Meera.Iyer@EXAMPLE.in ") == person
    assert access.lookup(session, ACTOR, "email", "someone@example.in") is None
    session.commit()
    found, missed = last_events(session, 2)
    assert (found["outcome"], found["person_id"]) == ("allowed", person)
    assert (missed["outcome"], missed["person_id"]) == ("error", None)
    assert '"target":"email"' in missed["payload"]
    other = create_person(session, policy=runtime.policy(), is_child=False).id
    session.commit()
    exc = attempt(
        session, access, access.write_fields, ACTOR, other, "account", "provided", {}, identifiers={"email": EMAIL}
    )
    assert isinstance(exc, Conflict) and exc.code == "identifier_in_use"
    for kind, value in (("passport", "Z123"), ("email", "not-an-email")):
        exc = attempt(session, access, access.lookup, ACTOR, kind, value)
        assert isinstance(exc, ValidationFailed)


def test_no_audit_event_ever_holds_a_value(
    session: Session, access: VaultAccess, runtime: Runtime, person: str
) -> None:
    """Scan every audit payload and index row after reads, writes, lookups and refusals of known values."""
    access.read_fields(session, ACTOR, "support", person, "customer_support", [])
    access.lookup(session, ACTOR, "email", EMAIL)
    access.lookup(session, ACTOR, "phone", PHONE_IN)
    session.commit()
    for call in (
        lambda: access.write_fields(session, ACTOR, person, "account", "provided", {"identity.name": f"{NAME} {CARD}"}),
        lambda: access.write_fields(session, ACTOR, person, "account", "provided", {"contact.email": f"{NAME}"}),
        lambda: access.write_fields(session, ACTOR, person, "marketing.email", "provided", {"contact.email": EMAIL}),
        lambda: access.read_fields(session, ACTOR, None, person, EMAIL, []),
        lambda: access.read_fields(session, ACTOR, None, person, "account", [EMAIL]),
        lambda: access.lookup(session, ACTOR, "email", NAME),
    ):
        with pytest.raises(FiduciaryError):
            call()
    text = all_audit_text(session)
    assert len(audit_rows(session)) >= 10
    for value in (*VALUES, "Meera", "Iyer", "meera.iyer", "example.in"):
        assert value not in text, value


def test_masks_never_fail_and_never_show_the_value() -> None:
    assert mask_value("phone", "+919845012345", "IN") == "******2345"
    assert mask_value("email", "meera@example.in", "IN") == "m****@example.in"
    assert mask_value("date", "1990-05-17", "IN") == "****-**-**"
    assert mask_value("free_text", "anything at all", "IN") == "******"
    assert mask_value("phone", "no longer a phone", "IN") == "******"  # the type changed: mask, don't fail
