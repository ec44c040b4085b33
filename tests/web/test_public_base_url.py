"""One public base URL: every link the service generates names the address it actually serves on.

The main test starts a real `fiduciary serve --port 0` (the bug was a server on another port writing
`http://127.0.0.1:8000/…` into links) and reads every generated link back: the key document's issuer, the
links of /privacy, a consent receipt's notice URL and an unsubscribe link and header. The rest covers an
explicit FIDUCIARY_PUBLIC_BASE_URL, bad values of it, and a trusted proxy's Host.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from fiduciary.auth.service import create_api_key
from fiduciary.cli.main import app
from fiduciary.config import Settings, check_public_base_url, get_settings, origin_for_bind
from fiduciary.runtime import Runtime
from fiduciary.sdk import FiduciaryClient
from fiduciary.web.app import create_app

URL_RE = re.compile(r"https?://[^\s\"'<>)\\]+")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
SCOPES = ["consent:read", "consent:write", "people:write"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIDUCIARY_") or k == "FIDUCIARY_TEST_POSTGRES_URL"}
    env.update(
        FIDUCIARY_DATA_DIR=str(tmp_path / "data"), FIDUCIARY_HOUSEKEEPING_INTERVAL_MINUTES="0", PYTHONUNBUFFERED="1"
    )
    env.update(extra)
    return env


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A real `fiduciary serve --port 0` on a fresh data folder: (the base URL it printed, its API key)."""
    env = _env(tmp_path)
    command = [sys.executable, "-c", "from fiduciary.cli.main import app; app()", "serve", "--port", "0"]
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        match = re.fullmatch(r"Fiduciary listening on (\S+); links use (\S+)\n", line)
        assert match, line
        bound, base = match.groups()
        assert base == bound and urlsplit(base).port not in (None, 0, 8000)
        deadline = time.monotonic() + 60
        while True:  # the server answers once the app has started (the socket is bound before that)
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        key = subprocess.run(
            [sys.executable, "-c", "from fiduciary.cli.main import app; app()", "apikey", "create", "--name", "t"]
            + [arg for scope in SCOPES for arg in ("--scope", scope)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        yield base, key
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _our_links(text: str) -> list[str]:
    """Every absolute URL in `text` that points at this machine (the store's own website is elsewhere)."""
    return [u for u in URL_RE.findall(text) if urlsplit(u).hostname in LOOPBACK]


def test_every_generated_link_names_the_port_the_server_bound(served: tuple[str, str]) -> None:
    base, key = served
    keys = httpx.get(f"{base}/.well-known/fiduciary-keys.json").json()
    assert keys["issuer"] == base

    # The HTML notice links its own sections in-page; Markdown and JSON, read elsewhere, link back absolutely.
    notice = " ".join(httpx.get(f"{base}/{page}").text for page in ("privacy", "privacy.md", "privacy.json"))
    links = _our_links(notice)
    assert len(links) >= 5 and all(link.startswith(base + "/") for link in links), links

    with FiduciaryClient(base, key) as sdk:
        person = sdk.create_person(is_child=False)["id"]
        result = sdk.record_consent(person, "marketing.email", "grant", "checkout")
        receipt = result["receipt"]
        stored = sdk.receipt(result["ledger_position"])
        for text in (json.dumps(receipt), json.dumps(stored)):
            assert f'"{base}/v1/policy/versions/1"' in text  # the notice URL
            found = _our_links(text)
            assert found and all(link.startswith(base + "/") for link in found), found
        headers = sdk.unsubscribe_headers(person, "marketing.email")
    assert headers["List-Unsubscribe"].startswith(f"<{base}/u/")
    with httpx.Client() as raw:
        answer = raw.post(
            f"{base}/v1/comms/unsubscribe-headers",
            json={"subject_id": person, "purpose": "marketing.email"},
            headers={"Authorization": f"Bearer {key}"},
        ).json()
    assert answer["url"].startswith(f"{base}/u/")
    # The link works on this server: the confirmation page, not a different service.
    assert httpx.get(answer["url"]).status_code == 200


# ----------------------------------------------------------------------------------- explicit and bad


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://privacy.example.com", "https://privacy.example.com"),
        ("https://privacy.example.com/", "https://privacy.example.com"),
        ("http://127.0.0.1:18321", "http://127.0.0.1:18321"),
        ("https://[2001:db8::1]:8443", "https://[2001:db8::1]:8443"),
    ],
)
def test_an_origin_is_accepted(value: str, expected: str) -> None:
    assert check_public_base_url(value) == expected
    assert Settings(public_base_url=value).public_base_url == expected


