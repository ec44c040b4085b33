"""Benchmark: one person's consent ledger events in a ledger of N other people's events, through the subject
index (`ledger_subjects`, what `consent.rights.consent_ledger_events` reads) against the scan it replaced.

    .venv/bin/python bench/ledger_subject_lookup.py [--events 100000 1000000] [--engine sqlite|postgresql|both]
                                                     [--mine 20] [--runs 5]

The ledger is loaded through `Ledger.append_texts` with each event's subject (as the consent writers do),
in batches of 10,000: N events of N distinct other subjects, with the person's `--mine` events spread evenly
among them. The old path is the LIKE scan over every consent payload that `consent_ledger_events` ran before
migration 0013, copied here inline. Both must return the same events; figures are best of `--runs`, wall
and CPU (this process's; on PostgreSQL the server's work is not in it) in milliseconds.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from _support import Engine, database, engines
from sqlalchemy.orm import Session

from fiduciary.consent.rights import CONSENT_STREAM, LEDGER_BATCH, consent_ledger_events
from fiduciary.ledger.models import LedgerEvent
from fiduciary.ledger.service import Ledger
from fiduciary.storage import create_engine_for_url, make_session_factory, upgrade_to_head

LOAD_BATCH = 10_000
ME = "per_" + "q" * 26


def subject(i: int) -> str:
    return "per_" + base64.b32encode(i.to_bytes(17, "big")).decode().lower().rstrip("=")[-26:]


def payload(subject_id: str) -> str:
    return (
        '{"channel":"banner","lang":"en","notice":"sha256:' + "ab" * 32 + '","purpose":"analytics",'
        f'"subject":"{subject_id}","version":1}}'
    )


def load(session: Session, events: int, mine: int) -> None:
    ledger = Ledger(CONSENT_STREAM)
    every = max(1, events // mine)
    texts: list[str] = []
    subjects: list[list[str]] = []
    for i in range(events + mine):
        who = ME if i % (every + 1) == every else subject(i)
        texts.append(payload(who))
        subjects.append([who])
        if len(texts) == LOAD_BATCH:
            ledger.append_texts(session, ["consent.granted"] * len(texts), texts, subjects=subjects)
            session.commit()
            texts, subjects = [], []
    if texts:
        ledger.append_texts(session, ["consent.granted"] * len(texts), texts, subjects=subjects)
        session.commit()


def like_scan(session: Session, subject_ids: Sequence[str]) -> list[dict[str, Any]]:
    """`consent_ledger_events` as it was before the index (a LIKE scan of the consent stream's payloads)."""
    wanted = set(subject_ids)
    condition = sa.or_(*(LedgerEvent.payload.contains(f'"{s}"', autoescape=True) for s in sorted(wanted)))
    out: list[dict[str, Any]] = []
    after = 0
    while True:
        rows = session.execute(
            sa.select(
                LedgerEvent.position,
                LedgerEvent.event_type,
                LedgerEvent.recorded_at,
                LedgerEvent.payload,
                LedgerEvent.hash,
            )
            .where(LedgerEvent.stream == CONSENT_STREAM, LedgerEvent.position > after, condition)
            .order_by(LedgerEvent.position)
            .limit(LEDGER_BATCH)
        ).all()
        for position, event_type, recorded_at, payload_text, digest in rows:
            found = json.loads(payload_text)
            if wanted & {found.get(k) for k in ("subject", "person", "visitor", "guardian")}:
                out.append(
                    {
                        "stream": CONSENT_STREAM,
                        "position": position,
                        "event_type": event_type,
                        "recorded_at": recorded_at.isoformat(),
                        "payload": found,
                        "hash": digest,
                    }
                )
        if len(rows) < LEDGER_BATCH:
            return out
        after = rows[-1].position


def best(runs: int, call: Callable[[], list[dict[str, Any]]]) -> tuple[float, float, list[dict[str, Any]]]:
    wall = cpu = float("inf")
    result: list[dict[str, Any]] = []
    for _ in range(runs):
        w, c = time.perf_counter(), time.process_time()
        result = call()
        wall, cpu = min(wall, time.perf_counter() - w), min(cpu, time.process_time() - c)
    return wall * 1000, cpu * 1000, result


def run(engine_name: Engine, events: int, mine: int, runs: int) -> None:
    with database(engine_name) as (url, _):
        engine = create_engine_for_url(url)
        upgrade_to_head(engine)
        sessions = make_session_factory(engine)
        started = time.perf_counter()
        with sessions() as session:
            load(session, events, mine)
        loaded = time.perf_counter() - started
        if engine_name == "postgresql":
            with engine.begin() as conn:
                conn.execute(sa.text("ANALYZE ledger_events; ANALYZE ledger_subjects"))
        with sessions() as session:
            new_wall, new_cpu, new = best(runs, lambda: consent_ledger_events(session, [ME]))
            old_wall, old_cpu, old = best(runs, lambda: like_scan(session, [ME]))
        assert new == old and len(new) == mine, (len(new), len(old))
        print(
            f"{engine_name:10} {events:>9,} others + {mine} mine (loaded in {loaded:.0f} s): "
            f"index {new_wall:8.2f} ms wall {new_cpu:8.2f} ms CPU | LIKE scan {old_wall:9.1f} ms wall "
            f"{old_cpu:9.1f} ms CPU | {old_wall / new_wall:,.0f}x"
        )
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, nargs="+", default=[100_000])
    parser.add_argument("--engine", default="sqlite")
    parser.add_argument("--mine", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    for engine_name in engines(args.engine):
        for events in args.events:
            run(engine_name, events, args.mine, args.runs)
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")


if __name__ == "__main__":
    main()
