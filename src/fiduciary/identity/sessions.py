"""Customer sessions: a short-lived bearer token proving that its holder was verified as a person.

A rights request must come from the person it is about (11 CCR §7060-7062, GDPR Art 12(6), DPDP Rule 14).
The proof is one of: a one-time code sent to an identifier on file (`email_otp`, `sms_otp`;
`identity.codes`), or the store's backend vouching for the customer signed in on its site
(`signed_in_session`, an API key with `sessions:write`). Either opens a customer session here, and the
privacy endpoints then act for the session's person and nobody else.

Rules (issue 13 item 2; docs/identity.md "Customer sessions"):
- a session lives `LIFETIME` (30 minutes) from its opening, absolutely: use does not extend it, so a token
  left in a shared browser is useless soon after (GDPR Art 32(1)(b), DPDP Rule 6(1)(a) safeguards);
- the token `cst_<32 hex id>.<secret>` is shown once; the table keeps the SHA-256 of the 256-bit secret
  only, and the presented secret's digest is compared in constant time;
- a session can be revoked (signing out, or every session of a person at once); revoked and expired
  sessions authenticate nobody;
- opening and revoking are audited (`session.open`, `session.revoke`) with ids only.
The token never goes into a log, an audit event, an error message or a URL.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fiduciary.audit.service import Action, AuditEvent
from fiduciary.codes import safe_request_id
from fiduciary.context import RuntimeContext
from fiduciary.errors import FieldProblem, NotFound, Unauthorized, ValidationFailed
from fiduciary.identity.models import CUSTOMER_SESSIONS_TABLE as SESSIONS
from fiduciary.identity.models import VERIFICATION_CODES_TABLE as CODES
from fiduciary.identity.models import CustomerSessionRecord
from fiduciary.people.service import get_person
from fiduciary.personal_data.contacts import report_contact
from fiduciary.storage.base import utcnow
from fiduciary.unit_of_work import unit_of_work

# 30 minutes from opening, never extended: long enough to make a rights request and download its answer,
# short enough that a forgotten token soon proves nothing (issue 13 item 2 asks for short-lived sessions).
LIFETIME: Final = timedelta(minutes=30)
TOKEN_PREFIX: Final = "cst_"  # noqa: S105 (a prefix, not a secret)
SESSION_PREFIX: Final = "cs_"
MAX_TOKEN_CHARS: Final = 120
# `last_used_at` is written at most once a minute: a page polling the session does not write each time.
LAST_USED_EVERY: Final = timedelta(minutes=1)
_TOKEN: Final = re.compile(r"^cst_([0-9a-f]{32})\.([A-Za-z0-9_-]{43})$")
_SESSION_ID: Final = re.compile(r"^cs_[0-9a-f]{32}$")
_CLIENT_INFO: Final = b"fiduciary.identity.session-client.v1"
_NO_SUCH_DIGEST: Final = bytes(32)  # compared against when no row matches, so every refusal does the same work
REFUSED_DETAIL: Final = "A valid customer session is required; verify again to open one."


class VerifiedBy(StrEnum):
    """How the session's person was verified."""

    SIGNED_IN_SESSION = "signed_in_session"  # the store's backend vouched for its signed-in customer
    EMAIL_OTP = "email_otp"  # a one-time code sent to an email on file
    SMS_OTP = "sms_otp"  # a one-time code sent to a phone on file


VERIFIED_BY_CODE_KIND: Final = {"email": VerifiedBy.EMAIL_OTP, "phone": VerifiedBy.SMS_OTP}


@dataclass(frozen=True)
class CustomerSession:
    """An authenticated customer session: what a privacy endpoint acts on (the person, never another)."""

    session_id: str
    person_id: str
    verified_by: str
    expires_at: datetime


@dataclass(frozen=True)
class OpenedSession:
    """A session just opened, with its bearer token: give it to the customer once, store it nowhere."""

    token: str = field(repr=False)  # never in a repr, so never in a log line by accident
    session_id: str
    person_id: str
    verified_by: str
    expires_at: datetime


class SessionRefused(Unauthorized):
    """401: no session, or a malformed, unknown, altered, expired or revoked one. One answer for every reason,
    so a caller learns nothing about which sessions exist."""

    def __init__(self) -> None:
        super().__init__(REFUSED_DETAIL, code="session_invalid")


class _ClientKey:
    def __init__(self, secret: bytes) -> None:
        self.key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_CLIENT_INFO).derive(secret)


def _digest(secret: str) -> bytes:
    """SHA-256 of a 256-bit random secret: unkeyed is enough, nothing can be guessed (decision 0001)."""
    return hashlib.sha256(secret.encode("ascii")).digest()


def client_hash(runtime: RuntimeContext, client_address: str) -> bytes:
    """The client address as HMAC-SHA256 under a key derived from FIDUCIARY_SECRET_KEY: comparable, not
    readable (an IP address is personal data, GDPR Recital 30)."""
    key = runtime.shared(
        "identity.session_client_key", _ClientKey, lambda: _ClientKey(runtime.settings.resolved_secret_key())
    ).key
    return hmac.new(key, client_address.encode(), hashlib.sha256).digest()


