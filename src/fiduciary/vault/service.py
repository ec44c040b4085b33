"""The vault service: encrypted personal fields, blind-indexed identifiers, legal-hold records, key rotation.

Layers: this module validates (through `fiduciary.vault.validation`), encrypts and stores; it does no
purpose check and no masking. `get_fields` and `get_records` return plaintext to any caller and are
therefore internal to the vault domain: everything outside it reads through the purpose-bound access
layer on top, which decides, masks and audits (DPDP s.8(5), Rule 6(1)(b)-(c); GDPR Art 32).

Keys (DESIGN.md principle 4):
- `check_vault_keys(runtime)` runs once per process at start: it loads the key-encryption key ring and the
  blind-index secret, proves the KEK against a canary written when the vault was first initialised,
  checks every KEK id still referenced by data is configured, and refuses to start otherwise.
- Unwrapped data keys are cached in a bounded LRU keyed by the wrapped blob, but the wrapped row is read
  on every access, so erasing a person (destroying the row) takes effect at once in every process.
- `rotate_keks` re-wraps every data key and legal-hold record key under the current KEK in batches, one
  transaction each, without decrypting any field.
"""

from __future__ import annotations

import base64
import importlib
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, cast

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Engine, Table, bindparam, delete, event, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from fiduciary.errors import Conflict, FiduciaryError, FieldProblem, NotFound, ValidationFailed
from fiduciary.storage import create_engine_for_url, make_session_factory, utcnow
from fiduciary.vault.crypto import (
    FieldCipher,
    canary_ad,
    new_data_key,
    open_sealed,
    record_ad,
    seal,
)
from fiduciary.vault.erasure import (
    NO_GAP,
    ErasureJournal,
    JournalDamaged,
    JournalGap,
    journal_path,
    unapplied_erasures,
)
from fiduciary.vault.identifiers import IndexKeys, check_kind, load_index_keys
from fiduciary.vault.kek import KeyRing, VaultKeyError, load_keyring
from fiduciary.vault.models import Person
from fiduciary.vault.people import check_person_id, get_person, new_id, new_person_id, require_active
from fiduciary.vault.records import (
    LEGAL_HOLD_RECORDS,
    PERSON_IDENTIFIERS,
    PERSON_KEYS,
    PERSONAL_FIELDS,
    VAULT_META,
    LegalHoldRecord,
    PersonalField,
    PersonIdentifier,
    PersonKey,
    VaultMeta,
    bulk_insert,
    create_key_store_tables,
    dialect_insert,
)

# The policy's schema is needed only by the methods that store fields, so `fiduciary keys status` and the
# other key commands do not import it (bench/RESULTS.md "CLI start-up").
if TYPE_CHECKING:
    from fiduciary.policy.compiled import CompiledPolicy
    from fiduciary.policy.schema import FieldType
    from fiduciary.runtime import Runtime
    from fiduciary.vault.erasure import ErasureReceipt

VAULT_EXTRA = "vault.keys"
KEY_VERSION = 1
MAX_VALUE_BYTES = 64 * 1024  # one field value; larger content belongs in a document store, referenced
MAX_IDENTIFIER_CHARS = 320  # RFC 5321: 64 + 1 + 255, the longest email address
MAX_RECORD_BYTES = 1024 * 1024  # one legal-hold record (an invoice, a transaction log excerpt)
CANARY = "canary"
INDEX_META = "index"
CANARY_PLAINTEXT = b"fiduciary vault canary v1"
RECORD_TYPE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")
_IDENTIFIER_OF_TYPE = {"email": "email", "phone": "phone"}  # field type -> identifier kind, same normalisation

# Hot-path statements, built once (Core, so no ORM compile step per call).
_KEY_ROW = select(
    PERSON_KEYS.c.key_version, PERSON_KEYS.c.kek_id, PERSON_KEYS.c.wrapped_key, PERSON_KEYS.c.destroyed_at
).where(PERSON_KEYS.c.person_id == bindparam("person_id"))
_ALL_FIELDS = select(PERSONAL_FIELDS.c.category, PERSONAL_FIELDS.c.ciphertext, PERSONAL_FIELDS.c.key_version).where(
    PERSONAL_FIELDS.c.person_id == bindparam("person_id"), PERSONAL_FIELDS.c.item == ""
)
_SOME_FIELDS = _ALL_FIELDS.where(PERSONAL_FIELDS.c.category.in_(bindparam("categories", expanding=True)))
_FIND = select(PERSON_IDENTIFIERS.c.person_id).where(
    PERSON_IDENTIFIERS.c.kind == bindparam("kind"), PERSON_IDENTIFIERS.c.blind_index == bindparam("blind_index")
)
# Who holds any of these blind indexes (an expanding IN: compiled once, not once per batch of 500).
_HOLDERS = select(PERSON_IDENTIFIERS.c.person_id, PERSON_IDENTIFIERS.c.blind_index).where(
    PERSON_IDENTIFIERS.c.kind == bindparam("kind"),
    PERSON_IDENTIFIERS.c.blind_index.in_(bindparam("indexes", expanding=True)),
)
PEOPLE = cast(Table, Person.__table__)
# Column orders of the tuple rows the bulk paths build.
_PERSON_COLUMNS = ("id", "status", "age_status", "adult_on", "created_at", "closed_at")
_KEY_COLUMNS = ("person_id", "key_version", "kek_id", "wrapped_key", "created_at", "destroyed_at")
_IDENTIFIER_COLUMNS = ("person_id", "kind", "blind_index", "key_version", "ciphertext", "created_at")
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


class PersonErased(FiduciaryError):
    """The person's data key was destroyed: their fields are gone for good (crypto-shredded)."""

    def __init__(self, detail: str = "The person's personal data has been erased.") -> None:
        super().__init__(detail=detail, status=410, title="Gone", code="person_erased")


class RecordPurged(FiduciaryError):
    def __init__(self) -> None:
        super().__init__(
            detail="The legal-hold record was purged when its hold ended.",
            status=410,
            title="Gone",
            code="record_purged",
        )


