"""The consent state projection: written in the same transaction as the ledger append, rebuilt from it.

Upserts are set-wise (`INSERT … ON CONFLICT DO UPDATE` on both engines, one executemany per batch) and
guarded by the ledger position, so a row only ever moves forward in ledger order: "newer wins" is the one
rule for direct events, for rows copied from a linked visitor and for a replay of the whole ledger.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from fiduciary.consent.models import ConsentState, GpcOptOut, VisitorLink
from fiduciary.ledger.models import LedgerEvent
from fiduciary.people.models import PersonErasure
from fiduciary.storage.sqlite_driver import sqlite_run, sqlite_time

STREAM = "consent"
STATUS_BY_EVENT = {"consent.granted": "granted", "consent.withdrawn": "withdrawn", "consent.denied": "denied"}
EVENT_BY_ACTION = {"grant": "consent.granted", "withdraw": "consent.withdrawn", "deny": "consent.denied"}
LINKED = "consent.linked"
GPC_SIGNAL = "gpc.signal"

STATE_COLUMNS = (
    "subject_id",
    "purpose",
    "status",
    "policy_version",
    "notice_hash",
    "channel",
    "language",
    "guardian_id",
    "updated_at",
    "ledger_position",
)
_UPDATED = STATE_COLUMNS[2:]

# The payload keys that name a pseudonymous person or visitor: a consent event concerns each of them, and the
# ledger indexes it under each (`ledger_subjects`, read by a person's access request). Migration 0013
# backfills the index with the same keys.
SUBJECT_KEYS = ("subject", "person", "visitor", "guardian")


def payload_subjects(payload: Mapping[str, Any]) -> list[str]:
    """The ids a consent event's payload names, in `SUBJECT_KEYS` order (duplicates are dropped by the ledger)."""
    return [value for key in SUBJECT_KEYS if type(value := payload.get(key)) is str]


def _insert(session: Session, table: Table) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def state_row(
    subject: str, payload: Mapping[str, Any], status: str, recorded_at: datetime, position: int
) -> dict[str, Any]:
    """The `consent_state` row a consent event's payload produces (the payload keys are the ledger's)."""
    return {
        "subject_id": subject,
        "purpose": payload["purpose"],
        "status": status,
        "policy_version": payload["version"],
        "notice_hash": payload["notice"],
        "channel": payload["channel"],
        "language": payload["lang"],
        "guardian_id": payload.get("guardian"),
        "updated_at": recorded_at,
        "ledger_position": position,
    }


_statements: dict[tuple[str, str], Any] = {}


def _upsert_statement(session: Session) -> Any:
    """Built once per dialect: constructing an upsert costs about a millisecond in SQLAlchemy."""
    dialect = session.get_bind().dialect.name
    stmt = _statements.get(("upsert", dialect))
    if stmt is None:
        table = ConsentState.__table__
        assert isinstance(table, Table)
        stmt = _insert(session, table)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.subject_id, table.c.purpose],
            set_={name: stmt.excluded[name] for name in _UPDATED},
            where=table.c.ledger_position < stmt.excluded.ledger_position,
        )
        _statements[("upsert", dialect)] = stmt
    return stmt


_UPSERT_SQL = (
    "INSERT INTO consent_state (subject_id, purpose, status, policy_version, notice_hash, channel, language, "
    "guardian_id, updated_at, ledger_position) {source} ON CONFLICT (subject_id, purpose) DO UPDATE SET "
    "status = excluded.status, policy_version = excluded.policy_version, notice_hash = excluded.notice_hash, "
    "channel = excluded.channel, language = excluded.language, guardian_id = excluded.guardian_id, "
    "updated_at = excluded.updated_at, ledger_position = excluded.ledger_position "
    "WHERE consent_state.ledger_position < excluded.ledger_position"
)
_SQLITE_UPSERT = _UPSERT_SQL.format(source="VALUES (" + ", ".join("?" * len(STATE_COLUMNS)) + ")")
_POSTGRESQL_UPSERT = _UPSERT_SQL.format(
    source="SELECT e->>0, e->>1, e->>2, (e->>3)::integer, e->>4, e->>5, e->>6, e->>7, (e->>8)::timestamptz, "
    "(e->>9)::bigint FROM json_array_elements(%s::json) AS e"
)
_UTC = UTC


