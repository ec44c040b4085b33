"""Benchmark: ledger appends on SQLite and PostgreSQL.

    .venv/bin/python bench/ledger_append.py [--engine sqlite|postgresql|both] [--events 100000] [--singles 2000]

Three figures per engine: append_many in batches of 1,000 (one transaction per batch), single appends each
in its own committed transaction (what one consent request costs), and single appends inside one
transaction (the ledger's own cost without the commit). Checkpoints are signed every 1,000 events, as by
default. PostgreSQL comes from FIDUCIARY_TEST_POSTGRES_URL; a scratch database is created and dropped.
"""

from __future__ import annotations

import argparse
import time

from ledger_verify import database

from fiduciary.ledger.service import Ledger, verify
from fiduciary.ledger.signing import Signer
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


def run(engine_name: str, events: int, singles: int) -> None:
    with database(engine_name) as url:
        engine = create_engine_for_url(url)
        upgrade_to_head(engine)
        sessions = make_session_factory(engine)
        signer = Signer.generate()

        bulk = Ledger("consent", signer)
        started = time.perf_counter()
        with sessions() as session:
            for start in range(0, events, 1000):
                bulk.append_many(session, [("consent.granted", payload(i)) for i in range(start, start + 1000)])
                session.commit()
        bulk_rate = events / (time.perf_counter() - started)

        committed = Ledger("audit", signer)
        started = time.perf_counter()
        with sessions() as session:
            for i in range(singles):
                committed.append(session, "audit.read", payload(i))
                session.commit()
        committed_rate = singles / (time.perf_counter() - started)

        single = Ledger("single", signer)
        started = time.perf_counter()
        with sessions() as session:
            for i in range(singles):
                single.append(session, "audit.read", payload(i))
            session.commit()
        single_rate = singles / (time.perf_counter() - started)

        with sessions() as session:
            for stream in ("consent", "audit", "single"):
                assert verify(session, stream, [signer.public_key]).ok
        engine.dispose()
        print(
            f"{engine_name:10s} append_many x1000: {bulk_rate:,.0f} events/s | single append, commit each: "
            f"{committed_rate:,.0f} events/s | single append, one transaction: {single_rate:,.0f} events/s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--singles", type=int, default=2_000)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    for name in ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]:
        run(name, args.events, args.singles)


if __name__ == "__main__":
    main()
