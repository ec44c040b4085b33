"""A deadline for reading a request's body, so a client that trickles its body cannot hold a request open.

Without it a client can send the headers and then one byte a minute, keeping a request (and on SQLite the
database gate, once the route has a session) for as long as it likes; uvicorn sets no such limit itself.
`BodyTimeoutMiddleware` wraps `receive`: the whole body must have arrived within `body_timeout_seconds`
(FIDUCIARY_BODY_TIMEOUT_SECONDS, default 30) of the request's arrival, or the request ends with 408
problem+json (`code: request_timeout`) and `Connection: close`, and the connection is closed.

Only time spent waiting for the client counts against the deadline's purpose, but it is measured from
arrival: a route that reads its body after slow work is not a case we have.
"""

from __future__ import annotations

import time

import anyio
from fastapi.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_BODY_TIMEOUT_SECONDS = 30.0


class BodyTimeout(HTTPException):
    """The request body did not arrive in time. An HTTPException, so FastAPI's body parsing re-raises it
    (it turns other errors into 400) and the problem handlers answer it."""

    def __init__(self) -> None:
        super().__init__(
            status_code=408,
            detail="The request body did not arrive in time; send it again.",
            headers={"Connection": "close"},
        )


def _body_timeout(scope: Scope) -> float:
    app = scope.get("app")
    runtime = getattr(getattr(app, "state", None), "runtime", None)
    settings = getattr(runtime, "settings", None)
    value = getattr(settings, "body_timeout_seconds", DEFAULT_BODY_TIMEOUT_SECONDS)
    return float(value)


class BodyTimeoutMiddleware:
    """Bounds the time until a request's body has been received (plain ASGI; responses pass untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline: float | None = None
        done = False

        async def receive_in_time() -> Message:
            nonlocal deadline, done
            if done:
                return await receive()  # after the body: only a disconnect can come, wait for it freely
            if deadline is None:
                deadline = time.monotonic() + _body_timeout(scope)
            with anyio.move_on_after(max(0.0, deadline - time.monotonic())):
                message = await receive()
                if message["type"] != "http.request" or not message.get("more_body", False):
                    done = True
                return message
            raise BodyTimeout()

        await self.app(scope, receive_in_time, send)
