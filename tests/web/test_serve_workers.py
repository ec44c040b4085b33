"""`fiduciary serve --workers N`: N real worker processes on one port and one database (issue 17).

The server is a real subprocess under `--port 0`: the supervisor binds the port before any worker starts, so
every worker serves the one port and every link names it. Only one worker runs the background
housekeeping (it holds the leader lock in the data folder); SIGTERM to the supervisor stops every worker,
and a SIGKILLed supervisor leaves no worker behind (PR_SET_PDEATHSIG). One `/metrics` scrape counts the
requests every worker answered, a killed one's included (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import fcntl
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from fiduciary.config import Settings
from fiduciary.runtime import Runtime
from fiduciary.serving import LEADER_FILE_NAME
from server_support import ROOT, make_server

pytestmark = pytest.mark.slow

WORKERS = 2


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _workers(pid: int) -> list[int]:
    """The supervisor's spawned worker processes (multiprocessing's spawn entry point in their command line)."""
    found = []
    for child in _children(pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"spawn_main" in cmdline:  # not the resource tracker multiprocessing may also start
            found.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] != "Z"


def _wait_gone(pids: list[int]) -> None:
    deadline = time.monotonic() + 30
    while any(_alive(p) for p in pids):
        assert time.monotonic() < deadline, "a worker outlived its supervisor"
        time.sleep(0.1)


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str, dict[str, str], Path]]:
    server, key = make_server(database_url, tmp_path, ["admin"])
    env = server.env()
    env.pop("FIDUCIARY_PUBLIC_BASE_URL")  # links must name the port the supervisor bound under --port 0
    env["FIDUCIARY_HOUSEKEEPING_INTERVAL_MINUTES"] = "60"  # on, so exactly one worker leads it
    command = [sys.executable, "-m", "fiduciary.cli.main", "serve", "--port", "0", "--workers", str(WORKERS)]
    log_path = tmp_path / "serve.log"
    log = log_path.open("w")
    proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        # Every worker has finished its start-up (so each is past die_with_parent) and the port answers.
        while log_path.read_text().count("Application startup complete") < WORKERS:
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()[-2000:]
            time.sleep(0.2)
        lines = log_path.read_text().splitlines()
        match = re.fullmatch(r"Fiduciary listening on (\S+); links use (\S+)", lines[0])
        assert match, lines[0]
        bound, base = match.groups()
        assert base == bound and not bound.endswith(":0")
        assert lines[1].startswith(f"{WORKERS} worker processes")
        assert len(_workers(proc.pid)) == WORKERS and _healthy(base)
        yield proc, base, {"Authorization": f"Bearer {key}"}, server.data_dir
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        log.close()


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_workers_share_the_port_and_the_database(
    served: tuple[subprocess.Popen[str], str, dict[str, str], Path], database_url: str
) -> None:
    proc, base, headers, data_dir = served
    workers = _workers(proc.pid)
    assert len(workers) == WORKERS

    keys = httpx.get(f"{base}/.well-known/fiduciary-keys.json").json()
    assert keys["issuer"] == base  # every worker was told the port the supervisor bound

    def grant(_: int) -> int:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            person = client.post("/v1/people", json={"is_child": False})
            person.raise_for_status()
            body = {
                "subject_id": person.json()["id"],
                "channel": "checkout",
                "actions": [{"purpose": "marketing.email", "action": "grant"}],
            }
            answer = client.post("/v1/consents", json=body)
            answer.raise_for_status()
            return int(answer.json()["results"][0]["ledger_position"])

    with ThreadPoolExecutor(8) as pool:
        positions = sorted(pool.map(grant, range(40)))
    assert positions == list(range(1, 41))  # one gap-free chain, whichever worker answered

    if database_url.startswith("sqlite"):
        # Exactly one worker holds the leader lock and runs the in-process job queue; the test cannot take it.
        fd = os.open(data_dir / LEADER_FILE_NAME, os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    else:  # on PostgreSQL `fiduciary worker` processes run the jobs: no API worker leads anything
        assert not (data_dir / LEADER_FILE_NAME).exists()

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    _wait_gone(workers)

    runtime = Runtime.start(Settings(database_url=database_url, data_dir=data_dir), migrate=False)
    try:
        from fiduciary.ledger.signing import known_public_keys
        from fiduciary.ledger.verification import verify

        with runtime.sessions() as session:
            assert verify(session, "consent", known_public_keys(runtime.settings)).ok
    finally:
        runtime.close()


def test_a_killed_supervisor_leaves_no_worker(served: tuple[subprocess.Popen[str], str, dict[str, str], Path]) -> None:
    proc, base, _headers, _data_dir = served
    workers = _workers(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _wait_gone(workers)
    assert not _healthy(base)


def _environment(pid: int) -> dict[str, str]:
    pairs = (entry.partition(b"=") for entry in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0") if entry)
    return {name.decode(): value.decode() for name, _, value in pairs}


def _healthz_answered(families: Iterable[Metric]) -> float:
    return sum(
        sample.value
        for family in families
        for sample in family.samples
        if sample.name == "fiduciary_http_requests_total" and sample.labels.get("route") == "/healthz"
    )


def test_one_scrape_counts_what_every_worker_answered_even_a_killed_one(
    served: tuple[subprocess.Popen[str], str, dict[str, str], Path], tmp_path: Path
) -> None:
    proc, base, headers, _data_dir = served
    workers = _workers(proc.pid)
    folders = {_environment(pid).get("PROMETHEUS_MULTIPROC_DIR") for pid in workers}
    assert len(folders) == 1 and None not in folders, folders  # one folder, shared by every worker
    folder = Path(str(folders.pop()))
    assert folder.stat().st_mode & 0o077 == 0  # private to the service's user

    def scrape() -> float:
        answer = httpx.get(f"{base}/metrics", headers=headers, timeout=30)
        answer.raise_for_status()
        families = list(text_string_to_metric_families(answer.text))
        gauges = {s.name: s.labels for f in families if f.type == "gauge" for s in f.samples}
        # one figure per gauge, not one per worker (no `pid` label): they are the database's, read at the scrape
        assert gauges == {"fiduciary_job_queue_depth": {}, "fiduciary_job_queue_oldest_age_seconds": {}} | {
            "fiduciary_outbox_backlog": {}
        }, gauges
        return _healthz_answered(families)

    def answered_by(pid: int) -> float:
        files = [str(f) for f in folder.glob(f"*_{pid}.db")]
        return _healthz_answered(MultiProcessCollector.merge(files)) if files else 0.0

    def ping(_: int) -> None:
        httpx.get(f"{base}/healthz", timeout=30).raise_for_status()  # a new connection each: any worker takes it

    before = scrape()
    sent = 0
    deadline = time.monotonic() + 60
    with ThreadPoolExecutor(8) as pool:
        while sent < 40 or not all(answered_by(pid) for pid in workers):  # until both workers have answered some
            assert time.monotonic() < deadline, "the kernel gave every connection to one worker"
            list(pool.map(ping, range(40)))
            sent += 40
    assert scrape() - before == sent  # one scrape, whichever worker answers it, counts them all

    killed = workers[0]
    counted_by_killed = answered_by(killed)
    os.kill(killed, signal.SIGKILL)
    _wait_gone([killed])
    assert counted_by_killed > 0 and answered_by(killed) == counted_by_killed  # its figures stay in the folder
    assert scrape() - before == sent  # nothing the killed worker counted is lost from the totals

    # The supervisor answers signals between health pings, and its ping to a replacement that is still
    # importing waits until that worker is up: stop it once the replacement has started.
    deadline = time.monotonic() + 120
    while (tmp_path / "serve.log").read_text().count("Application startup complete") <= WORKERS:
        assert time.monotonic() < deadline, "the killed worker was not replaced"
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    assert not folder.exists()  # the supervisor removes the folder when it stops
