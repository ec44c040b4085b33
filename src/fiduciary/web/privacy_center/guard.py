"""The privacy center's page security: the session cookie, CSRF tokens and the per-response CSP (issue 14 item 5).

- The customer session rides in the cookie `__Host-fiduciary_center` (HttpOnly, Secure, SameSite=Strict,
  Path=/, no Domain: the `__Host-` prefix makes the browser refuse a cookie set by a sibling subdomain or
  over plain http from elsewhere). It holds the `cst_…` token of `identity.sessions`; a page authenticates
  it on every request (`center_session`), so a revoked or expired session signs the person out at once.
  The API's header-only dependency (`web.customer`) is left as it is: a cookie is a page's concern.
- CSRF: every POST form carries `csrf`, an HMAC-SHA256 under a key derived with HKDF from
  FIDUCIARY_SECRET_KEY over what the form is bound to: the customer session's id once signed in, before
  that a random value in the short-lived cookie `__Host-fiduciary_center_pre` (double submit). A missing or
  wrong token is a 403 page and nothing changes (OWASP CSRF cheat sheet; SameSite=Strict is the second line).
- CSP: a fresh nonce per response, `default-src 'none'`, the stylesheet from 'self', no `unsafe-inline`,
  `frame-ancestors 'none'` with X-Frame-Options DENY against clickjacking, `form-action 'self'`.
Tokens, codes and identifiers never reach a URL, a log or a page title.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import Depends, Request
from sqlalchemy.orm import Session

from fiduciary.identity.sessions import CustomerSession, SessionRefused, authenticate, parse_token
from fiduciary.runtime import Runtime
from fiduciary.web.deps import SESSION_DEPENDENCY, run_request_work, runtime_dependency
from fiduciary.web.security import public_rate_limit

SESSION_COOKIE: Final = "__Host-fiduciary_center"
PRE_COOKIE: Final = "__Host-fiduciary_center_pre"  # binds the sign-in forms' CSRF token before a session exists
PRE_COOKIE_SECONDS: Final = 1800
CSRF_FIELD: Final = "csrf"
MAX_FORM_FIELDS: Final = 64
_CSRF_INFO: Final = b"fiduciary.web.privacy-center-csrf.v1"


class SignInRequired(Exception):
    """No valid customer session in the cookie: the page answers with the way to sign in."""


class CsrfRefused(Exception):
    """A POST form without, or with a wrong, CSRF token: 403, nothing changed."""


class _CsrfKey:
    def __init__(self, secret: bytes) -> None:
        self.key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_CSRF_INFO).derive(secret)


def _csrf_key(runtime: Runtime) -> bytes:
    return runtime.shared(
        "web.privacy_center.csrf_key", _CsrfKey, lambda: _CsrfKey(runtime.settings.resolved_secret_key())
    ).key


def csrf_token(runtime: Runtime, binding: str) -> str:
    """The CSRF token of forms bound to `binding` (`session:<id>` or `pre:<random>`)."""
    return hmac.new(_csrf_key(runtime), binding.encode("ascii"), hashlib.sha256).hexdigest()


def check_csrf(runtime: Runtime, binding: str | None, presented: str | None) -> None:
    """`CsrfRefused` unless `presented` is the token of `binding` (compared in constant time)."""
    if not binding or not presented or len(presented) != 64:
        raise CsrfRefused()
    if not hmac.compare_digest(csrf_token(runtime, binding), presented):
        raise CsrfRefused()


def session_binding(customer: CustomerSession) -> str:
    return f"session:{customer.session_id}"


def pre_binding(request: Request) -> str | None:
    """The binding of the sign-in forms: the random value of the pre-session cookie, if well-formed."""
    value = request.cookies.get(PRE_COOKIE, "")
    return f"pre:{value}" if len(value) == 43 and value.replace("-", "").replace("_", "").isalnum() else None


def new_pre_value() -> str:
    return secrets.token_urlsafe(32)


def new_nonce() -> str:
    return secrets.token_urlsafe(18)


def content_security_policy(nonce: str) -> str:
    """The page's CSP: nothing but our stylesheet, images and forms to ourselves; inline only with the nonce."""
    return (
        f"default-src 'none'; style-src 'self' 'nonce-{nonce}'; script-src 'nonce-{nonce}'; img-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )


def page_headers(nonce: str) -> dict[str, str]:
    """Headers of every page: CSP with this response's nonce, no framing, no caching (personal pages)."""
    return {
        "Content-Security-Policy": content_security_policy(nonce),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


def cookie_token(request: Request) -> str | None:
    """The session token of the cookie when it is well-formed; None otherwise (nothing to look up)."""
    token = request.cookies.get(SESSION_COOKIE)
    return token if token is not None and parse_token(token) is not None else None


async def optional_session(
    request: Request,
    _limited: None = Depends(public_rate_limit),
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> CustomerSession | None:
    """The cookie's customer session, or None when there is none or it is forged, altered, expired or revoked."""
    token = cookie_token(request)
    if token is None:
        return None
    try:
        customer = await run_request_work(request, authenticate, runtime, session, token)
    except SessionRefused:
        return None
    request.state.customer_session = customer  # the answer is no-store (web.security.security_headers)
    return customer


async def center_session(customer: CustomerSession | None = Depends(optional_session)) -> CustomerSession:
    """The signed-in person's session (`Depends(center_session)`); otherwise `SignInRequired` (a redirect)."""
    if customer is None:
        raise SignInRequired()
    return customer


@dataclass(frozen=True)
class Posted:
    """A signed-in POST whose CSRF token was right: the session and the form's fields."""

    customer: CustomerSession
    fields: dict[str, str]
    items: tuple[tuple[str, str], ...] = ()  # every field in order, repeated names too (a set of checkboxes)

    def get(self, name: str) -> str:
        return self.fields.get(name, "")

    def all(self, name: str) -> list[str]:
        """Every value of a repeated field, in the form's order."""
        return [value for key, value in self.items if key == name]


async def form_items(request: Request) -> list[tuple[str, str]]:
    """The urlencoded form's text fields in order, repeated names kept; no files, a bounded number of fields."""
    form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    return [(name, value) for name, value in form.multi_items() if isinstance(value, str)]


async def form_fields(items: list[tuple[str, str]] = Depends(form_items)) -> dict[str, str]:
    """The form's text fields by name (the last of repeated names)."""
    return dict(items)


async def signed_in_post(
    customer: CustomerSession = Depends(center_session),
    items: list[tuple[str, str]] = Depends(form_items),
    runtime: Runtime = Depends(runtime_dependency),
) -> Posted:
    """A POST from the signed-in person's own page: its CSRF token must be the session's, else 403."""
    fields = dict(items)
    check_csrf(runtime, session_binding(customer), fields.get(CSRF_FIELD))
    return Posted(customer, fields, tuple(items))
