"""The metrics folder of `fiduciary serve --workers N` (fiduciary.cli.supervisor): fresh, private, named for the
workers, removed on exit; a killed supervisor's folder is removed by the next start, a running one's is not.
The workers sharing it: tests/web/test_serve_workers.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fiduciary.cli.supervisor import METRICS_DIR_PREFIX, worker_metrics_folder
from fiduciary.metrics import MULTIPROCESS_VARIABLE


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_folder_is_fresh_private_named_for_the_workers_and_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MULTIPROCESS_VARIABLE, str(tmp_path / "someone-elses"))
    orphan = tmp_path / f"{METRICS_DIR_PREFIX}{_dead_pid()}-abc"
    orphan.mkdir()
    (orphan / "counter_1.db").write_bytes(b"")
    running = tmp_path / f"{METRICS_DIR_PREFIX}{os.getppid()}-def"  # a supervisor that is still running
    running.mkdir()
    unrelated = tmp_path / "keep-me"
    unrelated.mkdir()

    with worker_metrics_folder(tmp_path) as folder:
        assert os.environ[MULTIPROCESS_VARIABLE] == str(folder)
        assert folder.name.startswith(f"{METRICS_DIR_PREFIX}{os.getpid()}-")
        assert list(folder.iterdir()) == [] and folder.stat().st_mode & 0o077 == 0
        assert not orphan.exists() and running.exists() and unrelated.exists()
    assert not folder.exists()
    assert os.environ[MULTIPROCESS_VARIABLE] == str(tmp_path / "someone-elses")
