"""`tune_process`: what `fiduciary serve` sets before serving (frozen start-up objects, allocator reuse)."""

from __future__ import annotations

import platform
import subprocess
import sys


def test_tune_process_freezes_start_up_objects_and_sets_the_allocator() -> None:
    # In a child process: freezing the test runner's objects would keep them alive for the whole session.
    code = (
        "import gc, sys\n"
        "from fiduciary.runtime import tune_process\n"
        "assert gc.get_freeze_count() == 0\n"
        "took = tune_process()\n"
        "assert gc.get_freeze_count() > 10_000, gc.get_freeze_count()\n"
        "print('took' if took else 'skipped')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    expected = "took" if sys.platform.startswith("linux") and "glibc" in " ".join(_libc()) else "skipped"
    assert result.stdout.strip() == expected


def _libc() -> tuple[str, str]:
    return platform.libc_ver()