def _sqlite_time(moment: datetime) -> str:
    """The text SQLAlchemy's SQLite DATETIME stores for `UTCDateTime` (so reads are identical)."""
    return sqlite_time(moment.astimezone(_UTC))


def _iso_time(moment: datetime) -> str:
    """An unambiguous timestamptz literal (UTC, microseconds, explicit offset)."""
    return moment.astimezone(_UTC).isoformat(timespec="microseconds")


def upsert_states(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write rows (dicts keyed by `STATE_COLUMNS`), last one per (subject, purpose) wins, never moving a
    row back in ledger order."""
    upsert_state_rows(session, [tuple(row[c] for c in STATE_COLUMNS) for row in rows])


StateTuple = tuple[str, str, str, int, str, str, str, str | None, datetime, int]  # in STATE_COLUMNS order


def upsert_state_rows(session: Session, rows: Sequence[StateTuple]) -> None:
    """`upsert_states` for tuples in `STATE_COLUMNS` order (what the consent write path builds).

    On SQLite and PostgreSQL the rows go straight to the driver's executemany: SQLAlchemy's per-row
    parameter processing cost more than the insert itself (12 µs against 5 µs a row, measured).
    """
    if not rows:
        return
    # One statement may not touch a row twice (PostgreSQL ON CONFLICT rule): keep the last per key.
    latest = {(row[0], row[1]): row for row in rows}
    dialect = session.get_bind().dialect.name
    if dialect not in ("sqlite", "postgresql"):
        session.execute(
            _upsert_statement(session), [dict(zip(STATE_COLUMNS, row, strict=True)) for row in latest.values()]
        )
        return
    convert = _sqlite_time if dialect == "sqlite" else _iso_time
    times: dict[datetime, str] = {}
    params = []
    for row in latest.values():
        moment = row[8]
        stored = times.get(moment)
        if stored is None:
            stored = times[moment] = convert(moment)
        params.append((*row[:8], stored, row[9]))
    if dialect == "sqlite":
        sqlite_run(session.connection(), _SQLITE_UPSERT, params, many=True)
    else:
        # One statement with the rows as one JSON parameter: psycopg's executemany cost 14 µs of client CPU
        # a row (parameter adaptation), this under 2 µs; the server does the same upsert work.
        session.connection().exec_driver_sql(_POSTGRESQL_UPSERT, (json.dumps(params, separators=(",", ":")),))


def insert_gpc_opt_outs(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    stmt = _statements.get(("gpc", dialect))
    if stmt is None:
        table = GpcOptOut.__table__
        assert isinstance(table, Table)
        stmt = _insert(session, table).on_conflict_do_nothing(index_elements=[table.c.subject_id, table.c.purpose])
        _statements[("gpc", dialect)] = stmt
    session.execute(stmt, list(rows))


# ----------------------------------------------------------------------------------------------- rebuild


@dataclass
class Replay:
    """The tables the consent ledger implies, built by applying its events in order.

    Erasures are applied too (`erase`), at their place in time among the events: an erasure is not a
    consent event, so the ledger does not hold it, but `vault_erasures` does, and the rights registry's
    consent and visitor-link erasers (fiduciary.consent.rights) deleted rows when it happened.
    """

    states: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    links: dict[str, dict[str, Any]] = field(default_factory=dict)
    gpc: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    events: int = 0
    erasures: int = 0
    erased: set[str] = field(default_factory=set)  # people whose erasure has been applied
    _purposes: set[str] = field(default_factory=set, repr=False)  # every purpose seen: finds a subject's rows
    _visitors_of: dict[str, list[str]] = field(default_factory=dict, repr=False)  # person -> linked visitors

    def apply(self, position: int, event_type: str, recorded_at: datetime, payload: Mapping[str, Any]) -> None:
        self.events += 1
        erased = self.erased
        status = STATUS_BY_EVENT.get(event_type)
        if status is not None:
            subject = payload["subject"]
            if subject in erased:
                return
            row = state_row(subject, payload, status, recorded_at, position)
            self._put(row)
            person = payload.get("person")
            if person and person not in erased:
                self._put({**row, "subject_id": person})
        elif event_type == LINKED:
            visitor, person = payload["visitor"], payload["person"]
            if person in erased:
                return
            self.links[visitor] = {"visitor_id": visitor, "person_id": person, "linked_at": recorded_at}
            self._visitors_of.setdefault(person, []).append(visitor)
            for purpose in payload.get("copied", ()):
                source = self.states.get((visitor, purpose))
                if source is not None:
                    self._put({**source, "subject_id": person})
        elif event_type == GPC_SIGNAL:
            subject = payload["subject"]
            if subject in erased:
                return
            for purpose in payload.get("purposes", ()):
                self._purposes.add(purpose)
                self.gpc.setdefault(
                    (subject, purpose), {"subject_id": subject, "purpose": purpose, "ledger_position": position}
                )

    def erase(self, person: str) -> None:
        """Apply an erasure here: what `erase_consent` and `erase_visitor_links` delete (DPDP s.8(7), s.12(3)).

        The person's and their linked visitors' state rows and GPC opt-outs go, and so do the links; the
        events stay in the ledger as proof (DPDP s.6(10)). From here on events naming the person are
        ignored: a closed account takes no consent, so on the write path only a request racing the
        erasure could write one, and an erased person's projection must not serve a grant. A formerly
        linked visitor starts afresh: their later events (a banner still holding the cookie) count.
        """
        self.erasures += 1
        self.erased.add(person)
        subjects = [person, *self._visitors_of.pop(person, ())]
        for subject in subjects:
            for purpose in self._purposes:
                self.states.pop((subject, purpose), None)
                self.gpc.pop((subject, purpose), None)
        for visitor in subjects[1:]:
            link = self.links.get(visitor)
            if link is not None and link["person_id"] == person:
                del self.links[visitor]

    def _put(self, row: dict[str, Any]) -> None:
        key = (row["subject_id"], row["purpose"])
        current = self.states.get(key)
        if current is None:
            self._purposes.add(key[1])
            self.states[key] = row
        elif current["ledger_position"] < row["ledger_position"]:
            self.states[key] = row


def ledger_events(session: Session, batch: int = 5000) -> Iterator[tuple[int, str, datetime, dict[str, Any]]]:
    """Every consent-stream event in position order, read in pages so memory stays flat."""
    after = 0
    while True:
        rows = session.execute(
            select(LedgerEvent.position, LedgerEvent.event_type, LedgerEvent.recorded_at, LedgerEvent.payload)
            .where(LedgerEvent.stream == STREAM, LedgerEvent.position > after)
            .order_by(LedgerEvent.position)
            .limit(batch)
        ).all()
        if not rows:
            return
        for position, event_type, recorded_at, payload in rows:
            yield position, event_type, recorded_at, json.loads(payload)
        after = rows[-1][0]


def erasures(session: Session) -> list[tuple[datetime, str]]:
    """(erased_at, person id) of every recorded erasure, oldest first (`PersonErasure`: one row a person)."""
    return [
        (erased_at, person_id)
        for person_id, erased_at in session.execute(
            select(PersonErasure.person_id, PersonErasure.erased_at).order_by(
                PersonErasure.erased_at, PersonErasure.person_id
            )
        )
    ]


def replay(session: Session) -> Replay:
    """Apply every consent event in ledger order, and every erasure before the first event recorded after it.

    The ledger's `recorded_at` and `vault_erasures.erased_at` are both taken from the clock of the
    process that wrote them; an event recorded at the erasure's instant counts as before it (the erasure
    takes its time first, then deletes).
    """
    result = Replay()
    pending = erasures(session)
    next_erasure = 0
    for position, event_type, recorded_at, payload in ledger_events(session):
        while next_erasure < len(pending) and pending[next_erasure][0] < recorded_at:
            result.erase(pending[next_erasure][1])
            next_erasure += 1
        result.apply(position, event_type, recorded_at, payload)
    for _erased_at, person in pending[next_erasure:]:
        result.erase(person)
    return result


def _rows(session: Session, model: Any, columns: Iterable[str]) -> list[tuple[Any, ...]]:
    cols = [getattr(model, c) for c in columns]
    return sorted(tuple(r) for r in session.execute(select(*cols)).all())


_LINK_COLUMNS = ("visitor_id", "person_id", "linked_at")
_GPC_COLUMNS = ("subject_id", "purpose", "ledger_position")


@dataclass(frozen=True)
class RebuildReport:
    events: int
    state_rows: int
    link_rows: int
    gpc_rows: int
    identical: bool
    missing: int  # rows the ledger implies that the table lacked
    extra: int  # rows the table had that the ledger does not support
    changed: int  # rows present in both with different values
    applied: bool
    erasures: int = 0  # erasures (vault_erasures) applied among the events


def _compare(old: list[tuple[Any, ...]], new: list[tuple[Any, ...]], key_len: int) -> tuple[int, int, int]:
    old_by_key = {r[:key_len]: r for r in old}
    new_by_key = {r[:key_len]: r for r in new}
    missing = sum(1 for k in new_by_key if k not in old_by_key)
    extra = sum(1 for k in old_by_key if k not in new_by_key)
    changed = sum(1 for k, r in new_by_key.items() if k in old_by_key and old_by_key[k] != r)
    return missing, extra, changed


def rebuild_state(session: Session, *, apply: bool = True) -> RebuildReport:
    """Recompute consent_state, visitor_links and gpc_opt_outs from the ledger alone and compare.

    "Alone" but for erasures: `vault_erasures` says who was erased and when, and the replay deletes at that
    point what the erasure deleted (`Replay.erase`), so the rows erasure removed are not brought back.
    With `apply`, the tables are replaced by the recomputed rows in the caller's transaction, so a failure
    leaves the old tables in place.
    """
    replayed = replay(session)
    new_states = sorted(tuple(r[c] for c in STATE_COLUMNS) for r in replayed.states.values())
    new_links = sorted(tuple(r[c] for c in _LINK_COLUMNS) for r in replayed.links.values())
    new_gpc = sorted(tuple(r[c] for c in _GPC_COLUMNS) for r in replayed.gpc.values())
    old_states = _rows(session, ConsentState, STATE_COLUMNS)
    old_links = _rows(session, VisitorLink, _LINK_COLUMNS)
    old_gpc = _rows(session, GpcOptOut, _GPC_COLUMNS)
    diffs = [
        _compare(old_states, new_states, 2),
        _compare(old_links, new_links, 1),
        _compare(old_gpc, new_gpc, 2),
    ]
    missing, extra, changed = (sum(d[i] for d in diffs) for i in range(3))
    identical = not (missing or extra or changed)
    if apply and not identical:
        session.execute(delete(ConsentState))
        session.execute(delete(GpcOptOut))
        session.execute(delete(VisitorLink))
        session.flush()
        if replayed.links:
            session.execute(insert(VisitorLink), list(replayed.links.values()))
        if replayed.states:
            rows = list(replayed.states.values())
            for start in range(0, len(rows), 10_000):
                session.execute(insert(ConsentState), rows[start : start + 10_000])
        if replayed.gpc:
            session.execute(insert(GpcOptOut), list(replayed.gpc.values()))
        session.flush()
    return RebuildReport(
        events=replayed.events,
        state_rows=len(new_states),
        link_rows=len(new_links),
        gpc_rows=len(new_gpc),
        identical=identical,
        missing=missing,
        extra=extra,
        changed=changed,
        applied=apply and not identical,
        erasures=replayed.erasures,
    )
