"""Benchmark: verify a 200,000-event ledger stream on SQLite and on PostgreSQL (target >= 100,000 events/s).

    .venv/bin/python bench/ledger_verify.py [--events 200000] [--engine sqlite|postgresql|both]

PostgreSQL comes from FIDUCIARY_TEST_POSTGRES_URL (default: local server, trust auth); a scratch database is
created and dropped. Events are built with append_many in batches of 1,000 with a checkpoint per batch, so
verification also checks 200 signatures.
"""

from __future__ import annotations

import argparse
import time

import sqlalchemy as sa
from _support import Engine, database, engines

from fiduciary.ledger.service import Ledger
from fiduciary.ledger.signing import Signer
from fiduciary.ledger.verification import verify
from fiduciary.storage import create_engine_for_url, make_session_factory, upgrade_to_head


def run(engine_name: Engine, events: int, batch: int) -> None:
    with database(engine_name) as (url, _):
        engine = create_engine_for_url(url)
        upgrade_to_head(engine)
        sessions = make_session_factory(engine)
        signer = Signer.generate()
        ledger = Ledger("consent", signer, checkpoint_every=batch)
        started = time.perf_counter()
        with sessions() as session:
            for start in range(0, events, batch):
                ledger.append_many(
                    session,
                    [
                        (
                            "consent.granted",
                            {
                                "subject": f"per_{i:026d}",
                                "purpose": "email_marketing",
                                "policy_version": 3,
                                "notice_hash": "sha256:" + "ab" * 32,
                                "channel": "banner",
                                "language": "en",
                            },
                        )
                        for i in range(start, min(start + batch, events))
                    ],
                )
                session.commit()
        built = time.perf_counter() - started
        if engine_name == "postgresql":
            with engine.connect() as conn:
                conn.execute(sa.text("ANALYZE ledger_events"))
                conn.commit()
        timings = []
        for _ in range(3):
            with sessions() as session:
                started, cpu = time.perf_counter(), time.process_time()
                report = verify(session, "consent", [signer.public_key])
                timings.append((time.perf_counter() - started, time.process_time() - cpu))
            assert report.ok and report.events_checked == events, report
        best, best_cpu = min(timings)
        print(
            f"{engine_name:10s} built {events:,} events in {built:.1f}s; verify best of 3: {best:.2f}s wall = "
            f"{events / best:,.0f} events/s ({best_cpu:.2f}s CPU in this process; "
            f"{report.checkpoints_checked} checkpoints)"
        )
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    for name in engines(args.engine):
        run(name, args.events, args.batch)


if __name__ == "__main__":
    main()
