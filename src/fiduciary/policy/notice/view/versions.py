"""Published policy versions as the notice's history shows them (ISO/IEC 29184 5.5)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class NoticeVersion:
    """One published version of the policy, as the notice's history shows it (ISO/IEC 29184 5.5)."""

    version: int
    effective_from: datetime
    content_hash: str
    changes: Sequence[str] = ()
    material: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "changes", tuple(self.changes))


class _ChangeLike(Protocol):
    @property
    def summary(self) -> str: ...


class _PublishedLike(Protocol):
    @property
    def version(self) -> int: ...
    @property
    def effective_from(self) -> datetime: ...
    @property
    def content_hash(self) -> str: ...
    @property
    def changes(self) -> Sequence[_ChangeLike]: ...
    @property
    def material(self) -> bool: ...


def notice_versions(published: Iterable[_PublishedLike]) -> list[NoticeVersion]:
    """Adapt stored versions (`fiduciary.policy.versions.PublishedPolicy`) without importing the store."""
    return [
        NoticeVersion(
            version=p.version,
            effective_from=p.effective_from,
            content_hash=p.content_hash,
            changes=[c.summary for c in p.changes],
            material=p.material,
        )
        for p in published
    ]
