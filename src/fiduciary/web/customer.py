"""The customer-session dependency: which verified person is calling a privacy endpoint.

`customer_session_dependency` reads `Authorization: Bearer cst_…` and nothing else: never a URL query (URLs
end up in access logs, browser history and Referer headers) and no cookie: the privacy center's pages read
their own HttpOnly, Secure, SameSite=Strict cookie, with CSRF tokens (`web.privacy_center.guard`). A
missing, malformed, unknown, altered, expired or revoked token is one 401 problem with
`WWW-Authenticate: Bearer`. Every use is charged to the public rate limit of the client address, like any
endpoint a stranger can reach. The answer to an authenticated request is `Cache-Control: no-store`
(`web.security.security_headers`).
"""

from __future__ import annotations

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from fiduciary.identity.sessions import CustomerSession, SessionRefused, authenticate
from fiduciary.runtime import Runtime
from fiduciary.web.contract import CUSTOMER_SESSION_SCHEME
from fiduciary.web.deps import SESSION_DEPENDENCY, run_request_work, runtime_dependency
from fiduciary.web.security import public_rate_limit

_customer_bearer = HTTPBearer(
    auto_error=False,
    scheme_name=CUSTOMER_SESSION_SCHEME,
    description="A customer session as a bearer token: `Authorization: Bearer cst_<id>.<secret>`, from "
    "`POST /v1/identity/sessions` or `POST /v1/people/{person_id}/sessions`; valid 30 minutes.",
)


async def customer_session_dependency(
    request: Request,
    _limited: None = Depends(public_rate_limit),
    bearer: HTTPAuthorizationCredentials | None = Security(_customer_bearer),
    session: Session = SESSION_DEPENDENCY,
    runtime: Runtime = Depends(runtime_dependency),
) -> CustomerSession:
    """The request's customer session (`Depends(customer_session_dependency)`), or 401.

    Also put on `request.state.customer_session`, so the response is marked `no-store`.
    """
    if bearer is None or not bearer.credentials:
        raise SessionRefused()
    customer = await run_request_work(request, authenticate, runtime, session, bearer.credentials.strip())
    request.state.customer_session = customer
    return customer
