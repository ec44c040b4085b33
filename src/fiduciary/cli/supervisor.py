"""The supervisor of `fiduciary serve --workers N`: uvicorn's, plus the folder its workers' metrics share.

prometheus_client keeps one registry per process, so with several workers a scrape answered by one of them
would show that worker's figures only. In its multiprocess mode every worker writes its figures to files in
the folder named by `PROMETHEUS_MULTIPROC_DIR`, and a scrape adds up every file there
(fiduciary/metrics.py; docs/decisions/0026-telemetry.md). The supervisor makes that folder before the first
worker starts (a fresh, empty, private one per `serve`: figures of an earlier run must never be added in),
tells the workers through their environment, and removes it when it stops.

Imported only by `fiduciary serve` when it starts several workers (it imports uvicorn).
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from prometheus_client.multiprocess import mark_process_dead
from uvicorn.config import Config
from uvicorn.supervisors import Multiprocess

from fiduciary.metrics import MULTIPROCESS_VARIABLE

METRICS_DIR_PREFIX: Final = "fiduciary-metrics-"


@contextmanager
def worker_metrics_folder(parent: Path | None = None) -> Iterator[Path]:
    """A new empty folder (mode 0700, under TMPDIR) named in `PROMETHEUS_MULTIPROC_DIR` for the workers this
    process spawns, whatever the variable held before (a folder shared with another program, or left by an
    earlier run, would add its figures in); removed, and the variable restored, on exit.

    A supervisor killed with SIGKILL cannot remove its folder: each start removes those of supervisors that
    are gone (the folder's name carries its supervisor's process id).
    """
    root = Path(parent or tempfile.gettempdir())
    remove_orphaned_folders(root)
    folder = Path(tempfile.mkdtemp(prefix=f"{METRICS_DIR_PREFIX}{os.getpid()}-", dir=root))
    previous = os.environ.get(MULTIPROCESS_VARIABLE)
    os.environ[MULTIPROCESS_VARIABLE] = str(folder)
    try:
        yield folder
    finally:
        if previous is None:
            os.environ.pop(MULTIPROCESS_VARIABLE, None)
        else:
            os.environ[MULTIPROCESS_VARIABLE] = previous
        shutil.rmtree(folder, ignore_errors=True)


def remove_orphaned_folders(root: Path) -> list[Path]:
    """Remove this user's metrics folders under `root` whose supervisor process no longer exists."""
    removed = []
    for folder in root.glob(f"{METRICS_DIR_PREFIX}*-*"):
        pid = folder.name.removeprefix(METRICS_DIR_PREFIX).partition("-")[0]
        if not pid.isdigit() or not folder.is_dir() or folder.stat().st_uid != os.getuid() or _alive(int(pid)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


class MetricsSupervisor(Multiprocess):
    """uvicorn's supervisor, telling prometheus_client of every worker that is gone (died and replaced, or
    retired by SIGHUP / SIGTTOU): `mark_process_dead` drops the worker's live-gauge files. Its counters and
    histograms stay, so nothing a dead worker counted is lost from the totals."""

    def __init__(self, config: Config, sockets: list[socket.socket], metrics_folder: Path) -> None:
        super().__init__(config, sockets)
        self.metrics_folder = metrics_folder

    def _pids(self) -> set[int]:
        return {p.pid for p in self.processes if p.pid is not None}

    def _forget_gone(self, before: set[int]) -> None:
        for pid in before - self._pids():
            mark_process_dead(pid, str(self.metrics_folder))  # type: ignore[no-untyped-call]  # untyped upstream

    def keep_subprocess_alive(self) -> None:
        before = self._pids()
        super().keep_subprocess_alive()
        self._forget_gone(before)

    def handle_signals(self) -> None:
        before = self._pids()
        super().handle_signals()
        self._forget_gone(before)
