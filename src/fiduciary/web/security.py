"""Web security: API-key authentication for /v1, rate limits, and baseline response headers.

- `require_scopes(*scopes)` authenticates the store backend's API key (DPDP Rule 6(1)(b), access control)
  and refuses a key that lacks a scope. Repeated failed attempts are throttled per key id and per address
  (`AuthFailureGuard`), so one client's wrong keys do not lock out valid keys behind the same address.
  A key authenticated in the last 5 seconds is taken from the app's `KeyCache` (auth/cache.py: revocation
  through this process evicts it at once), so most requests read no key row.
- `public_rate_limit` protects the endpoints anyone can reach (notice, banner, consent logging, report
  forms) from abuse (DPDP s.15 duties of data principals; availability under Rule 6(1)(d)).
- `security_headers` sets headers that stop sniffing, framing and referrer leaks on every response.
- `cross_origin(resolve)` marks a public endpoint that scripts on the store's own website call (the cookie
  banner); `cors_response_headers` then puts the CORS headers on every response of that endpoint, errors
  included, so the script can read why a request failed. Both run as each response starts, from the one
  request-context middleware (`install_security`, `edit_response_headers`).

The budgets are shared by every API process and machine (issue 17) when the runtime has a shared bucket
store: the database, or Redis when FIDUCIARY_REDIS_URL is set (fiduciary.web.limits chooses,
fiduciary.storage.ratelimit stores); the embedded default, one process on SQLite, keeps them in memory
(`RateLimiter`). See docs/workers.md and docs/api-keys.md. They key clients by
`request.client.host`, which is the peer address unless uvicorn's proxy-headers handling, limited to
trusted proxies (`--forwarded-allow-ips`), rewrote it from X-Forwarded-For; we never read that header
ourselves, because any client can forge it.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

from fastapi import FastAPI, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Scope

from fiduciary.auth.cache import KeyCache
from fiduciary.auth.models import ApiKey
from fiduciary.auth.scopes import Scope as AuthScope
from fiduciary.auth.service import authenticate_and_cache, cached_key, parse_key, require
from fiduciary.errors import Unauthorized
from fiduciary.storage.ratelimit import BucketStore, bucket_key
from fiduciary.web.access_log import RequestContextMiddleware
from fiduciary.web.deps import SESSION_DEPENDENCY, get_runtime
from fiduciary.web.fast_path import add_missing_headers, inline_when_policy_cached
from fiduciary.web.limits import SharedRateLimiter, shared_store
from fiduciary.web.timeouts import BodyTimeoutMiddleware

# Failed-authentication budgets (docs/api-keys.md, decision 0017). A real backend with the right key never
# fails; a handful covers a developer pasting a key wrongly.
# - per presented key id and client address: guesses at one key from one place;
AUTH_FAILURES_PER_MINUTE = 10
# - per presented key id from all addresses together: a distributed attack on one key;
AUTH_FAILURES_PER_KEY_PER_MINUTE = 60
# - per client address, for failures of well-formed keys (any id): someone spraying made-up key ids;
AUTH_FAILURES_PER_ADDRESS_PER_MINUTE = 60
# - per client address, for presentations that are not a well-formed key (missing, garbage): these only ever
#   block further such presentations, never a well-formed key.
AUTH_MALFORMED_PER_ADDRESS_PER_MINUTE = 30
# How long a success of a key id from an address exempts that pair from the per-key and per-address budgets.
AUTH_TRUST_SECONDS = 3600.0
# Client addresses remembered per limiter; about 200 bytes each, so the bound is roughly 10 MB.
MAX_TRACKED_CLIENTS = 50_000

PUBLIC_LIMITER_STATE = "fiduciary_public_limiter"
REPORT_LIMITER_STATE = "fiduciary_report_limiter"
AUTH_LIMITER_STATE = "fiduciary_auth_failure_limiter"
KEY_CACHE_STATE = "fiduciary_key_cache"
_limiter_lock = threading.Lock()
_Limiter = TypeVar("_Limiter")


class RateLimiter:
    """Token buckets per key: `per_minute` requests a minute, in bursts of at most `burst` (default the same).

    A token bucket needs two floats per key whatever the rate, and gives an exact Retry-After. Keys are kept
    in least-recently-used order; beyond `max_keys` the least recently seen key is forgotten, which at worst
    hands that client a fresh budget (the least recently seen bucket is usually refilled already). All
    methods are safe to call from several threads.
    """

    def __init__(
        self,
        per_minute: float,
        *,
        burst: int | None = None,
        max_keys: int = MAX_TRACKED_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute <= 0 or (burst is None and per_minute < 1):
            raise ValueError("per_minute must be at least 1, or above 0 with a burst")
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
    return _client_key_of(request.client.host if request.client else "")


@functools.lru_cache(maxsize=4096)
def _client_key_of(host: str) -> str:
    """`client_key` of one address, memoised: a request asks for it several times (rate limit, failed-auth
    budget) and a busy client comes back every few milliseconds; `ipaddress` parsing was 3% of a banner post."""
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


def _app_limiter(app: Any, name: str, make: Callable[[], _Limiter]) -> _Limiter:
    limiter: _Limiter | None = getattr(app.state, name, None)
    if limiter is None:
        with _limiter_lock:
            limiter = getattr(app.state, name, None)
            if limiter is None:
                limiter = make()
                setattr(app.state, name, limiter)
    return limiter


def _store(request: Request) -> BucketStore | None:
    single = getattr(request.app.state, "single_process", True)
    return shared_store(get_runtime(request), single_process=bool(single))


def public_limiter(request: Request) -> RateLimiter | SharedRateLimiter:
    """The app's limiter for public endpoints, sized from `public_rate_limit_per_minute`: shared by every
    process when the runtime has a shared store."""
    rate = get_runtime(request).settings.public_rate_limit_per_minute

    def make() -> RateLimiter | SharedRateLimiter:
        store = _store(request)
        return RateLimiter(rate) if store is None else SharedRateLimiter("public", rate, store)

    return _app_limiter(request.app, PUBLIC_LIMITER_STATE, make)


class AuthFailureGuard:
    """Throttles failed authentication without locking valid keys out of a shared address.

    A failure of a well-formed key (`fid_<id>_<secret>`) is charged to its id from this address, to its id
    overall, and to the address. Before such a key is checked:

    - its id has failed too often from this address: 429 (guesses at one key from one place stop);
    - its id has failed too often overall, or well-formed keys have failed too often from this address: 429,
      unless this key id succeeded from this address within `trust_seconds` (the backend that holds the key
      keeps working while someone else guesses at it or sprays made-up ids behind the same address).

    A presentation that is not a well-formed key (missing, garbage) has no id: it is charged to the address's
    malformed budget, which blocks only further malformed presentations. Unknown ids, wrong secrets and
    revoked keys are charged alike, so the answers never say which ids exist. Every structure is bounded
    (LRU), and a success writes only when its record is more than a minute old.
    """

    def __init__(
        self,
        *,
        per_key_address: int = AUTH_FAILURES_PER_MINUTE,
        per_key: int = AUTH_FAILURES_PER_KEY_PER_MINUTE,
        per_address: int = AUTH_FAILURES_PER_ADDRESS_PER_MINUTE,
        malformed_per_address: int = AUTH_MALFORMED_PER_ADDRESS_PER_MINUTE,
        trust_seconds: float = AUTH_TRUST_SECONDS,
        max_keys: int = MAX_TRACKED_CLIENTS,
        clock: Callable[[], float] | None = None,
        store: BucketStore | None = None,
    ) -> None:
        # A shared store is read by processes on other machines: wall-clock time, the one they share.
        clock = clock or (time.monotonic if store is None else time.time)
        self.store = store
        budgets = {
            "auth.key_address": per_key_address,
            "auth.key": per_key,
            "auth.address": per_address,
            "auth.malformed": malformed_per_address,
        }
        shared = (
            [SharedRateLimiter(name, rate, store, clock=clock) for name, rate in budgets.items()]
            if store is not None
            else []
        )
        limiters: list[RateLimiter | SharedRateLimiter] = [*shared] or [
            RateLimiter(rate, max_keys=max_keys, clock=clock) for rate in budgets.values()
        ]
        self.key_address, self.key, self.address, self.malformed = limiters
        self._shared = shared  # the same four limiters when shared: `_shared_blocked_for` reads them at once
        self.trust_seconds = trust_seconds
        self._clock = clock
        self._max_keys = max_keys
        self._successes: OrderedDict[str, float] = OrderedDict()  # "key_id client" -> last success
        self._lock = threading.Lock()

    def _trusted(self, pair: str) -> bool:
        seen = self._successes.get(pair)
        return seen is not None and self._clock() - seen < self.trust_seconds

    def blocked_for(self, client: str, key_id: str | None) -> float | None:
        """Seconds until this presentation may be checked, or None if it may be now; spends nothing."""
        if self.store is not None:
            return self._shared_blocked_for(self.store, client, key_id)
        if key_id is None:
            return self.malformed.blocked_for(client)
        pair = f"{key_id} {client}"
        wait = self.key_address.blocked_for(pair)
        if wait is not None:
            return wait
        waits = [w for w in (self.key.blocked_for(key_id), self.address.blocked_for(client)) if w is not None]
        if not waits or self._trusted(pair):
            return None
        return max(waits)

    def _shared_blocked_for(self, store: BucketStore, client: str, key_id: str | None) -> float | None:
        """`blocked_for` over a shared store: every bucket it needs and the trust record in one read."""
        if key_id is None:
            return self.malformed.blocked_for(client)
        pair = f"{key_id} {client}"
        shared = self._shared
        names = [shared[0].key(pair), shared[1].key(key_id), shared[2].key(client)]
        trust = bucket_key("auth.trust", pair)
        tats = store.tats([*names, trust])
        wait = shared[0].wait(tats.get(names[0]))
        if wait is not None:
            return wait
        waits = [w for w in (shared[1].wait(tats.get(names[1])), shared[2].wait(tats.get(names[2]))) if w is not None]
        seen = tats.get(trust)
        if not waits or (seen is not None and self._clock() - seen < self.trust_seconds):
            return None
        return max(waits)

    def failed(self, client: str, key_id: str | None) -> None:
        if key_id is None:
            self.malformed.hit(client)
            return
        self.key_address.hit(f"{key_id} {client}")
        self.key.hit(key_id)
        self.address.hit(client)

    def succeeded(self, client: str, key_id: str) -> None:
        pair = f"{key_id} {client}"
        now = self._clock()
        seen = self._successes.get(pair)
        if seen is not None and now - seen < 60.0:
            return  # a steady backend writes here once a minute, not on every request
        with self._lock:
            self._successes[pair] = now
            self._successes.move_to_end(pair)
            while len(self._successes) > self._max_keys:
                self._successes.popitem(last=False)
        if self.store is not None:  # the trust holds on every process, not just the one that saw the success
            self.store.put(bucket_key("auth.trust", pair), now, self.trust_seconds)


def auth_failure_guard(request: Request) -> AuthFailureGuard:
    """The app's guard against failed authentications (brute-force and credential-stuffing protection),
    its budgets shared by every process when the runtime has a shared store."""
    return _app_limiter(request.app, AUTH_LIMITER_STATE, lambda: AuthFailureGuard(store=_store(request)))


def key_cache(request: Request) -> KeyCache:
    """The app's cache of recently authenticated keys (auth/cache.py: revocation-aware, 5 s at most)."""
    return _app_limiter(request.app, KEY_CACHE_STATE, KeyCache)


