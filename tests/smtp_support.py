"""A real SMTP server for tests (aiosmtpd), collecting what it receives (imported, not collected)."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Received:
    recipients: list[str]
    message: EmailMessage


@dataclass
class Sink:
    """aiosmtpd handler: keeps every message it accepted."""

    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.received.append(Received(list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def smtp_server(port: int | None = None) -> Iterator[tuple[Sink, str]]:
    """A running server on 127.0.0.1 and its smtp:// URL.

    aiosmtpd logs every command line at INFO on `mail.log`, recipients included: that is the remote server's
    log, not ours, so it is held at WARNING here (the leak guard scans every log record of the session)."""
    mail_log = logging.getLogger("mail.log")
    level = mail_log.level
    mail_log.setLevel(logging.WARNING)
    sink = Sink()
    chosen = port or free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=chosen)
    controller.start()
    try:
        yield sink, f"smtp://127.0.0.1:{chosen}"
    finally:
        controller.stop()
        mail_log.setLevel(level)