# ----------------------------------------------------------------------------------------- validation hook


class ValidatedLike(Protocol):
    @property
    def value(self) -> str: ...

    @property
    def masked(self) -> str: ...


class FieldValidator(Protocol):
    """The surface of `fiduciary.vault.validation` the vault calls (formats, checksums, redaction)."""

    def normalise_identifier(self, kind: str, value: str, default_country: str) -> str: ...

    def validate_field(self, field_type: str, value: str, *, default_country: str) -> ValidatedLike: ...


def default_validator() -> FieldValidator:
    """`fiduciary.vault.validation`, imported on first use (it pulls in the free-text recognisers)."""
    try:
        module = importlib.import_module("fiduciary.vault.validation")
    except ModuleNotFoundError as exc:  # pragma: no cover - only while the module is being written
        raise RuntimeError("fiduciary.vault.validation is not available; the vault cannot validate values") from exc
    return cast(FieldValidator, module)


def _purpose_for(policy: CompiledPolicy, purposes: Sequence[str], category: str) -> str | None:
    for purpose in purposes:
        if category in policy.compiled_purposes[purpose].categories:
            return purpose
    return None


def _prefixed(exc: ValidationFailed, prefix: str) -> list[FieldProblem]:
    problems = exc.fields or [FieldProblem("", exc.detail)]
    return [FieldProblem(prefix, p.message, p.hint) for p in problems]


class _Problems(list[FieldProblem]):
    """Problems collected across every value, and the validator's codes (kept when there is only one)."""

    def __init__(self) -> None:
        super().__init__()
        self.codes: set[str] = set()

    def append(self, problem: FieldProblem) -> None:
        super().append(problem)
        self.codes.add("validation_failed")

    def caught(self, exc: ValidationFailed, where: str | None = None) -> None:
        self.extend(exc.fields if where is None else _prefixed(exc, where))
        self.codes.add(exc.code)

    def raise_if_any(self) -> None:
        if self:
            code = next(iter(self.codes)) if len(self.codes) == 1 else "validation_failed"
            raise ValidationFailed("Some values are not valid.", list(self), code=code)


# ----------------------------------------------------------------------------------------------- key store


class KeyStore:
    """Where `person_keys` and `vault_meta` live: the caller's session (default) or their own database.

    With a separate database, key writes commit in their own transaction before the caller's: a rollback
    of the caller then leaves at most an unused data key (reused by the next write for that person), never
    data without a key. A key destruction commits at once: the erasure has happened when it returns.
    """

    def __init__(self, engine: Engine | None) -> None:
        self.engine = engine
        self._sessions: sessionmaker[Session] | None = make_session_factory(engine) if engine is not None else None

    @property
    def separate(self) -> bool:
        return self._sessions is not None

    @contextmanager
    def use(self, session: Session, *, write: bool = False) -> Iterator[Session]:
        if self._sessions is None:
            yield session
            return
        with self._sessions() as own:
            yield own
            if write:
                own.commit()

    def describe(self) -> str:
        if self.engine is None:
            return "main database"
        return "separate database " + self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


class DataKeyCache:
    """Unwrapped data keys (as ready AES contexts) by person, valid only for the exact wrapped blob."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[str, tuple[bytes, AESGCM]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, person_id: str, wrapped: bytes) -> AESGCM | None:
        with self._lock:
            entry = self._entries.get(person_id)
            if entry is None or entry[0] != wrapped:
                return None
            self._entries.move_to_end(person_id)
            return entry[1]

    def put(self, person_id: str, wrapped: bytes, aead: AESGCM) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._entries[person_id] = (wrapped, aead)
            self._entries.move_to_end(person_id)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def evict(self, person_ids: Collection[str]) -> None:
        with self._lock:
            for person_id in person_ids:
                self._entries.pop(person_id, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


@dataclass
class VaultKeys:
    """The vault's per-process key material and stores, checked at start (see `check_vault_keys`)."""

    keyring: KeyRing
    index: IndexKeys
    key_store: KeyStore
    journal: ErasureJournal
    cache: DataKeyCache
    initialised: bool = False  # the canary is known to match this process's KEK
    _init_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def ensure_initialised(self, session: Session) -> None:
        """Before the first key this process wraps: write the canary (in the caller's transaction) or prove
        the one another process wrote, so two processes with different KEKs can never both write data."""
        if self.initialised:
            return
        with self._init_lock:
            if self.initialised:
                return
            with self.key_store.use(session, write=True) as ks:
                _write_meta(ks, self.keyring, self.index)
            self.initialised = True


# ------------------------------------------------------------------------------------------ start-up check


def _secure_delete_on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    # Zero freed pages and cells, so a destroyed wrapped key or an overwritten ciphertext does not linger in
    # the SQLite file's free space. Once per DB-API connection; the checkout hook also covers connections
    # that were pooled before the vault started.
    if record.info.get("fiduciary_secure_delete"):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()
    record.info["fiduciary_secure_delete"] = True


def install_secure_delete(engine: Engine) -> None:
    if engine.dialect.name == "sqlite" and not event.contains(engine, "checkout", _secure_delete_on_checkout):
        event.listen(engine, "checkout", _secure_delete_on_checkout)


def _skip_scan(session: Session, column: Any) -> list[str]:
    """Distinct non-null values of an indexed column, one index probe each (few values, big tables)."""
    values: list[str] = []
    while True:
        query = select(column).where(column.is_not(None))
        if values:
            query = query.where(column > values[-1])
        value = session.scalar(query.order_by(column).limit(1))
        if value is None:
            return values
        values.append(value)


