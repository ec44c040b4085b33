"""Restore-replay: re-apply every journaled erasure to a database restored from a backup.

A backup from before an erasure brings back the person's wrapped data key and every other domain's rows
(consent state, GPC opt-outs, visitor links, an open account). `restore_replay` (`fiduciary restore-replay`)
destroys the keys again and re-runs every domain's eraser for each person the restored database shows
un-erased; `unapplied_erasures` counts them without changing anything (`fiduciary keys status`). The
journal itself, and why it is kept outside the database, is `fiduciary.vault.erasure`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from fiduciary.audit.service import Action, AuditEvent, AuditTrail
from fiduciary.codes import safe_slug
from fiduciary.errors import ValidationFailed
from fiduciary.people.models import Person, PersonErasure
from fiduciary.people.service import CLOSED
from fiduciary.personal_data.registry import registry_for
from fiduciary.storage import utcnow
from fiduciary.vault.erasure import ErasureJournal, JournalDamaged, JournalEntry, check_reason, tombstone
from fiduciary.vault.keys.startup import VaultKeys, check_vault_keys
from fiduciary.vault.records import (
    PERSON_KEYS,
    VAULT_ERASURES,
    PersonIdentifier,
    PersonKey,
    dialect_insert,
)

if TYPE_CHECKING:
    from fiduciary.context import RuntimeContext


@dataclass(frozen=True)
class ReplayReport:
    journal_entries: int
    people: int
    re_erased: int  # still had a live key in the restored database: destroyed now
    already_erased: int
    tombstoned: int  # no key row at all (never had data, or unknown to this backup): tombstone written
    rejournaled: int  # erasures the database knew but the journal lacked: appended to the journal
    completed: int = 0  # people whose erasure every registered domain's eraser completed again
    rows_erased: int = 0  # rows those erasers deleted or changed (account closed, consent rows, links, …)


# People whose restored rows still show them un-erased: an open account (erasure closes it and forgets
# the age facts, in the same transaction as every other domain's eraser).
_OPEN_ACCOUNTS = select(Person.id).where(
    Person.id.in_(bindparam("ids", expanding=True)),
    (Person.status != CLOSED) | Person.adult_on.is_not(None) | (Person.age_status != "unknown"),
)
_RECORDED = select(PersonErasure.person_id).where(PersonErasure.person_id.in_(bindparam("ids", expanding=True)))


def _unerased(main: Session, ids: list[str], key_destroyed: set[str]) -> set[str]:
    """Which of `ids` the database shows un-erased: the one definition `unapplied_erasures` reports and
    `restore_replay` completes. Un-erased is a data key not destroyed (live, or no key row at all), no
    `vault_erasures` row, or an open account. Read before the replay writes anything."""
    recorded = set(main.scalars(_RECORDED, {"ids": ids}))
    open_accounts = set(main.scalars(_OPEN_ACCOUNTS, {"ids": ids}))
    return {p for p in ids if p not in recorded or p in open_accounts or p not in key_destroyed}


@dataclass(frozen=True)
class JournalGap:
    """Journaled erasures the database does not show: what `restore-replay` would complete.

    `people` are pseudonymous ids (the journal holds nothing else), in journal order; `total` counts them
    all, `people` lists at most the first `limit`.
    """

    total: int
    people: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.total == 0


NO_GAP: Final = JournalGap(0, ())


def unapplied_erasures(
    journal: ErasureJournal, main: Session, key_session: Session, *, batch_size: int = 1000, limit: int = 20
) -> JournalGap:
    """People the journal says were erased whom the database shows un-erased (a restored backup).

    Un-erased means what `restore_replay` completes: a live data key or none at all (`key_session`, which
    is the key database when it is separate), no `vault_erasures` row, or an open account. The check reads
    the whole journal (verified: `JournalDamaged` if it is not) and one batch of ids per query. Why: an
    acknowledged erasure that a restore undid lets processing resume for someone who asked to be erased
    (DPDP s.8(7), s.12(3); GDPR Art 17), and nothing inside the database can show it.
    """
    total = 0
    listed: list[str] = []
    seen: set[str] = set()
    batch: list[str] = []

    def check(ids: list[str]) -> None:
        nonlocal total
        destroyed = set(
            key_session.scalars(
                select(PersonKey.person_id).where(PersonKey.person_id.in_(ids), PersonKey.wrapped_key.is_(None))
            )
        )
        unerased = _unerased(main, ids, destroyed)
        total += len(unerased)
        listed.extend([p for p in ids if p in unerased][: limit - len(listed)])

    for entry in journal.entries():
        if entry.person_id in seen:
            continue
        seen.add(entry.person_id)
        batch.append(entry.person_id)
        if len(batch) >= batch_size:
            check(batch)
            batch = []
    if batch:
        check(batch)
    return JournalGap(total, tuple(listed))


def restore_replay(runtime: RuntimeContext, *, batch_size: int = 1000, actor: str = "cli") -> ReplayReport:
    """Re-apply every journaled erasure to a (restored) database; safe to run any number of times.

    The whole journal is verified before anything changes: a damaged journal raises `JournalDamaged`.

    A normal erasure (the rights registry, `POST /v1/people/{id}/erase`) runs every domain's eraser in one
    transaction: the vault's key destruction, the consent state, GPC opt-outs and visitor links, the
    restrictions, and the closing of the account. A backup from before it brings all of that back, so
    destroying the key again is not enough (DPDP s.8(7) and s.12(3), GDPR Art 17: the personal data must
    be erased, and a restored `granted` would let processing resume). For every journaled person whose
    restored database shows the erasure incomplete (a live or missing key, no `vault_erasures` row, or an
    open account) the registry's erasers run again, in the batch's transaction; they are idempotent. Each
    such person gets a `person.erase` audit event by `actor` (request id `restore-replay`), as the erasure
    request's own event is in the audit ledger the backup predates (DPDP Rule 6(1)(e): processing is logged).
    """
    keys = check_vault_keys(runtime)
    journal = keys.journal
    report = journal.verify()
    if not report.ok:
        raise JournalDamaged(report.problem or "the erasure journal does not verify")
    totals = _Replayer(runtime, keys, actor)
    seen: set[str] = set()
    batch: dict[str, JournalEntry] = {}
    for entry in journal.entries():
        if entry.person_id in seen:
            continue
        seen.add(entry.person_id)
        batch[entry.person_id] = entry
        if len(batch) >= batch_size:
            totals.apply(batch)
            batch = {}
    if batch:
        totals.apply(batch)
    # Erasures the database knew but the journal lacked (the journal volume was lost): journal them, then
    # complete them like the others (a separately restored key database may still hold their keys).
    rejournaled: dict[str, JournalEntry] = {}
    with runtime.sessions() as main:
        for person_id, erased_at, reason in main.execute(
            select(PersonErasure.person_id, PersonErasure.erased_at, PersonErasure.reason).order_by(
                PersonErasure.erased_at
            )
        ):
            if person_id not in seen:
                with contextlib.suppress(ValidationFailed):
                    seq = journal.append(person_id, check_reason(reason), erased_at)
                    rejournaled[person_id] = JournalEntry(seq, person_id, erased_at, reason, "")
    chunk = list(rejournaled.items())
    for start in range(0, len(chunk), batch_size):
        totals.apply(dict(chunk[start : start + batch_size]))
    return ReplayReport(
        report.entries,
        len(seen) + len(rejournaled),
        totals.re_erased,
        totals.already,
        totals.tombstoned,
        len(rejournaled),
        totals.completed,
        totals.rows_erased,
    )


class _Replayer:
    """Applies batches of journal entries, one main-database transaction each, and counts what it did."""

    def __init__(self, runtime: RuntimeContext, keys: VaultKeys, actor: str) -> None:
        self.runtime = runtime
        self.keys = keys
        self.actor = actor
        self.registry = registry_for(runtime)
        self.trail = AuditTrail.for_runtime(runtime)
        self.re_erased = self.already = self.tombstoned = self.completed = self.rows_erased = 0

    def apply(self, chunk: dict[str, JournalEntry]) -> None:
        ids = list(chunk)
        now = utcnow()
        store = self.keys.key_store
        with self.runtime.sessions() as main:
            with store.use(main, write=True) as ks:
                states = {
                    person_id: bool(live)
                    for person_id, live in ks.execute(
                        select(PersonKey.person_id, PersonKey.wrapped_key.is_not(None)).where(
                            PersonKey.person_id.in_(ids)
                        )
                    )
                }
                live = [p for p in ids if states.get(p)]
                missing = [p for p in ids if p not in states]
                # Read before the key and erasure rows below are written: what the restored database lacked.
                incomplete = _unerased(main, ids, {p for p, is_live in states.items() if not is_live})
                if missing:
                    ks.execute(
                        dialect_insert(ks, PERSON_KEYS).on_conflict_do_nothing(),
                        [tombstone(p, chunk[p].erased_at) for p in missing],
                    )
                if live:
                    ks.execute(
                        update(PersonKey)
                        .where(PersonKey.person_id.in_(live), PersonKey.wrapped_key.is_not(None))
                        .values(wrapped_key=None, kek_id=None, destroyed_at=now)
                    )
            main.execute(delete(PersonIdentifier).where(PersonIdentifier.person_id.in_(ids)))
            main.execute(
                dialect_insert(main, VAULT_ERASURES).on_conflict_do_nothing(),
                [
                    {
                        "person_id": p,
                        "erased_at": chunk[p].erased_at,
                        "reason": chunk[p].reason,
                        "journal_seq": chunk[p].seq,
                        "purged_at": None,
                    }
                    for p in ids
                ],
            )
            self._complete(main, [chunk[p] for p in ids if p in incomplete])
            main.commit()
        self.keys.cache.evict(ids)
        self.re_erased += len(live)
        self.tombstoned += len(missing)
        self.already += len(ids) - len(live) - len(missing)

    def _complete(self, main: Session, entries: list[JournalEntry]) -> None:
        """Run every domain's eraser for each entry's person and audit it, in the caller's transaction."""
        events: list[AuditEvent] = []
        for entry in entries:
            # The key is destroyed and the erasure recorded already, so the vault's own eraser finds the
            # person erased and journals nothing twice; the other domains erase exactly as normally.
            summary = self.registry.erase_person(main, entry.person_id, reason=entry.reason)
            rows = sum(r.deleted + r.changed for r in summary.reports)
            self.rows_erased += rows
            reason = safe_slug(entry.reason)  # journal reasons may hold ':' or '-', audit reasons may not
            events.append(
                AuditEvent(
                    actor=self.actor,
                    action=Action.PERSON_ERASE,
                    person_id=entry.person_id,
                    reasons=[reason] if reason else [],
                    request_id="restore-replay",
                    count=rows,
                )
            )
        self.trail.record_many(main, events)
        self.completed += len(entries)
