"""Delivering the outbox: the job `comms.deliver`, queued when a message commits and run as a periodic sweep.

A deliverer claims one due message at a time with a conditional UPDATE (`pending` → `sending`, committed
before anything is sent), so two deliverers running at once — two workers, or the on-commit job and the
sweep — never take the same message. It then sends it (SMTP when `FIDUCIARY_SMTP_URL` is set, else an
.eml file in `<data_dir>/outbox/`; SMS always as a file there, the pluggable default) and marks it `sent`.
A failure puts it back to `pending` after a doubling wait, and after `outbox_max_attempts` marks it
`failed`, visible to staff; the error is kept by class name only (an SMTP reply may quote the address).

At-least-once edge: a process killed after the server accepted a message and before `sent` committed leaves
it `sending`. A sweep puts such a message back after `STALE_AFTER` (its attempt counted), and it is sent again
with the same Message-ID, which lets the receiving side recognise the copy. The window is the time between the
server's final reply and one single-row commit; the copies are bounded by `outbox_max_attempts`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import smtplib
import socket
import ssl
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.header import Header
from email.message import EmailMessage
from email.policy import Policy
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from fiduciary.comms.models import OutboxMessage
from fiduciary.comms.sealing import open_sealed
from fiduciary.context import RuntimeContext
from fiduciary.jobs import JobCall, register_job
from fiduciary.metrics import set_outbox_backlog
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.storage.base import utcnow
from fiduciary.vault.keys.data_keys import PersonErased

log = logging.getLogger(__name__)

JOB_NAME: Final = "comms.deliver"
STALE_AFTER: Final = timedelta(minutes=10)
MAX_BACKOFF_SECONDS: Final = 86_400.0
SMTP_TIMEOUT_SECONDS: Final = 30.0
BATCH: Final = 100
# Failures that another attempt cannot cure: the person was erased, or the server refused the address.
_PERMANENT: Final = (PersonErased, smtplib.SMTPRecipientsRefused)
# Failures of the connection itself: the other due messages wait for the next run instead of failing too.
_UNREACHABLE: Final = (
    ConnectionError,
    TimeoutError,
    socket.gaierror,
    smtplib.SMTPConnectError,
    smtplib.SMTPServerDisconnected,
)


class OutboxConfigError(ValueError):
    """FIDUCIARY_SMTP_URL cannot be used; the message never quotes the URL (it may hold a password)."""


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    username: str | None
    password: str | None


def parse_smtp_url(url: str) -> SmtpTarget:
    """`smtp://[user:password@]host[:port][?starttls=true]` (port 25) or `smtps://…` (TLS from the start, 465)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise OutboxConfigError("FIDUCIARY_SMTP_URL has a malformed port") from None
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise OutboxConfigError("FIDUCIARY_SMTP_URL must be smtp://host[:port] or smtps://host[:port]")
    options = {key.lower(): values[-1].lower() for key, values in parse_qs(parts.query).items()}
    implicit = parts.scheme == "smtps"
    return SmtpTarget(
        host=parts.hostname,
        port=port or (465 if implicit else 25),
        implicit_tls=implicit,
        starttls=not implicit and options.get("starttls", "false") in ("1", "true", "yes"),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


class SmtpTransport:
    """One connection per delivery run, opened on the first message."""

    def __init__(self, target: SmtpTarget) -> None:
        self.target = target
        self._client: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        t = self.target
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if t.implicit_tls:
            client = smtplib.SMTP_SSL(t.host, t.port, timeout=SMTP_TIMEOUT_SECONDS, context=context)
        else:
            client = smtplib.SMTP(t.host, t.port, timeout=SMTP_TIMEOUT_SECONDS)
            if t.starttls:
                client.starttls(context=context)
        if t.username is not None:
            client.login(t.username, t.password or "")
        return client

    def send(self, message: EmailMessage, recipient: str) -> None:
        if self._client is None:
            self._client = self._connect()
        try:
            self._client.send_message(message, to_addrs=[recipient])
        except smtplib.SMTPServerDisconnected:
            self._client = None
            raise

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._client.quit()
            self._client = None


class FolderTransport:
    """Messages as files in `<data_dir>/outbox/` (mode 0600): the embedded default, and every SMS."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def write(self, name: str, content: bytes) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = self.folder / name
        temporary = target.with_name(f".{name}.{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, content)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, target)  # a rerun writes the same name: one file per message

    def send(self, message: EmailMessage, recipient: str) -> None:
        self.write(f"{message['X-Fiduciary-Message']}.eml", bytes(message))

    def close(self) -> None:
        return None


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    reclaimed: int = 0
    backlog: int = 0

    def counts(self) -> dict[str, int]:
        return dict(self.__dict__)


def sender_address(runtime: RuntimeContext, policy: CompiledPolicy) -> str:
    """FIDUCIARY_MAIL_FROM, else the policy's privacy contact, DPO or grievance officer e-mail."""
    if runtime.settings.mail_from:
        return runtime.settings.mail_from
    contacts = policy.document.contacts
    for contact in (contacts.privacy_contact, contacts.data_protection_officer, contacts.grievance_officer):
        if contact is not None and contact.email:
            return str(contact.email)
    return "no-reply@localhost"


def outbox_folder(runtime: RuntimeContext) -> Path:
    return runtime.settings.data_dir / "outbox"


class EncodedHeader(str):
    """An unstructured header of non-ASCII text, folded as RFC 2047 encoded words that hold their own spaces.

    The stdlib's default folder (Python 3.11) can leave the space between two words outside, between two
    encoded words, where RFC 2047 s.6.2 tells every reader to drop it: a long Hindi subject reached inboxes
    with two words run together (CPython gh-92081). `email.header.Header` encodes the spaces inside the words.
    """

    name: str

    def __new__(cls, name: str, value: str) -> EncodedHeader:
        header = super().__new__(cls, value)
        header.name = name
        return header

    def fold(self, *, policy: Policy) -> str:
        """The header line as the generator writes it (`EmailPolicy` calls this for a value with a `name`)."""
        encoded = Header(str(self), "utf-8", header_name=self.name).encode(linesep=policy.linesep)
        return f"{self.name}: {encoded}{policy.linesep}"


def _email(row: Any, sender: str, recipient: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    subject = str(row.subject)
    message["Subject"] = subject if subject.isascii() else EncodedHeader("Subject", subject)
    message["Date"] = format_datetime(row.created_at)
    message["Message-ID"] = row.message_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to it
    message["X-Fiduciary-Message"] = row.id
    message.set_content(body)  # it replaces every Content-* header, so Content-Language comes after it
    message["Content-Language"] = row.language
    return message


def backlog(session: Session) -> int:
    """Messages not yet delivered nor given up on (pending or sending)."""
    count = session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status.in_(("pending", "sending")))
    )
    return int(count or 0)


