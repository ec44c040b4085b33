"""VaultService on both engines: encrypted round trips, blind-index lookups, batch creation, legal holds,
and every bad input refused with a clear error and nothing changed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import cast

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.errors import Conflict, NotFound, ValidationFailed
from fiduciary.people.service import close_person
from fiduciary.runtime import Runtime
from fiduciary.vault import identifiers as identifiers_module
from fiduciary.vault.crypto import CorruptCiphertext
from fiduciary.vault.fields import MAX_VALUE_BYTES
from fiduciary.vault.keys.startup import close_vault_keys
from fiduciary.vault.legal_holds import RecordPurged
from fiduciary.vault.records import LegalHoldRecord, PersonalField, PersonIdentifier, PersonKey
from fiduciary.vault.service import NewPerson, VaultService
from vault_support import IDENTIFIERS, PURPOSES, SIGNUP, new_person, signed_up, snapshot


@pytest.fixture
def vault(runtime: Runtime) -> Iterator[VaultService]:
    yield VaultService(runtime)
    close_vault_keys(runtime)


def test_round_trip_with_normalised_values(session: Session, runtime: Runtime, vault: VaultService) -> None:
    person_id = new_person(session, runtime)
    vault.create_person_record(session, person_id, SIGNUP, IDENTIFIERS, purpose=PURPOSES, source="provided")
    session.commit()
    fields = vault.get_fields(session, person_id)
    assert fields == {
        "identity.name": "Zebulon Quixotewright",
        "contact.email": "zebulon.q7731@example.com",
        "contact.phone": "+919812345678",
        "identity.date_of_birth": "1990-04-17",
    }
    assert vault.get_fields(session, person_id, ["contact.email", "not.stored"]) == {
        "contact.email": "zebulon.q7731@example.com"
    }
    assert vault.get_fields(session, person_id, []) == {}
    assert sorted(vault.get_identifiers(session, person_id)) == [
        ("customer_id", "CUST-88172"),
        ("email", "zebulon.q7731@example.com"),
        ("phone", "+919812345678"),
    ]
    stored = {
        r.category: r for r in session.scalars(sa.select(PersonalField).where(PersonalField.person_id == person_id))
    }
    # The purpose of collection is the first named purpose that uses the category.
    assert stored["contact.email"].purpose_of_collection == "account"
    assert stored["identity.name"].source == "provided" and stored["identity.name"].field_type == "text"
    assert all(b"Zebulon" not in bytes(r.ciphertext) for r in stored.values())


def test_lookup_by_identifier_is_exact_and_normalised(session: Session, runtime: Runtime, vault: VaultService) -> None:
    person_id = new_person(session, runtime)
    vault.create_person_record(session, person_id, {}, IDENTIFIERS, purpose=PURPOSES, source="provided")
    other = new_person(session, runtime)
    vault.add_identifiers(session, other, {"email": "someone.else@example.com"})
    session.commit()
    assert vault.find_by_identifier(session, "email", "  ZEBULON.Q7731@example.COM ") == person_id
    assert vault.find_by_identifier(session, "phone", "9812345678") == person_id
    assert vault.find_by_identifier(session, "phone", "+91-98123-45678") == person_id
    assert vault.find_by_identifier(session, "customer_id", "CUST-88172") == person_id
    assert vault.find_by_identifier(session, "customer_id", "cust-88172") is None  # customer ids are exact
    assert vault.find_by_identifier(session, "email", "zebulon.q7731@example.co") is None
    assert vault.find_by_identifier(session, "email", "someone.else@example.com") == other
    # Indexes are per column: the email's index value is not found under another kind.
    index = session.scalar(sa.select(PersonIdentifier.blind_index).where(PersonIdentifier.kind == "email").limit(1))
    assert session.scalar(sa.select(sa.func.count()).where(PersonIdentifier.blind_index == index)) == 1
    with pytest.raises(ValidationFailed):
        vault.find_by_identifier(session, "email", "not an email")
    with pytest.raises(ValidationFailed):
        vault.find_by_identifier(session, "passport", "X1234")
    with pytest.raises(ValidationFailed):
        vault.find_by_identifier(session, "email", "")
    assert vault.remove_identifier(session, person_id, "email", "zebulon.q7731@example.com") is True
    assert vault.remove_identifier(session, person_id, "email", "zebulon.q7731@example.com") is False
    assert vault.find_by_identifier(session, "email", "zebulon.q7731@example.com") is None


def test_identifier_of_another_person_is_409_and_changes_nothing(
    session: Session, runtime: Runtime, vault: VaultService
) -> None:
    first = new_person(session, runtime)
    vault.create_person_record(
        session, first, SIGNUP, {"email": "shared@example.com"}, purpose=PURPOSES, source="provided"
    )
    second = new_person(session, runtime)
    session.commit()
    before = snapshot(session)
    with pytest.raises(Conflict) as info:
        vault.create_person_record(
            session, second, SIGNUP, {"email": "SHARED@example.com"}, purpose=PURPOSES, source="provided"
        )
    assert info.value.code == "identifier_in_use" and info.value.fields[0].field == "identifiers.email"
    assert "shared" not in info.value.detail.lower() and first not in info.value.detail
    session.rollback()
    assert snapshot(session) == before
    # Giving a person their own identifier again is not an error.
    vault.add_identifiers(session, first, {"email": "shared@example.com"})
    session.commit()
    assert vault.find_by_identifier(session, "email", "shared@example.com") == first


def test_put_fields_replaces_a_value_and_records_purpose(
    session: Session, runtime: Runtime, vault: VaultService
) -> None:
    person_id = signed_up(session, runtime, vault)
    old = session.scalar(
        sa.select(PersonalField.ciphertext).where(
            PersonalField.person_id == person_id, PersonalField.category == "identity.name"
        )
    )
    vault.put_field(session, person_id, "identity.name", "Zebulon Q. Wright", purpose="account", source="provided")
    vault.put_fields(
        session,
        person_id,
        {"contact.address": '{"lines": ["12 MG Road"], "city": "Bengaluru", "postal_code": "560001", "country": "IN"}'},
        purpose="order_fulfilment",
        source="provided",
    )
    session.commit()
    fields = vault.get_fields(session, person_id)
    assert fields["identity.name"] == "Zebulon Q. Wright" and "Bengaluru" in fields["contact.address"]
    rows = session.scalars(
        sa.select(PersonalField).where(PersonalField.person_id == person_id, PersonalField.category == "identity.name")
    ).all()
    assert len(rows) == 1 and bytes(rows[0].ciphertext) != bytes(old or b"")


def test_records_of_a_multi_valued_category(session: Session, runtime: Runtime, vault: VaultService) -> None:
    person_id = signed_up(session, runtime, vault)
    items = vault.append_records(
        session,
        person_id,
        "support.messages",
        ["Parcel arrived damaged", "My card 4111 1111 1111 1111 was charged twice"],
        purpose="customer_support",
        source="provided",
    )
    session.commit()
    records = vault.get_records(session, person_id, "support.messages")
    assert [r.item for r in records] == items
    assert records[0].value == "Parcel arrived damaged"
    assert "4111" not in records[1].value  # the free-text validator redacted the card number before storage
    assert vault.get_records(session, person_id, "support.messages", limit=1, offset=1)[0].item == items[1]
    assert "support.messages" not in vault.get_fields(session, person_id)  # records are not single values
    # A record's ciphertext is bound to its item: swapping two records' ciphertexts breaks both.
    rows = session.scalars(sa.select(PersonalField).where(PersonalField.item.in_(items))).all()
    a, b = bytes(rows[0].ciphertext), bytes(rows[1].ciphertext)
    rows[0].ciphertext, rows[1].ciphertext = b, a
    session.commit()
    with pytest.raises(CorruptCiphertext):
        vault.get_records(session, person_id, "support.messages")


def test_batch_creation(session: Session, runtime: Runtime, vault: VaultService) -> None:
    people = [
        NewPerson(
            {
                "identity.name": f"Batch Person {i}",
                "contact.email": f"batch{i}@example.com",
                "contact.phone": f"98000000{i:02d}",
            },
            {"email": f"batch{i}@example.com"},
        )
        for i in range(50)
    ]
    ids = vault.create_people(session, people, purpose=PURPOSES, source="provided")
    session.commit()
    assert len(set(ids)) == 50
    assert vault.get_fields(session, ids[7]) == {
        "identity.name": "Batch Person 7",
        "contact.email": "batch7@example.com",
        "contact.phone": "+919800000007",
    }
    assert vault.find_by_identifier(session, "email", "batch42@example.com") == ids[42]
    assert (session.scalar(sa.select(sa.func.count()).select_from(PersonKey)) or 0) >= 50
    assert vault.create_people(session, [], purpose=PURPOSES, source="provided") == []


def test_batch_is_all_or_nothing(session: Session, runtime: Runtime, vault: VaultService) -> None:
    existing = new_person(session, runtime)
    vault.add_identifiers(session, existing, {"email": "taken@example.com"})
    session.commit()
    before = snapshot(session)
    good = NewPerson({"identity.name": "Good"}, {"email": "good@example.com"})
    with pytest.raises(ValidationFailed) as info:
        vault.create_people(
            session,
            [good, NewPerson({"identity.name": "Bad", "contact.email": "nope"}), NewPerson({"no.such": "x"})],
            purpose=PURPOSES,
            source="provided",
        )
    assert [p.field for p in info.value.fields] == ["people[1].fields.contact.email", "people[2].fields.no.such"]
    assert snapshot(session) == before
    with pytest.raises(Conflict) as conflict:
        vault.create_people(
            session,
            [good, NewPerson({"identity.name": "X"}, {"email": "Taken@example.com"})],
            purpose=PURPOSES,
            source="provided",
        )
    assert conflict.value.fields[0].field == "people[1].identifiers.email"
    session.rollback()
    assert snapshot(session) == before
    with pytest.raises(Conflict) as twice:
        vault.create_people(
            session,
            [NewPerson({}, {"email": "dup@example.com"}), NewPerson({}, {"email": "DUP@example.com"})],
            purpose=PURPOSES,
            source="provided",
        )
    assert twice.value.code == "identifier_in_use"
    session.rollback()
    with pytest.raises(Conflict):
        vault.create_people(
            session, [NewPerson({"identity.name": "A"}, person_id=existing)], purpose=PURPOSES, source="provided"
        )
    session.rollback()
    with pytest.raises(ValidationFailed):
        vault.create_people(
            session, [NewPerson({"identity.name": "A"}, person_id="per_bad")], purpose=PURPOSES, source="provided"
        )
    assert snapshot(session) == before


@pytest.mark.parametrize(
    ("fields", "identifiers", "purpose", "source", "field", "code"),
    [
        ({"no.such.category": "x"}, {}, PURPOSES, "provided", "fields.no.such.category", "validation_failed"),
        ({"identity.name": "x"}, {}, "analytics", "provided", "fields.identity.name", "validation_failed"),
        ({"identity.name": "x"}, {}, "no_such_purpose", "provided", "purpose", "validation_failed"),
        ({"identity.name": "x"}, {}, [], "provided", "purpose", "validation_failed"),
        ({"identity.name": "x"}, {}, PURPOSES, "scraped", "source", "validation_failed"),
        ({"identity.name": "x" * (MAX_VALUE_BYTES + 1)}, {}, PURPOSES, "provided", "fields.identity.name", None),
        ({"identity.name": 42}, {}, PURPOSES, "provided", "fields.identity.name", "validation_failed"),
        ({"contact.email": "not-an-email"}, {}, PURPOSES, "provided", "fields.contact.email", None),
        ({"contact.phone": "12"}, {}, PURPOSES, "provided", "fields.contact.phone", None),
        ({"identity.date_of_birth": "17/04/1990"}, {}, PURPOSES, "provided", "fields.identity.date_of_birth", None),
        ({"identity.name": "Card 4111111111111111"}, {}, PURPOSES, "provided", "fields.identity.name", None),
        (
            {"financial.payment_token": "4111 1111 1111 1111"},
            {},
            PURPOSES,
            "third_party",
            "fields.financial.payment_token",
            None,
        ),
        ({}, {"passport": "X"}, PURPOSES, "provided", "identifiers.passport", "validation_failed"),
        ({}, {"email": "bad@"}, PURPOSES, "provided", "identifiers.email", None),
        ({}, {"phone": ""}, PURPOSES, "provided", "identifiers.phone", "validation_failed"),
        ({}, {"email": "a" * 400 + "@example.com"}, PURPOSES, "provided", "identifiers.email", "validation_failed"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_changes_nothing(
    session: Session,
    runtime: Runtime,
    vault: VaultService,
    fields: dict[str, object],
    identifiers: dict[str, str],
    purpose: object,
    source: str,
    field: str,
    code: str | None,
) -> None:
    person_id = signed_up(session, runtime, vault)
    before = snapshot(session)
    with pytest.raises(ValidationFailed) as info:
        vault.create_person_record(session, person_id, fields, identifiers, purpose=purpose, source=source)  # type: ignore[arg-type]
    assert info.value.status == 422
    assert [p.field for p in info.value.fields] == [field]
    if code is not None:
        assert info.value.code == code
    for value in [*fields.values(), *identifiers.values()]:
        if isinstance(value, str) and len(value) > 3:
            assert value not in info.value.detail and all(value not in p.message for p in info.value.fields)
    session.rollback()
    assert snapshot(session) == before


def test_several_problems_are_reported_together(session: Session, runtime: Runtime, vault: VaultService) -> None:
    person_id = new_person(session, runtime)
    with pytest.raises(ValidationFailed) as info:
        vault.create_person_record(
            session,
            person_id,
            {"contact.email": "nope", "identity.name": "ok", "no.such": "x"},
            {"phone": "1"},
            purpose=PURPOSES,
            source="provided",
        )
    assert sorted(p.field for p in info.value.fields) == ["fields.contact.email", "fields.no.such", "identifiers.phone"]


def test_unknown_closed_and_malformed_people(session: Session, runtime: Runtime, vault: VaultService) -> None:
    with pytest.raises(NotFound):
        vault.put_field(session, "per_" + "a" * 26, "identity.name", "X", purpose="account", source="provided")
    with pytest.raises(NotFound):
        vault.get_fields(session, "per_" + "a" * 26)
    with pytest.raises(ValidationFailed):
        vault.get_fields(session, "nobody")
    person_id = new_person(session, runtime)
    assert vault.get_fields(session, person_id) == {}  # exists, never had data
    assert vault.get_identifiers(session, person_id) == []
    close_person(session, person_id)
    session.commit()
    before = snapshot(session)
    with pytest.raises(Conflict) as info:
        vault.put_field(session, person_id, "identity.name", "X", purpose="account", source="provided")
    assert info.value.code == "person_closed"
    session.rollback()
    assert snapshot(session) == before


def test_ciphertext_moved_between_people_or_fields_fails(
    session: Session, runtime: Runtime, vault: VaultService
) -> None:
    alice = signed_up(
        session, runtime, vault, {"identity.name": "Alice Abernathy", "contact.email": "alice@example.com"}
    )
    bob = signed_up(session, runtime, vault, {"identity.name": "Bob Brannigan", "contact.email": "bob@example.com"})

    def blob(person_id: str, category: str) -> bytes:
        return bytes(
            session.scalar(
                sa.select(PersonalField.ciphertext).where(
                    PersonalField.person_id == person_id, PersonalField.category == category
                )
            )
            or b""
        )

    def overwrite(person_id: str, category: str, value: bytes) -> None:
        session.execute(
            sa.update(PersonalField)
            .where(PersonalField.person_id == person_id, PersonalField.category == category)
            .values(ciphertext=value)
        )
        session.commit()

    alice_name, bob_name, alice_email = (
        blob(alice, "identity.name"),
        blob(bob, "identity.name"),
        blob(alice, "contact.email"),
    )
    overwrite(bob, "identity.name", alice_name)  # an attacker with write access copies Alice's name to Bob
    with pytest.raises(CorruptCiphertext) as info:
        vault.get_fields(session, bob, ["identity.name"])
    assert "Alice" not in info.value.detail
    overwrite(bob, "identity.name", bob_name)
    overwrite(alice, "identity.name", alice_email)  # Alice's email moved into her name field
    with pytest.raises(CorruptCiphertext):
        vault.get_fields(session, alice, ["identity.name"])
    overwrite(alice, "identity.name", alice_name[:-5])  # truncated
    with pytest.raises(CorruptCiphertext):
        vault.get_fields(session, alice)
    overwrite(alice, "identity.name", alice_name[:10])  # truncated into the header
    with pytest.raises(CorruptCiphertext, match="truncated"):
        vault.get_fields(session, alice)
    altered = bytearray(alice_name)
    altered[20] ^= 0x01
    overwrite(alice, "identity.name", bytes(altered))
    with pytest.raises(CorruptCiphertext):
        vault.get_fields(session, alice)
    overwrite(alice, "identity.name", alice_name)
    assert vault.get_fields(session, alice, ["identity.name"]) == {"identity.name": "Alice Abernathy"}
    assert vault.get_fields(session, bob, ["identity.name"]) == {"identity.name": "Bob Brannigan"}


def test_wrapped_key_moved_to_another_person_fails(session: Session, runtime: Runtime, vault: VaultService) -> None:
    alice = signed_up(session, runtime, vault)
    bob = signed_up(session, runtime, vault)
    alice_key = session.scalar(sa.select(PersonKey.wrapped_key).where(PersonKey.person_id == alice))
    session.execute(sa.update(PersonKey).where(PersonKey.person_id == bob).values(wrapped_key=alice_key))
    session.commit()
    with pytest.raises(CorruptCiphertext):
        vault.get_fields(session, bob)


def test_legal_hold_records(session: Session, runtime: Runtime, vault: VaultService) -> None:
    person_id = signed_up(session, runtime, vault)
    today = date.today()
    record_id = vault.add_legal_hold_record(
        session,
        person_id,
        record_type="invoice",
        basis="CGST Act 2017 s.36 (72 months)",
        purge_after=today + timedelta(days=30),
        content='{"invoice": "INV-1", "bill_to": "Zebulon Quixotewright"}',
    )
    session.commit()
    row = session.get(LegalHoldRecord, record_id)
    assert row is not None and b"Zebulon" not in bytes(row.ciphertext or b"")
    record = vault.read_legal_hold_record(session, record_id)
    assert record.person_id == person_id and "Zebulon" in record.content and record.record_type == "invoice"
    assert vault.purge_legal_holds(session, today=today + timedelta(days=30)) == 0  # the hold covers its last day
    assert vault.purge_legal_holds(session, today=today + timedelta(days=31)) == 1
    session.commit()
    with pytest.raises(RecordPurged):
        vault.read_legal_hold_record(session, record_id)
    session.expire_all()
    row = session.get(LegalHoldRecord, record_id)
    assert row is not None and row.ciphertext is None and row.record_key_wrapped is None and row.person_id is None
    with pytest.raises(NotFound):
        vault.read_legal_hold_record(session, "lhr_nothing")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"record_type": "Invoice!"}, "record_type"),
        ({"basis": " "}, "basis"),
        ({"purge_after": date(2000, 1, 1)}, "purge_after"),
        ({"content": ""}, "content"),
    ],
)
def test_bad_legal_hold_input(
    session: Session, runtime: Runtime, vault: VaultService, kwargs: dict[str, object], field: str
) -> None:
    person_id = signed_up(session, runtime, vault)
    before = snapshot(session)
    args: dict[str, object] = {
        "record_type": "invoice",
        "basis": "CGST Act 2017 s.36",
        "purge_after": date.today() + timedelta(days=1),
        "content": "x",
        **kwargs,
    }
    with pytest.raises(ValidationFailed) as info:
        vault.add_legal_hold_record(session, person_id, **args)  # type: ignore[arg-type]
    assert [p.field for p in info.value.fields] == [field]
    session.rollback()
    assert snapshot(session) == before


@pytest.mark.parametrize(
    ("kind", "field_type", "value"),
    [
        ("email", "email", "  Mixed.Case@Example.COM "),
        ("email", "email", "user@bücher.example"),
        ("phone", "phone", "98123 45678"),
        ("phone", "phone", "+44 20 7946 0958"),
        ("phone", "phone", "+91-98123-45678"),
    ],
)
def test_identifier_and_field_normalise_alike(kind: str, field_type: str, value: str) -> None:
    """The vault reuses a field's validated email/phone for the identical identifier (one parse, not two):
    that is only right while the two normalisations agree."""
    from fiduciary.policy.schema import FieldType
    from fiduciary.vault.validation import normalise_identifier, validate_field

    as_field = validate_field(FieldType(field_type), value, default_country="IN").value
    assert normalise_identifier(kind, value, default_country="IN") == as_field  # type: ignore[arg-type]


def test_identifier_given_with_its_field_is_indexed_once_and_found(
    session: Session, runtime: Runtime, vault: VaultService
) -> None:
    person_id = new_person(session, runtime)
    vault.create_person_record(
        session,
        person_id,
        {"contact.email": "Same.Value@Example.com", "contact.phone": "98123 45678"},
        {"email": "Same.Value@Example.com", "phone": "98123 45678"},
        purpose="account",
        source="provided",
    )
    session.commit()
    assert vault.find_by_identifier(session, "email", "same.value@example.com") == person_id
    assert vault.find_by_identifier(session, "phone", "+919812345678") == person_id


def test_bulk_insert_stores_exactly_what_a_core_insert_stores(session: Session, runtime: Runtime) -> None:
    """The executemany fast path must convert timestamps and bytes as SQLAlchemy's own insert does."""
    from datetime import UTC, datetime

    from fiduciary.people.models import Person
    from fiduciary.vault.records import PERSONAL_FIELDS, bulk_insert

    moment = datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    people = cast(sa.Table, Person.__table__)
    rows = [
        {
            "id": "per_" + c * 26,
            "status": "active",
            "age_status": "unknown",
            "adult_on": None,
            "created_at": moment,
            "closed_at": None,
        }
        for c in "ab"
    ]
    session.execute(sa.insert(people), [rows[0]])
    bulk_insert(session, people, [rows[1]])
    fields = [
        {
            "person_id": "per_" + c * 26,
            "category": "identity.name",
            "item": "",
            "field_type": "text",
            "key_version": 1,
            "ciphertext": b"\x00\x01\xffbytes",
            "purpose_of_collection": "account",
            "source": "provided",
            "created_at": moment,
            "updated_at": moment,
        }
        for c in "ab"
    ]
    session.execute(sa.insert(PERSONAL_FIELDS), [fields[0]])
    bulk_insert(session, PERSONAL_FIELDS, [fields[1]])
    raw = session.execute(
        sa.text("SELECT person_id, created_at, ciphertext FROM personal_fields ORDER BY person_id")
    ).all()
    assert raw[0][1:] == raw[1][1:]  # the same stored representation, engine by engine
    raw_people = session.execute(
        sa.text("SELECT created_at FROM people WHERE id IN (:a, :b)"), {"a": rows[0]["id"], "b": rows[1]["id"]}
    ).all()
    assert raw_people[0] == raw_people[1]
    loaded = session.scalars(sa.select(PersonalField).order_by(PersonalField.person_id)).all()
    assert [f.created_at for f in loaded] == [moment, moment] and bytes(loaded[1].ciphertext) == b"\x00\x01\xffbytes"