async def _spend(limiter: RateLimiter | SharedRateLimiter, request: Request, detail: str) -> None:
    if isinstance(limiter, RateLimiter):
        retry = limiter.hit(client_key(request))
    else:  # a database or Redis round trip: off the event loop
        retry = await run_in_threadpool(limiter.hit, client_key(request))
    if retry is not None:
        raise _too_many(retry, detail)


async def public_rate_limit(request: Request) -> None:
    """Dependency for public endpoints: 429 with Retry-After once a client address spends its minute's budget."""
    await _spend(public_limiter(request), request, "Too many requests from this address; retry after the time in "
                 "Retry-After.")  # fmt: skip


def report_limiter(request: Request) -> RateLimiter | SharedRateLimiter:
    """The app's limiter for vulnerability-report submissions: `vulnerability_report_rate_limit_per_hour` per
    address, all of it usable at once, refilled evenly over the hour."""
    per_hour = get_runtime(request).settings.vulnerability_report_rate_limit_per_hour

    def make() -> RateLimiter | SharedRateLimiter:
        store = _store(request)
        per_minute = per_hour / 60.0
        if store is None:
            return RateLimiter(per_minute, burst=per_hour)
        return SharedRateLimiter("reports", per_minute, store, burst=per_hour)

    return _app_limiter(request.app, REPORT_LIMITER_STATE, make)


