"""Disclosures under test: a customer with fields on file, and a recipient's local test endpoint (a real
HTTP server in a thread) that checks each notice's Standard Webhooks signature as a recipient would, and
acknowledges the notices it acted on through the SDK's `RecipientClient`."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from fiduciary.consent.service import ConsentChannel, ConsentInput, ConsentService
from fiduciary.people.service import create_person
from fiduciary.runtime import Runtime
from fiduciary.sdk import RecipientClient
from fiduciary.vault.access import VaultAccess

FIELDS = {
    "identity.name": "Zebulon Quixotewright",
    "contact.phone": "98123 45678",
    "contact.address": "14 Lakeview Road, Pune 411001",
}
EMAIL = {"contact.email": "zebulon.q7731@example.org"}


def customer(session: Session, runtime: Runtime, *, marketing: bool = False) -> str:
    """An adult with a name, phone and address collected for orders (and an email under marketing consent)."""
    person = create_person(session, policy=runtime.policy(), is_child=False).id
    session.commit()
    access = VaultAccess.for_runtime(runtime)
    access.write_fields(session, "key_test", person, "order_fulfilment", "provided", FIELDS)
    if marketing:
        consent(session, runtime, person, "marketing.email", "grant")
        access.write_fields(session, "key_test", person, "marketing.email", "provided", EMAIL)
    session.commit()
    return person


def consent(session: Session, runtime: Runtime, person: str, purpose: str, action: str) -> None:
    item = ConsentInput(person, purpose, action, ConsentChannel.API)  # type: ignore[arg-type]
    ConsentService.for_runtime(runtime).record(session, item)
    session.commit()


@dataclass
class Receiver:
    """A recipient's endpoint: `mode` is ok, fail (500), slow (answers after `delay`), reject (a wrong
    secret, so every signature check fails and the answer is 401) or ack_then_fail (runs `on_notice`, then
    answers 500, as a recipient that acknowledged but whose answer was lost)."""

    secret: str
    mode: str = "ok"
    delay: float = 2.0
    received: list[dict[str, Any]] = field(default_factory=list)
    rejected: int = 0
    port: int = 0
    on_notice: Callable[[dict[str, Any]], None] | None = None  # runs before the answer, e.g. to acknowledge

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        if self.mode == "slow":
            time.sleep(self.delay)
        if self.mode == "fail":
            return 500
        try:
            payload = Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError:
            self.rejected += 1
            return 401
        self.received.append({"headers": headers, "payload": payload})
        if self.on_notice is not None:
            self.on_notice(payload)
        return 500 if self.mode == "ack_then_fail" else 204

    def acknowledge_all(self, api: httpx.Client, outcome: str = "done") -> list[dict[str, Any]]:
        """The recipient has acted on every notice it received: it says so, signed with its secret."""
        recipient = RecipientClient.from_httpx(api, self.secret)
        return [recipient.acknowledge(item["payload"]["data"]["notice_id"], outcome) for item in self.received]


@contextmanager
def receiver(
    secret: str, mode: str = "ok", delay: float = 2.0, on_notice: Callable[[dict[str, Any]], None] | None = None
) -> Iterator[Receiver]:
    state = Receiver(secret, mode, delay, on_notice=on_notice)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            status = state.handle({k.lower(): v for k, v in self.headers.items()}, body)
            try:
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()
            except OSError:
                pass  # the sender gave up waiting

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def payloads(state: Receiver) -> list[dict[str, Any]]:
    return [json.loads(json.dumps(item["payload"])) for item in state.received]
