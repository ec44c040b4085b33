"""Issue 13's "done when", end to end against a running `fiduciary serve`: a customer asks for a code, reads
it from the outbox folder, opens a session, makes an access request, downloads the package from the link the
next message brings, verifies a consent receipt from it with `fiduciary receipt verify`, then asks for
erasure and is told what was kept and why. Every step is in the audit trail."""

from __future__ import annotations

import email
import email.policy
import io
import json
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import httpx
import pytest

from jobs_support import serving_with_worker
from server_support import ROOT, ServerProcess, customer_on_file

EMAIL = "walkthrough.customer@example.org"


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[tuple[ServerProcess, dict[str, str]]]:
    """The server; on PostgreSQL also a `fiduciary worker`, which runs the jobs there (the outbox, packages)."""
    yield from serving_with_worker(database_url, tmp_path)


def _body(message: Message) -> str:
    part = message.get_body(preferencelist=("plain",)) if hasattr(message, "get_body") else message
    payload = part.get_payload(decode=True) if part is not None else b""
    return payload.decode("utf-8") if isinstance(payload, bytes) else str(payload)


def _wait_for_mail(folder: Path, seen: set[str], pattern: str, timeout: float = 30.0) -> str:
    """The body of the first new message in the outbox folder whose text matches `pattern`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
            if path.name in seen:
                continue
            text = _body(email.message_from_bytes(path.read_bytes(), policy=email.policy.default))
            if re.search(pattern, text):
                seen.add(path.name)
                return text
        time.sleep(0.1)
    raise AssertionError(f"no message matching {pattern!r} reached {folder}")


def test_access_then_erasure_as_a_customer(live: tuple[ServerProcess, dict[str, str]], tmp_path: Path) -> None:
    server, admin = live
    outbox, seen = server.data_dir / "outbox", set[str]()
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        # The store's backend: the customer, their email on file, and a consent given at checkout.
        person = customer_on_file(client, admin, EMAIL, consent_channel="checkout")

        # The customer: a code by email, read from the outbox folder, then a session.
        challenge = client.post("/v1/identity/codes", json={"kind": "email", "identifier": EMAIL})
        assert challenge.status_code == 202
        code = re.search(r"^\s+(\d{6})\s*$", _wait_for_mail(outbox, seen, r"\b\d{6}\b"), re.MULTILINE)
        assert code is not None
        opened = client.post(
            "/v1/identity/sessions", json={"challenge_id": challenge.json()["challenge_id"], "code": code.group(1)}
        )
        assert opened.status_code == 201, opened.text
        me = {"Authorization": f"Bearer {opened.json()['token']}"}

        # An access request; the package job builds it and the next message brings the link.
        asked = client.post("/v1/me/requests", json={"kind": "access"}, headers=me)
        assert asked.status_code == 201, asked.text
        request_id = asked.json()["id"]
        link = re.search(r"(https?://\S+/v1/packages/\S+)", _wait_for_mail(outbox, seen, r"/v1/packages/"))
        assert link is not None
        assert client.get(f"/v1/me/requests/{request_id}", headers=me).json()["state"] == "completed"
        package = client.get(link.group(1).replace(server.base_url, ""))
        assert package.status_code == 200 and package.headers["content-type"] == "application/zip"
        archive = zipfile.ZipFile(io.BytesIO(package.content))
        receipts = [n for n in archive.namelist() if "/receipts/" in n]
        assert receipts, archive.namelist()
        receipt = tmp_path / "receipt.json"
        receipt.write_bytes(archive.read(receipts[0]))
        keys = client.get("/.well-known/fiduciary-keys.json").json()
        public = [k["public_key"] for k in keys["keys"]] if "keys" in keys else []
        verify = [sys.executable, "-m", "fiduciary.cli.main", "receipt", "verify", str(receipt)]
        for key in public:
            verify += ["--public-key", key]
        checked = subprocess.run(verify, env=server.env(), cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert checked.returncode == 0 and "valid" in checked.stdout, checked.stdout + checked.stderr
        document = json.loads(archive.read(next(n for n in archive.namelist() if n.endswith("/package.json"))))
        assert request_id in json.dumps(document)

        # Erasure: what the law keeps, why and until when, in the last message.
        erased = client.post("/v1/me/requests", json={"kind": "erasure"}, headers=me)
        assert erased.status_code == 201 and erased.json()["state"] == "completed", erased.text
        told = _wait_for_mail(
            outbox,
            seen,
            re.escape(erased.json()["id"]) + r"[\s\S]*erased|erased[\s\S]*" + re.escape(erased.json()["id"]),
        )
        assert "Grievance Officer" in told

        trail = client.get(f"/v1/audit?person_id={person}&limit=200", headers=admin).json()["events"]
        actions = [e["action"] for e in trail]
        for expected in (
            "session.open",
            "request.received",
            "request.verify",
            "package.build",
            "package.download",
            "request.complete",
            "person.erase",
        ):
            assert expected in actions, (expected, actions)
