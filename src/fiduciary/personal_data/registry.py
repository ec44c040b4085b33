"""The exporter/eraser registry: every domain that stores personal data says how to export and erase it.

A base package below every domain (it imports none), so that a domain can register itself in its own
`<domain>/rights.py` while the `rights` flows, which also record audit events, sit above all of them:
kept inside `rights`, the audit domain (which registers its events for export) and the rights flows
(which record audit events) would import each other.

An access request (DPDP s.11, GDPR Art 15 and 20) runs every exporter; an erasure (DPDP s.8(7) and s.12(3),
GDPR Art 17) runs every eraser, the vault's crypto-shredding among them. A registration names the tables it
covers, and `coverage.uncovered_tables` walks the schema (the SQLAlchemy metadata and the live database) for tables
that hold a person reference but belong to no registration, so a new table can never be forgotten by the
rights machinery (DESIGN.md, "Every domain that stores personal data registers an exporter and an eraser").

Erasers run in the caller's transaction in ascending `order` (the vault's key destruction first, the person
row last); the caller commits, so a failing eraser rolls back every other eraser's row changes. An eraser
must be idempotent: erasing an erased person changes nothing more.

A registration may also give a `stream`: the same data as its exporter, yielded row by row as
`(record_type, row)`, so that an access package (`fiduciary.rights.packages`) of a person with 100,000
records is built in memory flat in their number. `stream_person` uses it where given and otherwise walks the
exporter's mapping (`rows_of`).
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy.orm import Session

from fiduciary.personal_data.changes import ChangeKind, ChangeListener, PersonDataChange

if TYPE_CHECKING:
    from fiduciary.context import RuntimeContext

Exporter = Callable[[Session, str], Mapping[str, Any]]
Row = Mapping[str, Any]
Streamer = Callable[[Session, str], Iterator[tuple[str, Row]]]
"""Yields `(record_type, row)`: `record_type` a slug local to the registration ("" for the registration's own
single row), `row` a flat JSON-compatible mapping whose keys are the same for every row of one type."""


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
AliasSource = Callable[[Session, str], Collection[str]]


@dataclass(frozen=True)
class Registration:
    name: str
    exporter: Exporter
    eraser: Eraser
    tables: tuple[str, ...]
    order: int = 100
    stream: Streamer | None = None

    def rows(self, session: Session, person_id: str) -> Iterator[tuple[str, Row]]:
        """The registration's data row by row: its stream, else its exporter's mapping walked by `rows_of`."""
        if self.stream is not None:
            return self.stream(session, person_id)
        return rows_of(self.exporter(session, person_id))


def rows_of(exported: Mapping[str, Any]) -> Iterator[tuple[str, Row]]:
    """An exporter's mapping as rows: each list of mappings under a key is that key's rows; every other key
    goes into one row of record type "" (the registration's own)."""
    own: dict[str, Any] = {}
    for key, value in exported.items():
        if isinstance(value, list) and all(isinstance(item, Mapping) for item in value):
            for item in value:
                yield key, item
        else:
            own[key] = value
    if own:
        yield "", own


def record_type_of(registration: str, local: str) -> str:
    """The package-wide name of a registration's record type: `vault.records.orders`, or `people`."""
    return f"{registration}.{local}" if local else registration


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


class PersonalDataRegistry:
    """Registrations by name; `export_person` and `erase_person` run them all."""

    def __init__(self) -> None:
        self._registrations: dict[str, Registration] = {}
        self._alias_sources: list[AliasSource] = []
        self._listeners: list[ChangeListener] = []
        self._lock = threading.Lock()

    def add_change_listener(self, listener: ChangeListener) -> None:
        """A domain that must react when a person's data changes (disclosures: tell the recipients) listens
        here; `announce` calls it in the transaction of the change (`fiduciary.personal_data.changes`)."""
        with self._lock:
            self._listeners.append(listener)

    def announce(self, session: Session, change: PersonDataChange) -> None:
        """Tell every listener, in registration order, inside the caller's transaction."""
        if not change.person_ids:
            return
        for listener in list(self._listeners):
            listener(session, change)

    def add_alias_source(self, source: AliasSource) -> None:
        """A domain that links other subject ids to a person (consent: banner visitors) names them here, so
        an exporter of another domain can find rows kept under those ids without importing that domain."""
        with self._lock:
            self._alias_sources.append(source)

    def aliases(self, session: Session, person_id: str) -> list[str]:
        """The other subject ids that stand for the person (linked visitors), sorted, without the person's own."""
        return sorted({alias for source in self._alias_sources for alias in source(session, person_id)} - {person_id})

    def register(
        self,
        name: str,
        exporter: Exporter,
        eraser: Eraser,
        tables: Collection[str],
        *,
        order: int = 100,
        stream: Streamer | None = None,
    ) -> Registration:
        """Register a domain; `tables` are the tables whose person references it exports and erases; `stream`,
        when given, yields the exporter's data row by row (for packages of people with many records)."""
        if not name or not isinstance(name, str):
            raise ValueError("a registration needs a name")
        if isinstance(tables, str) or not tables:
            raise ValueError(f"registration '{name}' must list the tables it covers")
        if not callable(exporter) or not callable(eraser):
            raise TypeError(f"registration '{name}' needs a callable exporter and eraser")
        if stream is not None and not callable(stream):
            raise TypeError(f"registration '{name}' has a stream that is not callable")
        registration = Registration(name, exporter, eraser, tuple(tables), order, stream)
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

    def stream_person(self, session: Session, person_id: str) -> Iterator[tuple[str, Row]]:
        """Everything every domain holds about the person as `(record_type, row)`, domain by domain in
        registration order; the record type is qualified by the registration's name (`record_type_of`)."""
        for registration in self.registrations():
            for local, row in registration.rows(session, person_id):
                yield record_type_of(registration.name, local), row

    def erase_person(self, session: Session, person_id: str, *, reason: str = "erasure_request") -> ErasureSummary:
        """Run every eraser in order inside the caller's transaction; the caller commits."""
        with _erasing(reason):
            reports = tuple(r.eraser(session, person_id) for r in self.registrations())
        # Every path to an erasure comes here, so every recipient hears of it (GDPR Art 17(2) and 19).
        self.announce(session, PersonDataChange.of(ChangeKind.ERASURE, [person_id]))
        return ErasureSummary(person_id, reason, datetime.now(UTC), reports)


# ------------------------------------------------------------------------------------- process defaults

_extra_registrations: list[tuple[str, Exporter, Eraser, tuple[str, ...], int, Streamer | None]] = []
_extra_lock = threading.Lock()
RUNTIME_EXTRA: Final = "personal_data.registry"


def register(
    name: str,
    exporter: Exporter,
    eraser: Eraser,
    tables: Collection[str],
    *,
    order: int = 100,
    stream: Streamer | None = None,
) -> None:
    """Register a domain for every runtime of this process (call at import time of the domain's module).

    The built-in domains register through their own `<domain>/rights.py`, listed by the composition root
    (`fiduciary.runtime.DOMAIN_REGISTRARS`); a plugin outside the package calls this instead.
    """
    if isinstance(tables, str) or not tables:
        raise ValueError(f"registration '{name}' must list the tables it covers")
    with _extra_lock:
        if any(entry[0] == name for entry in _extra_registrations):
            raise ValueError(f"'{name}' is already registered")
        _extra_registrations.append((name, exporter, eraser, tuple(tables), order, stream))


def unregister(name: str) -> None:
    """Undo `register` (for tests and plugins that are unloaded)."""
    with _extra_lock:
        _extra_registrations[:] = [entry for entry in _extra_registrations if entry[0] != name]


Registrar = Callable[["PersonalDataRegistry", "RuntimeContext"], None]


def install_registry(runtime: RuntimeContext, registrars: Sequence[Registrar]) -> PersonalDataRegistry:
    """Build the runtime's registry: each domain's registrar (its `<domain>/rights.py`), then every
    `register`ed extra. The composition root (`fiduciary.runtime.Runtime`) calls this once per runtime."""
    registry = PersonalDataRegistry()
    for registrar in registrars:
        registrar(registry, runtime)
    with _extra_lock:
        extras = list(_extra_registrations)
    for name, exporter, eraser, tables, order, stream in extras:
        registry.register(name, exporter, eraser, tables, order=order, stream=stream)
    runtime.extras[RUNTIME_EXTRA] = registry
    return registry


def announce(runtime: RuntimeContext, session: Session, change: PersonDataChange) -> None:
    """Tell the runtime's listeners that a person's data changed, in the caller's transaction; a runtime
    without a registry (a test of one domain) has nobody listening."""
    registry = runtime.extras.get(RUNTIME_EXTRA)
    if isinstance(registry, PersonalDataRegistry):
        registry.announce(session, change)


def registry_for(runtime: RuntimeContext) -> PersonalDataRegistry:
    """The runtime's registry, installed when the runtime was built."""
    existing = runtime.extras.get(RUNTIME_EXTRA)
    if not isinstance(existing, PersonalDataRegistry):
        raise RuntimeError("this runtime has no personal-data registry: build it with fiduciary.runtime.Runtime")
    return existing
