"""The built-in registrations: export gathers everything each domain holds about a person; erase runs every
eraser (the vault crypto-shreds first), keeps what the law keeps, and is idempotent."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.audit.models import AuditEventIndex
from fiduciary.audit.service import AuditTrail
from fiduciary.consent.linking import link_visitor
from fiduciary.consent.models import (
    ConsentIdempotency,
    ConsentState,
    ProcessingRestriction,
    ReconsentNotice,
    VisitorLink,
)
from fiduciary.consent.restrictions import add_restriction
from fiduciary.consent.service import ConsentChannel, ConsentInput, ConsentService
from fiduciary.identity.codes import issue_code
from fiduciary.identity.models import VerificationCode
from fiduciary.ledger.models import LedgerEvent
from fiduciary.people.models import Person, PersonErasure
from fiduciary.people.service import create_person, new_visitor_id
from fiduciary.personal_data import registry as registry_module
from fiduciary.personal_data.registry import EraseReport, PersonalDataRegistry, registry_for
from fiduciary.runtime import DOMAIN_REGISTRARS, Runtime
from fiduciary.storage.base import utcnow
from fiduciary.vault.keys.data_keys import PersonErased
from fiduciary.vault.retention_events import RetentionEventRow
from fiduciary.vault.service import VaultService

EMAIL = "asha.verma@example.in"
NAME = "Asha Verma"
PHONE = "+919812345670"
MESSAGE = "My parcel never arrived, please call me"
INVOICE = "Invoice 2026-0042 for 1 saree, 4,500 INR"


def consent(subject: str, purpose: str, action: str = "grant") -> ConsentInput:
    return ConsentInput(subject, purpose, action, ConsentChannel.API)  # type: ignore[arg-type]


@pytest.fixture
def person(session: Session, runtime: Runtime) -> dict[str, Any]:
    """A person with something in every domain: fields, identifiers, a record, a legal hold, consent as a
    person and as a linked visitor, an objection, a re-consent notice, a cached idempotent answer, audit."""
    vault = VaultService(runtime)  # first: proving the keys at first use writes in a transaction of its own
    policy = runtime.policy()
    person_id = create_person(session, policy=policy, date_of_birth=date(1990, 5, 17)).id
    vault.create_person_record(
        session,
        person_id,
        {"identity.name": NAME, "contact.email": EMAIL},
        {"email": EMAIL, "phone": PHONE},
        purpose="account",
        source="provided",
    )
    vault.append_record(session, person_id, "support.messages", MESSAGE, purpose="customer_support", source="provided")
    hold = vault.add_legal_hold_record(
        session,
        person_id,
        record_type="invoice",
        basis="CGST Act 2017 s.36",
        purge_after=date.today() + timedelta(days=2000),
        content=INVOICE,
    )
    service = ConsentService.for_runtime(runtime)
    visitor = new_visitor_id()
    service.record(session, consent(visitor, "analytics"))
    service.record(session, consent(person_id, "marketing.email"), idempotency_key="keyAAAAAAAAA:first")
    service.record(session, consent(person_id, "marketing.email", "withdraw"))
    link_visitor(service, session, person_id, visitor)
    add_restriction(session, policy, person_id, purpose="customer_support", kind="objection")
    session.add(ReconsentNotice(person_id=person_id, purpose="marketing.email", policy_version=1, created_at=utcnow()))
    now = utcnow()
    session.add(RetentionEventRow(person_id=person_id, event="warranty_ended", occurred_at=now, recorded_at=now))
    AuditTrail.for_runtime(runtime).record(
        session, actor="keyAAAAAAAAA", action="field.read", person_id=person_id, purpose="account"
    )
    session.commit()
    issue_code(runtime, session, kind="email", identifier=EMAIL, client_address="192.0.2.9")  # a one-time code
    session.commit()
    return {"id": person_id, "visitor": visitor, "hold": hold}


def count(session: Session, model: Any, *where: Any) -> int:
    return int(session.scalar(sa.select(sa.func.count()).select_from(model).where(*where)) or 0)


def test_export_holds_everything_every_domain_has(session: Session, runtime: Runtime, person: dict[str, Any]) -> None:
    pid = person["id"]
    exported = registry_for(runtime).export_person(session, pid)
    domains = exported["domains"]
    assert set(domains) == {
        "vault",
        "consent",
        "visitor_links",
        "processing_restrictions",
        "reconsent_notices",
        "retention_events",
        "audit",
        "comms",
        "identity",
        "rights",
        "access_packages",
        "inactivity",
        "retention_holds",
        "breach",
        "cases",
        "disclosures",
        "people",
    }
    assert domains["access_packages"] == {"packages": []}
    assert domains["disclosures"] == {"disclosures": [], "notices": []}
    assert domains["breach"] == {"breach_notices": []}
    vault = domains["vault"]
    assert vault["fields"] == {"identity.name": NAME, "contact.email": EMAIL}
    assert {(i["kind"], i["value"]) for i in vault["identifiers"]} == {("email", EMAIL), ("phone", PHONE)}
    assert [r["value"] for r in vault["records"]["support.messages"]] == [MESSAGE]
    assert vault["legal_hold_records"][0]["content"] == INVOICE
    assert {p["purpose_of_collection"] for p in vault["provenance"]} == {"account", "customer_support"}
    consent_part = domains["consent"]
    assert {(s["subject_id"], s["purpose"], s["status"]) for s in consent_part["state"]} == {
        (pid, "marketing.email", "withdrawn"),
        (pid, "analytics", "granted"),  # copied from the linked visitor
        (person["visitor"], "analytics", "granted"),
    }
    kinds = [e["event_type"] for e in consent_part["ledger_events"]]
    assert kinds.count("consent.granted") == 2 and "consent.withdrawn" in kinds and "consent.linked" in kinds
    assert all(len(e["hash"]) == 64 for e in consent_part["ledger_events"])
    assert domains["visitor_links"]["links"][0]["visitor_id"] == person["visitor"]
    assert domains["processing_restrictions"]["restrictions"][0]["kind"] == "objection"
    assert domains["reconsent_notices"]["notices"][0]["purpose"] == "marketing.email"
    assert [e["event"] for e in domains["retention_events"]["events"]] == ["warranty_ended"]
    assert domains["audit"]["events"][0]["person_id"] == pid
    assert [c["purpose"] for c in domains["identity"]["verification_codes"]] == ["rights.request"]
    assert "code_hash" not in domains["identity"]["verification_codes"][0]
    assert domains["people"]["age_status"] == "adult" and domains["people"]["adult_on"] == "2008-05-17"


def test_export_of_another_person_holds_nothing_of_this_one(
    session: Session, runtime: Runtime, person: dict[str, Any]
) -> None:
    other = create_person(session, policy=runtime.policy()).id
    session.commit()
    text = repr(registry_for(runtime).export_person(session, other))
    for secret in (NAME, EMAIL, PHONE, MESSAGE, INVOICE, person["id"], person["visitor"]):
        assert secret not in text


def test_erase_runs_every_eraser_and_keeps_what_the_law_keeps(
    session: Session, runtime: Runtime, person: dict[str, Any]
) -> None:
    pid, visitor = person["id"], person["visitor"]
    ledger_before = count(session, LedgerEvent)
    summary = registry_for(runtime).erase_person(session, pid, reason="erasure_request")
    session.commit()
    assert [r.domain for r in summary.reports] == [
        "retention_holds",
        "vault",
        "consent",
        "processing_restrictions",
        "reconsent_notices",
        "retention_events",
        "visitor_links",
        "audit",
        "comms",
        "breach",
        "identity",
        "access_packages",
        "disclosures",
        "inactivity",
        "rights",
        "cases",
        "people",
    ]
    by_domain = {r.domain: r for r in summary.reports}
    assert by_domain["vault"].detail["data_key_destroyed"] == 1 and by_domain["vault"].kept == 1
    assert by_domain["consent"].detail == {"consent_state": 3, "gpc_opt_outs": 0, "consent_idempotency": 1}
    assert by_domain["audit"].kept == 1 and "8(3)" in (by_domain["audit"].kept_basis or "")

    vault = VaultService(runtime)
    with pytest.raises(PersonErased):
        vault.get_fields(session, pid)
    assert vault.find_by_identifier(session, "email", EMAIL) is None
    assert vault.read_legal_hold_record(session, person["hold"]).content == INVOICE  # survives until purge
    assert count(session, ConsentState, ConsentState.subject_id.in_([pid, visitor])) == 0
    assert count(session, VisitorLink) == 0
    assert count(session, ProcessingRestriction) == 0
    assert count(session, ReconsentNotice) == 0
    assert count(session, RetentionEventRow) == 0 and by_domain["retention_events"].deleted == 1
    assert count(session, ConsentIdempotency) == 0
    assert count(session, VerificationCode) == 0 and by_domain["identity"].changed == 1
    assert count(session, LedgerEvent) == ledger_before  # evidence is kept
    assert count(session, AuditEventIndex, AuditEventIndex.person_id == pid) == 1
    row = session.get(Person, pid)
    assert row is not None and row.status == "closed" and row.adult_on is None and row.age_status == "unknown"
    erasure = session.get(PersonErasure, pid)
    assert erasure is not None and erasure.reason == "erasure_request"

    again = registry_for(runtime).erase_person(session, pid, reason="erasure_request")
    session.commit()
    assert all(r.deleted == 0 and r.changed == 0 for r in again.reports)
    exported = registry_for(runtime).export_person(session, pid)["domains"]
    assert "fields" not in exported["vault"] and exported["vault"]["erased"]["reason"] == "erasure_request"
    assert NAME not in repr(exported) and EMAIL not in repr(exported)


def test_the_reason_reaches_the_erasure_journal(session: Session, runtime: Runtime, person: dict[str, Any]) -> None:
    registry_for(runtime).erase_person(session, person["id"], reason="retention.inactivity")
    session.commit()
    erasure = session.get(PersonErasure, person["id"])
    assert erasure is not None and erasure.reason == "retention.inactivity"


def test_a_failing_eraser_rolls_every_eraser_back(session: Session, runtime: Runtime, person: dict[str, Any]) -> None:
    registry = PersonalDataRegistry()
    registry.register(
        "restrictions_first",
        lambda s, p: {},
        lambda s, p: EraseReport(
            "restrictions_first",
            deleted=s.execute(sa.delete(ProcessingRestriction).where(ProcessingRestriction.person_id == p)).rowcount,  # type: ignore[attr-defined]
        ),
        ["processing_restrictions"],
        order=1,
    )

    def broken(_session: Session, _person: str) -> EraseReport:
        raise RuntimeError("disk on fire")

    registry.register("broken", lambda s, p: {}, broken, ["broken_table"], order=2)
    with pytest.raises(RuntimeError):
        registry.erase_person(session, person["id"])
    session.rollback()
    assert count(session, ProcessingRestriction) == 1


def test_registrations_are_checked() -> None:
    registry = PersonalDataRegistry()

    def export(_s: Session, _p: str) -> dict[str, Any]:
        return {}

    def erase(_s: Session, _p: str) -> EraseReport:
        return EraseReport("x")

    registry.register("a", export, erase, ["t1"])
    with pytest.raises(ValueError, match="already registered"):
        registry.register("a", export, erase, ["t2"])
    with pytest.raises(ValueError, match="already covered by 'a'"):
        registry.register("b", export, erase, ["t1"])
    with pytest.raises(ValueError, match="must list the tables"):
        registry.register("c", export, erase, [])
    with pytest.raises(ValueError, match="must list the tables"):
        registry.register("c", export, erase, "t3")
    with pytest.raises(TypeError):
        registry.register("d", export, None, ["t4"])  # type: ignore[arg-type]


def test_a_new_domain_registers_for_every_runtime(runtime: Runtime) -> None:
    def export(_s: Session, _p: str) -> dict[str, Any]:
        return {"points": 7}

    def erase(_s: Session, _p: str) -> EraseReport:
        return EraseReport("loyalty", deleted=1)

    registry_module.register("loyalty", export, erase, ["loyalty_points"])
    try:
        with pytest.raises(ValueError):
            registry_module.register("loyalty", export, erase, ["loyalty_points"])
        registry = registry_module.install_registry(runtime, DOMAIN_REGISTRARS)
        assert registry.covered_tables()["loyalty_points"] == "loyalty"
        assert registry_for(runtime) is registry
    finally:
        registry_module.unregister("loyalty")
        registry_module.install_registry(runtime, DOMAIN_REGISTRARS)
    assert "loyalty_points" not in registry_for(runtime).covered_tables()