def _write_canary(ks: Session, keyring: KeyRing) -> None:
    """A known plaintext under a fresh data key wrapped by the current KEK: proves the KEK at every start."""
    data_key = new_data_key()
    kek_id = keyring.current_id
    wrapped = keyring.current.wrap(data_key, canary_ad(kek_id))
    ciphertext = seal(data_key, CANARY_PLAINTEXT, canary_ad(kek_id))
    now = utcnow()
    row = ks.get(VaultMeta, CANARY)
    if row is None:
        ks.add(
            VaultMeta(
                name=CANARY, kek_id=kek_id, wrapped_key=wrapped, ciphertext=ciphertext, created_at=now, updated_at=now
            )
        )
    else:
        row.kek_id, row.wrapped_key, row.ciphertext, row.updated_at = kek_id, wrapped, ciphertext, now
    ks.flush()


def _prove_canary(row: Any, keyring: KeyRing) -> None:
    kek_id = row.kek_id or ""
    if not keyring.knows(kek_id):
        raise VaultKeyError(
            f"Wrong key-encryption key: the vault's data is wrapped under {kek_id}, but the {keyring.describe()}. "
            f"Configure the key with id {kek_id} as FIDUCIARY_KEK (or its key file), or in FIDUCIARY_KEK_PREVIOUS "
            "while `fiduciary keys rotate` runs. Starting with another key would make every personal field unreadable."
        )
    try:
        data_key = keyring.provider(kek_id).unwrap(row.wrapped_key or b"", canary_ad(kek_id))
        plaintext = open_sealed(data_key, row.ciphertext or b"", canary_ad(kek_id))
    except FiduciaryError as exc:
        raise VaultKeyError(
            f"The vault canary does not decrypt with key-encryption key {kek_id} ({exc.detail}). The key or the "
            "vault_meta row has been tampered with; restore them from the same backup generation."
        ) from None
    if plaintext != CANARY_PLAINTEXT:
        raise VaultKeyError("The vault canary decrypts to an unexpected value; vault_meta has been tampered with.")


def _check_keks_in_use(ks: Session, main: Session, keyring: KeyRing) -> None:
    in_use = set(_skip_scan(ks, PersonKey.kek_id)) | set(_skip_scan(main, LegalHoldRecord.kek_id))
    missing = sorted(k for k in in_use if not keyring.knows(k))
    if missing:
        raise VaultKeyError(
            f"Some data keys are wrapped under key-encryption keys that are not configured: {', '.join(missing)} "
            f"({keyring.describe()}). Add them to FIDUCIARY_KEK_PREVIOUS, then run `fiduciary keys rotate`."
        )


def _check_index(index_row: Any, index: IndexKeys) -> None:
    if index_row is not None and index_row.value != index.key_id:
        raise VaultKeyError(
            f"Wrong blind-index secret: the vault's identifiers were indexed with {index_row.value}, but the "
            f"configured secret is {index.key_id}. Restore FIDUCIARY_INDEX_KEY or <data_dir>/index.key; with "
            "another secret no person could be found by email, phone or customer id."
        )


def _write_meta(ks: Session, keyring: KeyRing, index: IndexKeys) -> None:
    """Record the canary and the index key id if absent (first writer wins), then prove them."""
    data_key = new_data_key()
    kek_id = keyring.current_id
    now = utcnow()
    rows: list[dict[str, Any]] = [
        {
            "name": CANARY,
            "value": None,
            "kek_id": kek_id,
            "wrapped_key": keyring.current.wrap(data_key, canary_ad(kek_id)),
            "ciphertext": seal(data_key, CANARY_PLAINTEXT, canary_ad(kek_id)),
            "created_at": now,
            "updated_at": now,
        },
        {
            "name": INDEX_META,
            "value": index.key_id,
            "kek_id": None,
            "wrapped_key": None,
            "ciphertext": None,
            "created_at": now,
            "updated_at": now,
        },
    ]
    ks.execute(dialect_insert(ks, VAULT_META).on_conflict_do_nothing(), rows)
    # Read back through Core (not the session's identity map, which may be the caller's).
    meta = {row.name: row for row in ks.connection().execute(select(VAULT_META))}
    _prove_canary(meta[CANARY], keyring)  # another process may have won with another key: then refuse
    _check_index(meta.get(INDEX_META), index)


def _verify_at_start(runtime: Runtime, store: KeyStore) -> tuple[KeyRing, IndexKeys, bool]:
    """(keyring, index keys, initialised). An empty vault is initialised lazily by its first write."""
    settings = runtime.settings
    with runtime.sessions() as main, store.use(main, write=True) as ks:
        canary = ks.get(VaultMeta, CANARY)
        index_row = ks.get(VaultMeta, INDEX_META)
        if canary is not None:
            try:
                keyring = load_keyring(settings)
            except VaultKeyError as exc:
                raise VaultKeyError(
                    f"The vault's data is wrapped under key-encryption key {canary.kek_id}, but no usable key is "
                    f"configured: {exc.detail}"
                ) from None
            _prove_canary(canary, keyring)
            index = load_index_keys(settings, create_default=index_row is None)
            _check_index(index_row, index)
            _check_keks_in_use(ks, main, keyring)
            return keyring, index, True
        has_keys = ks.scalar(select(PersonKey.person_id).where(PersonKey.kek_id.is_not(None)).limit(1)) is not None
        has_holds = main.scalar(select(LegalHoldRecord.id).where(LegalHoldRecord.kek_id.is_not(None)).limit(1))
        key_store_empty = ks.scalar(select(PersonKey.person_id).limit(1)) is None  # tombstones count
        if store.separate and key_store_empty and main.scalar(select(PersonalField.id).limit(1)) is not None:
            raise VaultKeyError(
                f"The key store ({store.describe()}) is empty, but the main database holds encrypted fields. "
                "Point FIDUCIARY_KEYS_DATABASE_URL at the vault's key database (or restore it)."
            )
        if not has_keys and has_holds is None:
            # Nothing encrypted yet: make the default key files now (the embedded first start), but leave
            # the canary to the first write, so a process that never stores personal data pins no key.
            keyring = load_keyring(settings, create_default=True)
            index = load_index_keys(settings, create_default=index_row is None)
            _check_index(index_row, index)
            return keyring, index, False
        keyring = load_keyring(settings)  # data without a canary (it was deleted): check and re-create it
        index = load_index_keys(settings, create_default=index_row is None)
        _check_keks_in_use(ks, main, keyring)
        _write_meta(ks, keyring, index)
        if not store.separate:
            main.commit()
        return keyring, index, True


