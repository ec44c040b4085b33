"""One-time codes: `issue_code` sends a 6-digit code to an identifier on file, `verify_code` checks it.

Rules (issue 13 item 2; decision 0030-one-time-codes):
- a code is valid for `VALID_FOR` (10 minutes): at exactly 10 minutes it has expired;
- at most `MAX_ATTEMPTS` (5) tries per challenge; the 5th wrong one locks it, and a locked challenge stays
  locked (the lock is a column of `verification_codes`, so a restart does not lift it);
- a right code verifies once, then the challenge is consumed;
- issuing is rate-limited per identifier (by its blind index) and per client address (hashed by the bucket
  store), GCRA buckets of `fiduciary.storage.ratelimit`;
- the code is stored only as HMAC-SHA256 under a key derived from FIDUCIARY_SECRET_KEY, bound to the
  challenge id, and compared in constant time;
- an identifier nobody holds gets a decoy challenge with the same answer, the same rate limits and a row
  of the same shape, whose stored hash is random: it can never verify (GDPR Art 12(6), DPDP Rule 14 ask
  us to verify the requester, not to tell a stranger who is a customer).
Neither the code nor the identifier is logged, audited or put in an error message.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fiduciary.comms.messages import message_kind, render
from fiduciary.comms.outbox import send
from fiduciary.context import RuntimeContext
from fiduciary.errors import FiduciaryError, FieldProblem, ValidationFailed
from fiduciary.identity.models import VERIFICATION_CODES_TABLE as CODES
from fiduciary.identity.models import VerificationCode
from fiduciary.storage.base import utcnow
from fiduciary.storage.ratelimit import BucketStore, DatabaseBuckets, bucket_key
from fiduciary.vault.identifiers import MAX_IDENTIFIER_CHARS
from fiduciary.vault.records import PersonIdentifier
from fiduciary.vault.service import VaultService

VALID_FOR: Final = timedelta(minutes=10)
MAX_ATTEMPTS: Final = 5
CODE_DIGITS: Final = 6
MESSAGE_KIND: Final = "rights.code"
CHANNEL_FOR_KIND: Final = {"email": "email", "phone": "sms"}
_CODE: Final = re.compile(r"^[0-9]{6}$")
_CHALLENGE: Final = re.compile(r"^vc_[0-9a-f]{32}$")
_HASH_INFO: Final = b"fiduciary.identity.one-time-code.v1"
# The time an issuing answer takes, whoever holds the identifier: a known one costs a message in the outbox
# (sealing under the person's key, two more inserts, a bigger commit), a few ms a decoy does not spend. The
# caller answers no earlier than this after the start (`pace`, after its commit), so the answer's timing
# does not tell a stranger who is a customer. bench/identity_codes.py: known p99 under 30 ms under load.
ANSWER_FLOOR_SECONDS: Final = 0.2


class Verdict(StrEnum):
    OK = "ok"
    WRONG = "wrong"
    EXPIRED = "expired"
    LOCKED = "locked"
    CONSUMED = "consumed"


@dataclass(frozen=True)
class Issued:
    """A challenge: its id for the requester, and the code (already in the outbox; never shown to them).

    For a decoy the code is random, sent nowhere and never valid: the shape is the same on purpose.
    """

    challenge_id: str
    code: str
    expires_at: datetime
    answer_at: float  # time.monotonic() before which the requester gets no answer (`pace`)


@dataclass(frozen=True)
class Verification:
    verdict: Verdict
    person_id: str | None  # only when the verdict is ok
    attempts_left: int


class TooManyCodes(FiduciaryError):
    """Too many codes asked for one identifier or from one client address (HTTP 429)."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(
            "Too many codes were asked for; try again later.",
            status=429,
            title="Too many requests",
            code="too_many_codes",
        )
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limit:
    """A GCRA bucket: `burst` codes at once, then one every `every_seconds`."""

    name: str
    burst: int
    every_seconds: float

    @property
    def tolerance(self) -> float:
        return self.every_seconds * (self.burst - 1) + 1e-6


