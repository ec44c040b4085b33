"""Published policy versions: immutable, numbered, identified by the hash of their content.

Every consent, notice and decision cites the version it was made under, so a version once published never
changes and is never deleted (DPDP s.6(10): the store must be able to prove which notice a person saw;
ISO/IEC 29184 5.2.9: the notice stays available for reference). A new text is a new version; publishing
the same content again returns the version that already holds it.

A version takes effect at its `effective_from`, which may lie in the future so that a material change can
be announced before it applies (`policy_changes.advance_notice`). Effective dates never go backwards: each
version takes effect no earlier than the one before it, so "the version in force at time t" is always the
highest-numbered version whose `effective_from` is at or before t, and each version's change list (made
against the version before it) describes exactly the step people experience.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from fiduciary.errors import Conflict, FiduciaryError, FieldProblem, NotFound, ValidationFailed
from fiduciary.policy.canonical import canonical_data, canonical_json, content_hash
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.diff import PolicyChange, diff_policies, is_material
from fiduciary.policy.loader import LoadedPolicy, PolicyInvalid, load_policy
from fiduciary.policy.models import PolicyVersion
from fiduciary.policy.schema import PolicyDocument
from fiduciary.storage.base import utcnow

__all__ = [
    "NoPolicyInForce",
    "PolicyInForce",
    "PublishedPolicy",
    "bootstrap_policy",
    "canonical_json",
    "content_hash",
    "current",
    "diff_versions",
    "find_by_hash",
    "get",
    "history",
    "latest",
    "publish",
    "publish_or_get",
]

log = logging.getLogger(__name__)


class NoPolicyInForce(FiduciaryError):
    """Nothing is published yet, or every published version takes effect in the future."""

    def __init__(self, detail: str = "No policy version is in force; run `fiduciary policy publish FILE`.") -> None:
        super().__init__(detail=detail, status=503, title="No policy in force", code="no_policy_in_force")


@dataclass(frozen=True)
class PublishedPolicy:
    version: int
    content_hash: str
    name: str
    effective_from: datetime
    published_at: datetime
    document: PolicyDocument
    changes: list[PolicyChange]
    material: bool


# ----------------------------------------------------------------------------------- immutability


def _refuse_change(_mapper: Any, _connection: Any, target: PolicyVersion) -> None:
    raise Conflict(
        f"Policy version {target.version} is published and cannot be changed or deleted; publish a new version.",
        code="policy_version_immutable",
    )


event.listen(PolicyVersion, "before_update", _refuse_change)
event.listen(PolicyVersion, "before_delete", _refuse_change)

# Bumped after a publish commits, so a PolicyInForce in this process refreshes at once rather than after
# its refresh interval.
_generation = 0
_generation_lock = threading.Lock()


def _bump_generation(_session: Session) -> None:
    global _generation
    with _generation_lock:
        _generation += 1


# ----------------------------------------------------------------------------------- reading rows

_DOCUMENT_CACHE_SIZE = 32
_documents: dict[str, PolicyDocument] = {}


def _document(row: PolicyVersion) -> PolicyDocument:
    """Validated documents are cached by hash: a published version's content never changes."""
    cached = _documents.get(row.content_hash)
    if cached is not None:
        return cached
    try:
        document = PolicyDocument.model_validate(row.document)
    except ValidationError:
        raise FiduciaryError(
            detail=f"Stored policy version {row.version} no longer matches the policy schema.",
            status=500,
            title="Stored policy unreadable",
            code="stored_policy_unreadable",
        ) from None
    if len(_documents) >= _DOCUMENT_CACHE_SIZE:
        _documents.pop(next(iter(_documents)))
    _documents[row.content_hash] = document
    return document


def _published(row: PolicyVersion) -> PublishedPolicy:
    return PublishedPolicy(
        version=row.version,
        content_hash=row.content_hash,
        name=row.name,
        effective_from=row.effective_from,
        published_at=row.published_at,
        document=_document(row),
        changes=[PolicyChange.from_dict(c) for c in row.changes],
        material=row.material,
    )


def _aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationFailed(
            f"{field} must include a time zone.",
            [
                FieldProblem(
                    field=field,
                    message="a date and time without a time zone is ambiguous",
                    hint="give an offset, e.g. 2027-01-01T00:00:00+05:30 or 2027-01-01T00:00:00Z",
                )
            ],
        )
    return value.astimezone(UTC)


def _latest_row(session: Session) -> PolicyVersion | None:
    return session.scalars(select(PolicyVersion).order_by(PolicyVersion.version.desc()).limit(1)).first()


def latest(session: Session) -> PublishedPolicy | None:
    """The most recently published version, whether or not it is in force yet."""
    row = _latest_row(session)
    return _published(row) if row else None


