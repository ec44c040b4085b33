"""Benchmark: consent writes per second through the full path, single and batched, SQLite and PostgreSQL.

    .venv/bin/python bench/consent_write.py [--engine sqlite|postgresql|both] [--events 20000] [--single 1000]

The full path is `ConsentService.record_many` / `record` followed by a commit: validation against the
policy in force (purpose, ground, subject ids, people looked up for person ids), the ledger append
(canonical JSON, hash chain, checkpoint signatures every 1,000 events), the `consent_state` upsert in the
same transaction, and a signed receipt per event (one Ed25519 signature over a Merkle root per batch, one
signature per event for single writes).

The workload: half the subjects are existing adult people, half fresh banner visitors; purposes cycle over
the demo policy's four consent purposes; actions are 70% grant, 20% withdraw, 10% deny; every event
carries evidence (a user agent and a truncated address).

For comparison, the same state rows are inserted plainly (Core executemany into a scratch table with the
consent_state columns, batches of 1,000, a commit each): no ledger, no validation, no receipt. The
ratio plain/full says what the evidence costs. "ledger only" is `Ledger.append_many` with the same
payloads, to show which part of the path is the ledger's.

Figures are best of three; CPU is this process's own time (the machine is shared, so wall time is noisy).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from fiduciary.config import Settings
from fiduciary.consent.evidence import Evidence
from fiduciary.consent.service import ConsentChannel, ConsentInput, ConsentService
from fiduciary.runtime import Runtime
from fiduciary.storage import create_engine_for_url
from fiduciary.vault.people import create_person, new_visitor_id

PG_ADMIN_URL = os.environ.get("FIDUCIARY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
BATCH = 1000
PURPOSES = ("marketing.email", "marketing.sms", "analytics", "personalised_ads")
ACTIONS = ("grant",) * 7 + ("withdraw",) * 2 + ("deny",)
EVIDENCE = Evidence("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36", "203.0.113.0/24")


@contextmanager
def database(engine_name: str) -> Iterator[tuple[str, Path]]:
    with tempfile.TemporaryDirectory() as tmp:
        if engine_name == "sqlite":
            yield f"sqlite:///{Path(tmp) / 'bench.db'}", Path(tmp)
            return
        admin = create_engine_for_url(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        name = f"fiduciary_bench_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False), Path(tmp)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def workload(people: list[str], n: int, offset: int) -> list[ConsentInput]:
    items: list[ConsentInput] = []
    for i in range(offset, offset + n):
        subject = people[i % len(people)] if i % 2 else new_visitor_id()
        channel = ConsentChannel.CHECKOUT if i % 2 else ConsentChannel.BANNER
        items.append(
            ConsentInput(
                subject_id=subject,
                purpose=PURPOSES[i % len(PURPOSES)],
                action=ACTIONS[i % len(ACTIONS)],  # type: ignore[arg-type]
                channel=channel,
                evidence=EVIDENCE,
            )
        )
    return items


def timed(fn: Callable[[], None]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def best(runs: list[tuple[float, float]], count: int) -> dict[str, float]:
    wall = min(r[0] for r in runs)
    cpu = min(r[1] for r in runs)
    return {"per_s": count / wall, "cpu_per_s": count / cpu, "wall_s": wall}


def run_engine(engine_name: str, events: int, single: int) -> dict[str, dict[str, float]]:
    with database(engine_name) as (url, tmp):
        runtime = Runtime.start(Settings(database_url=url, data_dir=tmp / "data"))
        try:
            return measure(runtime, events, single)
        finally:
            runtime.close()


def measure(runtime: Runtime, events: int, single: int) -> dict[str, dict[str, float]]:
    service = ConsentService.for_runtime(runtime)
    with runtime.sessions() as session:
        people = [create_person(session, policy=runtime.policy(), is_child=False).id for _ in range(5000)]
        session.commit()
    out: dict[str, dict[str, float]] = {}
    offset = 0

    # Batched: record_many of 1,000 + commit.
    runs = []
    for _ in range(3):
        batches = [workload(people, BATCH, offset + k * BATCH) for k in range(events // BATCH)]
        offset += events

        def batched(batches: list[list[ConsentInput]] = batches) -> None:
            with runtime.sessions() as session:
                for batch in batches:
                    service.record_many(session, batch)
                    session.commit()

        runs.append(timed(batched))
    out["full path, batches of 1,000"] = best(runs, events)

    # Single: record + commit, one event per transaction.
    runs = []
    for _ in range(3):
        items = workload(people, single, offset)
        offset += single

        def singles(items: list[ConsentInput] = items) -> None:
            with runtime.sessions() as session:
                for item in items:
                    service.record(session, item)
                    session.commit()

        runs.append(timed(singles))
    out["full path, single (commit each)"] = best(runs, single)

    # Ledger alone: the same payloads through append_many, no validation, state or receipts.
    policy = runtime.policy()
    runs = []
    for _ in range(3):
        payloads = [
            [
                (
                    "consent.granted",
                    {
                        "subject": i.subject_id,
                        "purpose": i.purpose,
                        "version": policy.version,
                        "notice": policy.content_hash,
                        "lang": "en",
                        "channel": str(i.channel),
                        "ua": "0" * 64,
                        "ip_prefix": "203.0.113.0/24",
                    },
                )
                for i in workload(people, BATCH, offset + k * BATCH)
            ]
            for k in range(events // BATCH)
        ]
        offset += events

        def ledger_only(payloads: list[list[tuple[str, dict[str, Any]]]] = payloads) -> None:
            with runtime.sessions() as session:
                for batch in payloads:
                    service.ledger.append_many(session, batch)
                    session.commit()

        runs.append(timed(ledger_only))
    out["ledger only (append_many, batches of 1,000)"] = best(runs, events)

    # Plain insert of the same rows, no ledger.
    metadata = sa.MetaData()
    plain = sa.Table(
        "bench_plain_consent",
        metadata,
        sa.Column("subject_id", sa.String(40), primary_key=True),
        sa.Column("purpose", sa.String(80), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("policy_version", sa.Integer, nullable=False),
        sa.Column("notice_hash", sa.String(71), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("guardian_id", sa.String(40)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ledger_position", sa.BigInteger, nullable=False),
    )
    metadata.create_all(runtime.engine)
    runs = []
    status = {"grant": "granted", "withdraw": "withdrawn", "deny": "denied"}
    for run in range(3):
        now = datetime.now(UTC)
        rows = [
            [
                {
                    "subject_id": f"vis_{run}_{k}_{j}",
                    "purpose": i.purpose,
                    "status": status[i.action],
                    "policy_version": policy.version,
                    "notice_hash": policy.content_hash,
                    "channel": str(i.channel),
                    "language": "en",
                    "guardian_id": None,
                    "updated_at": now,
                    "ledger_position": j,
                }
                for j, i in enumerate(workload(people, BATCH, k * BATCH))
            ]
            for k in range(events // BATCH)
        ]

        def plain_insert(rows: list[list[dict[str, Any]]] = rows) -> None:
            with runtime.engine.connect() as conn:
                for batch in rows:
                    conn.execute(plain.insert(), batch)
                    conn.commit()

        runs.append(timed(plain_insert))
    out["plain insert of the same rows (no ledger)"] = best(runs, events)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--events", type=int, default=20_000, help="events per batched run (multiple of 1,000)")
    parser.add_argument("--single", type=int, default=1_000, help="events per single-write run")
    args = parser.parse_args()
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    for engine_name in engines:
        results = run_engine(engine_name, args.events, args.single)
        full = results["full path, batches of 1,000"]["per_s"]
        plain = results["plain insert of the same rows (no ledger)"]["per_s"]
        print(f"\n{engine_name}")
        for name, figures in results.items():
            print(
                f"  {name:48s} {figures['per_s']:>10,.0f}/s wall  {figures['cpu_per_s']:>10,.0f}/s CPU"
                f"  ({figures['wall_s']:.2f} s)"
            )
        print(f"  plain / full (batched): {plain / full:.1f}x")
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
