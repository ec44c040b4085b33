"""Benchmark: ledger appends on SQLite and PostgreSQL.

    .venv/bin/python bench/ledger_append.py [--engine sqlite|postgresql|both] [--events 100000] [--singles 2000]
                                            [--runs 3]

Four figures per engine: `append_batch` and `append_many` in batches of 1,000 (one transaction per batch;
`append_many` also parses every payload back into its `LedgerEntry`), single appends each in their own
committed transaction (what one consent request costs), and single appends inside one transaction (the
ledger's own cost without the commit). Checkpoints are signed every 1,000 events, as by default. Each
figure is the best of `--runs` runs, wall clock and this process's CPU time (time.process_time) separately:
the machine is shared, so wall time is noisy and the CPU figure is the stable one. PostgreSQL comes from
FIDUCIARY_TEST_POSTGRES_URL; a scratch database is created and dropped.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

from _support import Engine, database, engines
from sqlalchemy.orm import Session, sessionmaker

from fiduciary.ledger.service import Ledger
from fiduciary.ledger.signing import Signer
from fiduciary.ledger.verification import verify
from fiduciary.storage import create_engine_for_url, make_session_factory, upgrade_to_head


def payload(i: int) -> dict[str, object]:
    return {
        "subject": f"per_{i:026d}",
        "purpose": "email_marketing",
        "policy_version": 3,
        "notice_hash": "sha256:" + "ab" * 32,
        "channel": "banner",
        "language": "en",
    }


def best_of(runs: int, count: int, work: Callable[[int], None]) -> tuple[float, float]:
    """(events/s wall, events/s CPU), each the best of `runs`; `work(run)` appends `count` events."""
    walls, cpus = [], []
    for run in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        work(run)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return count / min(walls), count / min(cpus)


def run(engine_name: Engine, events: int, singles: int, runs: int) -> None:
    with database(engine_name) as (url, _):
        engine = create_engine_for_url(url)
        upgrade_to_head(engine)
        sessions: sessionmaker[Session] = make_session_factory(engine)
        signer = Signer.generate()
        figures: dict[str, tuple[float, float]] = {}

        def bulk(ledger: Ledger, method: str) -> Callable[[int], None]:
            def work(run: int) -> None:
                append = getattr(ledger, method)
                with sessions() as session:
                    for start in range(run * events, (run + 1) * events, 1000):
                        append(session, [("consent.granted", payload(i)) for i in range(start, start + 1000)])
                        session.commit()

            return work

        batch_work = bulk(Ledger("consent", signer), "append_batch")
        figures["append_batch, batches of 1,000"] = best_of(runs, events, batch_work)
        figures["append_many, batches of 1,000"] = best_of(runs, events, bulk(Ledger("bulk", signer), "append_many"))

        committed = Ledger("audit", signer)

        def commit_each(run: int) -> None:
            with sessions() as session:
                for i in range(singles):
                    committed.append(session, "audit.read", payload(i))
                    session.commit()

        figures["single append, commit each"] = best_of(runs, singles, commit_each)

        single = Ledger("single", signer)

        def one_transaction(run: int) -> None:
            with sessions() as session:
                for i in range(singles):
                    single.append(session, "audit.read", payload(i))
                session.commit()

        figures["single append, one transaction"] = best_of(runs, singles, one_transaction)

        with sessions() as session:
            for stream in ("consent", "bulk", "audit", "single"):
                assert verify(session, stream, [signer.public_key]).ok
        engine.dispose()
        print(f"\n{engine_name}")
        for name, (wall, cpu) in figures.items():
            print(f"  {name:36s} {wall:>10,.0f} events/s wall  {cpu:>10,.0f} events/s CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events per bulk run (multiple of 1,000)")
    parser.add_argument("--singles", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=3, help="best of this many runs")
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    for name in engines(args.engine):
        run(name, args.events, args.singles, args.runs)
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
