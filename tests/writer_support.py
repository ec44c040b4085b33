"""A writer process for the multi-process tests (imported or run, not collected: no test_ prefix).

`python -m writer_support consents|ledger DATABASE_URL DATA_DIR COUNT TAG` opens its own runtime on the shared
database (as one `fiduciary serve` worker would), writes COUNT times through the real domain functions, one
transaction each, and prints one JSON line per acknowledged (committed) write: the test then checks that
every acknowledged write is in the database and that the chains verify.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fiduciary.config import Settings
from fiduciary.consent.service import ConsentChannel, ConsentInput, ConsentService
from fiduciary.ledger.service import Ledger
from fiduciary.people.service import new_visitor_id
from fiduciary.runtime import Runtime
from fiduciary.storage.retry import write_transaction

ROOT = Path(__file__).resolve().parent.parent
PURPOSES = ("marketing.email", "analytics")


def _consents(runtime: Runtime, count: int, tag: str) -> None:
    service = ConsentService.for_runtime(runtime)
    for i in range(count):
        item = ConsentInput(
            subject_id=new_visitor_id(),
            purpose=PURPOSES[i % len(PURPOSES)],
            action="grant",
            channel=ConsentChannel.API,
        )
        result = write_transaction(runtime.sessions, lambda s, item=item: service.record(s, item))
        print(json.dumps({"subject": item.subject_id, "position": result.ledger_position}), flush=True)


def _ledger(runtime: Runtime, count: int, tag: str) -> None:
    ledger = Ledger.from_settings("multiproc", runtime.settings)
    for i in range(count):
        position = write_transaction(
            runtime.sessions, lambda s, i=i: ledger.append(s, "test.appended", {"writer": tag, "n": i}).position
        )
        print(json.dumps({"writer": tag, "n": i, "position": position}), flush=True)


def main(argv: list[str]) -> None:
    mode, database_url, data_dir, count, tag = argv
    runtime = Runtime.start(Settings(database_url=database_url, data_dir=Path(data_dir)), migrate=False)
    try:
        (_consents if mode == "consents" else _ledger)(runtime, int(count), tag)
    finally:
        runtime.close()


def start_writers(
    mode: str, database_url: str, data_dir: Path, writers: int, count: int
) -> list[subprocess.Popen[str]]:
    """Start `writers` writer processes at once (they contend from their first write on)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIDUCIARY_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")])
    command = [sys.executable, "-m", "writer_support", mode, database_url, str(data_dir), str(count)]
    return [
        subprocess.Popen([*command, f"w{n}"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for n in range(writers)
    ]


def acknowledged(procs: list[subprocess.Popen[str]]) -> list[dict[str, object]]:
    """Wait for every writer; each must exit 0. Returns every acknowledged write they printed."""
    lines: list[dict[str, object]] = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"a writer failed ({proc.returncode}): {err[-3000:]}"
        lines.extend(json.loads(line) for line in out.splitlines() if line.strip())
    return lines


if __name__ == "__main__":
    main(sys.argv[1:])
