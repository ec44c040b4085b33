"""Recipients' endpoints: where a recipient receives notices, and the secret the notices are signed with.

The secret (Standard Webhooks, `whsec_` + base64) is sealed under a random record key that the vault's
key-encryption key wraps, the way a legal-hold record is kept (`vault.legal_holds`): a database copy alone
cannot sign a notice. A generated secret is shown once, in the answer that created it; it is never listed,
logged, audited or returned again (DPDP s.8(5), GDPR Art 32(1)(a)).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Final, cast
from urllib.parse import urlsplit

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from fiduciary.audit.service import AuditEvent
from fiduciary.context import RuntimeContext
from fiduciary.disclosures.models import RecipientEndpoint
from fiduciary.errors import FieldProblem, NotFound, ValidationFailed
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.schema import Recipient
from fiduciary.storage.base import utcnow
from fiduciary.unit_of_work import unit_of_work
from fiduciary.vault.keys.rotation import WrappedKeys, register_wrapped_keys
from fiduciary.vault.keys.startup import check_vault_keys
from fiduciary.vault.sealed_secrets import SealedSecret, open_secret, seal_secret

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
SECRET_BYTES: Final = 32
MAX_URL: Final = 2000
_LOCAL_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True)
class Endpoint:
    recipient_id: str
    url: str
    configured_by: str
    configured_at: datetime


def policy_recipient(policy: CompiledPolicy, recipient_id: str, field: str = "recipient") -> Recipient:
    """The policy's recipient, or a 404 naming the field and listing the declared recipients."""
    found = policy.recipients.get(recipient_id)
    if found is None:
        declared = ", ".join(sorted(policy.recipients)) or "none"
        raise NotFound(f"The policy declares no such recipient ({field}). Declared: {declared}.", "recipient_not_found")
    return found


def _owner(recipient_id: str) -> str:
    return f"recipient:{recipient_id}"


# A KEK rotation re-wraps each recipient's secret key too, or the secrets die with the retired KEK.
register_wrapped_keys(
    WrappedKeys(cast(Table, RecipientEndpoint.__table__), "recipient_id", "kek_id", "secret_key_wrapped", owner=_owner)
)


def _check_url(url: str) -> str:
    parts = urlsplit(url) if isinstance(url, str) and len(url) <= MAX_URL else None
    if parts is None or parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValidationFailed("The endpoint is not a URL.", [FieldProblem("body.url", "must be an https URL")])
    if parts.scheme == "http" and parts.hostname not in _LOCAL_HOSTS:
        raise ValidationFailed(
            "Notices carry pseudonymous ids and must travel encrypted.",
            [FieldProblem("body.url", "must be https (http only for localhost, for testing)")],
        )
    if parts.username or parts.password:
        raise ValidationFailed("No credentials in the URL.", [FieldProblem("body.url", "must not hold a user")])
    return url


def _check_secret(secret: str | None) -> str:
    if secret is None:
        return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        decoded = base64.b64decode(raw, validate=True)
    except ValueError:
        decoded = b""
    if not secret.startswith(SECRET_PREFIX) or not 24 <= len(decoded) <= 64:
        raise ValidationFailed(
            "The secret is not a webhook secret.",
            [FieldProblem("body.secret", "must be whsec_ followed by 24 to 64 bytes in base64")],
        )
    return secret


def configure_endpoint(
    runtime: RuntimeContext,
    session: Session,
    recipient_id: str,
    url: str | None,
    *,
    actor: str,
    secret: str | None = None,
) -> tuple[Endpoint, str | None]:
    """Set the recipient's endpoint (`url`, else the policy's `webhook_url` for it) and secret (a new random
    one unless given); audited without either. Returns the endpoint and the generated secret (None when the
    caller gave its own): shown once."""
    recipient = policy_recipient(runtime.policy(), recipient_id, "path.recipient_id")
    if url is None and recipient.webhook_url is not None:
        url = str(recipient.webhook_url)
    if url is None:
        raise ValidationFailed(
            "Give the endpoint: the policy names no webhook_url for this recipient.",
            [FieldProblem("body.url", "required when the policy's recipient has no webhook_url")],
        )
    _check_url(url)
    chosen = _check_secret(secret)
    stored = seal_secret(check_vault_keys(runtime), session, _owner(recipient_id), chosen)
    now = utcnow()
    row = session.get(RecipientEndpoint, recipient_id)
    if row is None:
        row = RecipientEndpoint(recipient_id=recipient_id)
        session.add(row)
    row.url, row.kek_id = url, stored.kek_id
    row.secret_sealed, row.secret_key_wrapped = stored.sealed, stored.key_wrapped
    row.configured_by, row.configured_at = actor, now
    session.flush()
    unit_of_work(runtime, session).audit(AuditEvent(actor=actor, action="recipient.configure", target=recipient_id))
    return Endpoint(recipient_id, url, actor, now), (chosen if secret is None else None)


def endpoint_secret(runtime: RuntimeContext, row: RecipientEndpoint) -> str:
    """INTERNAL (the deliverer only): the recipient's secret, opened for signing."""
    stored = SealedSecret(row.kek_id, row.secret_key_wrapped, row.secret_sealed)
    return open_secret(check_vault_keys(runtime), _owner(row.recipient_id), stored)


def current_secret(runtime: RuntimeContext, session: Session, recipient_id: str) -> str:
    """INTERNAL (changing only the URL from the CLI): the secret in force; 404 if none is configured."""
    row = session.get(RecipientEndpoint, recipient_id)
    if row is None:
        raise NotFound("This recipient has no endpoint yet.", "endpoint_not_found")
    return endpoint_secret(runtime, row)


def list_endpoints(session: Session) -> list[Endpoint]:
    rows = session.scalars(select(RecipientEndpoint).order_by(RecipientEndpoint.recipient_id))
    return [Endpoint(r.recipient_id, r.url, r.configured_by, r.configured_at) for r in rows]
