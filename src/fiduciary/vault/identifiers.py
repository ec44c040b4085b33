"""A person's identifiers (email, phone, customer id): normalised, blind-indexed, stored encrypted.

An identifier finds a person by exact match without decrypting anything (the blind index, see
`fiduciary.vault.keys.blind_index`), and belongs to at most one person: `unique (kind, blind_index)`, so
registering one that another person holds is a 409 `identifier_in_use` that never says whose it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fiduciary.errors import Conflict, FieldProblem, ValidationFailed
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.vault.crypto import FieldCipher
from fiduciary.vault.fields import FieldValidator, PreparedField, Problems
from fiduciary.vault.keys.blind_index import IndexKeys, check_kind
from fiduciary.vault.records import PERSON_IDENTIFIERS, bulk_insert

MAX_IDENTIFIER_CHARS = 320  # RFC 5321: 64 + 1 + 255, the longest email address
_IDENTIFIER_OF_TYPE = {"email": "email", "phone": "phone"}  # field type -> identifier kind, same normalisation
# Column order of the tuple rows `insert_identifiers` takes.
_IDENTIFIER_COLUMNS = ("person_id", "kind", "blind_index", "key_version", "ciphertext", "created_at")
# Who holds any of these blind indexes (an expanding IN: compiled once, not once per batch of 500).
_HOLDERS = select(PERSON_IDENTIFIERS.c.person_id, PERSON_IDENTIFIERS.c.blind_index).where(
    PERSON_IDENTIFIERS.c.kind == bindparam("kind"),
    PERSON_IDENTIFIERS.c.blind_index.in_(bindparam("indexes", expanding=True)),
)

# (person id, kind, blind index, key version, ciphertext, where the request gave it): plain tuples.
IdentifierRow = tuple[str, str, bytes, int, bytes, str]


class PreparedIdentifier(NamedTuple):
    kind: str
    normalised: str
    blind_index: bytes


def prepare_identifiers(
    validator: FieldValidator,
    index: IndexKeys,
    policy: CompiledPolicy,
    identifiers: Mapping[str, str],
    prefix: str,
    problems: Problems,
    fields: Sequence[PreparedField] = (),
) -> list[PreparedIdentifier]:
    """Normalise and blind-index identifiers.

    An identifier given with the same text as an email or phone field of the same request reuses that
    field's validated value: `validate_field` and `normalise_identifier` normalise emails and phones
    identically (pinned by tests/vault/test_vault_service.py), and parsing each twice was a third of sign-up.
    """
    country = policy.document.controller.default_country
    prepared: list[PreparedIdentifier] = []
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
                normalised = validator.normalise_identifier(kind, value, default_country=country)
            except ValidationFailed as exc:
                problems.caught(exc, where)
                continue
        prepared.append(PreparedIdentifier(kind, normalised, index.blind_index(kind, normalised)))
    return prepared


def identifier_rows(cipher: FieldCipher, identifiers: Sequence[PreparedIdentifier], where: str) -> list[IdentifierRow]:
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


def insert_identifiers(session: Session, items: Sequence[IdentifierRow], now: datetime) -> None:
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
