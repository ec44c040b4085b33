"""Request-scoped dependencies: the runtime, a database session per request, the base URL of links."""

from __future__ import annotations

import re
from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session

from fiduciary.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the handler returns, rolled back on any error."""
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
