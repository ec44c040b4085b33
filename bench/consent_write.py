"""Benchmark: consent writes per second through the full path, single and batched, SQLite and PostgreSQL.

    .venv/bin/python bench/consent_write.py [--engine sqlite|postgresql|both] [--events 20000] [--single 1000]
                                            [--runs 3] [--history 0] [--sqlite-pragma NAME=VALUE ...] [--http]

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
ratio plain/full says what the evidence costs. "ledger only" is `Ledger.append_batch` (what the consent
path calls) and `Ledger.append_many` (which also parses every payload back) with the same payloads, to
show which part of the path is the ledger's.

`--http` also sends the batched workload as `POST /v1/consents/batch` bodies of 1,000 items to uvicorn (one
worker, a separate process) and times the request body parse on its own: `parse_json_body` (which refuses
duplicate keys) against plain `json.loads` on the same bodies, so the hook's share of a batch is measured.

Figures are best of `--runs` (default 3), wall and CPU separately; CPU is this process's own time
(time.process_time; on PostgreSQL the server's work is not in it). The machine is shared, so wall time is
noisy and the CPU figure is the stable one. Each batched run starts from a fresh database holding 5,000
people and `--history` earlier consent events (recorded untimed): the cost per event grows with the
consent_state table, so runs in one growing database would not be comparable.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from _support import Engine, database, engines, server

from fiduciary.auth.service import create_api_key
from fiduciary.config import Settings
from fiduciary.consent.evidence import Evidence
from fiduciary.consent.service import ConsentChannel, ConsentInput, ConsentService
from fiduciary.people.service import create_person, new_visitor_id
from fiduciary.runtime import Runtime, tune_process
from fiduciary.web.contract import parse_json_body

BATCH = 1000
TUNE = True  # --no-tune measures without fiduciary.runtime.tune_process
PURPOSES = ("marketing.email", "marketing.sms", "analytics", "personalised_ads")
ACTIONS = ("grant",) * 7 + ("withdraw",) * 2 + ("deny",)
EVIDENCE = Evidence("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36", "203.0.113.0/24")


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


def start_runtime(url: str, data_dir: Path, pragmas: list[str]) -> Runtime:
    """The runtime over `url`; on SQLite, `pragmas` ("name=value") are set on every connection it opens,
    after the defaults of fiduciary.storage (to measure a configuration, not to change the product's)."""
    runtime = Runtime.start(Settings(database_url=url, data_dir=data_dir))
    if TUNE:
        tune_process()  # as `fiduciary serve` does before serving (see fiduciary.runtime.tune_process)
    if pragmas and runtime.engine.dialect.name == "sqlite":

        def apply(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            for pragma in pragmas:
                cursor.execute(f"PRAGMA {pragma}")
            cursor.close()

        sa.event.listen(runtime.engine, "connect", apply)
        runtime.engine.dispose()  # connections opened during start-up did not get them
    return runtime


def run_engine(
    engine_name: Engine, events: int, single: int, repeats: int, history: int, pragmas: list[str]
) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    # Batched: record_many of 1,000 + commit. Each run gets a fresh database (with `history` earlier events
    # recorded untimed), because the cost grows with the consent_state table (see RESULTS.md): runs made
    # one after another in one database would each measure a bigger table, and "best of" would mean "first".
    runs = []
    for _ in range(repeats):
        with database(engine_name) as (url, tmp):
            runtime = start_runtime(url, tmp / "data", pragmas)
            try:
                service = ConsentService.for_runtime(runtime)
                people = make_people(runtime)
                with runtime.sessions() as session:
                    for start in range(0, history, BATCH):
                        service.record_many(session, workload(people, BATCH, start))
                        session.commit()
                batches = [workload(people, BATCH, history + k * BATCH) for k in range(events // BATCH)]

                def batched(
                    batches: list[list[ConsentInput]] = batches,
                    runtime: Runtime = runtime,
                    service: ConsentService = service,
                ) -> None:
                    with runtime.sessions() as session:
                        for batch in batches:
                            service.record_many(session, batch)
                            session.commit()

                runs.append(timed(batched))
            finally:
                runtime.close()
    label = "full path, batches of 1,000" + (f" (after {history:,} events)" if history else "")
    out[label] = best(runs, events)
    with database(engine_name) as (url, tmp):
        runtime = start_runtime(url, tmp / "data", pragmas)
        try:
            out.update(measure(runtime, events, single, repeats))
        finally:
            runtime.close()
    return out


def make_people(runtime: Runtime) -> list[str]:
    with runtime.sessions() as session:
        people = [create_person(session, policy=runtime.policy(), is_child=False).id for _ in range(5000)]
        session.commit()
    return people


def measure(runtime: Runtime, events: int, single: int, repeats: int) -> dict[str, dict[str, float]]:
    """Everything but the batched full path, in one database."""
    service = ConsentService.for_runtime(runtime)
    people = make_people(runtime)
    out: dict[str, dict[str, float]] = {}
    offset = 0

    # Single: record + commit, one event per transaction.
    runs = []
    for _ in range(repeats):
        items = workload(people, single, offset)
        offset += single

        def singles(items: list[ConsentInput] = items) -> None:
            with runtime.sessions() as session:
                for item in items:
                    service.record(session, item)
                    session.commit()

        runs.append(timed(singles))
    out["full path, single (commit each)"] = best(runs, single)

    # Ledger alone: the same payloads through append_batch / append_many, no validation, state or receipts.
    policy = runtime.policy()
    runs = []
    entry_runs: list[tuple[float, float]] = []
    for _ in range(repeats):
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
                    service.ledger.append_batch(session, batch)
                    session.commit()

        def ledger_entries(payloads: list[list[tuple[str, dict[str, Any]]]] = payloads) -> None:
            with runtime.sessions() as session:
                for batch in payloads:
                    service.ledger.append_many(session, batch)
                    session.commit()

        runs.append(timed(ledger_only))
        entry_runs.append(timed(ledger_entries))
    out["ledger only (append_batch, batches of 1,000)"] = best(runs, events)
    out["ledger only (append_many, batches of 1,000)"] = best(entry_runs, events)

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
    for run in range(repeats):
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

        # Through the driver's executemany, as the full path's own inserts go: SQLAlchemy's per-row parameter
        # processing would make "plain" slower than the database is.
        columns = [c.name for c in plain.columns]
        sqlite = runtime.engine.dialect.name == "sqlite"
        placeholders = ", ".join(("?" if sqlite else "%s") for _ in columns)
        insert_sql = f"INSERT INTO bench_plain_consent ({', '.join(columns)}) VALUES ({placeholders})"
        stored_now = now.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else now  # what the full path stores
        tuples = [
            [tuple(stored_now if c == "updated_at" else row[c] for c in columns) for row in batch] for batch in rows
        ]

        def plain_insert(tuples: list[list[tuple[Any, ...]]] = tuples, sql: str = insert_sql) -> None:
            with runtime.engine.connect() as conn:
                for batch in tuples:
                    conn.exec_driver_sql(sql, batch)
                    conn.commit()

        runs.append(timed(plain_insert))
    out["plain insert of the same rows (no ledger)"] = best(runs, events)
    return out


def batch_body(items: list[ConsentInput]) -> bytes:
    """A `POST /v1/consents/batch` body: one item per event, as a backend forwarding banner choices sends."""
    body = {
        "items": [
            {
                "subject_id": i.subject_id,
                "channel": str(i.channel),
                "actions": [{"purpose": i.purpose, "action": i.action}],
                "evidence": {"user_agent": EVIDENCE.user_agent, "ip_address": "203.0.113.7"},
            }
            for i in items
        ]
    }
    return json.dumps(body).encode()


def run_http(engine_name: Engine, events: int, repeats: int) -> dict[str, dict[str, float]]:
    """Batches of 1,000 over HTTP, and the body parse alone with and without the duplicate-key hook."""
    out: dict[str, dict[str, float]] = {}
    runs = []
    bodies: list[bytes] = []
    for _ in range(repeats):
        with database(engine_name) as (url, tmp), server(url, tmp / "data") as base:
            runtime = Runtime.start(Settings(database_url=url, data_dir=tmp / "data"), migrate=False)
            try:
                people = make_people(runtime)
                with runtime.sessions() as session:
                    key = create_api_key(session, "bench", ["consent:write"])[1]
                    session.commit()
            finally:
                runtime.close()
            bodies = [batch_body(workload(people, BATCH, k * BATCH)) for k in range(events // BATCH)]
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            with httpx.Client(base_url=base, headers=headers, timeout=120) as client:

                def send(client: httpx.Client = client, bodies: list[bytes] = bodies) -> None:
                    for body in bodies:
                        answer = client.post("/v1/consents/batch", content=body)
                        if answer.status_code != 201:
                            raise RuntimeError(f"batch refused: {answer.status_code} {answer.text[:300]}")

                runs.append(timed(send))
    out["HTTP POST /v1/consents/batch, 1,000 items"] = best(runs, events)
    parsers: list[tuple[str, Callable[[bytes], Any]]] = [
        ("body parse, json.loads", json.loads),
        ("body parse, parse_json_body", parse_json_body),
    ]
    for name, parse in parsers:

        def parse_all(parse: Callable[[bytes], Any] = parse) -> None:
            for body in bodies:
                parse(body)

        out[name] = best([timed(parse_all) for _ in range(max(repeats, 5))], events)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--events", type=int, default=20_000, help="events per batched run (multiple of 1,000)")
    parser.add_argument("--single", type=int, default=1_000, help="events per single-write run")
    parser.add_argument("--runs", type=int, default=3, help="best of this many runs")
    parser.add_argument(
        "--history", type=int, default=0, help="events recorded (untimed) before each batched run (multiple of 1,000)"
    )
    parser.add_argument(
        "--sqlite-pragma",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra SQLite PRAGMA on every connection, e.g. wal_autocheckpoint=20000 (repeatable)",
    )
    parser.add_argument("--http", action="store_true", help="also send the batches over HTTP (uvicorn)")
    parser.add_argument(
        "--no-tune", action="store_true", help="skip tune_process() (the process settings `fiduciary serve` applies)"
    )
    args = parser.parse_args()
    global TUNE
    TUNE = not args.no_tune
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    for engine_name in engines(args.engine):
        results = run_engine(engine_name, args.events, args.single, args.runs, args.history, args.sqlite_pragma)
        if args.http:
            results.update(run_http(engine_name, args.events, args.runs))
        full = next(figures for name, figures in results.items() if name.startswith("full path, batches"))
        plain = results["plain insert of the same rows (no ledger)"]
        print(f"\n{engine_name}")
        for name, figures in results.items():
            print(
                f"  {name:48s} {figures['per_s']:>10,.0f}/s wall  {figures['cpu_per_s']:>10,.0f}/s CPU"
                f"  ({figures['wall_s']:.2f} s)"
            )
        print(
            f"  plain / full (batched): {plain['per_s'] / full['per_s']:.1f}x wall, "
            f"{plain['cpu_per_s'] / full['cpu_per_s']:.1f}x CPU"
        )
        if args.http:
            http = results["HTTP POST /v1/consents/batch, 1,000 items"]["wall_s"]
            hook = results["body parse, parse_json_body"]["wall_s"] - results["body parse, json.loads"]["wall_s"]
            print(f"  duplicate-key hook: {hook / http:+.2%} of the HTTP batch time ({hook * 1000:+.1f} ms in all)")
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