def check_vault_keys(runtime: Runtime) -> VaultKeys:
    """Prove the vault's keys at start, or raise `VaultKeyError` with an actionable message.

    Call from `Runtime.start` after migrations. Idempotent per runtime (the result is kept in
    `runtime.extras`). On the first start of a new vault it generates `<data_dir>/kek.key` and
    `<data_dir>/index.key` when nothing else is configured, and writes the canary; on every later start
    a missing or different key stops the service instead of producing unreadable or unfindable data.
    """
    existing = runtime.extras.get(VAULT_EXTRA)
    if isinstance(existing, VaultKeys):
        return existing
    settings = runtime.settings
    install_secure_delete(runtime.engine)
    key_engine: Engine | None = None
    if settings.keys_database_url:
        key_engine = create_engine_for_url(settings.keys_database_url, sqlite_synchronous=settings.sqlite_synchronous)
        install_secure_delete(key_engine)
    store = KeyStore(key_engine)
    try:
        if key_engine is not None:
            create_key_store_tables(key_engine)
        keyring, index, initialised = _verify_at_start(runtime, store)
    except BaseException:
        store.close()
        raise
    keys = VaultKeys(
        keyring=keyring,
        index=index,
        key_store=store,
        journal=ErasureJournal(journal_path(settings), index.journal_key),
        cache=DataKeyCache(settings.vault_key_cache_size),
        initialised=initialised,
    )
    runtime.extras[VAULT_EXTRA] = keys
    return keys


def close_vault_keys(runtime: Runtime) -> None:
    """Release the key store's own engine (call from `Runtime.close`); harmless when never started."""
    keys = runtime.extras.pop(VAULT_EXTRA, None)
    if isinstance(keys, VaultKeys):
        keys.cache.clear()
        keys.key_store.close()


# ------------------------------------------------------------------------------------------------ service


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


@dataclass(frozen=True)
class LegalHoldContent:
    id: str
    person_id: str
    record_type: str
    basis: str
    purge_after: date
    created_at: datetime
    content: str


class _PreparedField(NamedTuple):
    """A validated value ready to encrypt (a named tuple: half the cost of a frozen dataclass to build,
    and a bulk import builds eight per person)."""

    category: str
    field_type: str
    purpose: str
    value: str
    raw: str


class _PreparedIdentifier(NamedTuple):
    kind: str
    normalised: str
    blind_index: bytes


# (person id, kind, blind index, key version, ciphertext, where the request gave it): plain tuples.
_IdentifierRow = tuple[str, str, bytes, int, bytes, str]
# A category as the policy declares it: (its field type, that type as stored, the first named purpose
# using it or None); None for a category the policy does not declare.
_CategoryPlan = tuple["FieldType", str, str | None] | None


