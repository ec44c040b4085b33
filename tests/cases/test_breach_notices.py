"""Affected people selected set-wise and told once each, in their language, one job per batch (both engines)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from breach_support import open_incident
from fiduciary.cases.breach.models import BreachNotice
from fiduciary.cases.breach.notices import (
    NoticeContent,
    Outcome,
    Selection,
    batch_ranges,
    check_selection,
    notified_summary,
    select_affected,
    tell_batch,
    untold,
)
from fiduciary.comms.models import OutboxMessage
from fiduciary.consent.models import ConsentState
from fiduciary.errors import ValidationFailed
from fiduciary.policy.schema import PolicyDocument
from fiduciary.rights.flows import erase_person
from fiduciary.runtime import Runtime
from fiduciary.storage.base import utcnow
from fiduciary.unit_of_work import unit_of_work
from fiduciary.vault.records import PersonalField, PersonIdentifier
from fiduciary.vault.service import NewPerson, VaultService
from vault_support import PURPOSES

CONTENT = NoticeContent("Export bucket public", date(2026, 5, 4), "Phishing risk", "Bucket closed", "Beware of calls")


def people(session: Session, runtime: Runtime, n: int, *, with_email: bool = True) -> list[str]:
    tag = uuid.uuid4().hex[:8]
    created = VaultService(runtime).create_people(
        session,
        [
            NewPerson(
                {"identity.name": f"Person {i}", "contact.email": f"p{i}.{tag}@example.com"},
                {"email": f"p{i}.{tag}@example.com"} if with_email else {},
            )
            for i in range(n)
        ],
        purpose=PURPOSES,
        source="provided",
    )
    session.commit()
    return created


def prefers_hindi(session: Session, person_id: str) -> None:
    session.add(
        ConsentState(
            subject_id=person_id, purpose="account", status="granted", policy_version=1, channel="api",
            notice_hash="sha256:" + "0" * 64, language="hi", updated_at=utcnow(), ledger_position=1,
        )
    )  # fmt: skip
    session.commit()


def tell_all(runtime: Runtime, session: Session, case: str, size: int = 2) -> int:
    uow = unit_of_work(runtime, session)
    told = 0
    for first, last in batch_ranges(session, case, size):
        told += tell_batch(uow, case, first, last, CONTENT).queued
    session.commit()
    return told


def test_everyone_with_the_category_is_selected_once_in_sql(runtime: Runtime, session: Session) -> None:
    case = open_incident(runtime, session)
    ids = people(session, runtime, 5)
    selection = Selection(("contact.email",))
    assert select_affected(session, case, selection) == 5
    assert select_affected(session, case, selection) == 0  # a repeated selection adds nobody
    session.commit()
    assert sorted(session.scalars(sa.select(BreachNotice.person_id))) == sorted(ids)
    assert select_affected(session, case, Selection(("identity.date_of_birth",))) == 0


def test_stored_before_a_date_selects_only_the_older_fields(runtime: Runtime, session: Session) -> None:
    case = open_incident(runtime, session)
    old = people(session, runtime, 2)
    session.execute(
        sa.update(PersonalField)
        .where(PersonalField.person_id.in_(old))
        .values(created_at=utcnow() - timedelta(days=30))
    )
    people(session, runtime, 3)
    assert (
        select_affected(session, case, Selection(("contact.email",), stored_before=utcnow() - timedelta(days=1))) == 2
    )
    session.commit()
    assert sorted(session.scalars(sa.select(BreachNotice.person_id))) == sorted(old)


def test_batches_are_ranges_of_person_ids_computed_in_sql(runtime: Runtime, session: Session) -> None:
    case = open_incident(runtime, session)
    ids = sorted(people(session, runtime, 5))
    select_affected(session, case, Selection(("contact.email",)))
    assert batch_ranges(session, case, 2) == [(ids[0], ids[1]), (ids[2], ids[3]), (ids[4], ids[4])]
    assert batch_ranges(session, case, 5) == [(ids[0], ids[4])]


def test_each_person_is_told_once_in_their_language_even_when_retried(runtime: Runtime, session: Session) -> None:
    case = open_incident(runtime, session)
    ids = people(session, runtime, 3)
    prefers_hindi(session, ids[0])
    select_affected(session, case, Selection(("contact.email",)))
    session.commit()
    assert tell_all(runtime, session, case) == 3
    session.execute(sa.update(BreachNotice).values(outcome=None))  # as if the batch ran again before marking
    session.commit()
    assert tell_all(runtime, session, case) == 3  # the outbox's idempotency key returns the first message
    messages = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == "breach.notice")).all()
    assert len(messages) == 3
    languages = {m.person_id: m.language for m in messages}
    assert languages[ids[0]] == "hi" and languages[ids[1]] == "en"
    hindi = next(m for m in messages if m.language == "hi")
    assert "सुरक्षा घटना" in hindi.subject
    summary = notified_summary(session, case)
    assert (summary.selected, summary.told, summary.without_contact) == (3, 3, 0)
    assert untold(session, case) == 0


def test_a_person_without_contact_is_counted_and_an_erased_person_is_never_selected(
    runtime: Runtime, session: Session
) -> None:
    case = open_incident(runtime, session)
    (no_email,) = people(session, runtime, 1, with_email=False)
    (erased,) = people(session, runtime, 1)
    erase_person(runtime, session, person_id=erased, actor="cli")
    session.commit()
    assert select_affected(session, case, Selection(("contact.email",))) == 1
    session.commit()
    assert tell_all(runtime, session, case) == 0
    row = session.get(BreachNotice, (case, no_email))
    assert row is not None and row.outcome == Outcome.NO_CONTACT
    assert notified_summary(session, case).without_contact == 1


def test_a_bad_selection_is_refused_naming_the_field() -> None:
    from fiduciary.config import DEMO_POLICY_PATH
    from fiduciary.policy.loader import load_policy

    document = load_policy(DEMO_POLICY_PATH).document
    with pytest.raises(ValidationFailed) as exc:
        check_selection(
            document,
            {"categories": ["nope"], "stored_before": "2026-01-01", "stored_after": "x"},
            ["contact.email"],
        )
    assert {p.field for p in exc.value.fields} == {"categories[0]", "stored_before", "stored_after"}
    assert check_selection(document, {}, ["contact.email"]).categories == ("contact.email",)


def _phone(n: int) -> str:
    """A mobile number unique to this run (identifiers are unique per kind across the database)."""
    return f"+919{uuid.uuid4().int % 10**7:07d}{n:02d}"


def _demo_document() -> PolicyDocument:
    from fiduciary.config import DEMO_POLICY_PATH
    from fiduciary.policy.loader import load_policy

    return load_policy(DEMO_POLICY_PATH).document


def test_the_identifier_kinds_follow_the_categories_types() -> None:
    document = _demo_document()
    assert check_selection(document, {}, ["contact.email"]).identifier_kinds == ("email",)
    assert check_selection(document, {}, ["contact.phone", "identity.name"]).identifier_kinds == ("phone",)
    assert check_selection(document, {}, ["identity.name"]).identifier_kinds == ()


def test_a_person_holding_the_category_only_as_an_identifier_is_selected_once_and_told(
    runtime: Runtime, session: Session
) -> None:
    case = open_incident(runtime, session)
    tag, phone = uuid.uuid4().hex[:8], _phone(71)
    only_identifier, both, neither = VaultService(runtime).create_people(
        session,
        [
            NewPerson({"identity.name": "Only id"}, {"phone": _phone(70)}),
            NewPerson({"identity.name": "Both", "contact.phone": phone}, {"phone": phone}),
            NewPerson({"identity.name": "Neither"}, {"email": f"n.{tag}@example.com"}),
        ],
        purpose=PURPOSES,
        source="provided",
    )
    session.commit()
    selection = check_selection(_demo_document(), {"categories": ["contact.phone"]}, [])
    assert select_affected(session, case, selection) == 2
    assert select_affected(session, case, selection) == 0  # a repeated selection adds nobody
    session.commit()
    assert sorted(session.scalars(sa.select(BreachNotice.person_id))) == sorted([only_identifier, both])
    assert neither not in set(session.scalars(sa.select(BreachNotice.person_id)))
    assert tell_all(runtime, session, case) == 2
    assert session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 2


def test_the_window_applies_to_identifiers_too(runtime: Runtime, session: Session) -> None:
    case = open_incident(runtime, session)
    old, _new = VaultService(runtime).create_people(
        session,
        [
            NewPerson({"identity.name": "Old"}, {"phone": _phone(72)}),
            NewPerson({"identity.name": "New"}, {"phone": _phone(73)}),
        ],
        purpose=PURPOSES,
        source="provided",
    )
    session.execute(
        sa.update(PersonIdentifier)
        .where(PersonIdentifier.person_id == old)
        .values(created_at=utcnow() - timedelta(days=30))
    )
    session.commit()
    selection = Selection(("contact.phone",), stored_before=utcnow() - timedelta(days=1), identifier_kinds=("phone",))
    assert select_affected(session, case, selection) == 1
    session.commit()
    assert list(session.scalars(sa.select(BreachNotice.person_id))) == [old]
