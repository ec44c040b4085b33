"""Benchmark: CPU time of one audited decision and its commit, in process (no HTTP), on SQLite.

    .venv/bin/python bench/audited_decision.py [--rounds 5] [--per-round 500] [--sqlite-synchronous NORMAL]

What `POST /v1/decisions` does below the web layer, per call: a session, `decisions.flows.decide_audited`
(the decision's reads and its audit event collected), and the commit (the audit event appended to the
ledger and indexed at `before_commit`, then `COMMIT`). Prints the process CPU time per call (min and median
of the rounds): the figure bench/serving.py's server CPU/request column can be compared with, to tell the
domain's share of a request from the web layer's (bench/RESULTS.md "serving, second pass").
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from fiduciary.config import Settings
from fiduciary.decisions.flows import decide_audited
from fiduciary.people.service import create_person
from fiduciary.runtime import Runtime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=500)
    parser.add_argument("--sqlite-synchronous", choices=["NORMAL", "FULL"], default="NORMAL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        settings = Settings(
            database_url=f"sqlite:///{work}/bench.db",
            data_dir=Path(work) / "data",
            sqlite_synchronous=args.sqlite_synchronous,
        )
        runtime = Runtime.start(settings)
        try:
            with runtime.sessions() as session:
                person = create_person(session, policy=runtime.policy(), is_child=False).id
                session.commit()

            def one() -> None:
                with runtime.sessions() as session:
                    decide_audited(runtime, session, caller="key_bench", subject_id=person, purpose="marketing.email")
                    session.commit()

            for _ in range(200):  # warm the caches (policy, statements, pool)
                one()
            rounds = []
            for _ in range(args.rounds):
                started = time.process_time()
                for _ in range(args.per_round):
                    one()
                rounds.append((time.process_time() - started) / args.per_round * 1000.0)
        finally:
            runtime.close()
    rounds.sort()
    print(
        f"audited decision + commit, SQLite {args.sqlite_synchronous}: CPU {rounds[0]:.3f} ms min, "
        f"{rounds[len(rounds) // 2]:.3f} ms median per call ({args.rounds} x {args.per_round})"
    )


if __name__ == "__main__":
    main()