def current(session: Session, at: datetime | None = None) -> PublishedPolicy | None:
    """The version in force at `at` (default now): the latest one whose effective_from has come."""
    when = utcnow() if at is None else _aware(at, "at")
    row = session.scalars(
        select(PolicyVersion)
        .where(PolicyVersion.effective_from <= when)
        .order_by(PolicyVersion.version.desc())
        .limit(1)
    ).first()
    return _published(row) if row else None


def history(session: Session) -> list[PublishedPolicy]:
    """Every version, oldest first."""
    return [_published(r) for r in session.scalars(select(PolicyVersion).order_by(PolicyVersion.version))]


def get(session: Session, version: int) -> PublishedPolicy:
    row = session.scalars(select(PolicyVersion).where(PolicyVersion.version == version)).first()
    if row is None:
        raise NotFound(f"Policy version {version} does not exist.", code="policy_version_not_found")
    return _published(row)


def find_by_hash(session: Session, hash_: str) -> PublishedPolicy | None:
    row = session.scalars(select(PolicyVersion).where(PolicyVersion.content_hash == hash_)).first()
    return _published(row) if row else None


def version_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(PolicyVersion)) or 0)


def diff_versions(session: Session, from_version: int, to_version: int) -> list[PolicyChange]:
    """Changes between any two published versions (not only neighbours)."""
    old, new = get(session, from_version), get(session, to_version)
    if old.version + 1 == new.version:
        return list(new.changes)
    return diff_policies(old.document, new.document)


# ----------------------------------------------------------------------------------------- publish


def publish(
    session: Session,
    document: PolicyDocument,
    source_yaml: str,
    effective_from: datetime | None = None,
    *,
    now: datetime | None = None,
) -> PublishedPolicy:
    """Store `document` as the next version, or return the version that already holds this content."""
    return publish_or_get(session, document, source_yaml, effective_from, now=now)[0]


