"""The API-key lifecycle with its audit events: the one home of create and revoke, whoever asks.

`POST/DELETE /v1/apikeys` and `fiduciary apikey create|revoke` both call these functions, so a key made or
revoked either way leaves the same audit event (DPDP Rule 6(1)(c): visibility of who had access; the key
id is the event's `target`, never the key itself). Each flow runs in the caller's transaction: the key row
and its audit event commit or roll back together.

`caller` is the audit actor: the managing API key's id, or `cli` for an operator at the command line.
`grantor` is the managing key when there is one: it may grant, and revoke, only keys whose scopes it holds
itself, so `apikeys:manage` never becomes a way to mint an `admin` key (DPDP Rule 6(1)(b): access limited to
what each party needs). An operator at the command line has no grantor: the data folder is theirs.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from fiduciary.audit.service import Action, AuditEvent
from fiduciary.auth import service
from fiduciary.auth.models import ApiKey
from fiduciary.auth.scopes import held_scopes, parse_scopes
from fiduciary.codes import safe_request_id
from fiduciary.context import RuntimeContext
from fiduciary.unit_of_work import unit_of_work


def create_key_audited(
    runtime: RuntimeContext,
    session: Session,
    *,
    caller: str,
    name: str,
    scopes: Iterable[str],
    grantor: ApiKey | None = None,
    request_id: str | None = None,
) -> tuple[ApiKey, str]:
    """Create a key and record `apikey.create`; returns the row and the plaintext key (shown once).

    Bad input (`ValidationFailed` naming `name` or `scopes[i]`) is refused before the grantor's scopes are
    checked (`Forbidden`), and either way nothing is stored."""
    service.validate_name(name)
    parsed = parse_scopes(scopes)
    if grantor is not None:
        service.require(grantor, *parsed)
    uow = unit_of_work(runtime, session)
    with uow.step():
        row, plaintext = service.create_api_key(session, name, parsed)
        uow.audit(_event(caller, Action.APIKEY_CREATE, row.id, request_id))
    return row, plaintext


def revoke_key_audited(
    runtime: RuntimeContext,
    session: Session,
    *,
    caller: str,
    key_id: str,
    grantor: ApiKey | None = None,
    request_id: str | None = None,
) -> ApiKey:
    """Revoke a key (idempotent: the first revocation time is kept) and record `apikey.revoke`.

    An unknown id is `NotFound`; a grantor lacking one of the key's scopes is `Forbidden`."""
    target = service.get_api_key(session, key_id)
    if grantor is not None:
        service.require(grantor, *held_scopes(target.scopes))
    uow = unit_of_work(runtime, session)
    with uow.step():
        row = service.revoke_api_key(session, key_id)
        uow.audit(_event(caller, Action.APIKEY_REVOKE, row.id, request_id))
    return row


def _event(caller: str, action: Action, key_id: str, request_id: str | None) -> AuditEvent:
    return AuditEvent(actor=caller, action=action, target=key_id, request_id=safe_request_id(request_id))
