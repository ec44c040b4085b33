"""Benchmark: building one person's access package when they hold 100,000 vault records and the consent and
audit ledgers hold millions of other people's events (issue 13: under 2 s, peak memory under 200 MB).

    .venv/bin/python bench/access_package.py [--engine sqlite|postgresql|both | --database-url URL]
                                             [--records 100000] [--other-ledger-events 10000000] [--runs 3]

Seeding: the person's records go through the vault's batch path (`VaultService.append_records`, encrypted
under their own key, 5,000 a call); a handful of their own consent events through `ConsentService` (so their
receipts are real) and audit events through `AuditTrail`. Then `--other-ledger-events` events of other people,
half on the consent stream (with their `ledger_subjects` rows) and half on the audit stream (with their
`audit_events` index rows), are bulk-inserted by SQL after the person's own (COPY on PostgreSQL, executemany on
SQLite) and the ledger heads moved past them, so the build's own audit event appends normally. Other people's
rows are not hash-chained: nothing in the build reads them, the indexes only have to skip them.

Each measured build runs in a fresh subprocess (`--measure`): the figure is the wall time of
`build_package` plus the commit, and the process's peak RSS (`ru_maxrss`) beside its RSS before the build
(interpreter, imports and runtime). p50 over `--runs`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from _support import Engine, database, engines

from fiduciary.audit.service import AuditTrail
from fiduciary.config import Settings
from fiduciary.consent.service import ConsentChannel, ConsentInput, ConsentService
from fiduciary.people.service import create_person
from fiduciary.rights.packages.builder import build_package
from fiduciary.runtime import Runtime
from fiduciary.vault.service import VaultService

RECORD_BATCH = 5_000
LOAD_BATCH = 50_000
STAMP = "2026-01-01 00:00:00.000000"
HASH = "ab" * 32


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def seed_person(runtime: Runtime, records: int) -> str:
    vault = VaultService(runtime)
    with runtime.sessions() as session:
        person = create_person(session, policy=runtime.policy(), date_of_birth=date(1990, 5, 17)).id
        vault.create_person_record(
            session,
            person,
            {"identity.name": "Asha Verma", "contact.email": "asha@example.in"},
            {},
            purpose="account",
            source="provided",
        )
        session.commit()
        for start in range(0, records, RECORD_BATCH):
            values = [
                f"Support message {i}: my parcel is late" for i in range(start, min(records, start + RECORD_BATCH))
            ]
            vault.append_records(
                session, person, "support.messages", values, purpose="customer_support", source="provided"
            )
            session.commit()
        consent = ConsentService.for_runtime(runtime)
        for purpose, action in (("marketing.email", "grant"), ("analytics", "grant"), ("marketing.email", "withdraw")):
            consent.record(session, ConsentInput(person, purpose, action, ConsentChannel.API))  # type: ignore[arg-type]
        trail = AuditTrail.for_runtime(runtime)
        for _ in range(5):
            trail.record(session, actor="benchkey0001", action="field.read", person_id=person, purpose="account")
        session.commit()
    return person


def _other(i: int) -> str:
    return "per_" + format(i, "026d").translate(str.maketrans("0123456789", "abcdefghij"))


def _rows(stream: str, first: int, count: int) -> Any:
    for n in range(count):
        who = _other(first + n)
        payload = (
            f'{{"purpose":"analytics","subject":"{who}","version":1}}'
            if stream == "consent"
            else (f'{{"actor":"benchkey0001","outcome":"allowed","person":"{who}"}}')
        )
        yield first + n, who, payload


def seed_others(runtime: Runtime, total: int) -> None:
    """`total` other people's events, half per stream, after each stream's head; the heads moved past them."""
    for stream, count in (("consent", total // 2), ("audit", total - total // 2)):
        with runtime.engine.begin() as conn:
            head = conn.execute(sa.text("SELECT position FROM ledger_heads WHERE stream = :s"), {"s": stream}).scalar()
        first = int(head or 0) + 1
        for start in range(0, count, LOAD_BATCH):
            rows = list(_rows(stream, first + start, min(LOAD_BATCH, count - start)))
            with runtime.engine.begin() as conn:
                _insert(conn, stream, rows)
        with runtime.engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE ledger_heads SET position = :p, hash = :h WHERE stream = :s"),
                {"p": first + count - 1, "h": HASH, "s": stream},
            )


def _insert(conn: sa.Connection, stream: str, rows: list[tuple[int, str, str]]) -> None:
    kind = "consent.granted" if stream == "consent" else "field.read"
    events = [(stream, p, kind, STAMP, payload, HASH, HASH) for p, _, payload in rows]
    extra = (
        [(stream, who, p) for p, who, _ in rows]
        if stream == "consent"
        else [(p, STAMP, "benchkey0001", "field.read", who, None, "allowed") for p, who, _ in rows]
    )
    extra_sql = (
        "ledger_subjects (stream, subject_id, position)"
        if stream == "consent"
        else "audit_events (ledger_position, recorded_at, actor, action, person_id, purpose, outcome)"
    )
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(
            "COPY ledger_events (stream, position, event_type, recorded_at, payload, prev_hash, hash) FROM STDIN"
        ) as copy:
            for row in events:
                copy.write_row(row)
        with cursor.copy(f"COPY {extra_sql} FROM STDIN") as copy:
            for row in extra:
                copy.write_row(row)
        return
    conn.exec_driver_sql(
        "INSERT INTO ledger_events (stream, position, event_type, recorded_at, payload, prev_hash, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        events,
    )
    marks = ", ".join("?" * len(extra[0]))
    conn.exec_driver_sql(f"INSERT INTO {extra_sql} VALUES ({marks})", extra)


def measure(database_url: str, data_dir: Path, person: str) -> dict[str, float]:
    """One build in this process: wall seconds, RSS before, peak RSS (MB)."""
    runtime = Runtime.start(Settings(database_url=database_url, data_dir=data_dir), migrate=False)
    try:
        before = _rss_mb()
        with runtime.sessions() as session:
            started = time.perf_counter()
            built = build_package(runtime, session, person_id=person, actor="bench")
            session.commit()
            seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    finally:
        runtime.close()
    return {
        "seconds": seconds,
        "rss_before_mb": before,
        "peak_rss_mb": peak,
        "zip_mb": built.size_bytes / 2**20,
        "rows": built.record_count,
    }


def run(url: str, label: str, work: Path, records: int, others: int, runs: int) -> None:
    data_dir = work / "data"
    runtime = Runtime.start(Settings(database_url=url, data_dir=data_dir))
    try:
        started = time.perf_counter()
        person = seed_person(runtime, records)
        seeded = time.perf_counter() - started
        seed_others(runtime, others)
        loaded = time.perf_counter() - started - seeded
        if runtime.engine.dialect.name == "postgresql":
            with runtime.engine.begin() as conn:
                conn.execute(sa.text("ANALYZE"))
    finally:
        runtime.close()
    results = []
    for _ in range(runs):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--measure",
                "--database-url",
                url,
                "--data-dir",
                str(data_dir),
                "--person",
                person,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    p50 = statistics.median(r["seconds"] for r in results)
    peak = max(r["peak_rss_mb"] for r in results)
    before = statistics.median(r["rss_before_mb"] for r in results)
    print(
        f"{label:10} {records:>7,} records, {others:>10,} other ledger events (person seeded in {seeded:.0f} s, "
        f"others in {loaded:.0f} s): build p50 {p50:.2f} s over {runs} | peak RSS {peak:.0f} MB "
        f"(before the build {before:.0f} MB) | ZIP {results[0]['zip_mb']:.1f} MB, {results[0]['rows']:,} rows"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", default="sqlite", help="sqlite, postgresql or both (scratch databases)")
    parser.add_argument("--database-url", help="an existing, empty database instead of --engine's scratch one")
    parser.add_argument("--records", type=int, default=100_000, help="the person's vault records")
    parser.add_argument("--other-ledger-events", type=int, default=10_000_000, help="other people's ledger events")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--person", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.database_url, args.data_dir, args.person)))
        return
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    if args.database_url:
        with tempfile.TemporaryDirectory() as work:
            run(args.database_url, "given", Path(work), args.records, args.other_ledger_events, args.runs)
    else:
        names: tuple[Engine, ...] = engines(args.engine)
        for name in names:
            with database(name) as (url, work):
                run(url, name, work, args.records, args.other_ledger_events, args.runs)
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")


if __name__ == "__main__":
    main()