# Per identifier: 3 codes at once, then one every 5 minutes (a lost message may be asked for again, a mailbox
# cannot be flooded). Per client address: 20 at once, then one a minute (a shared office NAT still works,
# a script walking a list of addresses does not).
PER_IDENTIFIER: Final = Limit("identity.code.identifier", burst=3, every_seconds=300.0)
PER_ADDRESS: Final = Limit("identity.code.address", burst=20, every_seconds=60.0)


class CodeLimits:
    """The issuing budgets over a bucket store (the service database's `rate_limit_buckets` by default)."""

    def __init__(self, store: BucketStore, per_identifier: Limit = PER_IDENTIFIER, per_address: Limit = PER_ADDRESS):
        self.store = store
        self.per_identifier = per_identifier
        self.per_address = per_address

    def charge(self, identifier_index: bytes, client_address: str, now: float) -> None:
        """Charge the address, then the identifier; raise TooManyCodes if either budget is spent.

        The keys are hashed by `bucket_key` before they are stored: no address or index in clear.
        """
        for limit, key in ((self.per_address, client_address), (self.per_identifier, identifier_index.hex())):
            wait = self.store.hit(bucket_key(limit.name, key), limit.every_seconds, limit.tolerance, now)
            if wait is not None:
                raise TooManyCodes(wait)


class _CodeKey:
    def __init__(self, secret: bytes) -> None:
        self.key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HASH_INFO).derive(secret)


def default_limits(runtime: RuntimeContext) -> CodeLimits:
    """Budgets in the service database, shared by every process and machine, kept across restarts.

    They are charged in their own short transaction before the caller's transaction writes anything.
    """
    store = runtime.shared("identity.buckets", DatabaseBuckets, lambda: DatabaseBuckets(runtime.engine))
    return CodeLimits(store)


def code_hash(runtime: RuntimeContext, challenge_id: str, code: str) -> bytes:
    """HMAC-SHA256(key from FIDUCIARY_SECRET_KEY, challenge id ‖ code): decision 0030 says why not argon2."""
    key = runtime.shared("identity.code_key", _CodeKey, lambda: _CodeKey(runtime.settings.resolved_secret_key())).key
    return hmac.new(key, f"{challenge_id}:{code}".encode(), hashlib.sha256).digest()


def _normalise(vault: VaultService, runtime: RuntimeContext, kind: str, identifier: str) -> tuple[str, bytes]:
    if kind not in CHANNEL_FOR_KIND:
        raise ValidationFailed("Bad identifier.", [FieldProblem("kind", "email or phone")])
    if not isinstance(identifier, str) or not identifier.strip() or len(identifier) > MAX_IDENTIFIER_CHARS:
        raise ValidationFailed("Bad identifier.", [FieldProblem("identifier", "must be a non-empty identifier")])
    country = runtime.policy().document.controller.default_country
    try:
        normalised = vault.validator.normalise_identifier(kind, identifier, default_country=country)
    except ValidationFailed:
        raise ValidationFailed("Bad identifier.", [FieldProblem("identifier", f"not a valid {kind}")]) from None
    return normalised, vault.keys.index.blind_index(kind, normalised)


