"""Helpers shared by the vault tests (imported, not collected: no test_ prefix)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.config import Settings
from fiduciary.people.models import Person, PersonErasure
from fiduciary.people.service import create_person
from fiduciary.runtime import Runtime
from fiduciary.vault.keys.startup import check_vault_keys, close_vault_keys
from fiduciary.vault.records import (
    LegalHoldRecord,
    PersonalField,
    PersonIdentifier,
    PersonKey,
    VaultMeta,
)
from fiduciary.vault.service import VaultService

VAULT_TABLES: tuple[Any, ...] = (Person, PersonKey, PersonIdentifier, PersonalField, LegalHoldRecord, PersonErasure)

# A sign-up the demo policy accepts under the purposes account + order_fulfilment + customer_support.
PURPOSES = ["account", "order_fulfilment", "customer_support"]
SIGNUP = {
    "identity.name": "Zebulon Quixotewright",
    "contact.email": "Zebulon.Q7731@Example.com",
    "contact.phone": "98123 45678",
    "identity.date_of_birth": "1990-04-17",
}
IDENTIFIERS = {"email": "Zebulon.Q7731@Example.com", "phone": "+91 98123 45678", "customer_id": "CUST-88172"}


def start_vault(settings: Settings) -> Runtime:
    """A runtime whose vault keys were checked (whether or not Runtime.start already does it)."""
    runtime = Runtime.start(settings, migrate=False)
    try:
        check_vault_keys(runtime)
    except BaseException:
        close_vault_keys(runtime)
        runtime.close()
        raise
    return runtime


@contextmanager
def vault_runtime(settings: Settings) -> Iterator[tuple[Runtime, VaultService]]:
    runtime = start_vault(settings)
    try:
        yield runtime, VaultService(runtime)
    finally:
        close_vault_keys(runtime)
        runtime.close()


def new_person(session: Session, runtime: Runtime) -> str:
    person = create_person(session, policy=runtime.policy())
    session.commit()
    return person.id


def signed_up(
    session: Session,
    runtime: Runtime,
    vault: VaultService,
    fields: dict[str, str] | None = None,
    identifiers: dict[str, str] | None = None,
) -> str:
    """A new person with `fields` (default: the standard sign-up) and `identifiers` (default: none)."""
    person_id = new_person(session, runtime)
    vault.create_person_record(
        session, person_id, fields or SIGNUP, identifiers or {}, purpose=PURPOSES, source="provided"
    )
    session.commit()
    return person_id


def counts(session: Session, key_session: Session | None = None) -> dict[str, int]:
    """Row counts of every vault table (the key store's from `key_session` when it is separate)."""
    out: dict[str, int] = {}
    for model in VAULT_TABLES:
        s = key_session if (key_session is not None and model is PersonKey) else session
        out[model.__tablename__] = s.scalar(sa.select(sa.func.count()).select_from(model)) or 0
    out["live_keys"] = (key_session or session).scalar(
        sa.select(sa.func.count()).select_from(PersonKey).where(PersonKey.wrapped_key.is_not(None))
    ) or 0
    out["meta"] = (key_session or session).scalar(sa.select(sa.func.count()).select_from(VaultMeta)) or 0
    return out


def snapshot(session: Session) -> dict[str, Any]:
    """Counts plus every ciphertext and identifier index, to prove a refused request changed nothing."""
    session.expire_all()
    return {
        "counts": counts(session),
        "fields": sorted(
            (r.person_id, r.category, r.item, bytes(r.ciphertext), r.purpose_of_collection)
            for r in session.execute(sa.select(PersonalField)).scalars().all()
        ),
        "identifiers": sorted(
            (r.person_id, r.kind, bytes(r.blind_index)) for r in session.execute(sa.select(PersonIdentifier)).scalars()
        ),
        "people": sorted((p.id, p.status) for p in session.execute(sa.select(Person)).scalars()),
    }