def publish_or_get(
    session: Session,
    document: PolicyDocument,
    source_yaml: str,
    effective_from: datetime | None = None,
    *,
    now: datetime | None = None,
) -> tuple[PublishedPolicy, bool]:
    """Like `publish`; the flag says whether a new version was created.

    The caller commits. Refused, with nothing stored: a time without a time zone; an effective date
    earlier than the latest version's; content that an older version holds while a newer one is latest
    (republishing it would make the history read as if the newer version never happened).
    """
    now = utcnow() if now is None else _aware(now, "now")
    effective = now if effective_from is None else _aware(effective_from, "effective_from")
    digest = content_hash(document)
    previous = _latest_row(session)
    existing = find_by_hash(session, digest)
    if existing is not None:
        if previous is not None and existing.version != previous.version:
            raise Conflict(
                f"This content was published as version {existing.version} and version {previous.version} "
                "has been published since; a published version cannot be published again. Change the policy "
                "(for example its name) to publish it as a new version.",
                code="policy_already_published",
                fields=[FieldProblem(field="document", message="identical to an earlier version")],
            )
        return existing, False
    if previous is not None and effective < previous.effective_from:
        raise ValidationFailed(
            f"effective_from is earlier than version {previous.version}'s "
            f"({previous.effective_from.isoformat()}); versions take effect in order.",
            [
                FieldProblem(
                    field="effective_from",
                    message=f"must not be earlier than {previous.effective_from.isoformat()}",
                    hint="give a later effective_from (fiduciary policy publish --effective-from)",
                )
            ],
        )
    changes = diff_policies(_document(previous), document) if previous is not None else []
    row = PolicyVersion(
        version=(previous.version + 1) if previous is not None else 1,
        content_hash=digest,
        name=document.name,
        effective_from=effective,
        published_at=now,
        source_yaml=source_yaml,
        document=canonical_data(document),
        changes=[c.to_dict() for c in changes],
        material=is_material(changes),
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(
            "Another policy version was published at the same time; nothing was stored. Publish again.",
            code="policy_publish_race",
        ) from None
    _documents.setdefault(digest, document)
    event.listen(session, "after_commit", _bump_generation, once=True)
    return _published(row), True


# --------------------------------------------------------------------------------------- bootstrap


_loaded_files: dict[tuple[str, int, int], LoadedPolicy] = {}


def _load_configured(path: Path) -> LoadedPolicy:
    """Load the configured file, reusing an earlier parse of the same unchanged file in this process.

    Every process start (and every database test) runs the bootstrap; parsing YAML dominates it.
    """
    try:
        stat = path.stat()
    except OSError:
        return load_policy(path)  # reports the missing or unreadable file as a PolicyInvalid
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    loaded = _loaded_files.get(key)
    if loaded is None:
        loaded = load_policy(path)
        _loaded_files.clear()
        _loaded_files[key] = loaded
    return loaded


def bootstrap_policy(sessions: sessionmaker[Session], policy_file: Path) -> PublishedPolicy | None:
    """On a database with no version yet, publish the configured file (the demo policy by default).

    Once something is published the configured file is only compared, never published automatically:
    publishing is a deliberate act with legal effect (notice, re-consent), done with `fiduciary policy
    publish`. Returns the version published now, if any. An invalid file on an empty database raises
    `PolicyInvalid`.
    """
    for attempt in range(2):
        with sessions() as session:
            published = _latest_row(session)
            if published is None:
                loaded = _load_configured(policy_file)
                try:
                    version, created = publish_or_get(session, loaded.document, loaded.source)
                    session.commit()
                except Conflict as exc:
                    session.rollback()
                    if exc.code == "policy_publish_race" and attempt == 0:
                        continue  # another process published first; compare with that instead
                    raise
                if created:
                    log.info("Published the configured policy file as version %d.", version.version)
                return version if created else None
            _warn_if_different(policy_file, published)
            return None
    return None  # pragma: no cover - the loop always returns


def _warn_if_different(policy_file: Path, published: PolicyVersion) -> None:
    # The file path may contain a user name, so the log names the setting, not the path.
    try:
        loaded = _load_configured(policy_file)
    except (PolicyInvalid, OSError, UnicodeDecodeError):
        log.warning(
            "The configured policy file (FIDUCIARY_POLICY_FILE) cannot be loaded; serving published version %d. "
            "Run `fiduciary policy check` on it.",
            published.version,
        )
        return
    if content_hash(loaded.document) != published.content_hash:
        log.warning(
            "The configured policy file (FIDUCIARY_POLICY_FILE) differs from published version %d, which is "
            "what is served. Run `fiduciary policy publish` to publish it.",
            published.version,
        )


# --------------------------------------------------------------------------------- policy in force


@dataclass(frozen=True)
class _Snapshot:
    compiled: CompiledPolicy
    checked_at: float  # time.monotonic()
    generation: int
    next_change: datetime | None  # the next scheduled effective_from, if any


class PolicyInForce:
    """The compiled policy in force, rebuilt only when the version in force changes.

    It checks the database at most every `refresh_seconds` (other processes may publish), at once after
    a publish committed in this process, and at once when a scheduled version's effective_from passes.
    Compiled policies are cached by content hash.
    """

    def __init__(self, sessions: sessionmaker[Session], refresh_seconds: float = 2.0) -> None:
        self._sessions = sessions
        self._refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._compiled: dict[str, CompiledPolicy] = {}
        self._snapshot: _Snapshot | None = None

    def get(self) -> CompiledPolicy:
        snap = self._snapshot
        if snap is not None and self._fresh(snap):
            return snap.compiled
        with self._lock:
            snap = self._snapshot
            if snap is not None and self._fresh(snap):
                return snap.compiled
            snap = self._load()
            self._snapshot = snap
            return snap.compiled

    def peek(self) -> CompiledPolicy | None:
        """The policy in force if `get` would answer it without reading the database, else None: lets a
        caller on the event loop use it inline and go to a worker thread only for the refresh."""
        snap = self._snapshot
        return snap.compiled if snap is not None and self._fresh(snap) else None

    def invalidate(self) -> None:
        self._snapshot = None

    def _fresh(self, snap: _Snapshot) -> bool:
        if snap.generation != _generation or time.monotonic() - snap.checked_at >= self._refresh_seconds:
            return False
        return snap.next_change is None or utcnow() < snap.next_change

    def _load(self) -> _Snapshot:
        generation, checked_at, now = _generation, time.monotonic(), utcnow()
        with self._sessions() as session:
            row = session.execute(
                select(PolicyVersion.id, PolicyVersion.version, PolicyVersion.content_hash)
                .where(PolicyVersion.effective_from <= now)
                .order_by(PolicyVersion.version.desc())
                .limit(1)
            ).first()
            next_change = session.scalar(
                select(func.min(PolicyVersion.effective_from)).where(PolicyVersion.effective_from > now)
            )
            if row is None:
                raise NoPolicyInForce()
            compiled = self._compiled.get(row.content_hash)
            if compiled is None:
                full = session.get_one(PolicyVersion, row.id)
                compiled = CompiledPolicy.build(_document(full), full.content_hash, full.version)
                self._compiled[row.content_hash] = compiled
        if isinstance(next_change, datetime) and next_change.tzinfo is None:
            next_change = next_change.replace(tzinfo=now.tzinfo)
        return _Snapshot(compiled, checked_at, generation, next_change)


def describe_changes(changes: Iterable[PolicyChange]) -> list[str]:
    """Plain lines for logs and terminals: `MATERIAL path: summary (reason)` or `minor    path: summary`."""
    lines = []
    for c in changes:
        marker = "MATERIAL" if c.material else "minor   "
        reason = f" ({c.reason})" if c.material and c.reason else ""
        lines.append(f"{marker} {c.path}: {c.summary}{reason}")
    return lines
