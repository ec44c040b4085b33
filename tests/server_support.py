"""A real `fiduciary serve` process that a test can start, SIGKILL and start again (imported, not collected).

The crash and concurrency tests are about what a real server does with a real socket: the answer leaves the
process, then the process dies. An in-process test client cannot show that (it waits for everything the app
does after the response), so these helpers run `python -m fiduciary.cli.main serve` as a child process with
its own environment, over the test's database (SQLite file or PostgreSQL database from conftest).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import pytest

from fiduciary.auth.service import create_api_key
from fiduciary.config import Settings
from fiduciary.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
STORE_ORIGIN = "https://saffronlane.example"  # the demo policy's store origin (banner endpoint)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    """One database and data folder; `start()` runs a server on them, `kill()` SIGKILLs it (no clean-up)."""

    database_url: str
    data_dir: Path
    log_path: Path
    port: int = field(default_factory=free_port)
    # One process by default: kill() must take the whole server down at once (a supervisor's workers would
    # get SIGTERM and shut down cleanly instead, which is not the crash these tests are about).
    workers: int = 1
    proc: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def settings(self) -> Settings:
        return Settings(database_url=self.database_url, data_dir=self.data_dir, public_base_url=self.base_url)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FIDUCIARY_")}
        src = str(ROOT / "src")
        env["PYTHONPATH"] = src + os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else src
        env.update(
            FIDUCIARY_DATABASE_URL=self.database_url,
            FIDUCIARY_DATA_DIR=str(self.data_dir),
            FIDUCIARY_PUBLIC_BASE_URL=self.base_url,
            FIDUCIARY_HOUSEKEEPING_INTERVAL_MINUTES="0",
            FIDUCIARY_PUBLIC_RATE_LIMIT_PER_MINUTE="100000",
        )
        return env

    def start(self) -> None:
        assert self.proc is None, "already running"
        self._log = self.log_path.open("ab")
        command = [sys.executable, "-m", "fiduciary.cli.main", "serve", "--port", str(self.port)]
        command += ["--workers", str(self.workers)]
        self.proc = subprocess.Popen(command, env=self.env(), stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"the server exited with {self.proc.returncode}; log: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(self.base_url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not start; log: {self.log_path.read_text()[-2000:]}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown handler, no teardown, no flush; what is not committed is gone."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        self.kill()
        self.start()


def make_server(database_url: str, tmp_path: Path, scopes: list[str]) -> tuple[ServerProcess, str]:
    """A server (not started) over `database_url` and an API key with `scopes`, created before it starts.

    The runtime started here generates the data folder's keys (signing, KEK, index), which the server then
    uses too, so receipts and vault data written before and after a restart are read with the same keys.
    """
    server = ServerProcess(database_url, tmp_path / "data", tmp_path / "server.log")
    runtime = Runtime.start(server.settings(), migrate=False)
    try:
        with runtime.sessions() as session:
            _, key = create_api_key(session, "durability-test", scopes)
            session.commit()
    finally:
        runtime.close()
    return server, key


def running_server(
    database_url: str, tmp_path: Path, scopes: list[str] | None = None
) -> Iterator[tuple[ServerProcess, dict[str, str]]]:
    """A started server and the headers of an admin key (or one with `scopes`); killed however the test ends."""
    proc, key = make_server(database_url, tmp_path, scopes or ["admin"])
    proc.start()
    try:
        yield proc, {"Authorization": f"Bearer {key}"}
    finally:
        proc.kill()


def customer_on_file(
    client: httpx.Client,
    admin: dict[str, str],
    address: str,
    *,
    consent_channel: str | None = None,
    language: str | None = None,
) -> str:
    """The store's backend puts a customer on file with their email; given a channel, also their consent to
    marketing email there (in `language`, the notice they read: their messages then come in it)."""
    person = client.post("/v1/people", json={"is_child": False}, headers=admin).json()["id"]
    client.put(
        f"/v1/people/{person}/fields",
        json={
            "purpose_of_collection": "account",
            "source": "provided",
            "fields": {"contact.email": address},
            "identifiers": {"email": address},
        },
        headers=admin,
    ).raise_for_status()
    if consent_channel is not None:
        consent: dict[str, object] = {
            "subject_id": person,
            "channel": consent_channel,
            "actions": [{"purpose": "marketing.email", "action": "grant"}],
        }
        if language is not None:
            consent["language"] = language
        client.post("/v1/consents", json=consent, headers=admin).raise_for_status()
    return str(person)
