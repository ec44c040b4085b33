"""How the packages answer an access or erasure request: the person's built packages.

Export: each package's metadata (id, request, when built, size, link expiry and downloads), never its
content (it is a copy of the rest of the export) or its link. Erasure: the packages and their chunks are
deleted; they were unreadable already once the vault destroyed the person's key, which runs first
(DPDP s.8(7), GDPR Art 17).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.context import RuntimeContext
from fiduciary.personal_data.registry import EraseReport, PersonalDataRegistry
from fiduciary.rights.packages.models import ACCESS_PACKAGE_CHUNKS, ACCESS_PACKAGES


def export_packages(session: Session, person_id: str) -> Mapping[str, Any]:
    t = ACCESS_PACKAGES.c
    rows = session.execute(
        sa.select(
            t.id,
            t.request_id,
            t.portability,
            t.created_at,
            t.size_bytes,
            t.record_count,
            t.link_expires_at,
            t.max_downloads,
            t.downloads,
        )
        .where(t.person_id == person_id)
        .order_by(t.created_at, t.id)
    )
    return {
        "packages": [
            {
                "id": row.id,
                "request_id": row.request_id,
                "portability": row.portability,
                "created_at": row.created_at.isoformat(),
                "size_bytes": row.size_bytes,
                "record_count": row.record_count,
                "link_expires_at": row.link_expires_at.isoformat() if row.link_expires_at else None,
                "max_downloads": row.max_downloads,
                "downloads": row.downloads,
            }
            for row in rows
        ]
    }


def erase_packages(session: Session, person_id: str) -> EraseReport:
    ids = sa.select(ACCESS_PACKAGES.c.id).where(ACCESS_PACKAGES.c.person_id == person_id).scalar_subquery()
    chunks = session.execute(sa.delete(ACCESS_PACKAGE_CHUNKS).where(ACCESS_PACKAGE_CHUNKS.c.package_id.in_(ids)))
    packages = session.execute(sa.delete(ACCESS_PACKAGES).where(ACCESS_PACKAGES.c.person_id == person_id))
    deleted = int(getattr(packages, "rowcount", 0) or 0)
    return EraseReport(
        "access_packages",
        deleted=deleted,
        detail={"access_packages": deleted, "access_package_chunks": int(getattr(chunks, "rowcount", 0) or 0)},
    )


def register(registry: PersonalDataRegistry, runtime: RuntimeContext) -> None:
    """After the vault (whose key destruction already made them unreadable), before `people` (order 60)."""
    registry.register(
        "access_packages", export_packages, erase_packages, ["access_packages", "access_package_chunks"], order=60
    )
