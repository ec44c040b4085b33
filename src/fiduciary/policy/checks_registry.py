"""What every policy check is built on: the `Finding` it yields, the `CheckContext` it reads, the `@check`
registry, and the small helpers several checks share. The checks themselves live in `checks_data`,
`checks_rights`, `checks_children` and `checks_jurisdictions`; `policy.checks` registers them in order and runs them.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal, TypeVar

from fiduciary.policy.duration import Duration, DurationUnit
from fiduciary.policy.schema import (
    DataCategory,
    Jurisdiction,
    LegalGround,
    PolicyDocument,
    Purpose,
)

NodePath = tuple[str | int, ...]
LineOf = Callable[[NodePath], int | None]
Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    path: NodePath
    message: str
    hint: str | None = None
    severity: Severity = "error"
    code: str = ""
    at_value: bool = True  # point at the value written at `path` (else at its key)


def format_path(path: NodePath) -> str:
    """`("purposes", 3, "categories", 0)` → `purposes[3].categories[0]`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass(frozen=True)
class CheckContext:
    document: PolicyDocument
    line_of: LineOf
    jurisdictions: frozenset[Jurisdiction]
    categories: dict[str, DataCategory]  # by id, first definition
    purposes: dict[str, Purpose]

    def applies(self, jurisdiction: Jurisdiction) -> bool:
        return jurisdiction in self.jurisdictions

    @property
    def eu_or_uk(self) -> bool:
        return bool(self.jurisdictions & {Jurisdiction.EU, Jurisdiction.UK})

    def where(self, path: NodePath) -> str:
        line = self.line_of(path)
        return f"line {line}" if line else format_path(path)


Check = Callable[[CheckContext], Iterable[Finding]]
CHECKS: list[tuple[str, Check]] = []


def check(code: str) -> Callable[[Check], Check]:
    """Register a check; its findings carry `code` unless they name their own."""

    def register(func: Check) -> Check:
        CHECKS.append((code, func))
        return func

    return register


_Item = TypeVar("_Item", DataCategory, Purpose)


def first_by_id(items: list[_Item]) -> dict[str, _Item]:
    out: dict[str, _Item] = {}
    for item in items:
        out.setdefault(item.id, item)
    return out


# ------------------------------------------------------------------------------------------- helpers

ONE_MONTH_DAYS = 365.25 / 12
DAY = 1.0
HOUR = 1 / 24


def span_days(duration: Duration | None) -> float:
    return duration.approx_days if duration is not None else 0.0


def over_one_month(duration: Duration) -> bool:
    """GDPR Art 12(3) "one month" is a calendar month: `1mo` is fine, 31 days may not be."""
    if duration.unit is DurationUnit.MONTHS:
        return duration.amount > 1
    return duration.approx_days > ONE_MONTH_DAYS + 1e-9


def closest(word: str, options: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return close[0] if close else None


def purpose_categories(purpose: Purpose) -> set[str]:
    return set(purpose.categories) | set(purpose.optional_categories)


def keeps_processing_logs(purpose: Purpose) -> bool:
    """DPDP Rule 8(3) keeps processing data and logs one year: judged by what the purpose declares (its
    `processing_logs` flag, or a legal obligation to keep records), never by how its id is spelt."""
    return purpose.processing_logs or purpose.legal_ground is LegalGround.LEGAL_OBLIGATION
