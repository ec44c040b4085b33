"""The suite-wide check that no personal value or secret is echoed (issue 8 item 5, decision 0017).

For the whole test session (each xdist worker on its own), every log record and every error body (status
400 or more, or problem+json) that any in-process FastAPI app produces is scanned as it is produced for:
e-mail addresses, Indian and E.164 phone numbers, API keys, unsubscribe tokens in a `/u/` path, the
personal values the tests use (`KNOWN_VALUES`), customer session tokens, and the secrets the session's requests
presented (API-key and customer-session secrets from `Authorization`/`X-API-Key`, tokens from `/u/{token}`
paths). A session fixture in
conftest.py fails the last test of the session (worker) if anything was found, naming the test, where the
value was seen and what kind it was.
e-mail addresses, Indian and E.164 phone numbers, API keys, unsubscribe tokens in a `/u/` path, package
links (`/v1/packages/…`), the personal values the tests use (`KNOWN_VALUES`), and the secrets the session's
requests presented (API-key secrets from `Authorization`/`X-API-Key`, tokens from `/u/{token}` and
`/v1/packages/{token}` paths). A session fixture in conftest.py fails the last test of the session (worker)
if anything was found, naming the test, where the value was seen and what kind it was.

Cheap by design: bodies of successful responses are not read, the text is scanned once with compiled
patterns, and only findings are kept. The published contacts of the bundled and example policies (the
store's own role addresses and phone numbers) are allowed.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from fiduciary.web.access_log import route_template

ROOT = Path(__file__).resolve().parent.parent

# Personal values the tests put in requests (tests/*support.py and the test files); any of them in a log line
# or an error body is a leak. E-mail addresses and phone numbers are found by pattern instead.
KNOWN_VALUES = (
    "Zebulon",
    "Quixotewright",
    "ZQXPE7788K",
    "CUST-88172",
    "98123 45678",
    "98765 43210",
    "1990-04-17",
    "Ravi Kumar",
    "Meera Iyer",
)

PATTERNS: dict[str, re.Pattern[str]] = {
    "email address": re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
    "Indian phone number": re.compile(r"(?<![\w+])(?:\+?91[ -]?)?[6-9]\d{4}[ -]?\d{5}(?!\w)"),
    "E.164 phone number": re.compile(r"(?<![\w+])\+[1-9]\d{7,14}(?!\w)"),
    "API key": re.compile(r"fid_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}"),
    "unsubscribe token": re.compile(r"/u/[A-Za-z0-9_-]{20,}"),
    "customer session token": re.compile(r"cst_[0-9a-f]{32}\.[A-Za-z0-9_-]{43}"),
    "package link": re.compile(r"/v1/packages/[A-Za-z0-9_-]{20,}"),
}
_OPAQUE_INSTANCE = re.compile(r"urn:fiduciary:request:req_[0-9a-f]{24}")


def without_opaque_instance(problem: dict[str, Any]) -> dict[str, Any]:
    """A problem document minus its `instance`, after checking it is our own opaque request id.

    The id is random hex, so a short fragment of a submitted value ("5500") can occur in it by chance; a test
    that looks for echoed values scans the rest of the document, having proved `instance` holds no value.
    """
    rest = dict(problem)
    instance = rest.pop("instance")
    assert _OPAQUE_INSTANCE.fullmatch(instance), instance
    return rest


_CONTACT = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}|\+91[0-9 -]{9,14}[0-9]")
_KEY = re.compile(r"fid_[A-Za-z0-9]{12}_([A-Za-z0-9_-]{43})|cst_[0-9a-f]{32}\.([A-Za-z0-9_-]{43})")
_WORD = re.compile(r"[A-Za-z0-9_-]{16,}")  # a secret or token appears as one such word (or ends one: a key)
MIN_SECRET = 16  # shorter "tokens" in tests (`/u/whatever`) are not secrets worth tracking


def published_contacts() -> frozenset[str]:
    """The contacts the bundled and example policies publish: the store's own, not a person's."""
    files = [*(ROOT / "examples" / "policies").glob("*.yaml"), *(ROOT / "src" / "fiduciary" / "policy").glob("*.yaml")]
    return frozenset(m.group(0) for f in files for m in _CONTACT.finditer(f.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Finding:
    test: str
    where: str
    kind: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.test}: {self.kind} in {self.where}: ...{self.excerpt}..."


@dataclass
class LeakDetector:
    """Scans texts for values that must never be echoed; keeps findings, not texts."""

    allowed: frozenset[str] = field(default_factory=published_contacts)
    known: tuple[str, ...] = KNOWN_VALUES
    current_test: str = "<outside a test>"
    findings: list[Finding] = field(default_factory=list)
    _secrets: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def learn(self, secret: str) -> None:
        """Remember a secret a request presented (a key's secret part, a token) to look for it later."""
        if len(secret) >= MIN_SECRET:
            with self._lock:
                self._secrets.add(secret)

    def learn_request(self, scope: Scope) -> None:
        path: str = scope.get("path", "")
        if path.startswith("/u/"):
            self.learn(path[3:].split("/", 1)[0])
        elif path.startswith("/v1/packages/"):  # an access package's download link
            self.learn(path[len("/v1/packages/") :].split("/", 1)[0])
        for name, value in scope.get("headers", ()):
            if name in (b"authorization", b"x-api-key"):
                text = value.decode("latin-1")
                for match in _KEY.finditer(text):
                    self.learn(match.group(1) or match.group(2))

    def scan(self, text: str, where: str) -> list[Finding]:
        found: list[Finding] = []
        for kind, pattern in PATTERNS.items():
            for match in pattern.finditer(text):
                if match.group(0).strip() not in self.allowed:
                    found.append(self._finding(text, match.start(), match.end(), where, kind))
        for value in self.known:
            at = text.find(value)
            if at >= 0:
                found.append(self._finding(text, at, at + len(value), where, "known personal value"))
        # Secrets are many (every key a test made): look them up by the words of the text, not one by one.
        for match in _WORD.finditer(text):
            word = match.group(0)
            if word in self._secrets or word[-43:] in self._secrets:
                found.append(self._finding(text, match.start(), match.end(), where, "secret a request presented"))
        if found:
            with self._lock:
                self.findings.extend(found)
        return found

    def _finding(self, text: str, start: int, end: int, where: str, kind: str) -> Finding:
        return Finding(self.current_test, where, kind, text[max(0, start - 40) : end + 20].replace("\n", " "))

    def report(self) -> str:
        shown = "\n".join(f"  {f}" for f in self.findings[:20])
        more = f"\n  ... and {len(self.findings) - 20} more" if len(self.findings) > 20 else ""
        return f"{len(self.findings)} value(s) echoed in logs or error bodies (decision 0017):\n{shown}{more}"


_active: list[LeakDetector] = []  # the detector captures feed; a stack so a test can swap in its own


def active() -> LeakDetector | None:
    return _active[-1] if _active else None


@contextmanager
def recording(detector: LeakDetector) -> Iterator[LeakDetector]:
    """Feed captures to `detector` instead of the session's while the block runs (the detector's own tests)."""
    _active.append(detector)
    try:
        yield detector
    finally:
        _active.remove(detector)


class CaptureHandler(logging.Handler):
    """Scans every log record (message and any exception text) as it is emitted."""

    def emit(self, record: logging.LogRecord) -> None:
        detector = active()
        if detector is None:
            return
        try:
            text = record.getMessage()
        except Exception:  # a broken format string is not our concern here
            text = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            text += " " + repr(record.exc_info[1])
        detector.scan(text, f"log record of {record.name}")


_original_call = FastAPI.__call__


async def _capturing_call(self: FastAPI, scope: Scope, receive: Receive, send: Send) -> None:
    """FastAPI.__call__, also scanning every error body the app sends."""
    detector = active()
    if detector is None or scope["type"] != "http":
        await _original_call(self, scope, receive, send)
        return
    detector.learn_request(scope)
    chunks: list[bytes] = []
    capture = False

    async def send_and_capture(message: Message) -> None:
        nonlocal capture
        if message["type"] == "http.response.start":
            headers = dict(message.get("headers", []))
            capture = message["status"] >= 400 or b"problem+json" in headers.get(b"content-type", b"")
        elif message["type"] == "http.response.body" and capture:
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                where = f"error body of {scope.get('method')} {route_template(scope)}"
                detector.scan(b"".join(chunks).decode("utf-8", "replace"), where)
        await send(message)

    await _original_call(self, scope, receive, send_and_capture)


PLUGIN_NAME = "fiduciary-leak-guard"


class LeakGuardPlugin:
    """Registered by conftest.py: captures for the whole session and fails it on a finding."""

    def __init__(self) -> None:
        self.detector = LeakDetector()

    def pytest_configure(self, config: pytest.Config) -> None:
        _active.append(self.detector)
        logging.getLogger().addHandler(CaptureHandler(logging.INFO))
        logging.getLogger("fiduciary").setLevel(logging.INFO)  # the access log and housekeeping lines
        FastAPI.__call__ = _capturing_call  # type: ignore[method-assign]

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[Any]:
        self.detector.current_test = item.nodeid
        return (yield)


@pytest.fixture(scope="session", autouse=True)
def no_values_echoed(pytestconfig: pytest.Config) -> Iterator[None]:
    """Fails the session's (worker's) last test when any log line or error body held a value."""
    yield
    plugin = pytestconfig.pluginmanager.get_plugin(PLUGIN_NAME)
    if isinstance(plugin, LeakGuardPlugin) and plugin.detector.findings:
        pytest.fail(plugin.detector.report(), pytrace=False)