async def report_rate_limit(request: Request) -> None:
    """Dependency of the report submissions, after `public_rate_limit`: 429 with Retry-After once an address
    has sent its hour's reports. Charged before the body is read, so a refused flood costs no upload."""
    await _spend(report_limiter(request), request, "Too many reports from this address; retry after the time in "
                 "Retry-After.")  # fmt: skip


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


def require_scopes(*scopes: AuthScope | str) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency that authenticates the request's API key and demands `scopes` (none: any valid key).

    401 (with WWW-Authenticate: Bearer, one generic message for every reason) when the key is missing or
    not valid; 403 naming the missing scope; 429 while `AuthFailureGuard` throttles the presentation.
    The key is returned and also put on `request.state.api_key` for audit events.
    """
    needed = tuple(AuthScope(s) for s in scopes)  # an unknown scope is a programming error: fail at import
    # Declared on both security schemes, so the OpenAPI `security` requirement of every operation names the
    # scopes it needs (OpenAPI 3.1 allows role names for non-OAuth schemes) and /docs shows them.
    names = [s.value for s in needed]

    async def api_key_dependency(
        request: Request,
        bearer: HTTPAuthorizationCredentials | None = Security(_bearer, scopes=names),
        header_key: str | None = Security(_header_key, scopes=names),
        session: Session = SESSION_DEPENDENCY,
    ) -> ApiKey:
        guard = auth_failure_guard(request)
        client = client_key(request)
        presented = bearer.credentials if bearer is not None else header_key
        parts = parse_key(presented.strip()) if presented else None
        key_id = parts[0] if parts is not None else None
        wait = guard.blocked_for(client, key_id)
        if wait is not None:
            raise _too_many(wait, "Too many failed authentication attempts; retry after the time in Retry-After.")
        cache = key_cache(request)
        key = cached_key(cache, presented)  # no database access: a key seen in the last few seconds
        if key is None:
            try:
                key = await run_in_threadpool(authenticate_and_cache, cache, session, presented)
            except Unauthorized:
                guard.failed(client, key_id)
                raise
        guard.succeeded(client, key.id)
        request.state.api_key = key
        require(key, *needed)
        return key

    api_key_dependency.__qualname__ = api_key_dependency.__name__ = (
        "require_scopes_" + "_".join(s.value for s in needed) if needed else "require_api_key"
    )
    return api_key_dependency


DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000; includeSubDomains"


# The baseline headers of every response, encoded once (`security_headers` adds those a route did not set).
BASELINE_HEADERS: Final = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", DEFAULT_CSP.encode("latin-1")),  # pages set their own (/privacy, /docs)
)
HSTS_HEADER: Final = ((b"strict-transport-security", HSTS.encode("latin-1")),)
NO_STORE_HEADER: Final = ((b"cache-control", b"no-store"),)


def security_headers(scope: Scope, headers: list[tuple[bytes, bytes]]) -> None:
    """Baseline headers on every HTTP response that stop sniffing, framing and referrer leaks, without
    overriding what a route chose itself.

    Responses to requests authenticated with an API key or a customer session (`web.customer`) also get
    `Cache-Control: no-store` unless they set their own, because they may carry personal data that no
    shared cache should keep.
    """
    add_missing_headers(headers, BASELINE_HEADERS)
    if scope.get("scheme") == "https":
        add_missing_headers(headers, HSTS_HEADER)
    state = scope.get("state") or {}
    if state.get("api_key") is not None or state.get("customer_session") is not None:
        add_missing_headers(headers, NO_STORE_HEADER)


async def edit_response_headers(scope: Scope, headers: list[tuple[bytes, bytes]]) -> None:
    """What every HTTP response gets as it starts, in this order: the CORS headers of an endpoint marked
    with `cross_origin` (`cors_response_headers`), then the baseline `security_headers`.

    Called by the request-context middleware (`install_security`), after routing, so `scope` holds the
    chosen endpoint and whatever the request stored in `scope["state"]` (e.g. the API key). Plain ASGI (not
    BaseHTTPMiddleware), so streaming responses and background tasks are untouched.
    """
    resolve = _cors_resolver(scope)
    if resolve is not None:
        await cors_response_headers(scope, resolve, MutableHeaders(raw=headers))
    security_headers(scope, headers)


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

    The headers go on in `cors_response_headers`, not in the endpoint or in each error handler, because a
    request can fail before any dependency runs (a body that is not JSON, a 405) or outside the handlers
    altogether (a 500). A script reads neither a success nor an error body without them.
    """

    def mark(endpoint: _Endpoint) -> _Endpoint:
        _cors_endpoints[endpoint] = resolve
        return endpoint

    return mark


