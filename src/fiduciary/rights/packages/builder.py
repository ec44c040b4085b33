"""Building an access or portability package (DPDP s.11; GDPR Art 15 and 20; issue 13 item 4).

The rows of every registered domain stream into a working folder (`content`), are zipped into one file
there (stdlib `zipfile`, reading each member in blocks), and the ZIP is sealed in 1 MiB chunks under a package
key wrapped by the person's vault key (`sealing`) and inserted chunk by chunk: memory stays flat in the number
of the person's records (bench/access_package.py). The working folder is removed whatever happens. The build
is audited (`package.build`) through the unit of work, in the caller's transaction: the package and its
audit event commit together or not at all.
"""

from __future__ import annotations

import hashlib
import secrets
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.audit.service import Action, AuditEvent
from fiduciary.codes import REQUEST_ID_RE
from fiduciary.context import RuntimeContext
from fiduciary.decisions.service import check_actor
from fiduciary.errors import FiduciaryError, FieldProblem, ValidationFailed
from fiduciary.rights.flows import _known_person, _refused
from fiduciary.rights.packages.content import (
    PackageWriter,
    categories_held,
    clear,
    header_for,
    render_summary,
    write_rows,
    write_schema,
)
from fiduciary.rights.packages.models import ACCESS_PACKAGE_CHUNKS, ACCESS_PACKAGES
from fiduciary.rights.packages.sealing import CHUNK_BYTES, PackageCipher, new_package_key
from fiduciary.storage.base import utcnow
from fiduciary.unit_of_work import unit_of_work

ZIP_MEMBERS_FIRST: Final = ("summary.html", "package.json", "schema.json")


@dataclass(frozen=True)
class BuiltPackage:
    """A stored package: its id and what it holds (no personal value)."""

    package_id: str
    person_id: str
    request_id: str | None
    portability: bool
    size_bytes: int
    chunk_count: int
    sha256: str
    record_count: int
    created_at: datetime


def new_package_id() -> str:
    return "pkg_" + secrets.token_hex(16)


def _check_request_id(request_id: str | None) -> str | None:
    if request_id is not None and (not isinstance(request_id, str) or not REQUEST_ID_RE.fullmatch(request_id)):
        raise ValidationFailed(
            "Malformed request id.", [FieldProblem("request_id", "letters, digits and ._:- (at most 64)")]
        )
    return request_id


def build_package(
    runtime: RuntimeContext,
    session: Session,
    *,
    person_id: str,
    actor: str,
    request_id: str | None = None,
    portability: bool = False,
    now: datetime | None = None,
) -> BuiltPackage:
    """Build, seal and store the person's package in the caller's transaction (the caller commits).

    404 for an unknown person, 422 for a malformed id, 409 `person_erased` once their key is destroyed
    (nothing new is sealed for an erased person). Refusals are audited too (DPDP Rule 6(1)(c)).
    """
    check_actor(actor)
    uow = unit_of_work(runtime, session)
    with uow.step():
        try:
            _known_person(session, person_id)
            _check_request_id(request_id)
            package_id = new_package_id()
            created = now or utcnow()
            cipher, key_version, wrapped = new_package_key(runtime, session, person_id, package_id)
        except FiduciaryError as exc:
            raise _refused(exc, actor, Action.PACKAGE_BUILD, person_id, request_id) from None
        root = Path(tempfile.mkdtemp(prefix="fiduciary-package-"))
        try:
            zip_path, records = _write_zip(
                runtime, session, root, package_id, person_id, request_id, portability, created
            )
            size, digest = _digest(zip_path)
            chunks = max(1, -(-size // CHUNK_BYTES))
            session.execute(
                sa.insert(ACCESS_PACKAGES).values(
                    id=package_id,
                    person_id=person_id,
                    request_id=request_id,
                    portability=portability,
                    key_version=key_version,
                    wrapped_key=wrapped,
                    size_bytes=size,
                    chunk_count=chunks,
                    sha256=digest,
                    record_count=records,
                    created_at=created,
                    link_hash=None,
                    link_expires_at=None,
                    max_downloads=0,
                    downloads=0,
                )
            )
            _store_chunks(session, cipher, zip_path, chunks)
        finally:
            clear(root)
        uow.audit(
            AuditEvent(
                actor=actor,
                action=Action.PACKAGE_BUILD,
                person_id=person_id,
                target=package_id,
                count=records,
                request_id=request_id,
            )
        )
    return BuiltPackage(package_id, person_id, request_id, portability, size, chunks, digest, records, created)


def _write_zip(
    runtime: RuntimeContext,
    session: Session,
    root: Path,
    package_id: str,
    person_id: str,
    request_id: str | None,
    portability: bool,
    created: datetime,
) -> tuple[Path, int]:
    """The package's files in `root/package`, zipped into `root/package.zip`; (the ZIP, rows written)."""
    policy = runtime.policy()
    header = header_for(
        policy,
        package_id=package_id,
        person_id=person_id,
        request_id=request_id,
        portability=portability,
        generated_at=created,
    )
    folder = root / "package"
    folder.mkdir()
    writer = PackageWriter(folder, header)
    try:
        observed = write_rows(runtime, session, person_id, writer)
        categories = categories_held(policy, observed.held)
        writer.finish({"record_counts": dict(sorted(observed.counts.items())), "categories": categories})
    finally:
        writer.close()
    render_summary(folder, policy, header, categories, observed)
    write_schema(folder)
    zip_path = root / "package.zip"
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        members = sorted(p for p in folder.rglob("*") if p.is_file())
        members.sort(key=lambda p: (p.name not in ZIP_MEMBERS_FIRST or p.parent != folder, str(p)))
        for path in members:
            archive.write(path, f"{package_id}/{path.relative_to(folder).as_posix()}")
    return zip_path, sum(observed.counts.values())


def _digest(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while block := handle.read(CHUNK_BYTES):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def _store_chunks(session: Session, cipher: PackageCipher, path: Path, chunks: int) -> None:
    """Seal and insert the ZIP one chunk at a time (one chunk in memory)."""
    statement = sa.insert(ACCESS_PACKAGE_CHUNKS)
    with path.open("rb") as handle:
        for seq in range(chunks):
            block = handle.read(CHUNK_BYTES)
            sealed = cipher.seal(seq, block, last=seq == chunks - 1)
            session.execute(statement, {"package_id": cipher.package_id, "seq": seq, "sealed": sealed})