class VaultService:
    """Encrypted personal fields for one runtime. Cheap to construct: the keys are checked once per process."""

    def __init__(self, runtime: Runtime, *, validator: FieldValidator | None = None) -> None:
        self.runtime = runtime
        self.keys = check_vault_keys(runtime)
        self._validator = validator

    @property
    def validator(self) -> FieldValidator:
        if self._validator is None:
            self._validator = default_validator()
        return self._validator

    # -------------------------------------------------------------------------------------- preparation

    def _purposes(self, policy: CompiledPolicy, purpose: str | Sequence[str]) -> list[str]:
        purposes = [purpose] if isinstance(purpose, str) else list(purpose)
        if not purposes:
            raise ValidationFailed("Name the purpose of collection.", [FieldProblem("purpose", "is required")])
        unknown = [p for p in purposes if not isinstance(p, str) or p not in policy.compiled_purposes]
        if unknown:
            raise ValidationFailed(
                "The purpose of collection is not one the policy declares.",
                [FieldProblem("purpose", f"'{p}' is not a purpose in the policy") for p in unknown],
            )
        return purposes

    @staticmethod
    def _source(source: str) -> str:
        from fiduciary.policy.schema import Source

        allowed = [s.value for s in Source]
        if source not in allowed:
            raise ValidationFailed(
                "Unknown source of collection.", [FieldProblem("source", f"must be one of {', '.join(allowed)}")]
            )
        return source

    def _prepare_fields(
        self,
        policy: CompiledPolicy,
        fields: Mapping[str, str],
        purposes: Sequence[str],
        prefix: str,
        problems: _Problems,
        plans: dict[str, _CategoryPlan] | None = None,
    ) -> list[_PreparedField]:
        """Validate every value against its category's type; collect every problem before writing anything.

        The purpose of collection recorded for a field is the first named purpose that uses its category:
        collecting a category for a purpose that does not need it is refused (DPDP s.6(1) "limited to such
        personal data as is necessary"; GDPR Art 5(1)(c)). `plans` memoises each category's type and
        purpose across the people of one call (they depend only on the policy and the named purposes).
        """
        country = policy.document.controller.default_country
        validate = self.validator.validate_field
        if plans is None:
            plans = {}
        prepared: list[_PreparedField] = []
        for category, value in fields.items():
            if category in plans:
                plan = plans[category]
            else:
                plan = plans[category] = self._category_plan(policy, purposes, category)
            if plan is None:
                problems.append(FieldProblem(f"{prefix}.{category}", "is not a data category the policy declares"))
                continue
            if not isinstance(value, str):
                problems.append(FieldProblem(f"{prefix}.{category}", "must be a string"))
                continue
            if len(value.encode("utf-8")) > MAX_VALUE_BYTES:
                problems.append(FieldProblem(f"{prefix}.{category}", f"is longer than {MAX_VALUE_BYTES} bytes"))
                continue
            field_type, stored_type, purpose = plan
            if purpose is None:
                problems.append(
                    FieldProblem(
                        f"{prefix}.{category}",
                        f"no named purpose of collection ({', '.join(purposes)}) uses this category",
                        "collect it under a purpose that lists it in the policy",
                    )
                )
                continue
            try:
                validated = validate(field_type, value, default_country=country)
            except ValidationFailed as exc:
                problems.caught(exc, f"{prefix}.{category}")
                continue
            prepared.append(_PreparedField(category, stored_type, purpose, validated.value, value))
        return prepared

    @staticmethod
    def _category_plan(policy: CompiledPolicy, purposes: Sequence[str], category: str) -> _CategoryPlan:
        declared = policy.categories.get(category)
        if declared is None:
            return None
        return declared.field_type, str(declared.field_type), _purpose_for(policy, purposes, category)

    def _prepare_identifiers(
        self,
        policy: CompiledPolicy,
        identifiers: Mapping[str, str],
        prefix: str,
        problems: _Problems,
        fields: Sequence[_PreparedField] = (),
    ) -> list[_PreparedIdentifier]:
        """Normalise and blind-index identifiers.

        An identifier given with the same text as an email or phone field of the same request reuses that
        field's validated value: `validate_field` and `normalise_identifier` normalise emails and phones
        identically (pinned by tests/test_vault_service.py), and parsing each twice was a third of sign-up.
        """
        country = policy.document.controller.default_country
        prepared: list[_PreparedIdentifier] = []
        already = {
            (_IDENTIFIER_OF_TYPE[f.field_type], f.raw): f.value for f in fields if f.field_type in _IDENTIFIER_OF_TYPE
        }
        for kind, value in identifiers.items():
            where = f"{prefix}.{kind}"
            try:
                check_kind(kind, where)
            except ValidationFailed as exc:
                problems.caught(exc)
                continue
            if not isinstance(value, str) or not value.strip():
                problems.append(FieldProblem(where, "must be a non-empty string"))
                continue
            if len(value) > MAX_IDENTIFIER_CHARS:
                problems.append(FieldProblem(where, f"is longer than {MAX_IDENTIFIER_CHARS} characters"))
                continue
            normalised = already.get((kind, value))
            if normalised is None:
                try:
                    normalised = self.validator.normalise_identifier(kind, value, default_country=country)
                except ValidationFailed as exc:
                    problems.caught(exc, where)
                    continue
            prepared.append(_PreparedIdentifier(kind, normalised, self.keys.index.blind_index(kind, normalised)))
        return prepared

    # ------------------------------------------------------------------------------------------- keys

    def _key_row(self, session: Session, person_id: str) -> Any:
        with self.keys.key_store.use(session) as ks:
            return ks.connection().execute(_KEY_ROW, {"person_id": person_id}).one_or_none()

    def _cipher(self, person_id: str, key_version: int, kek_id: str, wrapped: bytes) -> FieldCipher:
        aead = self.keys.cache.get(person_id, wrapped)
        if aead is None:
            aead = AESGCM(self.keys.keyring.unwrap_data_key(person_id, key_version, kek_id, wrapped))
            self.keys.cache.put(person_id, wrapped, aead)
        return FieldCipher.from_aead(person_id, aead, key_version)

    def is_erased(self, session: Session, person_id: str) -> bool:
        """Whether the person's data key was destroyed; reads the key row only, never unwraps (no KMS call)."""
        row = self._key_row(session, person_id)
        return row is not None and row.wrapped_key is None

    def _cipher_for_read(self, session: Session, person_id: str) -> FieldCipher | None:
        """The person's key; None if they never had one; `PersonErased` if it was destroyed."""
        check_person_id(person_id)
        row = self._key_row(session, person_id)
        if row is None:
            get_person(session, person_id)  # 404 for an unknown person
            return None
        if row.wrapped_key is None:
            raise PersonErased()
        return self._cipher(person_id, row.key_version, row.kek_id, row.wrapped_key)

    def _new_key_values(self, person_id: str, now: datetime) -> tuple[dict[str, Any], AESGCM]:
        data_key = new_data_key()
        kek_id, wrapped = self.keys.keyring.wrap_data_key(person_id, KEY_VERSION, data_key)
        values = {
            "person_id": person_id,
            "key_version": KEY_VERSION,
            "kek_id": kek_id,
            "wrapped_key": wrapped,
            "created_at": now,
            "destroyed_at": None,
        }
        return values, AESGCM(data_key)

    def _cipher_for_write(self, session: Session, person_id: str) -> FieldCipher:
        """The person's key, created on first write; 409 if the person was erased (their key is gone)."""
        row = self._key_row(session, person_id)
        if row is None:
            self.keys.ensure_initialised(session)
            values, _ = self._new_key_values(person_id, utcnow())
            with self.keys.key_store.use(session, write=True) as ks:
                ks.execute(dialect_insert(ks, PERSON_KEYS).on_conflict_do_nothing(), [values])
            row = self._key_row(session, person_id)  # a concurrent writer may have won: use its key
        if row is None or row.wrapped_key is None:
            raise Conflict(
                "The person's personal data has been erased; nothing new can be stored.", code="person_erased"
            )
        return self._cipher(person_id, row.key_version, row.kek_id, row.wrapped_key)

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
        problems = _Problems()
        prepared_fields: list[_PreparedField] = []
        if fields or require_fields:
            if not fields:
                raise ValidationFailed("Give at least one field.", [FieldProblem("fields", "is empty")])
            purposes = self._purposes(policy, purpose)
            self._source(source)
            prepared_fields = self._prepare_fields(policy, fields, purposes, "fields", problems)
        prepared_ids = self._prepare_identifiers(policy, identifiers, "identifiers", problems, prepared_fields)
        problems.raise_if_any()
        person = get_person(session, person_id)
        require_active(person)
        cipher = self._cipher_for_write(session, person_id)
        now = utcnow()
        if prepared_ids:
            self._insert_identifiers(session, self._identifier_rows(cipher, prepared_ids, "identifiers"), now)
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

    def _insert_identifiers(self, session: Session, items: Sequence[_IdentifierRow], now: datetime) -> None:
        """Insert (person, identifier) pairs; 409 naming the field if one already belongs to someone else."""
        seen: dict[tuple[str, bytes], str] = {}
        for person_id, kind, index, _version, _blob, where in items:
            key = (kind, index)
            if key in seen and seen[key] != person_id:
                raise Conflict(
                    "Two people in this request share an identifier.",
                    code="identifier_in_use",
                    fields=[FieldProblem(f"{where}.{kind}", "is given for another person in this request")],
                )
            seen[key] = person_id
        existing: dict[tuple[str, bytes], str] = {}
        by_kind: dict[str, list[bytes]] = {}
        for kind, index in seen:
            by_kind.setdefault(kind, []).append(index)
        conn = session.connection()
        for kind, indexes in by_kind.items():
            for start in range(0, len(indexes), 500):
                chunk = indexes[start : start + 500]
                for owner, index in conn.execute(_HOLDERS, {"kind": kind, "indexes": chunk}):
                    existing[(kind, bytes(index))] = owner
        rows: list[tuple[Any, ...]] = []
        added: set[tuple[str, bytes]] = set()
        for person_id, kind, index, version, blob, where in items:
            key = (kind, index)
            holder = existing.get(key)
            if holder is not None and holder != person_id:
                raise Conflict(
                    "The identifier already belongs to another person.",
                    code="identifier_in_use",
                    fields=[FieldProblem(f"{where}.{kind}", "is already registered to another person")],
                )
            if holder == person_id or key in added:
                continue
            added.add(key)
            rows.append((person_id, kind, index, version, blob, now))
        if not rows:
            return
        try:
            bulk_insert(session, PERSON_IDENTIFIERS, rows, columns=_IDENTIFIER_COLUMNS)
        except IntegrityError:  # a concurrent writer registered it between check and insert; caller rolls back
            raise Conflict(
                "The identifier already belongs to another person.",
                code="identifier_in_use",
                fields=[FieldProblem("identifiers", "one of them was registered to another person meanwhile")],
            ) from None

    @staticmethod
    def _identifier_rows(
        cipher: FieldCipher, identifiers: Sequence[_PreparedIdentifier], where: str
    ) -> list[_IdentifierRow]:
        return [
            (
                cipher.person_id,
                ident.kind,
                ident.blind_index,
                cipher.key_version,
                cipher.encrypt("identifier." + ident.kind, ident.normalised),
                where,
            )
            for ident in identifiers
        ]

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
        purposes = self._purposes(policy, purpose)
        self._source(source)
        problems = _Problems()
        categories: dict[str, _CategoryPlan] = {}
        now = utcnow()
        wrap = self.keys.keyring.wrap_data_key
        person_ids: list[str] = []
        # Rows as plain tuples in `_*_COLUMNS` order, built as each person is validated: the validated
        # values die young instead of being held (and scanned by the garbage collector) for the whole
        # batch. Encrypting is not writing: if any value is invalid, nothing is stored and the rows built
        # so far are dropped (and once a problem is found, no more keys are made).
        key_rows: list[tuple[Any, ...]] = []
        field_rows: list[tuple[Any, ...]] = []
        identifier_rows: list[_IdentifierRow] = []
        for i, person in enumerate(people):
            prefix = f"people[{i}]"
            if person.person_id is not None:
                try:
                    check_person_id(person.person_id, f"{prefix}.person_id")
                except ValidationFailed as exc:
                    problems.caught(exc)
            prepared_fields = self._prepare_fields(
                policy, person.fields, purposes, f"{prefix}.fields", problems, categories
            )
            prepared_ids = self._prepare_identifiers(
                policy, person.identifiers, f"{prefix}.identifiers", problems, prepared_fields
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
                identifier_rows += self._identifier_rows(cipher, prepared_ids, f"{prefix}.identifiers")
        problems.raise_if_any()
        if len(set(person_ids)) != len(person_ids):
            raise ValidationFailed("A person id appears twice.", [FieldProblem("people", "person ids must be unique")])
        if not person_ids:
            return []
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
        if identifier_rows:
            self._insert_identifiers(session, identifier_rows, now)
        if field_rows:
            bulk_insert(session, PERSONAL_FIELDS, field_rows, columns=_FIELD_COLUMNS)
        with self.keys.key_store.use(session, write=True) as ks:
            bulk_insert(ks, PERSON_KEYS, key_rows, columns=_KEY_COLUMNS)
        return person_ids

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
        purposes = self._purposes(policy, purpose)
        self._source(source)
        problems = _Problems()
        prepared: list[_PreparedField] = []
        categories: dict[str, _CategoryPlan] = {}
        for i, value in enumerate(values):
            prepared.extend(
                self._prepare_fields(policy, {category: value}, purposes, f"values[{i}]", problems, categories)
            )
        problems.raise_if_any()
        require_active(get_person(session, person_id))
        cipher = self._cipher_for_write(session, person_id)
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
        cipher = self._cipher_for_read(session, person_id)
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

    def get_records(
        self, session: Session, person_id: str, category: str, *, limit: int = 100, offset: int = 0
    ) -> list[StoredRecord]:
        """INTERNAL (see `get_fields`): a multi-valued category's records, oldest first."""
        cipher = self._cipher_for_read(session, person_id)
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
        cipher = self._cipher_for_read(session, person_id)
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
            raise ValidationFailed(exc.detail, _prefixed(exc, "value")) from None
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
        """Keep a record the law requires (an invoice, a transaction log) under its own random record key.

        The person's erasure does not touch it; `purge_legal_holds` destroys it after `purge_after`
        (DPDP s.8(7) and Rule 8(3); GDPR Art 17(3)(b)). `basis` cites the law, e.g. "CGST Act 2017 s.36".
        """
        problems: list[FieldProblem] = []
        if not (0 < len(record_type) <= 80) or not set(record_type) <= RECORD_TYPE_CHARS:
            problems.append(FieldProblem("record_type", "must be 1-80 characters a-z, 0-9, '_', '.', '-'"))
        if not basis.strip() or len(basis) > 300:
            problems.append(FieldProblem("basis", "must cite the law that requires keeping it (1-300 characters)"))
        if not isinstance(purge_after, date) or purge_after < (today or datetime.now(UTC).date()):
            problems.append(FieldProblem("purge_after", "must be a date, today or later"))
        if not isinstance(content, str) or not content or len(content.encode("utf-8")) > MAX_RECORD_BYTES:
            problems.append(FieldProblem("content", f"must be 1 to {MAX_RECORD_BYTES} bytes of text"))
        if problems:
            raise ValidationFailed("The legal-hold record is not valid.", problems)
        get_person(session, person_id)
        self.keys.ensure_initialised(session)
        record_id = new_id("lhr")
        record_key = new_data_key()
        kek_id, wrapped = self.keys.keyring.wrap_record_key(record_id, record_key)
        session.add(
            LegalHoldRecord(
                id=record_id,
                person_id=person_id,
                record_type=record_type,
                basis=basis.strip(),
                purge_after=purge_after,
                record_key_wrapped=wrapped,
                kek_id=kek_id,
                ciphertext=seal(record_key, content.encode("utf-8"), record_ad(record_id, person_id, record_type)),
                created_at=utcnow(),
            )
        )
        session.flush()
        return record_id

    def read_legal_hold_record(self, session: Session, record_id: str) -> LegalHoldContent:
        """INTERNAL (see `get_fields`): decrypt a legal-hold record; 410 once purged."""
        row = session.get(LegalHoldRecord, record_id) if isinstance(record_id, str) and len(record_id) <= 40 else None
        if row is None:
            raise NotFound("No legal-hold record has this id.", code="record_not_found")
        if row.purged_at is not None or row.record_key_wrapped is None or row.ciphertext is None or row.kek_id is None:
            raise RecordPurged()
        person_id = row.person_id or ""
        record_key = self.keys.keyring.unwrap_record_key(row.id, row.kek_id, row.record_key_wrapped)
        plaintext = open_sealed(
            record_key,
            row.ciphertext,
            record_ad(row.id, person_id, row.record_type),
            what=f"Legal-hold record {row.id}",
        )
        return LegalHoldContent(
            id=row.id,
            person_id=person_id,
            record_type=row.record_type,
            basis=row.basis,
            purge_after=row.purge_after,
            created_at=row.created_at,
            content=plaintext.decode("utf-8"),
        )

    def purge_legal_holds(self, session: Session, *, today: date | None = None, batch_size: int = 1000) -> int:
        """Destroy the key and ciphertext of up to `batch_size` records whose hold ended before `today`.

        The row stays as evidence that the record existed and was purged on time, unlinked from the person.
        """
        today = today or datetime.now(UTC).date()
        ids = list(
            session.scalars(
                select(LegalHoldRecord.id)
                .where(LegalHoldRecord.purge_after < today, LegalHoldRecord.purged_at.is_(None))
                .order_by(LegalHoldRecord.purge_after, LegalHoldRecord.id)
                .limit(batch_size)
            )
        )
        if ids:
            session.execute(
                update(LegalHoldRecord)
                .where(LegalHoldRecord.id.in_(ids), LegalHoldRecord.purged_at.is_(None))
                .values(record_key_wrapped=None, kek_id=None, ciphertext=None, person_id=None, purged_at=utcnow())
            )
        return len(ids)

    # ---------------------------------------------------------------------------------------- erasure

    def erase_person(self, session: Session, person_id: str, reason: str) -> ErasureReceipt:
        """Crypto-shred the person; see `fiduciary.vault.erasure.erase_person`."""
        from fiduciary.vault.erasure import erase_person

        return erase_person(self.keys, session, person_id, reason)


# ------------------------------------------------------------------------------------------ key rotation


@dataclass(frozen=True)
class RotationReport:
    current_kek_id: str
    data_keys_rewrapped: int
    record_keys_rewrapped: int
    remaining: int  # data and record keys still under another KEK (written meanwhile by a stale process)


def rotate_keks(
    runtime: Runtime, *, batch_size: int = 1000, progress: Callable[[int], None] | None = None
) -> RotationReport:
    """Re-wrap every live data key and legal-hold record key under the current KEK, online.

    Each batch is its own transaction; a key erased meanwhile is never resurrected (the UPDATE requires the
    wrapped key still present and still under the old KEK). Readers keep working because the old KEK stays
    configured in FIDUCIARY_KEK_PREVIOUS until this returns with `remaining == 0`. No field is decrypted.
    """
    keys = check_vault_keys(runtime)
    ring = keys.keyring
    current = ring.current_id
    store = keys.key_store
    with runtime.sessions() as main, store.use(main, write=True) as ks:
        canary = ks.get(VaultMeta, CANARY)
        if canary is None or canary.kek_id != current:
            _write_canary(ks, ring)
        if not store.separate:
            main.commit()
    data_done = 0
    last = ""
    rewrap = (
        update(PERSON_KEYS)  # Core table: an executemany UPDATE, not the ORM's bulk-by-primary-key path
        .where(
            PERSON_KEYS.c.person_id == bindparam("b_person"),
            PERSON_KEYS.c.kek_id == bindparam("b_old"),
            PERSON_KEYS.c.wrapped_key.is_not(None),
        )
        .values(wrapped_key=bindparam("b_blob"), kek_id=bindparam("b_kek"))
    )
    while True:
        with runtime.sessions() as main, store.use(main, write=True) as ks:
            rows = ks.execute(
                select(PersonKey.person_id, PersonKey.key_version, PersonKey.kek_id, PersonKey.wrapped_key)
                .where(PersonKey.person_id > last, PersonKey.kek_id.is_not(None), PersonKey.kek_id != current)
                .order_by(PersonKey.person_id)
                .limit(batch_size)
            ).all()
            if not rows:
                break
            params = []
            for person_id, version, old, wrapped in rows:
                data_key = ring.unwrap_data_key(person_id, version, old or "", wrapped or b"")
                kek_id, blob = ring.wrap_data_key(person_id, version, data_key)
                params.append({"b_person": person_id, "b_old": old, "b_blob": blob, "b_kek": kek_id})
            ks.execute(rewrap, params)
            if not store.separate:
                main.commit()
        keys.cache.evict([r[0] for r in rows])
        data_done += len(rows)
        last = rows[-1][0]
        if progress is not None:
            progress(len(rows))
    records_done = 0
    last = ""
    rewrap_record = (
        update(LEGAL_HOLD_RECORDS)
        .where(
            LEGAL_HOLD_RECORDS.c.id == bindparam("b_id"),
            LEGAL_HOLD_RECORDS.c.kek_id == bindparam("b_old"),
            LEGAL_HOLD_RECORDS.c.record_key_wrapped.is_not(None),
        )
        .values(record_key_wrapped=bindparam("b_blob"), kek_id=bindparam("b_kek"))
    )
    while True:
        with runtime.sessions() as main:
            record_rows = main.execute(
                select(LegalHoldRecord.id, LegalHoldRecord.kek_id, LegalHoldRecord.record_key_wrapped)
                .where(
                    LegalHoldRecord.id > last, LegalHoldRecord.kek_id.is_not(None), LegalHoldRecord.kek_id != current
                )
                .order_by(LegalHoldRecord.id)
                .limit(batch_size)
            ).all()
            if not record_rows:
                break
            params = []
            for record_id, old, wrapped in record_rows:
                record_key = ring.unwrap_record_key(record_id, old or "", wrapped or b"")
                kek_id, blob = ring.wrap_record_key(record_id, record_key)
                params.append({"b_id": record_id, "b_old": old, "b_blob": blob, "b_kek": kek_id})
            main.execute(rewrap_record, params)
            main.commit()
        records_done += len(record_rows)
        last = record_rows[-1][0]
        if progress is not None:
            progress(len(record_rows))
    with runtime.sessions() as main, store.use(main) as ks:
        remaining = (ks.scalar(select(func.count()).where(PersonKey.kek_id != current)) or 0) + (
            main.scalar(select(func.count()).where(LegalHoldRecord.kek_id != current)) or 0
        )
    return RotationReport(current, data_done, records_done, remaining)


# ------------------------------------------------------------------------------------------------ status


@dataclass(frozen=True)
class KeyStatus:
    configured_kek_id: str | None
    configured_problem: str | None
    previous_kek_ids: list[str]
    canary_kek_id: str | None
    data_keys_by_kek: dict[str, int]
    destroyed_keys: int
    legal_hold_keys_by_kek: dict[str, int]
    index_key_id: str | None
    configured_index_key_id: str | None
    key_store: str
    journal_path: str
    journal_entries: int
    journal_problem: str | None
    # Journaled erasures the database does not show (a restored backup): count and the first pseudonymous ids.
    journal_unapplied: JournalGap = NO_GAP


def key_status(runtime_settings: Any, engine: Engine) -> KeyStatus:
    """What the database expects against what is configured, without requiring the keys to be right.

    Used by `fiduciary keys status`, which must work exactly when the service refuses to start.
    """
    from fiduciary.vault.kek import current_kek, previous_keks

    settings = runtime_settings
    configured_id: str | None = None
    problem: str | None = None
    previous: list[str] = []
    try:
        configured_id = current_kek(settings, create_default=False).kek_id
        previous = [p.kek_id for p in previous_keks(settings)]
    except VaultKeyError as exc:
        problem = exc.detail
    configured_index: str | None = None
    journal_problem: str | None = None
    entries = 0
    journal: ErasureJournal | None = None
    try:
        index = load_index_keys(settings)
        configured_index = index.key_id
        journal = ErasureJournal(journal_path(settings), index.journal_key)
        report = journal.verify()
        entries, journal_problem = report.entries, report.problem
    except VaultKeyError as exc:
        journal_problem = exc.detail
    unapplied = NO_GAP
    key_engine = create_engine_for_url(settings.keys_database_url) if settings.keys_database_url else None
    store = KeyStore(key_engine)
    try:
        with make_session_factory(engine)() as main, store.use(main) as ks:
            canary = ks.get(VaultMeta, CANARY)
            index_row = ks.get(VaultMeta, INDEX_META)
            by_kek: dict[str, int] = {
                str(k): n
                for k, n in ks.execute(
                    select(PersonKey.kek_id, func.count())
                    .where(PersonKey.kek_id.is_not(None))
                    .group_by(PersonKey.kek_id)
                )
            }
            destroyed = ks.scalar(select(func.count()).where(PersonKey.wrapped_key.is_(None))) or 0
            holds: dict[str, int] = {
                str(k): n
                for k, n in main.execute(
                    select(LegalHoldRecord.kek_id, func.count())
                    .where(LegalHoldRecord.kek_id.is_not(None))
                    .group_by(LegalHoldRecord.kek_id)
                )
            }
            if journal is not None and journal_problem is None:
                try:
                    unapplied = unapplied_erasures(journal, main, ks)
                except JournalDamaged as exc:  # changed since it was verified above
                    journal_problem = exc.detail
    finally:
        store.close()
    return KeyStatus(
        configured_kek_id=configured_id,
        configured_problem=problem,
        previous_kek_ids=previous,
        canary_kek_id=canary.kek_id if canary else None,
        data_keys_by_kek=by_kek,
        destroyed_keys=destroyed,
        legal_hold_keys_by_kek=holds,
        index_key_id=index_row.value if index_row else None,
        configured_index_key_id=configured_index,
        key_store=store.describe() if key_engine is not None else "main database",
        journal_path=str(journal_path(settings)),
        journal_entries=entries,
        journal_problem=journal_problem,
        journal_unapplied=unapplied,
    )


def generate_kek() -> tuple[str, str]:
    """A new random KEK as (base64, kek id), for FIDUCIARY_KEK or a key file."""
    from fiduciary.vault.kek import kek_fingerprint

    raw = secrets.token_bytes(32)
    return base64.b64encode(raw).decode("ascii"), kek_fingerprint(raw)
