"""The exporter/eraser registry: every domain that stores personal data says how to export and erase it.

An access request (DPDP s.11, GDPR Art 15 and 20) runs every exporter; an erasure (DPDP s.8(7) and s.12(3),
GDPR Art 17) runs every eraser, the vault's crypto-shredding among them. A registration names the tables it
covers, and `uncovered_tables` walks the schema (the SQLAlchemy metadata and the live database) for tables
that hold a person reference but belong to no registration, so a new table can never be forgotten by the
rights machinery (DESIGN.md, "Every domain that stores personal data registers an exporter and an eraser").

A person reference is a foreign key to `people.id`, or a column named in `PERSON_COLUMN_NAMES`. Tables that
by design hold only pseudonymous ids inside opaque, append-only evidence are listed, with the reason, in
`PSEUDONYMOUS_ONLY`.

Erasers run in the caller's transaction in ascending `order` (the vault's key destruction first, the person
row last); the caller commits, so a failing eraser rolls back every other eraser's row changes. An eraser
must be idempotent: erasing an erased person changes nothing more.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from fiduciary.context import RuntimeContext

PERSON_TABLE: Final = "people"
PERSON_COLUMN_NAMES: Final = frozenset({"person_id", "subject_id", "pii_principal_id", "guardian_id"})

# Tables with no person column of their own whose rows nevertheless mention pseudonymous person ids inside
# an opaque payload. They are append-only evidence and are neither exported row by row nor erased:
PSEUDONYMOUS_ONLY: Final[Mapping[str, str]] = {
    "ledger_events": (
        "append-only, hash-chained consent and audit events; payloads carry pseudonymous ids (per_…, vis_…) and "
        "policy references, never a value (enforced by the ledger's payload guard). Erasing a person crypto-shreds "
        "the vault, which leaves these events meaningless about them. Kept as proof of consent (DPDP s.6(10), "
        "GDPR Art 7(1)) and as the processing logs DPDP Rule 6(1)(e) and 8(3) require for at least a year. The "
        "consent and audit exporters export the person's own events from it."
    ),
    "ledger_checkpoints": "signatures over ledger hashes; no person id at all",
    "ledger_heads": "one row per ledger stream (position and hash); no person id at all",
}

Exporter = Callable[[Session, str], Mapping[str, Any]]


@dataclass(frozen=True)
class EraseReport:
    """What one domain's eraser did: rows deleted or changed, rows deliberately kept and the law for keeping."""

    domain: str
    deleted: int = 0
    changed: int = 0
    kept: int = 0
    kept_basis: str | None = None
    detail: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"domain": self.domain, "deleted": self.deleted, "changed": self.changed}
        if self.kept:
            out["kept"] = self.kept
            out["kept_basis"] = self.kept_basis
        if self.detail:
            out["detail"] = dict(self.detail)
        return out


Eraser = Callable[[Session, str], EraseReport]


@dataclass(frozen=True)
class Registration:
    name: str
    exporter: Exporter
    eraser: Eraser
    tables: tuple[str, ...]
    order: int = 100


@dataclass(frozen=True)
class ErasureSummary:
    person_id: str
    reason: str
    erased_at: datetime
    reports: tuple[EraseReport, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "reason": self.reason,
            "erased_at": self.erased_at.isoformat(),
            "domains": [r.to_dict() for r in self.reports],
        }


_reason: contextvars.ContextVar[str] = contextvars.ContextVar("fiduciary_erasure_reason", default="erasure_request")


def erasure_reason() -> str:
    """The reason code of the erasure in progress (`erasure_request`, `retention.inactivity`, …).

    Erasers have the brief `(session, person_id)` signature; one that records a reason (the vault's
    erasure journal) reads it here.
    """
    return _reason.get()


@contextmanager
def _erasing(reason: str) -> Iterator[None]:
    token = _reason.set(reason)
    try:
        yield
    finally:
        _reason.reset(token)


class RightsRegistry:
    """Registrations by name; `export_person` and `erase_person` run them all."""

    def __init__(self) -> None:
        self._registrations: dict[str, Registration] = {}
        self._lock = threading.Lock()

    def register(
        self,
        name: str,
        exporter: Exporter,
        eraser: Eraser,
        tables: Collection[str],
        *,
        order: int = 100,
    ) -> Registration:
        """Register a domain; `tables` are the tables whose person references it exports and erases."""
        if not name or not isinstance(name, str):
            raise ValueError("a registration needs a name")
        if isinstance(tables, str) or not tables:
            raise ValueError(f"registration '{name}' must list the tables it covers")
        if not callable(exporter) or not callable(eraser):
            raise TypeError(f"registration '{name}' needs a callable exporter and eraser")
        registration = Registration(name, exporter, eraser, tuple(tables), order)
        with self._lock:
            if name in self._registrations:
                raise ValueError(f"'{name}' is already registered")
            for other in self._registrations.values():
                shared = set(other.tables) & set(registration.tables)
                if shared:
                    raise ValueError(f"tables {sorted(shared)} are already covered by '{other.name}'")
            self._registrations[name] = registration
        return registration

    def registrations(self) -> list[Registration]:
        """In eraser order (then by name, so the order is stable)."""
        return sorted(self._registrations.values(), key=lambda r: (r.order, r.name))

    def covered_tables(self) -> dict[str, str]:
        """table -> the registration that covers it."""
        return {table: r.name for r in self._registrations.values() for table in r.tables}

    def export_person(self, session: Session, person_id: str) -> dict[str, Any]:
        """Everything every domain holds about the person, by domain name (JSON-compatible)."""
        return {
            "person_id": person_id,
            "generated_at": datetime.now(UTC).isoformat(),
            "domains": {r.name: dict(r.exporter(session, person_id)) for r in self.registrations()},
        }

    def erase_person(self, session: Session, person_id: str, *, reason: str = "erasure_request") -> ErasureSummary:
        """Run every eraser in order inside the caller's transaction; the caller commits."""
        with _erasing(reason):
            reports = tuple(r.eraser(session, person_id) for r in self.registrations())
        return ErasureSummary(person_id, reason, datetime.now(UTC), reports)