def parse_token(token: object) -> tuple[str, str] | None:
    """(session id, secret) of a well-formed token, else None."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        return None
    match = _TOKEN.fullmatch(token)
    return (SESSION_PREFIX + match.group(1), match.group(2)) if match else None


def _check_verified_by(verified_by: str) -> VerifiedBy:
    try:
        return VerifiedBy(verified_by)
    except ValueError:
        choices = ", ".join(v.value for v in VerifiedBy)
        raise ValidationFailed("Bad verification method.", [FieldProblem("verified_by", f"one of {choices}")]) from None


def verified_by_code(session: Session, challenge_id: str) -> VerifiedBy:
    """How a verified challenge proved the person: `email_otp` or `sms_otp`, from its identifier kind."""
    kind = session.scalar(select(CODES.c.identifier_kind).where(CODES.c.id == challenge_id))
    if kind not in VERIFIED_BY_CODE_KIND:
        raise NotFound("No challenge has this id.", code="challenge_not_found")
    return VERIFIED_BY_CODE_KIND[kind]


def open_session(
    runtime: RuntimeContext,
    session: Session,
    *,
    person_id: str,
    verified_by: str,
    now: datetime | None = None,
    actor: str | None = None,
    request_id: str | None = None,
    client_address: str | None = None,
) -> OpenedSession:
    """Open a session for `person_id`, verified by `verified_by`; writes in `session`'s transaction (the
    caller commits) with its `session.open` audit event (DPDP Rule 6(1)(c)).

    `actor` is who vouched (the API key id for `signed_in_session`); by default the person, who proved
    themself with a code. 422 naming `verified_by` or `person_id` for bad input, 404 for an unknown person.
    """
    method = _check_verified_by(verified_by)
    now = now or utcnow()
    uow = unit_of_work(runtime, session)
    with uow.step():
        get_person(session, person_id)
        hex_id, secret = secrets.token_hex(16), secrets.token_urlsafe(32)
        record = CustomerSessionRecord(
            id=SESSION_PREFIX + hex_id,
            person_id=person_id,
            token_hash=_digest(secret),
            verified_by=method.value,
            created_at=now,
            expires_at=now + LIFETIME,
            last_used_at=None,
            revoked_at=None,
            client_hash=client_hash(runtime, client_address) if client_address else None,
        )
        session.add(record)
        session.flush()
        report_contact(session, person_id, now)  # a sign-in is a contact (DPDP s.8(8) explanation)
        uow.audit(
            AuditEvent(
                actor=actor or person_id,
                action=Action.SESSION_OPEN,
                person_id=person_id,
                target=record.id,
                reasons=(method.value,),
                request_id=safe_request_id(request_id),
            )
        )
    return OpenedSession(f"{TOKEN_PREFIX}{hex_id}.{secret}", record.id, person_id, method.value, record.expires_at)


def authenticate(
    runtime: RuntimeContext, session: Session, token: str, *, now: datetime | None = None
) -> CustomerSession:
    """The open session `token` names, or `SessionRefused` (401) whatever is wrong with it.

    The presented secret's digest is compared with `hmac.compare_digest`, also when no row matches. Reads
    the row afresh (not from the session's identity map), so a revocation committed elsewhere counts at once.
    """
    now = now or utcnow()
    parsed = parse_token(token)
    if parsed is None:
        raise SessionRefused()
    session_id, secret = parsed
    row = session.execute(
        select(
            SESSIONS.c.person_id,
            SESSIONS.c.token_hash,
            SESSIONS.c.verified_by,
            SESSIONS.c.expires_at,
            SESSIONS.c.last_used_at,
            SESSIONS.c.revoked_at,
        ).where(SESSIONS.c.id == session_id)
    ).first()
    matches = hmac.compare_digest(_digest(secret), row.token_hash if row is not None else _NO_SUCH_DIGEST)
    if row is None or not matches or row.revoked_at is not None or row.expires_at <= now:
        raise SessionRefused()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
        session.execute(update(SESSIONS).where(SESSIONS.c.id == session_id).values(last_used_at=now))
    return CustomerSession(session_id, row.person_id, row.verified_by, row.expires_at)


def _check_session_id(session_id: str) -> None:
    if not isinstance(session_id, str) or not _SESSION_ID.fullmatch(session_id):
        raise ValidationFailed("Bad session id.", [FieldProblem("session_id", "a session id (cs_ and 32 hex digits)")])


def revoke(
    runtime: RuntimeContext,
    session: Session,
    session_id: str,
    *,
    actor: str | None = None,
    request_id: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Revoke one session in `session`'s transaction (the caller commits), audited as `session.revoke`
    (actor: `actor`, by default the session's person). False if it was already revoked (nothing written);
    404 for an unknown id, 422 for a malformed one."""
    _check_session_id(session_id)
    now = now or utcnow()
    uow = unit_of_work(runtime, session)
    with uow.step():
        row = session.execute(
            select(SESSIONS.c.person_id, SESSIONS.c.revoked_at).where(SESSIONS.c.id == session_id)
        ).first()
        if row is None:
            raise NotFound("No session has this id.", code="session_not_found")
        if row.revoked_at is not None:
            return False
        session.execute(update(SESSIONS).where(SESSIONS.c.id == session_id).values(revoked_at=now))
        uow.audit(
            AuditEvent(
                actor=actor or row.person_id,
                action=Action.SESSION_REVOKE,
                person_id=row.person_id,
                target=session_id,
                request_id=safe_request_id(request_id),
            )
        )
    return True


def revoke_all_for_person(session: Session, person_id: str, *, now: datetime | None = None) -> int:
    """Revoke every open session of `person_id` in `session`'s transaction; how many were open.

    Not audited here: the caller's own action (closing the account, an erasure, a staff sign-out) is the
    audited event, and it says why.
    """
    result = session.execute(
        update(SESSIONS)
        .where(SESSIONS.c.person_id == person_id, SESSIONS.c.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)
