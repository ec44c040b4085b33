"""Wall time of the `fiduciary` command: `--help`, an offline policy check, and `apikey list`.

Each command runs in a fresh interpreter (as a user types it), best of `--runs`; `apikey list` runs on an
initialised data folder in a temporary directory (SQLite). Run as `.venv/bin/python bench/cli_startup.py`.
The import profile behind the figures: `.venv/bin/python -X importtime -c "import fiduciary.cli.main"`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "examples" / "policies" / "01_manufacturer_retailer.yaml"
CLI = [sys.executable, "-c", "import sys; from fiduciary.cli.main import app; sys.argv[0] = 'fiduciary'; app()"]


def best_of(args: list[str], env: dict[str, str], runs: int) -> float:
    """The shortest of `runs` wall times of one command, in seconds (the others include scheduling noise)."""
    times: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([*CLI, *args], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return min(times)


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
        ):
            print(f"{label:<70} {best_of(args, env, runs) * 1000:7.0f} ms (best of {runs})")


if __name__ == "__main__":
    main()