# ------------------------------------------------------------------------------------- process defaults

_extra_registrations: list[tuple[str, Exporter, Eraser, tuple[str, ...], int]] = []
_extra_lock = threading.Lock()
RUNTIME_EXTRA: Final = "rights.registry"


def register(
    name: str,
    exporter: Exporter,
    eraser: Eraser,
    tables: Collection[str],
    *,
    order: int = 100,
) -> None:
    """Register a domain for every runtime of this process (call at import time of the domain's module).

    The built-in domains are registered by `fiduciary.rights.domains`; a new domain calls this.
    """
    if isinstance(tables, str) or not tables:
        raise ValueError(f"registration '{name}' must list the tables it covers")
    with _extra_lock:
        if any(entry[0] == name for entry in _extra_registrations):
            raise ValueError(f"'{name}' is already registered")
        _extra_registrations.append((name, exporter, eraser, tuple(tables), order))


def unregister(name: str) -> None:
    """Undo `register` (for tests and plugins that are unloaded)."""
    with _extra_lock:
        _extra_registrations[:] = [entry for entry in _extra_registrations if entry[0] != name]


def registry_for(runtime: RuntimeContext) -> RightsRegistry:
    """The runtime's registry: the built-in domains plus every `register`ed one, built once per runtime."""
    existing = runtime.extras.get(RUNTIME_EXTRA)
    if isinstance(existing, RightsRegistry):
        return existing
    from fiduciary.rights.domains import install_builtin

    registry = RightsRegistry()
    install_builtin(registry, runtime)
    with _extra_lock:
        extras = list(_extra_registrations)
    for name, exporter, eraser, tables, order in extras:
        registry.register(name, exporter, eraser, tables, order=order)
    runtime.extras[RUNTIME_EXTRA] = registry
    return registry


# ------------------------------------------------------------------------------------- schema coverage


def _reasons_for_columns(table: str, columns: Collection[str], fk_targets: Collection[tuple[str, str]]) -> list[str]:
    reasons = [f"column {name}" for name in sorted(columns) if name in PERSON_COLUMN_NAMES]
    reasons += [
        f"foreign key {column} -> {PERSON_TABLE}.id"
        for column, target in sorted(fk_targets)
        if target == PERSON_TABLE and f"column {column}" not in reasons
    ]
    if table == PERSON_TABLE:
        reasons.insert(0, "the person table itself")
    return reasons


def person_reference_tables(metadata: sa.MetaData) -> dict[str, list[str]]:
    """Tables of `metadata` that reference a person, each with why (column names, foreign keys)."""
    found: dict[str, list[str]] = {}
    for table in metadata.tables.values():
        fks = [
            (element.parent.name, element.column.table.name)
            for constraint in table.foreign_key_constraints
            for element in constraint.elements
        ]
        reasons = _reasons_for_columns(table.name, [c.name for c in table.columns], fks)
        if reasons:
            found[table.name] = reasons
    return found


def person_reference_tables_in_database(bind: sa.Engine | sa.Connection) -> dict[str, list[str]]:
    """The same walk over the live database schema (what migrations actually created)."""
    inspector = sa.inspect(bind)
    found: dict[str, list[str]] = {}
    for table in inspector.get_table_names():
        if table == "alembic_version":
            continue
        columns = [c["name"] for c in inspector.get_columns(table)]
        fks = [
            (column, fk["referred_table"])
            for fk in inspector.get_foreign_keys(table)
            for column in fk["constrained_columns"]
        ]
        reasons = _reasons_for_columns(table, columns, fks)
        if reasons:
            found[table] = reasons
    return found


def uncovered_tables(
    referencing: Mapping[str, list[str]],
    covered: Collection[str],
    allowlist: Mapping[str, str] = PSEUDONYMOUS_ONLY,
) -> dict[str, list[str]]:
    """Tables that reference a person but are neither covered by a registration nor allowlisted."""
    return {
        table: reasons
        for table, reasons in sorted(referencing.items())
        if table not in covered and table not in allowlist
    }


def describe_uncovered(uncovered: Mapping[str, list[str]]) -> str:
    return "; ".join(
        f"table {table} ({', '.join(reasons)}) has no registered exporter and eraser"
        for table, reasons in uncovered.items()
    )
