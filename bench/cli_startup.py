"""Wall time of the `fiduciary` command: `--help`, an offline policy check, and the common data commands.

Each command runs in a fresh interpreter (as a user types it), best of `--runs`; the data commands (`apikey
list`, `status`, `keys status`, `ledger verify`, `audit verify`) run on an initialised, otherwise empty data
folder in a temporary directory (SQLite). Run as `.venv/bin/python bench/cli_startup.py`.
The import profile behind the figures: `.venv/bin/python -X importtime -c "import fiduciary.cli.main"`.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "examples" / "policies" / "01_manufacturer_retailer.yaml"
CLI = [sys.executable, "-c", "import sys; from fiduciary.cli.main import app; sys.argv[0] = 'fiduciary'; app()"]


def best_of(args: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    """The shortest of `runs` wall times of one command and the shortest CPU time (user + system) of its
    process, in seconds. On a shared machine the wall time includes waiting for a core; the CPU time
    does not, so it is the steadier figure to compare before and after."""
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([*CLI, *args], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return min(walls), min(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "FIDUCIARY_DATA_DIR": str(Path(tmp) / "data")}
        env.pop("FIDUCIARY_DATABASE_URL", None)
        init = subprocess.run([*CLI, "init"], env=env, capture_output=True, text=True)
        if init.returncode != 0:  # before `fiduciary init` existed, any data command created the folder
            subprocess.run([*CLI, "apikey", "list"], env=env, check=True, capture_output=True)
        for label, args in (
            ("fiduciary --help", ["--help"]),
            (f"fiduciary policy check examples/policies/{POLICY.name}", ["policy", "check", str(POLICY)]),
            ("fiduciary apikey list", ["apikey", "list"]),
            ("fiduciary status", ["status"]),
            ("fiduciary keys status", ["keys", "status"]),
            ("fiduciary ledger verify", ["ledger", "verify"]),
            ("fiduciary audit verify", ["audit", "verify"]),
        ):
            wall, cpu = best_of(args, env, runs)
            print(f"{label:<70} wall {wall * 1000:6.0f} ms  cpu {cpu * 1000:6.0f} ms  (best of {runs})")


if __name__ == "__main__":
    main()