def _reclaim_stale(session: Session, now: datetime) -> int:
    """`sending` rows whose deliverer died (older than STALE_AFTER) go back to `pending`.

    Reads first: an idle sweep takes no SQLite write lock (as the job runner's own rounds)."""
    stale = (OutboxMessage.status == "sending", OutboxMessage.claimed_at < now - STALE_AFTER)
    if session.scalar(select(OutboxMessage.id).where(*stale).limit(1)) is None:
        session.rollback()
        return 0
    result = session.execute(
        update(OutboxMessage).where(*stale).values(status="pending", next_attempt_at=now, last_error="Interrupted")
    )
    session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


def _claim(session: Session, message_id: str, now: datetime) -> bool:
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.status == "pending",
            OutboxMessage.next_attempt_at <= now,
        )
        .values(status="sending", attempts=OutboxMessage.attempts + 1, claimed_at=now)
    )
    session.commit()
    return getattr(result, "rowcount", 0) == 1


def _finish(runtime: RuntimeContext, session: Session, row: Any, error: BaseException | None) -> str:
    """Record the outcome of one attempt; returns the new status."""
    now = utcnow()
    values: dict[str, Any]
    if error is None:
        values = {"status": "sent", "sent_at": now, "last_error": None}
    elif isinstance(error, _PERMANENT) or row.attempts >= runtime.settings.outbox_max_attempts:
        values = {"status": "failed", "last_error": type(error).__name__}
    else:
        wait = min(runtime.settings.outbox_backoff_seconds * 2.0 ** (row.attempts - 1), MAX_BACKOFF_SECONDS)
        later = now + timedelta(seconds=wait)
        values = {"status": "pending", "next_attempt_at": later, "last_error": type(error).__name__}
    session.execute(
        update(OutboxMessage).where(OutboxMessage.id == row.id, OutboxMessage.status == "sending").values(**values)
    )
    session.commit()
    status: str = values["status"]
    if error is not None:
        log.warning("outbox message %s attempt %d: %s (%s)", row.id, row.attempts, type(error).__name__, status)
    return status


