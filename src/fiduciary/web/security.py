"""Web security: API-key authentication for /v1, rate limits, and baseline response headers.

- `require_scopes(*scopes)` authenticates the store backend's API key (DPDP Rule 6(1)(b), access control)
  and refuses a key that lacks a scope. Repeated failed attempts from one client address are throttled.
- `public_rate_limit` protects the endpoints anyone can reach (notice, banner, consent logging, report
  forms) from abuse (DPDP s.15 duties of data principals; availability under Rule 6(1)(d)).
- `SecurityHeadersMiddleware` sets headers that stop sniffing, framing and referrer leaks on every response.
- `cross_origin(resolve)` marks a public endpoint that scripts on the store's own website call (the cookie
  banner); `CrossOriginMiddleware` then puts the CORS headers on every response of that endpoint, errors
  included, so the script can read why a request failed.

The limiters are in-process: with several API processes each enforces its own budget, so the effective
limit is the per-process limit times the number of processes (see docs/api-keys.md). They key clients by
`request.client.host`, which is the peer address unless uvicorn's proxy-headers handling, limited to
trusted proxies (`--forwarded-allow-ips`), rewrote it from X-Forwarded-For; we never read that header
ourselves, because any client can forge it.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import FastAPI, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fiduciary.auth.models import ApiKey
from fiduciary.auth.scopes import Scope as AuthScope
from fiduciary.auth.service import authenticate, require
from fiduciary.errors import Unauthorized
from fiduciary.web.deps import SessionDep, get_runtime

# Failed authentications tolerated per client address per minute before further attempts get 429. A real
# backend with the right key never fails; a handful covers a developer pasting a key wrongly.
AUTH_FAILURES_PER_MINUTE = 10
# Client addresses remembered per limiter; about 200 bytes each, so the bound is roughly 10 MB.
MAX_TRACKED_CLIENTS = 50_000

PUBLIC_LIMITER_STATE = "fiduciary_public_limiter"
AUTH_LIMITER_STATE = "fiduciary_auth_failure_limiter"
_limiter_lock = threading.Lock()


class RateLimiter:
    """Token buckets per key: `per_minute` requests a minute, in bursts of at most `burst` (default the same).

    A token bucket needs two floats per key whatever the rate, and gives an exact Retry-After. Keys are kept
    in least-recently-used order; beyond `max_keys` the least recently seen key is forgotten, which at worst
    hands that client a fresh budget (the least recently seen bucket is usually refilled already). All
    methods are safe to call from several threads.
    """

    def __init__(
        self,
        per_minute: int,
        *,
        burst: int | None = None,
        max_keys: int = MAX_TRACKED_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self.per_minute = per_minute
        self.capacity = float(burst if burst is not None else per_minute)
        if self.capacity < 1:
            raise ValueError("burst must be at least 1")
        self.rate = per_minute / 60.0  # tokens per second
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()  # key -> [tokens, updated_at]
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._buckets)

    def _tokens(self, bucket: list[float], now: float) -> float:
        return min(self.capacity, bucket[0] + max(0.0, now - bucket[1]) * self.rate)

    def _wait(self, tokens: float) -> float:
        return (1.0 - tokens) / self.rate

    def hit(self, key: str) -> float | None:
        """Spend one token: None if allowed, else the seconds until a token is available."""
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                self._make_room()
                bucket = [self.capacity, now]
                self._buckets[key] = bucket
            else:
                self._buckets.move_to_end(key)
            tokens = self._tokens(bucket, now)
            if tokens < 1.0:
                bucket[0], bucket[1] = tokens, now
                return self._wait(tokens)
            bucket[0], bucket[1] = tokens - 1.0, now
            return None

    def blocked_for(self, key: str) -> float | None:
        """Seconds until `key` may act again, or None if it may now; spends nothing."""
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                return None
            tokens = self._tokens(bucket, self._clock())
            return None if tokens >= 1.0 else self._wait(tokens)

    def _make_room(self) -> None:
        while len(self._buckets) >= self.max_keys:
            self._buckets.popitem(last=False)


def client_key(request: Request) -> str:
    """The rate-limit key for a request's client: the IPv4 address, or the /64 an IPv6 address belongs to.

    One IPv6 host is normally given a whole /64, so keying by full address would let it rotate addresses
    to escape any limit. The key lives only in memory and is never logged.
    """
    host = request.client.host if request.client else ""
    if not host:
        return "unknown"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def _too_many(retry_after: float, detail: str) -> StarletteHTTPException:
    seconds = max(1, math.ceil(retry_after))
    return StarletteHTTPException(status_code=429, detail=detail, headers={"Retry-After": str(seconds)})


def _app_limiter(app: Any, name: str, make: Callable[[], RateLimiter]) -> RateLimiter:
    limiter: RateLimiter | None = getattr(app.state, name, None)
    if limiter is None:
        with _limiter_lock:
            limiter = getattr(app.state, name, None)
            if limiter is None:
                limiter = make()
                setattr(app.state, name, limiter)
    return limiter


def public_limiter(request: Request) -> RateLimiter:
    """The app's limiter for public endpoints, sized from `public_rate_limit_per_minute`."""
    rate = get_runtime(request).settings.public_rate_limit_per_minute
    return _app_limiter(request.app, PUBLIC_LIMITER_STATE, lambda: RateLimiter(rate))


