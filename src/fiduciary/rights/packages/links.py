"""Signed, expiring, limited download links for access packages (issue 13 item 4).

A link is `/v1/packages/{token}`. The token is opaque: 16 random bytes and their HMAC-SHA256 under a key
derived (HKDF) from FIDUCIARY_SECRET_KEY, base64url — it names no person and holds no personal value, so it
can go in a URL, a message and an access log (DPDP s.8(5), Rule 6; GDPR Art 32). Only its SHA-256 is stored
(on the package row): a copy of the database cannot download anything. A token altered in any character fails
its signature (404, without a query); an expired link is 410 `package_link_expired`; a link used
`max_downloads` times is 410 `package_link_used_up`. The count is taken by one conditional UPDATE, so of
concurrent downloads at the limit exactly the allowed number win. Issuing a new link for a package replaces
the old one. Every download is audited (`package.download`) in the transaction that counts it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.orm import Session

from fiduciary.audit.service import Action, AuditEvent, attach_audit, refusal_event
from fiduciary.context import RuntimeContext
from fiduciary.errors import FiduciaryError, FieldProblem, NotFound, ValidationFailed
from fiduciary.rights.packages.models import ACCESS_PACKAGE_CHUNKS, ACCESS_PACKAGES
from fiduciary.rights.packages.sealing import PackageCipher, PackageDamaged, open_package_key
from fiduciary.storage.base import utcnow
from fiduciary.unit_of_work import unit_of_work

TOKEN_PATTERN: Final = r"^[A-Za-z0-9_-]{64}$"  # noqa: S105 (a pattern, not a secret)
_TOKEN_RE: Final = re.compile(TOKEN_PATTERN)
_ID_BYTES: Final = 16
_INFO: Final = b"fiduciary/access-package-link/v1"
DOWNLOAD_ACTOR: Final = "package_link"  # who downloads: the holder of the link, whoever they are
DEFAULT_VALID_FOR: Final = timedelta(days=7)
MAX_VALID_FOR: Final = timedelta(days=90)
MAX_DOWNLOADS: Final = 100


class LinkGone(FiduciaryError):
    """410: the link was real but expired or used up (what to do: ask for a new package)."""

    def __init__(self, detail: str, code: str) -> None:
        super().__init__(detail=detail, status=410, title="Gone", code=code)


@dataclass(frozen=True)
class PackageLink:
    """A link to give the person once: the token is not stored, only its hash."""

    url_path: str
    token: str
    expires_at: datetime
    max_downloads: int
    package_id: str


@dataclass(frozen=True)
class Download:
    """One counted download: the ZIP's name, size and SHA-256, and its bytes, decrypted chunk by chunk."""

    package_id: str
    filename: str
    size_bytes: int
    sha256: str
    downloads: int
    chunks: Iterator[bytes]


class _LinkKey:
    def __init__(self, secret: bytes) -> None:
        self.key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret)


def _key(runtime: RuntimeContext) -> bytes:
    build = lambda: _LinkKey(runtime.settings.resolved_secret_key())  # noqa: E731
    return runtime.shared("rights.package_link_key", _LinkKey, build).key


def _sign(runtime: RuntimeContext, link_id: bytes) -> bytes:
    return hmac.new(_key(runtime), link_id, hashlib.sha256).digest()


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("ascii")).digest()


def _verified(runtime: RuntimeContext, token: object) -> str | None:
    """The token if its signature holds, else None (no database query for a forged or altered link)."""
    if not isinstance(token, str) or not _TOKEN_RE.fullmatch(token):
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=") != token:  # one spelling per token
        return None
    link_id, mac = raw[:_ID_BYTES], raw[_ID_BYTES:]
    return token if hmac.compare_digest(mac, _sign(runtime, link_id)) else None


def _not_found() -> NotFound:
    return NotFound("No package has this link.", code="package_link_not_found")


def _check_link_terms(valid_for: timedelta, max_downloads: int) -> None:
    problems: list[FieldProblem] = []
    if not isinstance(valid_for, timedelta) or not timedelta(0) < valid_for <= MAX_VALID_FOR:
        problems.append(FieldProblem("valid_for", f"more than 0 and at most {MAX_VALID_FOR.days} days"))
    if isinstance(max_downloads, bool) or not isinstance(max_downloads, int) or not 1 <= max_downloads <= MAX_DOWNLOADS:
        problems.append(FieldProblem("max_downloads", f"a whole number from 1 to {MAX_DOWNLOADS}"))
    if problems:
        raise ValidationFailed("The link's terms are not valid.", problems)


