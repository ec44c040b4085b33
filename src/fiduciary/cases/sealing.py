"""Each case's free text under its own random data key, wrapped by the KEK (as `vault.legal_holds` keeps a
legal-hold record): the complaint, the notes, the replies, a non-customer's contact address.

A case key, not the person's vault key, because a case may belong to nobody on file (a complaint from
someone who is not a customer, a researcher's report) and because its history must outlive the person's
erasure. When the case belongs to a person, that person's erasure destroys the key (`cases.personal_data`):
the text becomes unreadable (crypto-shredding, docs/decisions/0003) while the row stays, pseudonymous.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from sqlalchemy.orm import Session

from fiduciary.cases.models import CASES_TABLE, Case
from fiduciary.context import RuntimeContext
from fiduciary.vault.crypto import associated_data, new_data_key, open_sealed, seal
from fiduciary.vault.keys.rotation import WrappedKeys, register_wrapped_keys
from fiduciary.vault.keys.startup import VaultKeys, check_vault_keys

_DOMAIN: Final = b"fiduciary.case.v1"
CASE_ITEM: Final = "case"  # the associated-data item of the case's own sealed values

# A KEK rotation re-wraps each case's key too, or the cases' text dies with the retired KEK.
register_wrapped_keys(WrappedKeys(CASES_TABLE, "id", "kek_id", "key_wrapped"))


def _keys(runtime: RuntimeContext, session: Session) -> VaultKeys:
    keys = check_vault_keys(runtime)
    keys.ensure_initialised(session)
    return keys


def new_case_key(runtime: RuntimeContext, session: Session, case_id: str) -> tuple[bytes, str, bytes]:
    """(key, kek_id, wrapped key) for a new case: the caller stores the last two on the row."""
    key = new_data_key()
    kek_id, wrapped = _keys(runtime, session).keyring.wrap_record_key(case_id, key)
    return key, kek_id, wrapped


def case_key(runtime: RuntimeContext, session: Session, case: Case) -> bytes | None:
    """The case's key, or None once it was destroyed (the person's erasure) or never made."""
    if case.key_wrapped is None or case.kek_id is None:
        return None
    return _keys(runtime, session).keyring.unwrap_record_key(case.id, case.kek_id, case.key_wrapped)


def seal_values(key: bytes, case_id: str, item: str, values: Mapping[str, Any]) -> bytes:
    return seal(key, json.dumps(dict(values)).encode("utf-8"), associated_data(_DOMAIN, case_id, item))


def open_values(key: bytes | None, case_id: str, item: str, blob: bytes | None) -> dict[str, Any]:
    """The sealed values; {} when there are none or the key is gone."""
    if key is None or blob is None:
        return {}
    opened: dict[str, Any] = json.loads(
        open_sealed(key, blob, associated_data(_DOMAIN, case_id, item), what=f"Case {case_id}")
    )
    return opened
