"""Signed unsubscribe tokens and the List-Unsubscribe headers of an outgoing message (RFC 2369, RFC 8058).

A token is the only authority the one-click endpoint needs: RFC 8058 s.3.2 forbids requiring cookies,
sign-in or any earlier session, so the link itself must be unforgeable. It carries the pseudonymous
subject id, the purpose and an expiry — no personal value (DPDP s.8(5) safeguards; the URL ends up in mail
logs) — and a 128-bit HMAC-SHA256 tag (truncation to 128 bits: NIST SP 800-107 s.5.3.4) under a key derived
from the service secret, so the same secret can sign other things without cross-use.

Layout, before base64url without padding:
    version(1) = 0x01 | expires_at as unsigned 40-bit seconds | len(subject)(1) | subject | purpose | tag(16)
The tag covers every byte before it, version included, so a downgrade or splice breaks it.

Withdrawal through the link must be as easy as the consent was to give (DPDP s.6(4), Rule 3(c)(i);
GDPR Art 7(3)); for direct marketing the right to object is absolute (GDPR Art 21(3)).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

from sqlalchemy.orm import Session

from fiduciary.consent.evidence import Evidence
from fiduciary.consent.service import ConsentChannel, ConsentInput, ConsentService, state_for
from fiduciary.errors import FiduciaryError
from fiduciary.people.models import Person
from fiduciary.policy.compiled import CompiledPolicy

TOKEN_VERSION = 1
TAG_BYTES = 16
MAX_TOKEN_CHARS = 512
_KEY_LABEL = b"fiduciary/unsubscribe/v1"
_MAX_EXPIRY = (1 << 40) - 1
# base64url of at least the shortest layout (25 bytes); the OpenAPI's pattern for `/u/{token}`.
TOKEN_PATTERN = r"^[A-Za-z0-9_-]{34,512}$"  # noqa: S105 - a pattern, not a secret
# A bare address: printable ASCII without space or any of <>,;"?% that could close `<…>` or add a header.
_MAILTO_CHARS = r"!#$&-+\--:=A-~"
MAILTO_PATTERN = rf"^[{_MAILTO_CHARS}]+@[{_MAILTO_CHARS}@]+$"
_MAILTO_RE = re.compile(MAILTO_PATTERN)


class InvalidToken(FiduciaryError):
    """A forged, tampered, truncated or expired link. Nothing is changed when one is presented."""

    def __init__(self, detail: str, code: str = "unsubscribe_token_invalid") -> None:
        super().__init__(detail=detail, status=400, title="Invalid unsubscribe link", code=code)


@dataclass(frozen=True, slots=True)
class UnsubscribeToken:
    subject_id: str
    purpose: str
    expires_at: datetime


def _key(secret: bytes) -> bytes:
    return hmac.new(secret, _KEY_LABEL, hashlib.sha256).digest()


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if len(text) > MAX_TOKEN_CHARS or not text.isascii():
        raise InvalidToken("The unsubscribe link is malformed.", code="unsubscribe_token_malformed")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidToken("The unsubscribe link is malformed.", code="unsubscribe_token_malformed") from None


def make_token(secret: bytes, subject_id: str, purpose: str, *, expires_at: datetime) -> str:
    """Sign a link for one subject and one purpose, valid until `expires_at` (an aware datetime)."""
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    subject = subject_id.encode("ascii")
    purpose_bytes = purpose.encode("ascii")
    if not 0 < len(subject) < 256 or not purpose_bytes:
        raise ValueError("subject_id must be 1-255 ASCII characters and purpose non-empty")
    expiry = int(expires_at.timestamp())
    if not 0 <= expiry <= _MAX_EXPIRY:
        raise ValueError("expires_at is out of range")
    body = bytes([TOKEN_VERSION]) + expiry.to_bytes(5, "big") + bytes([len(subject)]) + subject + purpose_bytes
    tag = hmac.new(_key(secret), body, hashlib.sha256).digest()[:TAG_BYTES]
    return _b64encode(body + tag)


def read_token(secret: bytes, token: str, *, now: datetime | None = None) -> UnsubscribeToken:
    """Check the tag first (in constant time), then the layout, then the expiry; raise `InvalidToken`."""
    raw = _b64decode(token)
    if len(raw) < 1 + 5 + 1 + 1 + 1 + TAG_BYTES:
        raise InvalidToken("The unsubscribe link is malformed.", code="unsubscribe_token_malformed")
    body, tag = raw[:-TAG_BYTES], raw[-TAG_BYTES:]
    expected = hmac.new(_key(secret), body, hashlib.sha256).digest()[:TAG_BYTES]
    if not hmac.compare_digest(tag, expected):
        raise InvalidToken("The unsubscribe link is not valid.", code="unsubscribe_token_invalid")
    if body[0] != TOKEN_VERSION:
        raise InvalidToken("The unsubscribe link is malformed.", code="unsubscribe_token_malformed")
    expiry = int.from_bytes(body[1:6], "big")
    length = body[6]
    subject, purpose = body[7 : 7 + length], body[7 + length :]
    if len(subject) != length or not purpose:
        raise InvalidToken("The unsubscribe link is malformed.", code="unsubscribe_token_malformed")
    expires_at = datetime.fromtimestamp(expiry, UTC)
    if (now or datetime.now(UTC)) >= expires_at:
        raise InvalidToken("The unsubscribe link has expired.", code="unsubscribe_token_expired")
    try:
        return UnsubscribeToken(subject.decode("ascii"), purpose.decode("ascii"), expires_at)
    except UnicodeDecodeError:
        raise InvalidToken("The unsubscribe link is malformed.", code="unsubscribe_token_malformed") from None


def unsubscribe_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/u/{token}"


def check_mailto(mailto: str) -> None:
    """A bare address only: anything that could close the `<…>` or add a header is refused."""
    if not _MAILTO_RE.fullmatch(mailto):
        raise ValueError("mailto must be a bare address")


def list_unsubscribe_headers(base_url: str, token: str, mailto: str | None = None) -> dict[str, str]:
    """The two headers of RFC 8058 for one outgoing message.

    `List-Unsubscribe` lists the HTTPS link first (RFC 2369 s.2: in order of preference), then an optional
    `mailto:` address whose subject carries the token. `List-Unsubscribe-Post` is added only for an https
    link: RFC 8058 s.3.1 requires the one-click URI to be HTTPS, and mail clients ignore it otherwise.
    The message's DKIM signature MUST cover both headers (RFC 8058 s.4: `h=` includes
    `List-Unsubscribe:List-Unsubscribe-Post`), or mailbox providers ignore the one-click offer.
    """
    url = unsubscribe_url(base_url, token)
    parts = [f"<{url}>"]
    if mailto:
        check_mailto(mailto)
        parts.append(f"<mailto:{mailto}?subject={quote('unsubscribe ' + token)}>")
    headers = {"List-Unsubscribe": ", ".join(parts)}
    if urlsplit(url).scheme == "https":
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return headers


# --------------------------------------------------------------------------------------------- withdrawal


@dataclass(frozen=True, slots=True)
class UnsubscribeOutcome:
    purpose: str
    purpose_name: str | None  # None when the policy no longer declares the purpose
    status: str  # "unsubscribed" (recorded now), "already_unsubscribed", or "subscribed" (a read)
    ledger_position: int | None = None


def _purpose_name(policy: CompiledPolicy, purpose: str) -> str | None:
    declared = policy.purposes.get(purpose)
    return declared.name if declared is not None else None


def _has_nothing_to_withdraw(session: Session, policy: CompiledPolicy, token: UnsubscribeToken) -> bool:
    """True when no withdrawal can change anything: an undeclared or non-consent purpose, a person we
    do not hold or whose account is closed (they get no messages), or a consent already withdrawn or
    refused."""
    cp = policy.compiled_purposes.get(token.purpose)
    if cp is None or not cp.needs_consent:
        return True
    person = session.get(Person, token.subject_id)
    if person is None or person.status != "active":
        return True
    row = state_for(session, [token.subject_id]).get(token.subject_id, {}).get(token.purpose)
    return row is not None and row.status != "granted"


def unsubscribe_status(session: Session, policy: CompiledPolicy, token: UnsubscribeToken) -> UnsubscribeOutcome:
    """What the confirmation page shows; reads only (a GET must never unsubscribe: link scanners follow it)."""
    done = _has_nothing_to_withdraw(session, policy, token)
    return UnsubscribeOutcome(
        token.purpose,
        _purpose_name(policy, token.purpose),
        "already_unsubscribed" if done else "subscribed",
    )


def unsubscribe(
    session: Session,
    consent: ConsentService,
    token: UnsubscribeToken,
    *,
    evidence: Evidence | None = None,
) -> UnsubscribeOutcome:
    """Withdraw the consent the token names, at once, on the `email_link` channel; idempotent.

    A consent never given is withdrawn too (recorded, harmless: it documents the person's wish); one
    already withdrawn or refused writes nothing, so mail clients that POST twice leave one event.
    """
    policy = consent.policy()
    name = _purpose_name(policy, token.purpose)
    if _has_nothing_to_withdraw(session, policy, token):
        return UnsubscribeOutcome(token.purpose, name, "already_unsubscribed")
    result = consent.record(
        session,
        ConsentInput(
            subject_id=token.subject_id,
            purpose=token.purpose,
            action="withdraw",
            channel=ConsentChannel.EMAIL_LINK,
            language=policy.document.language,
            evidence=evidence,
        ),
    )
    return UnsubscribeOutcome(token.purpose, name, "unsubscribed", result.ledger_position)
