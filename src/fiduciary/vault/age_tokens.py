"""Verifying a guardian's age with a virtual token (DPDP Rule 10(1)(b), e.g. a DigiLocker age token).

Rule 10(1) asks the store to check that the person who consents for a child is an identifiable adult, from
details it already holds or from a virtual token issued by an entity the law entrusts with such details.
Providers differ, so verification is pluggable: a `AgeTokenVerifier` is anything with `verify(token, *,
subject, now)` returning the verified claim, configured as `FIDUCIARY_AGE_TOKEN_VERIFIER=package.module:factory`
(`factory(settings)` returns the verifier), like the key-encryption key provider.

`Ed25519AgeTokenVerifier` is the reference implementation and the tests' double: a token is
`base64url(claim JSON) "." base64url(Ed25519 signature over those claim bytes)`, the claim being
`{"sub": <our person id>, "age_over_18": true, "iss": <issuer>, "exp": <unix seconds>}`. The subject must
be the person presenting it (so a token cannot be lent), the issuer one we trust, the token unexpired.

A token is a credential: it is never logged, stored or echoed in an error; only the verified fact (an
adult) is kept, as the person's age status.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.orm import Session

from fiduciary.errors import Conflict, FieldProblem, ValidationFailed
from fiduciary.people.models import Person
from fiduciary.people.service import ADULT, require_active

if TYPE_CHECKING:
    from fiduciary.config import Settings
    from fiduciary.context import RuntimeContext

MAX_TOKEN_LENGTH = 4096
# The compact form of a signed token: base64url segments joined by dots (ours has two; a JWS has three), so
# the OpenAPI states what a provider's token may look like and a value of another shape is refused unread.
AGE_TOKEN_PATTERN = r"^[A-Za-z0-9_-]+={0,2}(?:\.[A-Za-z0-9_-]+={0,2}){0,4}$"  # noqa: S105 (a pattern, not a secret)
FIELD = "body.token"


@dataclass(frozen=True, slots=True)
class AgeClaim:
    """What a verified token proves: the subject, that they are 18 or over, who says so, until when."""

    subject: str
    age_over_18: bool
    issuer: str
    expires_at: datetime


class AgeTokenInvalid(ValidationFailed):
    """422 naming `body.token` and why (never the token itself)."""

    def __init__(self, reason: str) -> None:
        super().__init__("The age token cannot be accepted.", [FieldProblem(FIELD, reason)], code="age_token_invalid")


@runtime_checkable
class AgeTokenVerifier(Protocol):
    def verify(self, token: str, *, subject: str, now: datetime) -> AgeClaim:
        """The verified claim, or `AgeTokenInvalid`; `subject` is the person id the token must name."""
        ...


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class Ed25519AgeTokenVerifier:
    """Tokens signed with Ed25519 by trusted issuers (issuer name → public key)."""

    def __init__(self, issuers: Mapping[str, Ed25519PublicKey]) -> None:
        self._issuers = dict(issuers)

    def verify(self, token: str, *, subject: str, now: datetime) -> AgeClaim:
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_LENGTH or token.count(".") != 1:
            raise AgeTokenInvalid("malformed: expected <claim>.<signature> in base64url")
        claim_part, signature_part = token.split(".")
        try:
            claim_bytes, signature = _b64decode(claim_part), _b64decode(signature_part)
            claim = json.loads(claim_bytes)
        except (binascii.Error, ValueError):
            raise AgeTokenInvalid("malformed: expected <claim>.<signature> in base64url") from None
        if not isinstance(claim, dict) or not isinstance(claim.get("iss"), str):
            raise AgeTokenInvalid("malformed claim: iss, sub, age_over_18 and exp are required")
        key = self._issuers.get(claim["iss"])
        if key is None:
            raise AgeTokenInvalid("issuer not trusted")
        try:
            key.verify(signature, claim_bytes)
        except InvalidSignature:
            raise AgeTokenInvalid("signature does not verify") from None
        exp, sub, over = claim.get("exp"), claim.get("sub"), claim.get("age_over_18")
        if type(exp) is not int or not isinstance(sub, str) or type(over) is not bool:
            raise AgeTokenInvalid("malformed claim: iss, sub, age_over_18 and exp are required")
        expires_at = datetime.fromtimestamp(exp, UTC)
        if expires_at <= now:
            raise AgeTokenInvalid("expired")
        if sub != subject:
            raise AgeTokenInvalid("issued for another person")
        return AgeClaim(sub, over, claim["iss"], expires_at)


def load_age_verifier(settings: Settings) -> AgeTokenVerifier | None:
    """The configured verifier (`FIDUCIARY_AGE_TOKEN_VERIFIER=module:factory`), or None when none is."""
    spec = settings.age_token_verifier
    if not spec:
        return None
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError("FIDUCIARY_AGE_TOKEN_VERIFIER must look like package.module:factory")
    verifier = getattr(importlib.import_module(module_name), attr)(settings)
    if not isinstance(verifier, AgeTokenVerifier):
        raise ValueError(f"FIDUCIARY_AGE_TOKEN_VERIFIER {spec} did not return an AgeTokenVerifier")
    return verifier


RUNTIME_KEY = "vault.age_verifier"


def verifier_for(runtime: RuntimeContext) -> AgeTokenVerifier | None:
    """The runtime's verifier, loaded once (None when none is configured)."""
    if RUNTIME_KEY not in runtime.extras:
        runtime.extras[RUNTIME_KEY] = load_age_verifier(runtime.settings)
    found = runtime.extras[RUNTIME_KEY]
    return found if isinstance(found, AgeTokenVerifier) else None


def verify_adult(
    session: Session, person: Person, token: str, verifier: AgeTokenVerifier | None, *, now: datetime
) -> AgeClaim:
    """Record a person as an adult on a verified token (Rule 10(1)(b)); nothing changes on any failure.

    The person can then act as a guardian (an identifiable adult). A token saying "not over 18" is refused
    rather than recorded: it proves nothing a guardian needs, and the age the person declared stands.
    """
    require_active(person)
    if verifier is None:
        raise Conflict(
            "No age-token verifier is configured (FIDUCIARY_AGE_TOKEN_VERIFIER).",
            code="age_tokens_not_configured",
        )
    claim = verifier.verify(token, subject=person.id, now=now)
    if not claim.age_over_18:
        raise AgeTokenInvalid("does not show the person is 18 or over")
    person.age_status = ADULT
    person.adult_on = None  # the token proves adulthood today; a date of birth we may have held is moot
    session.flush()
    return claim
