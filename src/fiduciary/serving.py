"""What a `fiduciary serve --workers N` worker process needs beyond one server (issue 17).

- `WorkerEnvironment`: what the supervisor decided before it started the workers (the origin it bound under
  `--port 0`, that the workers are several), handed to each spawned worker through its environment, since
  uvicorn rebuilds the app in every worker from an import string (`fiduciary.web.app:create_app_from_env`).
- `HousekeepingLeader`: with several workers, only the one holding this lock runs the background
  housekeeping thread. Every housekeeping run also takes the database-wide lock of
  `fiduciary.housekeeping.exclusive`, so two machines never run one concurrently either; the leader lock
  only stops N threads per machine from waking up to find that lock taken. The job queue (`fiduciary
  worker`) replaces both once housekeeping runs as a periodic job.
- `die_with_parent`: a worker whose supervisor was SIGKILLed must not keep serving on the shared socket.
"""

from __future__ import annotations

import ctypes
import fcntl
import multiprocessing
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

BOUND_BASE_URL_VARIABLE: Final = "FIDUCIARY_SERVE_BOUND_BASE_URL"
WORKERS_VARIABLE: Final = "FIDUCIARY_SERVE_WORKERS"
LEADER_FILE_NAME: Final = "housekeeping-leader.lock"
_PR_SET_PDEATHSIG: Final = 1  # linux/prctl.h


@dataclass(frozen=True)
class WorkerEnvironment:
    bound_base_url: str | None
    workers: int

    def export(self) -> dict[str, str]:
        """The variables a spawned worker reads back with `from_environment`."""
        values = {WORKERS_VARIABLE: str(self.workers)}
        if self.bound_base_url:
            values[BOUND_BASE_URL_VARIABLE] = self.bound_base_url
        return values

    @classmethod
    def from_environment(cls) -> WorkerEnvironment:
        raw = os.environ.get(WORKERS_VARIABLE, "1")
        return cls(
            bound_base_url=os.environ.get(BOUND_BASE_URL_VARIABLE) or None,
            workers=int(raw) if raw.isdigit() and int(raw) > 0 else 1,
        )


class HousekeepingLeader:
    """An exclusive, non-blocking flock on a file in the data folder, held for the worker's lifetime.

    A flock dies with its process, so when the leader worker exits or is killed, the worker uvicorn starts
    in its place (which tries at start-up) takes over; no stale lock is left behind.
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LEADER_FILE_NAME
        self._fd: int | None = None

    def acquire(self) -> bool:
        """True when this process is now the leader (or already was)."""
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the flock
            self._fd = None


def die_with_parent(sig: int = signal.SIGTERM) -> bool:
    """Ask Linux to send `sig` to this process when its parent dies (PR_SET_PDEATHSIG); False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return False
    prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong)
    prctl.restype = ctypes.c_int
    if prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        return False
    # The parent may have died while this worker was still starting, before the request above: then no
    # signal will come, and the worker would serve on, orphaned.
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:
        os.kill(os.getpid(), sig)
    return True