def auth_failure_limiter(request: Request) -> RateLimiter:
    """The app's limiter of failed authentications (brute-force and credential-stuffing protection)."""
    return _app_limiter(request.app, AUTH_LIMITER_STATE, lambda: RateLimiter(AUTH_FAILURES_PER_MINUTE))


async def public_rate_limit(request: Request) -> None:
    """Dependency for public endpoints: 429 with Retry-After once a client address spends its minute's budget."""
    retry = public_limiter(request).hit(client_key(request))
    if retry is not None:
        raise _too_many(retry, "Too many requests from this address; retry after the time in Retry-After.")


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKeyBearer",
    description="An API key as a bearer token: `Authorization: Bearer fid_<id>_<secret>`.",
)
_header_key = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="ApiKeyHeader",
    description="The same API key in the `X-API-Key` header, for clients that cannot set Authorization.",
)


def require_scopes(*scopes: AuthScope | str) -> Callable[..., ApiKey]:
    """A dependency that authenticates the request's API key and demands `scopes` (none: any valid key).

    401 (with WWW-Authenticate: Bearer, one generic message for every reason) when the key is missing or
    not valid; 403 naming the missing scope; 429 while the client address has too many recent failures.
    The key is returned and also put on `request.state.api_key` for audit events.
    """
    needed = tuple(AuthScope(s) for s in scopes)  # an unknown scope is a programming error: fail at import

    def api_key_dependency(
        request: Request,
        session: SessionDep,
        bearer: HTTPAuthorizationCredentials | None = Security(_bearer),
        header_key: str | None = Security(_header_key),
    ) -> ApiKey:
        limiter = auth_failure_limiter(request)
        client = client_key(request)
        wait = limiter.blocked_for(client)
        if wait is not None:
            raise _too_many(wait, "Too many failed authentication attempts from this address; retry later.")
        presented = bearer.credentials if bearer is not None else header_key
        try:
            key = authenticate(session, presented)
        except Unauthorized:
            limiter.hit(client)
            raise
        request.state.api_key = key
        require(key, *needed)
        return key

    api_key_dependency.__qualname__ = api_key_dependency.__name__ = (
        "require_scopes_" + "_".join(s.value for s in needed) if needed else "require_api_key"
    )
    return api_key_dependency


# Pages that load FastAPI's own documentation assets; they would break under the default CSP.
_DOCS_PATHS = ("/docs", "/redoc")
DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000; includeSubDomains"


class _ResponseHeadersMiddleware(ABC):
    """Edits the headers of every HTTP response as it starts; subclasses say how in `edit_headers`.

    Written as plain ASGI (not BaseHTTPMiddleware) so streaming responses and background tasks are untouched.
    The edit runs when the response starts, after routing, so `scope` then holds the chosen endpoint and
    whatever the request stored in `scope["state"]` (e.g. the API key).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", []))
                await self.edit_headers(scope, MutableHeaders(scope=message))
            await send(message)

        await self.app(scope, receive, send_with_headers)

    @abstractmethod
    async def edit_headers(self, scope: Scope, headers: MutableHeaders) -> None:
        """Add this middleware's headers; use `setdefault` so what a route chose itself is kept."""


