"""`disclose`: the policy's limits per recipient, purpose and category (refused with the field named and
nothing logged), authorities' order references, people left out with their reasons, the minimised package,
and what the person sees in their access package."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from disclosure_support import FIELDS, consent, customer
from fiduciary.audit.models import AuditEventIndex
from fiduciary.consent.restrictions import add_restriction
from fiduciary.disclosures.flows import DisclosureRequest, disclose
from fiduciary.disclosures.log import list_disclosures
from fiduciary.disclosures.models import Disclosure, DisclosureSubject
from fiduciary.disclosures.propagation import list_deliveries
from fiduciary.errors import FiduciaryError
from fiduciary.rights.flows import erase_person, export_person
from fiduciary.runtime import Runtime

COURIER = ("couriers", "order_fulfilment")


def _count(session: Session) -> tuple[int, int]:
    return (
        int(session.scalar(sa.select(sa.func.count()).select_from(Disclosure)) or 0),
        int(session.scalar(sa.select(sa.func.count()).select_from(DisclosureSubject)) or 0),
    )


@pytest.mark.parametrize(
    ("request_kw", "status", "code", "field"),
    [
        (
            {"recipient": "couriers", "categories": ["identity.name", "contact.email"]},
            403,
            "category_not_for_recipient",
            "body.categories[1]",
        ),
        ({"recipient": "couriers", "purpose": "marketing.email"}, 403, "purpose_not_for_recipient", "body.purpose"),
        (
            {"recipient": "payment_gateway", "categories": ["identity.name", "contact.phone"]},
            403,
            "category_not_for_recipient",
            "body.categories[1]",
        ),
        ({"recipient": "nobody"}, 422, "validation_failed", "body.recipient"),
        ({"categories": ["no.such"]}, 422, "validation_failed", "body.categories[0]"),
        ({"categories": []}, 422, "validation_failed", "body.categories"),
        ({"people": ["per_bad"]}, 422, "validation_failed", "body.people[0]"),
        ({"people": None}, 422, "validation_failed", "body.people"),
        ({"order_reference": "FIR 12/2026"}, 422, "validation_failed", "body.order_reference"),
        (
            {"recipient": "authorities", "purpose": "tax_compliance", "categories": ["identity.name"]},
            422,
            "order_reference_required",
            "body.order_reference",
        ),
    ],
)
def test_a_refused_disclosure_names_the_field_and_logs_nothing(
    runtime: Runtime, session: Session, request_kw: dict[str, object], status: int, code: str, field: str
) -> None:
    person = customer(session, runtime)
    base: dict[str, object] = {
        "recipient": "couriers",
        "purpose": "order_fulfilment",
        "categories": ["identity.name"],
        "people": [person],
    }
    with pytest.raises(FiduciaryError) as caught:
        disclose(runtime, session, DisclosureRequest(**{**base, **request_kw}), actor="key_backend")  # type: ignore[arg-type]
    session.commit()
    assert (caught.value.status, caught.value.code) == (status, code)
    assert field in [p.field for p in caught.value.fields]
    assert "Zebulon" not in caught.value.detail
    assert _count(session) == (0, 0)
    refused = session.scalars(sa.select(AuditEventIndex.action).where(AuditEventIndex.outcome != "allowed")).all()
    assert "disclosure.make" in refused  # the refused attempt leaves its trace


def test_people_who_withdrew_or_objected_are_left_out_with_reasons(runtime: Runtime, session: Session) -> None:
    stays = customer(session, runtime, marketing=True)
    withdrew = customer(session, runtime, marketing=True)
    consent(session, runtime, withdrew, "marketing.email", "withdraw")
    never = customer(session, runtime)
    request = DisclosureRequest("email_service", "marketing.email", ["contact.email"], people=[stays, withdrew, never])
    result = disclose(runtime, session, request, actor="key_backend")
    session.commit()
    assert [s.person_id for s in result.shared] == [stays]
    assert result.shared[0].fields == {"contact.email": "zebulon.q7731@example.org"}
    assert result.excluded[withdrew] == ["withdrawn"]
    assert result.excluded[never] == ["no_consent"]
    assert _count(session) == (1, 1)

    restricted = customer(session, runtime)
    add_restriction(
        session, runtime.policy(), restricted, purpose="order_fulfilment", kind="restriction", runtime=runtime
    )
    session.commit()
    result = disclose(runtime, session, DisclosureRequest(*COURIER, ["identity.name"], people=[restricted]), actor="k")
    assert result.shared == [] and result.excluded[restricted] == ["restricted_by_person"]


def test_an_authority_disclosure_keeps_its_order_reference(runtime: Runtime, session: Session) -> None:
    person = customer(session, runtime)
    request = DisclosureRequest(
        "authorities", "tax_compliance", ["identity.name"], people=[person], order_reference="GST notice 44/2026"
    )
    result = disclose(runtime, session, request, actor="key_backend")
    session.commit()
    assert result.entry.order_reference == "GST notice 44/2026" and result.entry.recipient_kind == "authority"
    [logged] = list_disclosures(session, person_id=person)
    assert logged.order_reference == "GST notice 44/2026" and logged.policy_version == runtime.policy().version
    exported = export_person(runtime, session, actor="key_backend", person_id=person)["domains"]["disclosures"]
    assert exported["disclosures"][0]["recipient_name"] == "Government and law-enforcement authorities"
    assert "order_reference" not in exported["disclosures"][0]


def test_an_audience_without_values_logs_everyone_the_purpose_reaches(runtime: Runtime, session: Session) -> None:
    people = [customer(session, runtime) for _ in range(3)]
    request = DisclosureRequest(*COURIER, ["contact.address"], audience=True, include_values=False)
    result = disclose(runtime, session, request, actor="key_backend")
    session.commit()
    assert sorted(s.person_id for s in result.shared) == sorted(people)
    assert all(s.fields == {} for s in result.shared)
    assert result.entry.audience and result.entry.people == 3


def test_the_log_holds_no_value_and_survives_erasure(runtime: Runtime, session: Session) -> None:
    person = customer(session, runtime)
    disclose(runtime, session, DisclosureRequest(*COURIER, sorted(FIELDS), people=[person]), actor="key_backend")
    session.commit()
    summary = erase_person(runtime, session, actor="key_backend", person_id=person)
    session.commit()
    report = next(r for r in summary.reports if r.domain == "disclosures")
    assert report.kept == 1 and report.deleted == 0  # the log row (the notice is queued after the erasers ran)
    assert [d.event for d in list_deliveries(session, person_id=person)] == ["erasure"]
    rows = [*session.execute(sa.select(Disclosure.__table__)), *session.execute(sa.select(DisclosureSubject.__table__))]
    dump = " ".join(str(row) for row in rows)
    assert all(value not in dump for value in FIELDS.values())
    assert list_disclosures(session, person_id=person)[0].categories == sorted(FIELDS)