def _send_one(runtime: RuntimeContext, session: Session, row: Any, transport: Any, folder: FolderTransport) -> None:
    if row.recipient is None or row.body is None:  # erased while it waited
        raise PersonErased()
    recipient = open_sealed(runtime, session, row.person_id, row.key_version, row.id, "recipient", row.recipient)
    body = open_sealed(runtime, session, row.person_id, row.key_version, row.id, "body", row.body)
    session.rollback()  # end the read transaction before the network call
    if row.channel == "sms":  # the pluggable SMS sender's default: a file per message
        folder.write(f"{row.id}.sms.txt", f"To: {recipient}\n\n{body}".encode())
        return
    transport.send(_email(row, sender_address(runtime, runtime.policy()), recipient, body), recipient)


def _transport(runtime: RuntimeContext) -> SmtpTransport | FolderTransport:
    url = runtime.settings.smtp_url
    if url is None:
        return FolderTransport(outbox_folder(runtime))
    return SmtpTransport(parse_smtp_url(url.get_secret_value()))


def deliver(runtime: RuntimeContext, *, stop: threading.Event | None = None, limit: int = BATCH) -> DeliveryReport:
    """Send what is due (at most `limit` messages), then report the counts and set the backlog gauge."""
    report = DeliveryReport()
    transport = _transport(runtime)
    folder = FolderTransport(outbox_folder(runtime))
    try:
        with runtime.sessions() as session:
            now = utcnow()
            report.reclaimed = _reclaim_stale(session, now)
            due = session.scalars(
                select(OutboxMessage.id)
                .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(limit)
            ).all()
            session.commit()
            for message_id in due:
                if stop is not None and stop.is_set():
                    break
                if not _claim(session, message_id, now):
                    continue  # another deliverer took it
                row = session.execute(select(OutboxMessage).where(OutboxMessage.id == message_id)).scalar_one()
                session.expunge(row)
                error: BaseException | None = None
                try:
                    _send_one(runtime, session, row, transport, folder)
                except Exception as exc:
                    session.rollback()
                    error = exc
                status = _finish(runtime, session, row, error)
                report.sent += status == "sent"
                report.retried += status == "pending"
                report.failed += status == "failed"
                if isinstance(error, _UNREACHABLE):
                    break  # the server is away: the rest wait for the next run instead of each failing
            report.backlog = backlog(session)
    finally:
        transport.close()
    set_outbox_backlog(report.backlog)
    return report


def deliver_job(runtime: RuntimeContext, call: JobCall) -> dict[str, int]:
    """The job `comms.deliver`: on commit of a message (queueing lock `comms.deliver`) and every
    `outbox_sweep_seconds`; its own retries are the outbox's, so the job itself is not retried."""
    return deliver(runtime, stop=call.stop).counts()


def _sweep_seconds(settings: Any) -> float:
    seconds: float = settings.outbox_sweep_seconds
    return seconds


DELIVER_JOB: Final = register_job(JOB_NAME, deliver_job, retries=0, every=_sweep_seconds)
