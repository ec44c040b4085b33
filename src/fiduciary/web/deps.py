"""Request-scoped dependencies: the runtime, one database session (one transaction) per request, and the
base URL of links.

Every route and the API-key dependency take the session as `SessionDep` (or with `= SESSION_DEPENDENCY` as its
default), never `Depends(get_session)` directly: the alias carries `scope="function"`, which makes FastAPI run
the commit after the path operation returns and *before* the response is sent. With the default scope (a
`yield` dependency's exit runs after the response has gone out, since FastAPI 0.118) a client could hold a 201
for a write that a crash then lost (issue 8; docs/decisions/0012-commit-before-answering.md).
tests/web/test_durability_crash.py kills a real server right after each acknowledged write, and
tests/web/test_session_scope.py checks that every route's session dependency is the function-scoped one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from fiduciary.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the handler returns, rolled back on any error.

    Use it only through `SessionDep`. A failed commit raises here, before the response exists, so the client
    gets a problem+json 500 and never a receipt for a write that was not stored.
    """
    runtime = get_runtime(request)
    session = runtime.sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SESSION_DEPENDENCY = Depends(get_session, scope="function")
"""The one way to ask for the request's session (FastAPI caches it per scope, so every user shares it)."""

SessionDep = Annotated[Session, SESSION_DEPENDENCY]
"""The request's session, committed (durably, per the engine's settings) before the response is sent."""


# A Host header we are willing to put into a link: a DNS name or bracketed IPv6 address, optional port.
_HOST_RE = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
    r"|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?"
)


def request_base_url(request: Request) -> str:
    """The origin for links in the answer to `request` (unsubscribe links, notice URLs, the key issuer).

    FIDUCIARY_PUBLIC_BASE_URL when set; else, with FIDUCIARY_TRUST_PROXY_HOST on, the request's own scheme
    and Host (what the proxy in front was asked for); else the address the service bound. A Host that is
    not a plain host[:port] is never copied into a link.
    """
    runtime = get_runtime(request)
    settings = runtime.settings
    if settings.public_base_url is None and settings.trust_proxy_host:
        host = request.headers.get("host", "")
        if _HOST_RE.fullmatch(host) and request.url.scheme in ("http", "https"):
            return f"{request.url.scheme}://{host.lower()}"
    return runtime.public_base_url