def issue_code(
    runtime: RuntimeContext,
    session: Session,
    *,
    kind: str,
    identifier: str,
    client_address: str,
    purpose: str = "rights.request",
    language: str | None = None,
    now: datetime | None = None,
    limits: CodeLimits | None = None,
) -> Issued:
    """A new challenge for `identifier` (kind email or phone) and its code queued in the outbox.

    Writes in `session`'s transaction; the caller commits (the row and the message together). The same
    answer for an identifier nobody holds: a decoy challenge, no message.
    """
    started = time.monotonic()
    now = now or utcnow()
    vault = VaultService(runtime)
    normalised, index = _normalise(vault, runtime, kind, identifier)
    (limits or default_limits(runtime)).charge(index, client_address, now.timestamp())
    person_id = session.scalar(
        select(PersonIdentifier.person_id).where(PersonIdentifier.kind == kind, PersonIdentifier.blind_index == index)
    )
    challenge_id = "vc_" + secrets.token_hex(16)
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    params = {"code": code, "minutes": int(VALID_FOR.total_seconds() // 60)}
    stored = code_hash(runtime, challenge_id, code)
    if person_id is None:
        # A decoy: the same work (hash, render, insert) without a message, and a hash no code can match.
        render(message_kind(MESSAGE_KIND), runtime.policy(), params, language)
        stored = secrets.token_bytes(32)
    session.add(
        VerificationCode(
            id=challenge_id,
            purpose=purpose,
            person_id=person_id,
            identifier_kind=kind,
            identifier_index=index,
            code_hash=stored,
            expires_at=now + VALID_FOR,
            attempts=0,
            created_at=now,
        )
    )
    session.flush()
    if person_id is not None:
        send(
            session,
            kind=MESSAGE_KIND,
            channel=CHANNEL_FOR_KIND[kind],
            to=normalised,
            params=params,
            idempotency_key=f"{MESSAGE_KIND}:{challenge_id}",
            person_id=person_id,
            language=language,
            runtime=runtime,
        )
    return Issued(challenge_id, code, now + VALID_FOR, started + ANSWER_FLOOR_SECONDS)


def pace(issued: Issued) -> None:
    """Wait until the issued challenge's answer time: call it after committing, before answering.

    Not inside the transaction: on SQLite that would hold the writer lock while it sleeps.
    """
    wait = issued.answer_at - time.monotonic()
    if wait > 0:
        time.sleep(wait)


def _check_input(challenge_id: str, code: str) -> str:
    problems = []
    if not isinstance(challenge_id, str) or not _CHALLENGE.fullmatch(challenge_id):
        problems.append(FieldProblem("challenge_id", "a challenge id (vc_ and 32 hex digits)"))
    compact = code.replace(" ", "") if isinstance(code, str) else ""
    if not _CODE.fullmatch(compact):
        problems.append(FieldProblem("code", "6 digits"))
    if problems:
        raise ValidationFailed("Bad code.", problems)
    return compact


def _why_not(session: Session, challenge_id: str, now: datetime) -> Verification:
    row = session.execute(
        select(CODES.c.consumed_at, CODES.c.locked_at, CODES.c.expires_at, CODES.c.attempts).where(
            CODES.c.id == challenge_id
        )
    ).first()
    if row is None:  # nobody issued it: the answer a wrong code gets, nothing to count against
        return Verification(Verdict.WRONG, None, 0)
    left = max(0, MAX_ATTEMPTS - row.attempts)
    if row.consumed_at is not None:
        return Verification(Verdict.CONSUMED, None, left)
    if row.locked_at is not None:
        return Verification(Verdict.LOCKED, None, 0)
    return Verification(Verdict.EXPIRED, None, left)


def verify_code(
    runtime: RuntimeContext, session: Session, challenge_id: str, code: str, *, now: datetime | None = None
) -> Verification:
    """Check `code` against the challenge and COMMIT `session`: an attempt counts even if the caller then
    refuses and rolls back its own work (call it before writing anything else in that session).

    One UPDATE charges the attempt and takes the row's lock (PostgreSQL) or the writer lock (SQLite), so two
    concurrent tries of one challenge are counted one after the other; the comparison is constant-time.
    """
    compact = _check_input(challenge_id, code)
    now = now or utcnow()
    charged = session.execute(
        update(CODES)
        .where(
            CODES.c.id == challenge_id,
            CODES.c.consumed_at.is_(None),
            CODES.c.locked_at.is_(None),
            CODES.c.expires_at > now,
        )
        .values(attempts=CODES.c.attempts + 1)
        .returning(CODES.c.code_hash, CODES.c.attempts, CODES.c.person_id)
    ).first()
    if charged is None:
        result = _why_not(session, challenge_id, now)
    elif hmac.compare_digest(code_hash(runtime, challenge_id, compact), charged.code_hash):
        session.execute(update(CODES).where(CODES.c.id == challenge_id).values(consumed_at=now))
        result = Verification(Verdict.OK, charged.person_id, MAX_ATTEMPTS - charged.attempts)
    elif charged.attempts >= MAX_ATTEMPTS:
        session.execute(update(CODES).where(CODES.c.id == challenge_id).values(locked_at=now))
        result = Verification(Verdict.LOCKED, None, 0)
    else:
        result = Verification(Verdict.WRONG, None, MAX_ATTEMPTS - charged.attempts)
    session.commit()
    return result
