"""Notices that a person's data changed: withdrawn, corrected, restricted or erased, by whatever path.

The domains that change a person's data (consent withdrawals, restrictions and objections, vault writes,
erasure) sit below the ones that must react (disclosures, which tells every recipient that received the
data: GDPR Art 17(2) and 19, DPDP s.8(7)(b) and s.12). So the changing domain announces a
`PersonDataChange` here, in its own transaction, and the reacting domains listen: a listener runs in the
same transaction, so what it queues (a webhook delivery) commits or rolls back with the change itself.

Listeners are kept on the runtime's `PersonalDataRegistry` (installed by each domain's registrar, like its
exporter and eraser; `registry.announce` tells them), so this base package imports no domain. A runtime
without a registry (a unit test of one domain) has nobody listening, and an announcement is then a no-op.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.orm import Session


class ChangeKind(StrEnum):
    WITHDRAWAL = "withdrawal"  # consent withdrawn for purposes (DPDP s.6(6), GDPR Art 7(3))
    CORRECTION = "correction"  # fields written again (DPDP s.12(2), GDPR Art 16 and 19)
    RESTRICTION = "restriction"  # processing restricted or objected to (GDPR Art 18, 19 and 21)
    ERASURE = "erasure"  # every field erased (DPDP s.8(7), s.12(3); GDPR Art 17(2) and 19)


@dataclass(frozen=True)
class PersonDataChange:
    """What changed, for whom: `purposes` None means every purpose, `categories` None every category."""

    kind: ChangeKind
    person_ids: tuple[str, ...]
    purposes: frozenset[str] | None = None
    categories: frozenset[str] | None = None

    @classmethod
    def of(
        cls,
        kind: ChangeKind,
        person_ids: Collection[str],
        *,
        purposes: Collection[str] | None = None,
        categories: Collection[str] | None = None,
    ) -> PersonDataChange:
        return cls(
            kind,
            tuple(sorted(set(person_ids))),
            None if purposes is None else frozenset(purposes),
            None if categories is None else frozenset(categories),
        )


ChangeListener = Callable[[Session, PersonDataChange], None]
"""Runs in the transaction of the change; `registry.announce` calls every listener of a runtime."""
