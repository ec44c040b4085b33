"""API keys for store backends: create (shown once), authenticate, check scopes, list, revoke.

A key is `fid_<id>_<secret>`: the id is public (listings, logs, audit events name it), the secret is 256
random bits of which only a SHA-256 digest is stored (docs/decisions/0001-api-key-hashing.md), so a copy of
the database or a backup cannot be used to call the API. This is part of the access control DPDP Rule 6(1)(b)
requires; revocation takes effect on the next request (in this process; within AUTH_CACHE_SECONDS in other
processes, auth/cache.py).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
import unicodedata
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import event, or_, select, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value

from fiduciary.auth.cache import KeyCache, key_revoked
from fiduciary.auth.listing import ID_LENGTH
from fiduciary.auth.models import ApiKey
from fiduciary.auth.scopes import Scope, missing_scopes, parse_scopes
from fiduciary.errors import FieldProblem, Forbidden, NotFound, Unauthorized, ValidationFailed
from fiduciary.storage.base import utcnow

KEY_PREFIX = "fid_"
SECRET_BYTES = 32
# Letters and digits only: the id appears in URLs and on command lines, where a leading '-' would read as an
# option. 62**12 is about 2**71 ids, so a collision is practically impossible (and would be retried anyway).
ID_ALPHABET = string.ascii_letters + string.digits
NAME_MAX = 100
LAST_USED_RESOLUTION = timedelta(minutes=1)

KEY_ID_PATTERN = r"^[A-Za-z0-9]{12}$"  # the public id; the OpenAPI's pattern for key ids in paths
_ID_RE = re.compile(KEY_ID_PATTERN[1:-1])
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{43}")  # base64url of 32 bytes, unpadded
_KEY_LENGTH = len(KEY_PREFIX) + ID_LENGTH + 1 + 43

# Compared against when the key id is unknown, so that path does the same digest-and-compare work.
_DUMMY_HASH = hashlib.sha256(b"fiduciary: no such key").hexdigest()


def hash_secret(secret: str) -> str:
    """SHA-256 hex of the secret part. A 256-bit random secret cannot be guessed, so no slow hash is needed."""
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _new_id() -> str:
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


def parse_key(presented: str) -> tuple[str, str] | None:
    """Split `fid_<id>_<secret>` into (id, secret); None when the shape is wrong.

    Parsed by position, not by splitting on '_', because base64url secrets may themselves contain '_'.
    """
    if len(presented) != _KEY_LENGTH or not presented.startswith(KEY_PREFIX):
        return None
    key_id = presented[len(KEY_PREFIX) : len(KEY_PREFIX) + ID_LENGTH]
    separator = presented[len(KEY_PREFIX) + ID_LENGTH]
    secret = presented[len(KEY_PREFIX) + ID_LENGTH + 1 :]
    if separator != "_" or not _ID_RE.fullmatch(key_id) or not _SECRET_RE.fullmatch(secret):
        return None
    return key_id, secret


def validate_name(name: str, field: str = "name") -> str:
    """A label for people reading listings: 1-100 characters, no control or invisible formatting characters.

    Control and bidi-formatting characters are refused because a name is shown in terminals and consoles,
    where they could rewrite what a reader sees.
    """
    if not name.strip():
        raise ValidationFailed("The key needs a name.", [FieldProblem(field, "must not be empty")])
    if len(name) > NAME_MAX:
        raise ValidationFailed(
            "The key name is too long.", [FieldProblem(field, f"must be at most {NAME_MAX} characters")]
        )
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") for ch in name):
        raise ValidationFailed(
            "The key name contains a control character.",
            [FieldProblem(field, "must not contain control or formatting characters")],
        )
    return name


def create_api_key(session: Session, name: str, scopes: Iterable[str]) -> tuple[ApiKey, str]:
    """Create a key and return it with its plaintext, which exists only in this return value."""
    name = validate_name(name)
    parsed = parse_scopes(scopes)
    key_id = _new_id()
    while session.get(ApiKey, key_id) is not None:  # pragma: no cover - 2**-71 per existing key
        key_id = _new_id()
    secret = secrets.token_urlsafe(SECRET_BYTES)
    row = ApiKey(
        id=key_id,
        name=name,
        secret_hash=hash_secret(secret),
        scopes=[s.value for s in parsed],
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row, f"{KEY_PREFIX}{key_id}_{secret}"


def authenticate(session: Session, presented: str | None, *, now: datetime | None = None) -> ApiKey:
    """The active key `presented` names, or Unauthorized.

    Every failure (missing, malformed, unknown id, wrong secret, revoked) raises the same generic error, so a
    caller cannot learn which ids exist or that a key was revoked. `last_used_at` is written at most once a
    minute per key so a busy backend does not turn every read into a write.
    """
    if not presented:
        raise Unauthorized()
    parts = parse_key(presented.strip())
    if parts is None:
        raise Unauthorized()
    key_id, secret = parts
    row = session.get(ApiKey, key_id)
    digest = hash_secret(secret)
    expected = row.secret_hash if row is not None else _DUMMY_HASH
    matches = hmac.compare_digest(digest, expected)
    if row is None or not matches or row.revoked_at is not None:
        raise Unauthorized()
    _touch(session, row, now or utcnow())
    return row


def cached_key(cache: KeyCache, presented: str | None) -> ApiKey | None:
    """The key `presented` names if `cache` holds it fresh and the secret matches; no database access.

    None means "ask `authenticate_and_cache`", never "refused".
    """
    parts = parse_key(presented.strip()) if presented else None
    if parts is None:
        return None
    return cache.lookup(parts[0], hash_secret(parts[1]))


def authenticate_and_cache(
    cache: KeyCache, session: Session, presented: str | None, *, now: datetime | None = None
) -> ApiKey:
    """`authenticate` against the database, then remember the key in `cache` (see auth/cache.py)."""
    generation = cache.generation
    row = authenticate(session, presented, now=now)
    cache.store(row, generation)
    return row


def _touch(session: Session, row: ApiKey, now: datetime) -> None:
    """Record use, at most once per LAST_USED_RESOLUTION, without ever waiting on another transaction.

    On PostgreSQL the row may be locked by a concurrent request that is recording the same use; SKIP LOCKED
    lets this request go on instead of queueing behind it (the timestamp is approximate by design).
    """
    if row.last_used_at is not None and now - row.last_used_at < LAST_USED_RESOLUTION:
        return
    cutoff = now - LAST_USED_RESOLUTION
    inner = aliased(ApiKey)
    target = (
        select(inner.id)
        .where(inner.id == row.id, or_(inner.last_used_at.is_(None), inner.last_used_at < cutoff))
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    result = session.execute(
        update(ApiKey).where(ApiKey.id == target).values(last_used_at=now).execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) == 1:
        set_committed_value(row, "last_used_at", now)


def require(key: ApiKey, *scopes: Scope | str) -> None:
    """Forbidden unless `key` holds every scope (admin holds all); the error names what is missing."""
    missing = missing_scopes(key.scopes, scopes)
    if missing:
        names = ", ".join(s.value for s in missing)
        raise Forbidden(f"This API key lacks the scope {names}.", code="missing_scope")


def list_api_keys(session: Session) -> list[ApiKey]:
    """Every key, revoked ones included (they remain evidence of who had access when), oldest first."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))


def get_api_key(session: Session, key_id: str) -> ApiKey:
    row = session.get(ApiKey, key_id) if _ID_RE.fullmatch(key_id) else None
    if row is None:
        raise NotFound("No API key has this id.", code="apikey_not_found")
    return row


def revoke_api_key(session: Session, key_id: str, *, now: datetime | None = None) -> ApiKey:
    """Revoke a key; revoking it again changes nothing (the first revocation time is kept)."""
    row = get_api_key(session, key_id)
    if row.revoked_at is None:
        row.revoked_at = now or utcnow()
        session.flush()
        # Caches in this process drop the key now and again once the revocation is committed, so a request
        # that read the key before the commit cannot put it back (auth/cache.py).
        key_revoked(key_id)
        event.listen(session, "after_commit", lambda _session: key_revoked(key_id), once=True)
    return row