@pytest.mark.parametrize(
    "value",
    [
        "privacy.example.com",  # no scheme
        "//privacy.example.com",
        "https://privacy.example.com/app",  # a path: links would silently leave it out
        "https://privacy.example.com/?a=1",
        "https://privacy.example.com#x",
        "ftp://privacy.example.com",
        "https://user:pw@privacy.example.com",
        "https://privacy.example.com:99999",
        "https://",
    ],
)
def test_serve_refuses_a_base_url_that_is_not_an_origin(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FIDUCIARY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FIDUCIARY_PUBLIC_BASE_URL", value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["serve", "--port", "0"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "error: FIDUCIARY_PUBLIC_BASE_URL must be an origin such as https://privacy.example.com "
        "(http or https, a host, no path)"
    ]
    assert not (tmp_path / "data").exists()  # bad input changes nothing


def test_an_explicit_base_url_wins_over_the_bound_address_and_the_host(settings: Settings) -> None:
    explicit = settings.model_copy(update={"public_base_url": "https://privacy.example.com", "trust_proxy_host": True})
    runtime = Runtime.start(explicit, migrate=False, bound_base_url="http://127.0.0.1:18321")
    try:
        assert runtime.public_base_url == "https://privacy.example.com"
        with TestClient(create_app(runtime=runtime)) as client:
            issuer = client.get("/.well-known/fiduciary-keys.json", headers={"Host": "other.example"}).json()
        assert issuer["issuer"] == "https://privacy.example.com"
    finally:
        runtime.close()


def test_without_a_server_links_name_the_configured_host_and_port(settings: Settings) -> None:
    runtime = Runtime.start(settings.model_copy(update={"port": 18321}), migrate=False)
    try:
        assert runtime.public_base_url == "http://127.0.0.1:18321"
    finally:
        runtime.close()


@pytest.mark.parametrize(
    ("host", "port", "origin"),
    [
        ("127.0.0.1", 80, "http://127.0.0.1:80"),
        ("0.0.0.0", 8000, "http://127.0.0.1:8000"),
        ("::", 8000, "http://[::1]:8000"),
        ("::1", 9000, "http://[::1]:9000"),
        ("privacy.internal", 8000, "http://privacy.internal:8000"),
    ],
)
def test_the_origin_of_a_listening_address(host: str, port: int, origin: str) -> None:
    assert origin_for_bind(host, port) == origin


# ------------------------------------------------------------------------------------ behind a proxy


@pytest.fixture
def proxied(settings: Settings, session: Session) -> Iterator[tuple[TestClient, str]]:
    runtime = Runtime.start(
        settings.model_copy(update={"trust_proxy_host": True}), migrate=False, bound_base_url="http://127.0.0.1:9"
    )
    _, key = create_api_key(session, "mailer", SCOPES)
    session.commit()
    try:
        with TestClient(create_app(runtime=runtime), base_url="https://privacy.shop.example") as client:
            yield client, key
    finally:
        runtime.close()


def test_behind_a_trusted_proxy_links_follow_the_request_host(proxied: tuple[TestClient, str]) -> None:
    client, key = proxied
    assert client.get("/.well-known/fiduciary-keys.json").json()["issuer"] == "https://privacy.shop.example"
    pages = " ".join(client.get(page).text for page in ("/privacy", "/privacy.md", "/privacy.json"))
    links = _our_links(pages.replace("privacy.shop.example", "127.0.0.1"))
    assert links and all(link.startswith("https://127.0.0.1/") for link in links)
    sdk = FiduciaryClient.from_httpx(client, key)
    person = sdk.create_person(is_child=False)["id"]
    receipt = sdk.record_consent(person, "marketing.email", "grant", "checkout")["receipt"]
    assert '"https://privacy.shop.example/v1/policy/versions/1"' in json.dumps(receipt)
    assert sdk.unsubscribe_headers(person, "marketing.email")["List-Unsubscribe"].startswith(
        "<https://privacy.shop.example/u/"
    )


@pytest.mark.parametrize("host", ["evil.example/x", "a b", "evil.example@x", "", "x" * 300])
def test_a_host_that_is_not_a_plain_host_is_never_copied_into_a_link(
    proxied: tuple[TestClient, str], host: str
) -> None:
    client, _ = proxied
    issuer = client.get("/.well-known/fiduciary-keys.json", headers={"Host": host}).json()["issuer"]
    assert issuer == "http://127.0.0.1:9"


def test_without_trust_the_host_header_is_ignored(client: TestClient, runtime: Runtime) -> None:
    issuer = client.get("/.well-known/fiduciary-keys.json", headers={"Host": "evil.example"}).json()["issuer"]
    assert issuer == runtime.public_base_url == "http://127.0.0.1:8000"
