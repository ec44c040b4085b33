"""What the job tests share: the queue's rows on either engine, and a real `fiduciary worker` process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import sqlalchemy as sa
from sqlalchemy.orm import Session

import server_support

ROOT = Path(__file__).resolve().parent.parent


def queued(session: Session, task_name: str) -> list[tuple[int, str]]:
    """(id, status) of every job of `task_name`, in either engine's queue table."""
    table = "procrastinate_jobs" if session.get_bind().dialect.name == "postgresql" else "job_queue"
    rows = session.execute(
        sa.text(f"SELECT id, CAST(status AS varchar) FROM {table} WHERE task_name = :t ORDER BY id"), {"t": task_name}
    )
    return [(int(i), str(s)) for i, s in rows]


def effects(session: Session, prefix: str) -> int:
    return int(session.scalar(sa.text("SELECT count(*) FROM job_effects WHERE key LIKE :p"), {"p": prefix + "%"}) or 0)


def wait_for(condition: Callable[[], bool], seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def cli_env(database_url: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIDUCIARY_")}
    src = str(ROOT / "src")
    env["PYTHONPATH"] = src + os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else src
    env.update(FIDUCIARY_DATABASE_URL=database_url, FIDUCIARY_DATA_DIR=str(data_dir))
    env["FIDUCIARY_HOUSEKEEPING_INTERVAL_MINUTES"] = "0"
    return env


def fiduciary(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run a `fiduciary` command to its end."""
    command = [sys.executable, "-m", "fiduciary.cli.main", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)


def start_worker(env: dict[str, str], log: IO[bytes], *args: str) -> subprocess.Popen[bytes]:
    """A `fiduciary worker` child process (the caller kills it)."""
    command = [sys.executable, "-m", "fiduciary.cli.main", "worker", *args]
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)


def serving_with_worker(
    database_url: str, tmp_path: Path
) -> Iterator[tuple[server_support.ServerProcess, dict[str, str]]]:
    """`fiduciary serve` and an admin key's headers; on PostgreSQL also a `fiduciary worker`, which runs the
    jobs there (the outbox, packages, breach notices). On SQLite the server runs them itself."""
    for server, headers in server_support.running_server(database_url, tmp_path):
        if not database_url.startswith("postgresql"):
            yield server, headers
            continue
        with (tmp_path / "worker.log").open("ab") as log:
            worker = start_worker(server.env(), log, "--poll", "0.1")
            try:
                yield server, headers
            finally:
                worker.kill()
                worker.wait(timeout=30)