class SecurityHeadersMiddleware(_ResponseHeadersMiddleware):
    """Baseline headers on every HTTP response, without overriding what a route chose itself.

    Responses to requests authenticated with an API key also get `Cache-Control: no-store` unless they set
    their own, because they may carry personal data that no shared cache should keep.
    """

    async def edit_headers(self, scope: Scope, headers: MutableHeaders) -> None:
        path: str = scope.get("path", "")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("X-Frame-Options", "DENY")
        if not any(path == p or path.startswith(p + "/") for p in _DOCS_PATHS):
            headers.setdefault("Content-Security-Policy", DEFAULT_CSP)
        if scope.get("scheme") == "https":
            headers.setdefault("Strict-Transport-Security", HSTS)
        state = scope.get("state") or {}
        if state.get("api_key") is not None:
            headers.setdefault("Cache-Control", "no-store")


# ------------------------------------------------------------------------------------------------ CORS

CorsResolver = Callable[[Request], str | None]
# Response headers a page's script may read besides the CORS-safelisted ones (Fetch standard, "CORS-safelisted
# response-header name"): the banner needs Retry-After to back off after a 429.
CORS_EXPOSED_HEADERS = ("Retry-After",)
_cors_endpoints: dict[Callable[..., Any], CorsResolver] = {}
_Endpoint = TypeVar("_Endpoint", bound=Callable[..., Any])


def cross_origin(resolve: CorsResolver) -> Callable[[_Endpoint], _Endpoint]:
    """Mark an endpoint that pages on other origins may call; `resolve(request)` is the request's `Origin`
    when that origin is allowed, else None. Apply it below the route decorator.

    The headers go on in `CrossOriginMiddleware`, not in the endpoint or in each error handler, because a
    request can fail before any dependency runs (a body that is not JSON, a 405) or outside the handlers
    altogether (a 500). A script reads neither a success nor an error body without them.
    """

    def mark(endpoint: _Endpoint) -> _Endpoint:
        _cors_endpoints[endpoint] = resolve
        return endpoint

    return mark


def cors_headers(origin: str) -> dict[str, str]:
    """The headers that let a script on `origin` read a response (sent only for an allowed origin)."""
    return {"Access-Control-Allow-Origin": origin, "Access-Control-Expose-Headers": ", ".join(CORS_EXPOSED_HEADERS)}


def _cors_resolver(scope: Scope) -> CorsResolver | None:
    """The resolver of the endpoint routing chose for this request (recorded in the scope), if it is marked."""
    try:
        return _cors_endpoints.get(scope.get("endpoint"))  # type: ignore[arg-type]
    except TypeError:  # an unhashable endpoint object cannot have been marked
        return None


def _resolve_cors(resolve: CorsResolver, scope: Scope) -> str | None:
    try:
        return resolve(Request(scope))
    except Exception:  # fail closed: no CORS headers rather than no response at all
        return None


class CrossOriginMiddleware(_ResponseHeadersMiddleware):
    """CORS headers on every response of an endpoint marked with `cross_origin`, success or problem.

    An allowed origin gets `Access-Control-Allow-Origin` (that origin, never `*`) and
    `Access-Control-Expose-Headers`; every response of a marked endpoint gets `Vary: Origin`, so no cache
    serves one origin's answer to another. A disallowed origin gets no `Access-Control-Allow-Origin`, so the
    browser keeps the response from the page. Headers a route set itself are kept.
    """

    async def edit_headers(self, scope: Scope, headers: MutableHeaders) -> None:
        resolve = _cors_resolver(scope)  # routing has run by now
        if resolve is None:
            return
        origin = await run_in_threadpool(_resolve_cors, resolve, scope)  # may read the policy
        headers.add_vary_header("Origin")
        if origin:
            for name, value in cors_headers(origin).items():
                headers.setdefault(name, value)


def install_security(app: FastAPI) -> None:
    """Install the headers and CORS middleware outermost, so even 500 answers carry the headers.

    The limiters need no installing: each app creates its own on first use, from the runtime's settings.
    """
    build = app.build_middleware_stack

    def build_with_headers() -> ASGIApp:
        return SecurityHeadersMiddleware(CrossOriginMiddleware(build()))

    # Starlette's ServerErrorMiddleware sits outside anything add_middleware() installs and answers 500s
    # itself; wrapping the built stack is the only way to put headers on those answers too.
    setattr(app, "build_middleware_stack", build_with_headers)  # noqa: B010