def cors_resolver(endpoint: Callable[..., Any] | None) -> CorsResolver | None:
    """The resolver `endpoint` was marked with by `cross_origin`, if any (to mark routes derived from it)."""
    try:
        return _cors_endpoints.get(endpoint) if endpoint is not None else None
    except TypeError:
        return None


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


async def cors_response_headers(scope: Scope, resolve: CorsResolver, headers: MutableHeaders) -> None:
    """CORS headers on every response of an endpoint marked with `cross_origin`, success or problem.

    An allowed origin gets `Access-Control-Allow-Origin` (that origin, never `*`) and
    `Access-Control-Expose-Headers`; every response of a marked endpoint gets `Vary: Origin`, so no cache
    serves one origin's answer to another. A disallowed origin gets no `Access-Control-Allow-Origin`, so the
    browser keeps the response from the page. Headers a route set itself are kept.
    """
    runtime = getattr(getattr(scope.get("app"), "state", None), "runtime", None)
    if runtime is None:  # pragma: no cover (every app of ours has its runtime before it serves)
        origin = await run_in_threadpool(_resolve_cors, resolve, scope)
    else:  # may read the policy: inline while it is cached, else in a worker thread
        origin = await inline_when_policy_cached(runtime, _resolve_cors, resolve, scope)
    headers.add_vary_header("Origin")
    if origin:
        for name, value in cors_headers(origin).items():
            headers.setdefault(name, value)


def install_security(app: FastAPI) -> None:
    """Install the request-id, access-log, CORS and baseline-header middleware outermost, so even 500 answers
    carry the headers and are logged: one `RequestContextMiddleware` that edits each response's headers
    with `edit_response_headers`, around the body deadline (`BodyTimeoutMiddleware`).

    The limiters need no installing: each app creates its own on first use, from the runtime's settings.
    """
    build = app.build_middleware_stack

    def build_with_headers() -> ASGIApp:
        return RequestContextMiddleware(BodyTimeoutMiddleware(build()), edit_headers=edit_response_headers)

    # Starlette's ServerErrorMiddleware sits outside anything add_middleware() installs and answers 500s
    # itself; wrapping the built stack is the only way to put headers on those answers too.
    setattr(app, "build_middleware_stack", build_with_headers)  # noqa: B010
