"""What the bench scripts share: a scratch database on either engine, and uvicorn over it.

The scripts run as `.venv/bin/python bench/X.py`, so bench/ is sys.path[0] and `from _support import ...`
works without making bench/ a package. One copy of the database set-up means every benchmark measures
the same thing (a fresh, empty, migrated-by-the-caller database) and every one cleans up after itself.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Literal

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from fiduciary.storage import create_engine_for_url

Engine = Literal["sqlite", "postgresql"]

PG_ADMIN_URL = os.environ.get("FIDUCIARY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def engines(choice: str) -> tuple[Engine, ...]:
    """The engines an `--engine sqlite|postgresql|both` option names, in the order the results are printed."""
    if choice == "both":
        return ("sqlite", "postgresql")
    if choice == "sqlite":
        return ("sqlite",)
    if choice == "postgresql":
        return ("postgresql",)
    raise ValueError(f"unknown engine {choice!r}: expected sqlite, postgresql or both")


@contextmanager
def database(engine_name: Engine, workdir: Path | None = None) -> Iterator[tuple[str, Path]]:
    """(database URL, working directory), both gone or dropped on exit.

    The working directory is `workdir` if given (it is left in place), else a fresh temporary one; on
    SQLite the database is the file bench.db in it. On PostgreSQL a database `fiduciary_bench_<random>` is
    created on the server of FIDUCIARY_TEST_POSTGRES_URL and dropped WITH (FORCE) on exit, even when the
    benchmark fails or leaves pooled connections open, so no run leaves a database behind.
    """
    if engine_name not in ("sqlite", "postgresql"):
        raise ValueError(f"unknown engine {engine_name!r}: expected sqlite or postgresql")
    with ExitStack() as stack:
        work = workdir if workdir is not None else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        if engine_name == "sqlite":
            yield f"sqlite:///{work / 'bench.db'}", work
            return
        admin = create_engine_for_url(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        stack.callback(admin.dispose)
        name = f"fiduciary_bench_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False), work
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(database_url: str, data_dir: Path) -> Iterator[str]:
    """Base URL of uvicorn (one worker) on 127.0.0.1 over `database_url`; it publishes the demo policy on start.

    A separate process, so the HTTP figures include a real socket and a server that does not share this
    process's interpreter lock; the child is terminated on exit.
    """
    port = free_port()
    env = {**os.environ, "FIDUCIARY_DATABASE_URL": database_url, "FIDUCIARY_DATA_DIR": str(data_dir)}
    command = [sys.executable, "-m", "uvicorn", "--factory", "fiduciary.web.app:create_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"]
    proc = subprocess.Popen(command, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("uvicorn did not start")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run_clients(count: int, worker: Callable[[int], None]) -> float:
    """Run `worker(n)` for n in 0..count-1, each in its own thread at once; the wall seconds until all end."""
    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(n,)) for n in range(count)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return time.perf_counter() - started
