"""Stored policy versions: immutable once published, identified by the hash of their canonical content."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fiduciary.storage.base import Base, utcnow


class PolicyVersion(Base):
    __tablename__ = "policy_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(Integer, unique=True, nullable=False)
    content_hash: Mapped[str] = mapped_column(String(71), unique=True, nullable=False)  # "sha256:" + 64 hex
    name: Mapped[str] = mapped_column(String(300), nullable=False)
    effective_from: Mapped[datetime] = mapped_column(nullable=False)
    published_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    source_yaml: Mapped[str] = mapped_column(Text, nullable=False)
    document: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    material: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