def test_bulk_insert_of_tuples_in_any_column_order_stores_what_a_core_insert_stores(
    session: Session, runtime: Runtime
) -> None:
    """The bulk paths pass tuples with their own column order (not the table's, nor the statement's);
    a column left to its default falls back to Core's insert, which fills the default in."""
    from datetime import UTC, datetime

    from fiduciary.people.models import Person
    from fiduciary.vault.records import PERSONAL_FIELDS, bulk_insert

    moment = datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    later = datetime(2032, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    people = cast(sa.Table, Person.__table__)
    ids = ["per_" + c * 26 for c in "cdef"]
    session.execute(
        sa.insert(people),
        [{"id": pid, "status": "active", "age_status": "unknown", "created_at": moment} for pid in ids],
    )
    core = {
        "person_id": ids[0],
        "category": "identity.name",
        "item": "",
        "field_type": "text",
        "key_version": 1,
        "ciphertext": b"\x00\x01\xffbytes",
        "purpose_of_collection": "account",
        "source": "provided",
        "created_at": moment,
        "updated_at": later,
    }
    session.execute(sa.insert(PERSONAL_FIELDS), [core])
    shuffled = ("updated_at", "ciphertext", "source", "person_id", "key_version", "created_at")
    shuffled += ("purpose_of_collection", "field_type", "item", "category")
    bulk_insert(
        session,
        PERSONAL_FIELDS,
        [tuple({**core, "person_id": pid}[name] for name in shuffled) for pid in ids[1:3]],
        columns=shuffled,
    )
    without_item = tuple(name for name in shuffled if name != "item")  # "item" has a default: Core path
    bulk_insert(
        session, PERSONAL_FIELDS, [tuple({**core, "person_id": ids[3]}[n] for n in without_item)], columns=without_item
    )
    raw = session.execute(
        sa.text(
            "SELECT person_id, category, item, field_type, key_version, ciphertext, purpose_of_collection, source, "
            "created_at, updated_at FROM personal_fields WHERE person_id IN (:a, :b, :c, :d) ORDER BY person_id"
        ),
        dict(zip("abcd", ids, strict=True)),
    ).all()
    assert [row[0] for row in raw] == ids
    assert all(tuple(row[1:]) == tuple(raw[0][1:]) for row in raw)  # byte for byte what Core stored
    loaded = session.scalars(sa.select(PersonalField).where(PersonalField.person_id.in_(ids))).all()
    assert {(f.created_at, f.updated_at, bytes(f.ciphertext)) for f in loaded} == {
        (moment, later, b"\x00\x01\xffbytes")
    }


def test_bulk_insert_of_a_taken_identifier_is_an_integrity_error_on_both_engines(
    session: Session, runtime: Runtime, vault: VaultService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A duplicate (kind, blind index) fails as an INSERT would (PostgreSQL copies rows in), so a
    concurrent registration still becomes 409 `identifier_in_use` in `insert_identifiers`."""
    from datetime import UTC, datetime

    from sqlalchemy.exc import IntegrityError

    from fiduciary.vault.records import PERSON_IDENTIFIERS, bulk_insert

    first, second = new_person(session, runtime), new_person(session, runtime)
    vault.add_identifiers(session, first, {"email": "raced@example.com"})
    session.commit()
    taken = session.execute(sa.select(PersonIdentifier.kind, PersonIdentifier.blind_index)).one()
    before = snapshot(session)
    row = (second, taken.kind, bytes(taken.blind_index), 1, b"\x01" + b"\x00" * 40, datetime.now(UTC))
    columns = ("person_id", "kind", "blind_index", "key_version", "ciphertext", "created_at")
    with pytest.raises(IntegrityError):
        bulk_insert(session, PERSON_IDENTIFIERS, [row], columns=columns)
    session.rollback()
    assert snapshot(session) == before
    # The race: another writer registers the identifier between our check and our insert.
    holders = identifiers_module._HOLDERS
    monkeypatch.setattr(identifiers_module, "_HOLDERS", holders.where(sa.false()))
    with pytest.raises(Conflict) as caught:
        identifiers_module.insert_identifiers(session, [(*row[:5], "identifiers")], row[5])
    assert caught.value.code == "identifier_in_use"
    assert caught.value.fields[0].message == "one of them was registered to another person meanwhile"
    session.rollback()
    assert snapshot(session) == before
