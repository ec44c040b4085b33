"""The vault service: encrypted personal fields, blind-indexed identifiers and legal-hold records of one runtime.

Layers: this module validates (through `fiduciary.vault.fields` and `fiduciary.vault.validation`), encrypts
and stores; it does no purpose check and no masking. `get_fields` and `get_records` return plaintext to any
caller and are therefore internal to the vault domain: everything outside it reads through the
purpose-bound access layer on top, which decides, masks and audits (DPDP s.8(5), Rule 6(1)(b)-(c); GDPR
Art 32).

The keys are `fiduciary.vault.keys`: `check_vault_keys` proves them once per process at start, each person's
data key is `fiduciary.vault.keys.data_keys`, and `fiduciary.vault.keys.rotation` re-wraps them all under a
new KEK. Identifiers are `fiduciary.vault.identifiers`, legal-hold records `fiduciary.vault.legal_holds`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, bindparam, delete, select
from sqlalchemy.orm import Session

from fiduciary.errors import Conflict, FieldProblem, ValidationFailed
from fiduciary.people.models import Person
from fiduciary.people.service import check_person_id, get_person, new_id, new_person_id, require_active
from fiduciary.storage import utcnow
from fiduciary.vault import erasure, legal_holds
from fiduciary.vault.crypto import FieldCipher, new_data_key
from fiduciary.vault.fields import (
    CategoryPlan,
    FieldValidator,
    PreparedField,
    Problems,
    check_purposes,
    check_source,
    default_validator,
    prefixed,
    prepare_fields,
)
from fiduciary.vault.identifiers import (
    MAX_IDENTIFIER_CHARS,
    IdentifierRow,
    identifier_rows,
    insert_identifiers,
    prepare_identifiers,
)
from fiduciary.vault.keys import data_keys
from fiduciary.vault.keys.blind_index import check_kind
from fiduciary.vault.keys.data_keys import KEY_VERSION, cipher_for_read, cipher_for_write
from fiduciary.vault.keys.startup import check_vault_keys
from fiduciary.vault.legal_holds import LegalHoldContent
from fiduciary.vault.records import (
    PERSON_KEYS,
    PERSONAL_FIELDS,
    PersonalField,
    PersonIdentifier,
    bulk_insert,
    dialect_insert,
)

if TYPE_CHECKING:
    from fiduciary.context import RuntimeContext
    from fiduciary.vault.erasure import ErasureReceipt

# Hot-path statements, built once (Core, so no ORM compile step per call).
_ALL_FIELDS = select(PERSONAL_FIELDS.c.category, PERSONAL_FIELDS.c.ciphertext, PERSONAL_FIELDS.c.key_version).where(
    PERSONAL_FIELDS.c.person_id == bindparam("person_id"), PERSONAL_FIELDS.c.item == ""
)
_SOME_FIELDS = _ALL_FIELDS.where(PERSONAL_FIELDS.c.category.in_(bindparam("categories", expanding=True)))
PEOPLE = cast(Table, Person.__table__)
# Column orders of the tuple rows the bulk paths build.
_PERSON_COLUMNS = ("id", "status", "age_status", "adult_on", "created_at", "closed_at")
_KEY_COLUMNS = ("person_id", "key_version", "kek_id", "wrapped_key", "created_at", "destroyed_at")
_FIELD_COLUMNS = (
    "person_id",
    "category",
    "item",
    "field_type",
    "key_version",
    "ciphertext",
    "purpose_of_collection",
    "source",
    "created_at",
    "updated_at",
)


@dataclass(frozen=True)
class NewPerson:
    """One person for `create_people`: fields by category, identifiers by kind, an optional chosen id."""

    fields: Mapping[str, str]
    identifiers: Mapping[str, str] = field(default_factory=dict)
    person_id: str | None = None


@dataclass(frozen=True)
class StoredRecord:
    item: str
    created_at: datetime
    value: str


class VaultService:
    """Encrypted personal fields for one runtime. Cheap to construct: the keys are checked once per process."""

    def __init__(self, runtime: RuntimeContext, *, validator: FieldValidator | None = None) -> None:
        self.runtime = runtime
        self.keys = check_vault_keys(runtime)
        self._validator = validator

    @property
    def validator(self) -> FieldValidator:
        if self._validator is None:
            self._validator = default_validator()
        return self._validator

    # ------------------------------------------------------------------------------------------ writes

    def create_person_record(
        self,
        session: Session,
        person_id: str,
        fields: Mapping[str, str],
        identifiers: Mapping[str, str] | None = None,
        *,
        purpose: str | Sequence[str],
        source: str,
    ) -> None:
        """Store an existing person's first fields and identifiers, encrypted and blind-indexed.

        Every value is validated first; any problem raises one `ValidationFailed` naming each field
        (`fields.<category>`, `identifiers.<kind>`) and nothing is written. An identifier that belongs to
        another person is a 409 `identifier_in_use` (the message never says whose).
        """
        self._write(session, person_id, fields, identifiers or {}, purpose=purpose, source=source, require_fields=False)

    def put_fields(
        self, session: Session, person_id: str, fields: Mapping[str, str], *, purpose: str | Sequence[str], source: str
    ) -> None:
        """Set (insert or replace) single-valued categories; the old ciphertext is overwritten in place."""
        self._write(session, person_id, fields, {}, purpose=purpose, source=source, require_fields=True)

    def put_field(
        self, session: Session, person_id: str, category: str, value: str, *, purpose: str | Sequence[str], source: str
    ) -> None:
        self.put_fields(session, person_id, {category: value}, purpose=purpose, source=source)

    def add_identifiers(self, session: Session, person_id: str, identifiers: Mapping[str, str]) -> None:
        """Add identifiers (a second email, a phone) to a person; already theirs is not an error."""
        if not identifiers:
            raise ValidationFailed("Give at least one identifier.", [FieldProblem("identifiers", "is empty")])
        self._write(session, person_id, {}, identifiers, purpose=(), source="", require_fields=False)

    def _write(
        self,
        session: Session,
        person_id: str,
        fields: Mapping[str, str],
        identifiers: Mapping[str, str],
        *,
        purpose: str | Sequence[str],
        source: str,
        require_fields: bool,
    ) -> None:
        policy = self.runtime.policy()
        problems = Problems()
        prepared_fields: list[PreparedField] = []
        if fields or require_fields:
            if not fields:
                raise ValidationFailed("Give at least one field.", [FieldProblem("fields", "is empty")])
            purposes = check_purposes(policy, purpose)
            check_source(source)
            prepared_fields = prepare_fields(self.validator, policy, fields, purposes, "fields", problems)
        prepared_ids = prepare_identifiers(
            self.validator, self.keys.index, policy, identifiers, "identifiers", problems, prepared_fields
        )
        problems.raise_if_any()
        person = get_person(session, person_id)
        require_active(person)
        cipher = cipher_for_write(self.keys, session, person_id)
        now = utcnow()
        if prepared_ids:
            insert_identifiers(session, identifier_rows(cipher, prepared_ids, "identifiers"), now)
        if prepared_fields:
            rows = [
                {
                    "person_id": person_id,
                    "category": f.category,
                    "item": "",
                    "field_type": f.field_type,
                    "key_version": cipher.key_version,
                    "ciphertext": cipher.encrypt(f.category, f.value),
                    "purpose_of_collection": f.purpose,
                    "source": source,
                    "created_at": now,
                    "updated_at": now,
                }
                for f in prepared_fields
            ]
            stmt = dialect_insert(session, PERSONAL_FIELDS)
            stmt = stmt.on_conflict_do_update(
                index_elements=["person_id", "category", "item"],
                set_={
                    name: stmt.excluded[name]
                    for name in (
                        "field_type",
                        "key_version",
                        "ciphertext",
                        "purpose_of_collection",
                        "source",
                        "updated_at",
                    )
                },
            )
            session.execute(stmt, rows)

    def create_people(
        self,
        session: Session,
        people: Sequence[NewPerson],
        *,
        purpose: str | Sequence[str],
        source: str,
    ) -> list[str]:
        """Create many people with their fields and identifiers in the caller's transaction, by executemany.

        All or nothing: every value of every person is validated first; problems name `people[i].fields.<c>`.
        Returns the person ids in input order (generated unless given).
        """
        policy = self.runtime.policy()
        purposes = check_purposes(policy, purpose)
        check_source(source)
        problems = Problems()
        categories: dict[str, CategoryPlan] = {}
        now = utcnow()
        wrap = self.keys.keyring.wrap_data_key
        person_ids: list[str] = []
        # Rows as plain tuples in `_*_COLUMNS` order, built as each person is validated: the validated
        # values die young instead of being held (and scanned by the garbage collector) for the whole
        # batch. Encrypting is not writing: if any value is invalid, nothing is stored and the rows built
        # so far are dropped (and once a problem is found, no more keys are made).
        key_rows: list[tuple[Any, ...]] = []
        field_rows: list[tuple[Any, ...]] = []
        id_rows: list[IdentifierRow] = []
        for i, person in enumerate(people):
            prefix = f"people[{i}]"
            if person.person_id is not None:
                try:
                    check_person_id(person.person_id, f"{prefix}.person_id")
                except ValidationFailed as exc:
                    problems.caught(exc)
            prepared_fields = prepare_fields(
                self.validator, policy, person.fields, purposes, f"{prefix}.fields", problems, categories
            )
            prepared_ids = prepare_identifiers(
                self.validator,
                self.keys.index,
                policy,
                person.identifiers,
                f"{prefix}.identifiers",
                problems,
                prepared_fields,
            )
            person_id = person.person_id or new_person_id()
            person_ids.append(person_id)
            if problems:
                continue
            # One data key, one wrap under the KEK and one AES context per person; a seal per value.
            data_key = new_data_key()
            kek_id, wrapped = wrap(person_id, KEY_VERSION, data_key)
            key_rows.append((person_id, KEY_VERSION, kek_id, wrapped, now, None))
            cipher = FieldCipher(person_id, data_key, KEY_VERSION)
            encrypt = cipher.encrypt
            field_rows.extend(
                (
                    person_id,
                    f.category,
                    "",
                    f.field_type,
                    KEY_VERSION,
                    encrypt(f.category, f.value),
                    f.purpose,
                    source,
                    now,
                    now,
                )
                for f in prepared_fields
            )
            if prepared_ids:
                id_rows += identifier_rows(cipher, prepared_ids, f"{prefix}.identifiers")
        problems.raise_if_any()
        self._store_people(session, people, person_ids, key_rows, field_rows, id_rows, now)
        return person_ids

    def _store_people(
        self,
        session: Session,
        people: Sequence[NewPerson],
        person_ids: list[str],
        key_rows: list[tuple[Any, ...]],
        field_rows: list[tuple[Any, ...]],
        id_rows: list[IdentifierRow],
        now: datetime,
    ) -> None:
        """Write `create_people`'s validated, encrypted rows: people, identifiers, fields, then data keys."""
        if len(set(person_ids)) != len(person_ids):
            raise ValidationFailed("A person id appears twice.", [FieldProblem("people", "person ids must be unique")])
        if not person_ids:
            return
        self.keys.ensure_initialised(session)
        chosen = [p.person_id for p in people if p.person_id is not None]
        for start in range(0, len(chosen), 500):
            if session.scalar(select(Person.id).where(Person.id.in_(chosen[start : start + 500])).limit(1)):
                raise Conflict("A person with a given id already exists.", code="person_exists")
        bulk_insert(
            session,
            PEOPLE,
            [(pid, "active", "unknown", None, now, None) for pid in person_ids],
            columns=_PERSON_COLUMNS,
        )
        if id_rows:
            insert_identifiers(session, id_rows, now)
        if field_rows:
            bulk_insert(session, PERSONAL_FIELDS, field_rows, columns=_FIELD_COLUMNS)
        with self.keys.key_store.use(session, write=True) as ks:
            bulk_insert(ks, PERSON_KEYS, key_rows, columns=_KEY_COLUMNS)

    def append_records(
        self,
        session: Session,
        person_id: str,
        category: str,
        values: Sequence[str],
        *,
        purpose: str | Sequence[str],
        source: str,
    ) -> list[str]:
        """Add records to a multi-valued category (support messages, orders); returns their item ids."""
        if not values:
            raise ValidationFailed("Give at least one value.", [FieldProblem("values", "is empty")])
        policy = self.runtime.policy()
        purposes = check_purposes(policy, purpose)
        check_source(source)
        problems = Problems()
        prepared: list[PreparedField] = []
        categories: dict[str, CategoryPlan] = {}
        for i, value in enumerate(values):
            prepared.extend(
                prepare_fields(
                    self.validator, policy, {category: value}, purposes, f"values[{i}]", problems, categories
                )
            )
        problems.raise_if_any()
        require_active(get_person(session, person_id))
        cipher = cipher_for_write(self.keys, session, person_id)
        now = utcnow()
        items = [new_id("rec") for _ in prepared]
        bulk_insert(
            session,
            PERSONAL_FIELDS,
            [
                (
                    person_id,
                    f.category,
                    item,
                    f.field_type,
                    cipher.key_version,
                    cipher.encrypt(f.category, f.value, item),
                    f.purpose,
                    source,
                    now,
                    now,
                )
                for f, item in zip(prepared, items, strict=True)
            ],
            columns=_FIELD_COLUMNS,
        )
        return items

    def append_record(
        self, session: Session, person_id: str, category: str, value: str, *, purpose: str | Sequence[str], source: str
    ) -> str:
        return self.append_records(session, person_id, category, [value], purpose=purpose, source=source)[0]

    # ------------------------------------------------------------------------------------------- reads

    def get_fields(self, session: Session, person_id: str, categories: Collection[str] | None = None) -> dict[str, str]:
        """INTERNAL to the vault domain: decrypt a person's single-valued fields, with no purpose check.

        Callers outside `fiduciary.vault` use the purpose-bound access layer, which decides, masks and
        audits. Unknown categories are simply absent from the result. `PersonErased` (410) after erasure;
        `CorruptCiphertext` (500) if a stored value does not authenticate, never a wrong value.
        """
        cipher = cipher_for_read(self.keys, session, person_id)
        if cipher is None:
            return {}
        if categories is None:
            rows = session.connection().execute(_ALL_FIELDS, {"person_id": person_id})
        else:
            wanted = list(categories)
            if not wanted:
                return {}
            rows = session.connection().execute(_SOME_FIELDS, {"person_id": person_id, "categories": wanted})
        return {category: cipher.decrypt(category, blob, "", version) for category, blob, version in rows}

    def collected_for(self, session: Session, person_id: str, categories: Collection[str]) -> dict[str, str]:
        """category → the purpose each stored single-valued field was collected for; no value is read.

        A correction (DPDP s.12(2), GDPR Art 16) keeps the purpose a value was collected for: it changes
        the value, not why the store holds it.
        """
        wanted = list(categories)
        if not wanted:
            return {}
        rows = session.execute(
            select(PersonalField.category, PersonalField.purpose_of_collection).where(
                PersonalField.person_id == person_id, PersonalField.category.in_(wanted), PersonalField.item == ""
            )
        )
        return {category: purpose for category, purpose in rows}

    def get_records(
        self, session: Session, person_id: str, category: str, *, limit: int = 100, offset: int = 0
    ) -> list[StoredRecord]:
        """INTERNAL (see `get_fields`): a multi-valued category's records, oldest first."""
        cipher = cipher_for_read(self.keys, session, person_id)
        if cipher is None:
            return []
        rows = session.execute(
            select(PersonalField.item, PersonalField.created_at, PersonalField.ciphertext, PersonalField.key_version)
            .where(PersonalField.person_id == person_id, PersonalField.category == category, PersonalField.item != "")
            .order_by(PersonalField.id)
            .limit(max(1, min(limit, 10_000)))
            .offset(max(0, offset))
        )
        return [
            StoredRecord(item, created, cipher.decrypt(category, blob, item, version))
            for item, created, blob, version in rows
        ]

    def get_identifiers(self, session: Session, person_id: str) -> list[tuple[str, str]]:
        """INTERNAL (see `get_fields`): the person's identifiers as (kind, normalised value), for export."""
        cipher = cipher_for_read(self.keys, session, person_id)
        if cipher is None:
            return []
        rows = session.execute(
            select(PersonIdentifier.kind, PersonIdentifier.ciphertext, PersonIdentifier.key_version)
            .where(PersonIdentifier.person_id == person_id)
            .order_by(PersonIdentifier.id)
        )
        return [(kind, cipher.decrypt("identifier." + kind, blob, "", version)) for kind, blob, version in rows]

    def find_by_identifier(self, session: Session, kind: str, value: str) -> str | None:
        """The person with exactly this identifier, by blind index; nothing is decrypted to search."""
        check_kind(kind)
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_IDENTIFIER_CHARS:
            raise ValidationFailed("Malformed identifier.", [FieldProblem("value", "must be a non-empty identifier")])
        country = self.runtime.policy().document.controller.default_country
        try:
            normalised = self.validator.normalise_identifier(kind, value, default_country=country)
        except ValidationFailed as exc:
            raise ValidationFailed(exc.detail, prefixed(exc, "value")) from None
        index = self.keys.index.blind_index(kind, normalised)
        return session.scalar(
            select(PersonIdentifier.person_id).where(
                PersonIdentifier.kind == kind, PersonIdentifier.blind_index == index
            )
        )

    def remove_identifier(self, session: Session, person_id: str, kind: str, value: str) -> bool:
        """Forget one identifier of a person (e.g. an old email); True if it was theirs."""
        check_person_id(person_id)
        check_kind(kind)
        country = self.runtime.policy().document.controller.default_country
        normalised = self.validator.normalise_identifier(kind, value, default_country=country)
        result = session.execute(
            delete(PersonIdentifier).where(
                PersonIdentifier.person_id == person_id,
                PersonIdentifier.kind == kind,
                PersonIdentifier.blind_index == self.keys.index.blind_index(kind, normalised),
            )
        )
        return bool(getattr(result, "rowcount", 0))

    # ------------------------------------------------------------------------------------- legal holds

    def add_legal_hold_record(
        self,
        session: Session,
        person_id: str,
        *,
        record_type: str,
        basis: str,
        purge_after: date,
        content: str,
        today: date | None = None,
    ) -> str:
        """Keep a record the law requires; see `fiduciary.vault.legal_holds.add_legal_hold_record`."""
        return legal_holds.add_legal_hold_record(
            self.keys,
            session,
            person_id,
            record_type=record_type,
            basis=basis,
            purge_after=purge_after,
            content=content,
            today=today,
        )

    def read_legal_hold_record(self, session: Session, record_id: str) -> LegalHoldContent:
        """INTERNAL (see `get_fields`): decrypt a legal-hold record; 410 once purged."""
        return legal_holds.read_legal_hold_record(self.keys, session, record_id)

    def purge_legal_holds(self, session: Session, *, today: date | None = None, batch_size: int = 1000) -> int:
        """Destroy the records whose hold ended; see `fiduciary.vault.legal_holds.purge_legal_holds`."""
        return legal_holds.purge_legal_holds(session, today=today, batch_size=batch_size)

    # ---------------------------------------------------------------------------------------- erasure

    def is_erased(self, session: Session, person_id: str) -> bool:
        """Whether the person's data key was destroyed; reads the key row only, never unwraps (no KMS call)."""
        return data_keys.is_erased(self.keys, session, person_id)

    def erase_person(self, session: Session, person_id: str, reason: str) -> ErasureReceipt:
        """Crypto-shred the person; see `fiduciary.vault.erasure.erase_person`."""
        return erasure.erase_person(self.keys, session, person_id, reason)