def issue_link(
    runtime: RuntimeContext,
    session: Session,
    package_id: str,
    *,
    valid_for: timedelta = DEFAULT_VALID_FOR,
    max_downloads: int = 3,
    now: datetime | None = None,
) -> PackageLink:
    """A new link to the package, replacing any earlier one; in the caller's transaction (the caller commits)."""
    _check_link_terms(valid_for, max_downloads)
    link_id = secrets.token_bytes(_ID_BYTES)
    token = base64.urlsafe_b64encode(link_id + _sign(runtime, link_id)).decode("ascii").rstrip("=")
    expires_at = (now or utcnow()) + valid_for
    result = session.execute(
        sa.update(ACCESS_PACKAGES)
        .where(ACCESS_PACKAGES.c.id == package_id)
        .values(link_hash=token_hash(token), link_expires_at=expires_at, max_downloads=max_downloads, downloads=0)
    )
    if not int(getattr(result, "rowcount", 0) or 0):
        raise NotFound("No package has this id.", code="package_not_found")
    return PackageLink(f"/v1/packages/{token}", token, expires_at, max_downloads, package_id)


def _refuse(exc: FiduciaryError, row: Any) -> FiduciaryError:
    """A refused download of a real package, audited against its person (the link itself is never recorded)."""
    event = refusal_event(
        exc,
        actor=DOWNLOAD_ACTOR,
        action=Action.PACKAGE_DOWNLOAD,
        request_id=row.request_id,
        person_id=row.person_id,
    )
    return attach_audit(exc, event)


def open_download(runtime: RuntimeContext, session: Session, token: str, *, now: datetime | None = None) -> Download:
    """Check the link (signature, expiry, count), count this download and audit it, in the caller's
    transaction; the returned chunks are read, each in a short session of its own, as they are consumed.

    404 `package_link_not_found` (forged, altered, replaced or deleted), 410 `package_link_expired`,
    410 `package_link_used_up`, 410 `person_erased` (the person's key is gone: the package cannot be opened).
    """
    verified = _verified(runtime, token)
    if verified is None:
        raise _not_found()
    uow = unit_of_work(runtime, session)
    with uow.step():
        row, cipher = _counted(runtime, session, token_hash(verified), now or utcnow())
        uow.audit(
            AuditEvent(
                actor=DOWNLOAD_ACTOR,
                action=Action.PACKAGE_DOWNLOAD,
                person_id=row.person_id,
                target=row.id,
                request_id=row.request_id,
                count=row.downloads + 1,
            )
        )
    chunks = _chunks(runtime, cipher, row.chunk_count)
    return Download(row.id, f"{row.id}.zip", row.size_bytes, row.sha256, row.downloads + 1, chunks)


def _counted(runtime: RuntimeContext, session: Session, digest: bytes, moment: datetime) -> tuple[Any, PackageCipher]:
    """The package row of a live link, its download counted (one conditional UPDATE); refusals audited."""
    row = session.execute(sa.select(ACCESS_PACKAGES).where(ACCESS_PACKAGES.c.link_hash == digest)).one_or_none()
    if row is None or row.link_expires_at is None:
        raise _not_found()
    if moment >= row.link_expires_at:
        raise _refuse(LinkGone("This download link has expired; ask for a new package.", "package_link_expired"), row)
    if row.downloads >= row.max_downloads:
        raise _refuse(_used_up(), row)
    try:
        cipher = open_package_key(runtime, session, row.person_id, row.id, row.key_version, row.wrapped_key)
    except FiduciaryError as exc:  # erased: refused before it counts
        raise _refuse(exc, row) from None
    counted = session.execute(
        sa.update(ACCESS_PACKAGES)
        .where(
            ACCESS_PACKAGES.c.id == row.id,
            ACCESS_PACKAGES.c.link_hash == digest,
            ACCESS_PACKAGES.c.downloads < ACCESS_PACKAGES.c.max_downloads,
            ACCESS_PACKAGES.c.link_expires_at > moment,
        )
        .values(downloads=ACCESS_PACKAGES.c.downloads + 1)
    )
    if not int(getattr(counted, "rowcount", 0) or 0):  # a concurrent download took the last one
        raise _refuse(_used_up(), row)
    return row, cipher


def _used_up() -> LinkGone:
    return LinkGone(
        "This download link has been used as often as it allows; ask for a new one.", "package_link_used_up"
    )


def _chunks(runtime: RuntimeContext, cipher: PackageCipher, count: int) -> Iterator[bytes]:
    statement = sa.select(ACCESS_PACKAGE_CHUNKS.c.sealed).where(
        ACCESS_PACKAGE_CHUNKS.c.package_id == cipher.package_id, ACCESS_PACKAGE_CHUNKS.c.seq == sa.bindparam("seq")
    )
    for seq in range(count):
        with runtime.sessions() as session:
            sealed = session.execute(statement, {"seq": seq}).scalar_one_or_none()
        if sealed is None:  # deleted meanwhile (the person was erased): stop rather than serve a part
            raise PackageDamaged()
        yield cipher.open(seq, sealed, last=seq == count - 1)
