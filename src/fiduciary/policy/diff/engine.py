"""The comparison loop behind `fiduciary.policy.diff`: kinds of rule, and the differ that applies them.

A rule says which field of an item it compares, how, whether a change is material, why, and which
purposes it affects; `fiduciary.policy.diff.table` holds the table of rules for a whole policy. Keeping
the loop here and the rules there means a new schema field is one table entry, not another copy of the
same compare-and-record block.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal, Protocol, TypeVar

from pydantic import BaseModel

from fiduciary.policy.duration import Duration
from fiduciary.policy.schema import EventTrigger, PolicyDocument

ChangeKind = Literal["added", "removed", "changed"]
T = TypeVar("T")


@dataclass(frozen=True)
class PolicyChange:
    """One difference between two versions.

    `affected_purposes` lists purposes present in both versions whose terms this change broadens, i.e.
    whose earlier consent no longer covers what will be done (empty for minor changes).
    """

    path: str
    kind: ChangeKind
    summary: str
    material: bool
    reason: str | None = None
    affected_purposes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "summary": self.summary,
            "material": self.material,
            "reason": self.reason,
            "affected_purposes": list(self.affected_purposes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PolicyChange:
        return cls(
            path=str(data["path"]),
            kind=data["kind"],
            summary=str(data["summary"]),
            material=bool(data["material"]),
            reason=data.get("reason"),
            affected_purposes=tuple(data.get("affected_purposes") or ()),
        )


# ------------------------------------------------------------------------------------------ helpers


def by_key(items: Iterable[T], key: Callable[[T], Hashable]) -> dict[Any, T]:
    """First occurrence wins; duplicates are the checker's to report, not a reason to crash here."""
    out: dict[Any, T] = {}
    for item in items:
        out.setdefault(key(item), item)
    return out


def added_removed(old: Iterable[T], new: Iterable[T]) -> tuple[list[T], list[T]]:
    old_list, new_list = list(dict.fromkeys(old)), list(dict.fromkeys(new))
    old_set, new_set = set(old_list), set(new_list)
    return [x for x in new_list if x not in old_set], [x for x in old_list if x not in new_set]


def key_text(value: object) -> str:
    """How an item of a list field is named in a change's path: an enum by its value."""
    return str(value.value) if isinstance(value, Enum) else str(value)


def text(value: object) -> str:
    if isinstance(value, Enum):
        return str(value.value).replace("_", " ")
    if isinstance(value, Duration):
        return value.describe()
    if isinstance(value, EventTrigger):
        return f"the event {value.event}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def cap(words: str) -> str:
    return words[:1].upper() + words[1:]


def days(duration: Duration | None) -> float:
    return math.inf if duration is None else duration.approx_days


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _category_users(doc: PolicyDocument) -> dict[str, list[str]]:
    users: dict[str, list[str]] = {}
    for p in doc.purposes:
        for cid in dict.fromkeys([*p.categories, *p.optional_categories]):
            users.setdefault(cid, []).append(p.id)
    return users


def _category_spans(doc: PolicyDocument) -> dict[str, list[float]]:
    spans: dict[str, list[float]] = {}
    for rule in doc.retention:
        for cid in rule.categories:
            spans.setdefault(cid, []).append(days(rule.keep_for))
    return spans


# ------------------------------------------------------------------------------------ kinds of rule


@dataclass(frozen=True)
class At:
    """Where a rule is applied: the item's path and label, both versions of it, and the purposes it
    concerns (`scope`); `handled` names the fields the item's other rules compare."""

    path: str
    label: str
    old: Any
    new: Any
    scope: Iterable[str]
    handled: frozenset[str]


class Rule(Protocol):
    @property
    def fields(self) -> tuple[str, ...]: ...

    def apply(self, d: Differ, at: At) -> None: ...


def _never(before: Any, after: Any) -> bool:
    return False


def _changed(before: Any, after: Any) -> ChangeKind:
    return "changed"


def presence(before: Any, after: Any) -> ChangeKind:
    """`added` when a value appears, `removed` when it goes, else `changed`."""
    return "removed" if after is None else "added" if before is None else "changed"


@dataclass(frozen=True)
class Field:
    """One value compared as a whole; `summary(label, before, after)`."""

    name: str
    summary: Callable[[str, Any, Any], str]
    material: Callable[[Any, Any], bool] = _never
    reason: str | None = None
    kind: Callable[[Any, Any], ChangeKind] = _changed
    everyone: bool = False  # the change concerns every purpose in both versions, not the item's scope

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.name,)

    def apply(self, d: Differ, at: At) -> None:
        before, after = getattr(at.old, self.name), getattr(at.new, self.name)
        if before == after:
            return
        d.add(
            _join(at.path, self.name),
            self.kind(before, after),
            self.summary(at.label, before, after),
            material=self.material(before, after),
            reason=self.reason,
            purposes=d.common_purposes if self.everyone else at.scope,
        )


@dataclass(frozen=True)
class Listed:
    """A list field: items gained, then items lost, each at `path[item]` (see `Differ.listed`)."""

    name: str
    added: Callable[[str, Any], str]
    removed: Callable[[str, Any], str]
    reason: str | None = None
    worse_when: Literal["added", "removed"] = "added"

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.name,)

    def apply(self, d: Differ, at: At) -> None:
        label = at.label
        d.listed(
            _join(at.path, self.name),
            getattr(at.old, self.name),
            getattr(at.new, self.name),
            lambda item: self.added(label, item),
            lambda item: self.removed(label, item),
            reason=self.reason,
            worse_when=self.worse_when,
            purposes=at.scope,
        )


@dataclass(frozen=True)
class Grown:
    """A list of free texts, which are never quoted: material when it gains any, minor when it only loses."""

    name: str
    added: Callable[[str], str]
    removed: Callable[[str], str]
    reason: str

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.name,)

    def apply(self, d: Differ, at: At) -> None:
        before, after = set(getattr(at.old, self.name)), set(getattr(at.new, self.name))
        path = _join(at.path, self.name)
        if after - before:
            d.add(path, "added", self.added(at.label), material=True, reason=self.reason, purposes=at.scope)
        elif before - after:
            d.add(path, "removed", self.removed(at.label))


@dataclass(frozen=True)
class Span:
    """An optional length; `missing_days` is what no value means (no limit, or nothing)."""

    name: str
    label: Callable[[str], str]
    missing_days: float
    worse_if_longer: bool
    reason: str

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.name,)

    def apply(self, d: Differ, at: At) -> None:
        old: Duration | None = getattr(at.old, self.name)
        new: Duration | None = getattr(at.new, self.name)
        if old == new:
            return
        before = old.approx_days if old else self.missing_days
        after = new.approx_days if new else self.missing_days
        kind: ChangeKind = "added" if old is None else "removed" if new is None else "changed"
        label = self.label(at.label)
        if new is None:
            summary = f"{cap(label)} is no longer stated."
        else:
            summary = f"{cap(label)} is now {new.describe()}" + (f" instead of {old.describe()}." if old else ".")
        material = after > before if self.worse_if_longer else after < before
        d.add(_join(at.path, self.name), kind, summary, material=material, reason=self.reason, purposes=at.scope)


@dataclass(frozen=True)
class Whole:
    """The item is listed as changed as a whole, with no detail of what changed."""

    summary: Callable[[str], str]
    fields: tuple[str, ...] = ()

    def apply(self, d: Differ, at: At) -> None:
        d.add(at.path, "changed", self.summary(at.label))


@dataclass(frozen=True)
class Others:
    """Minor changes for every field no other rule of the same table compares, so none goes unlisted."""

    path: str | None = None
    label: str | None = None
    fields: tuple[str, ...] = ()

    def apply(self, d: Differ, at: At) -> None:
        path = at.path if self.path is None else self.path
        d.other_fields(path, at.old, at.new, at.label if self.label is None else self.label, at.handled)


@dataclass(frozen=True)
class Custom:
    """A comparison too particular for the kinds above; `compare` records its own changes."""

    fields: tuple[str, ...]
    compare: Callable[[Differ, At], None]

    def apply(self, d: Differ, at: At) -> None:
        self.compare(d, at)


@dataclass(frozen=True)
class Nested:
    """A sub-model compared by its own rules, at `path.name`, under `label` (or the parent's label)."""

    name: str
    rules: tuple[Rule, ...]
    label: str | None = None

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.name,)

    def apply(self, d: Differ, at: At) -> None:
        label = at.label if self.label is None else self.label
        old, new = getattr(at.old, self.name), getattr(at.new, self.name)
        d.compare(_join(at.path, self.name), label, old, new, self.rules, at.scope)


@dataclass(frozen=True)
class Event:
    """What a whole item appearing or disappearing means; each callable gets the differ, label and item."""

    summary: Callable[[Differ, str, Any], str]
    material: Callable[[Differ, Any], bool] = lambda d, item: False
    reason: str | None = None
    purposes: Callable[[Differ, Any], Iterable[str]] = lambda d, item: ()

    def record(self, d: Differ, path: str, kind: ChangeKind, label: str, item: Any) -> None:
        d.add(
            path,
            kind,
            self.summary(d, label, item),
            material=self.material(d, item),
            reason=self.reason,
            purposes=self.purposes(d, item),
        )


@dataclass(frozen=True)
class Items:
    """A list of items matched by identity (`key`), never by position: added ones, then each kept one
    that differs (by `rules`), then removed ones, then a change of order when `order` names the items."""

    name: str
    key: Callable[[Any], Hashable]
    label: Callable[[Any], str]
    added: Event
    removed: Event
    rules: tuple[Rule, ...]
    scope: Callable[[Differ, Any, Any], Iterable[str]] = lambda d, old, new: ()
    order: str | None = None

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.name,)

    def apply(self, d: Differ, at: At) -> None:
        base = _join(at.path, self.name)
        old_map = by_key(getattr(at.old, self.name), self.key)
        new_map = by_key(getattr(at.new, self.name), self.key)
        for k, new in new_map.items():
            path = f"{base}[{key_text(k)}]"
            if k not in old_map:
                self.added.record(d, path, "added", self.label(new), new)
            elif old_map[k] != new:
                old = old_map[k]
                d.compare(path, self.label(new), old, new, self.rules, self.scope(d, old, new))
        for k, old in old_map.items():
            if k not in new_map:
                self.removed.record(d, f"{base}[{key_text(k)}]", "removed", self.label(old), old)
        if self.order is not None:
            d.order(base, list(old_map), list(new_map), self.order)


# -------------------------------------------------------------------------------------- the differ


class Differ:
    """Applies a table of rules to two versions and collects the changes, in the table's order."""

    def __init__(self, old: PolicyDocument, new: PolicyDocument) -> None:
        self.old, self.new = old, new
        self.out: list[PolicyChange] = []
        self.old_purposes = by_key(old.purposes, lambda p: p.id)
        self.new_purposes = by_key(new.purposes, lambda p: p.id)
        self.common_purposes = set(self.old_purposes) & set(self.new_purposes)
        self.old_categories = by_key(old.categories, lambda c: c.id)
        self.new_categories = by_key(new.categories, lambda c: c.id)
        self._users = {id(old): _category_users(old), id(new): _category_users(new)}
        self._spans = {id(old): _category_spans(old), id(new): _category_spans(new)}

    def run(self, rules: tuple[Rule, ...]) -> list[PolicyChange]:
        self.compare("", "the policy", self.old, self.new, rules, ())
        if not self.out and self.old != self.new:  # pragma: no cover - a schema field no rule reaches
            self.add("", "changed", "The policy changed in a way this comparison does not itemise.")
        return self.out

    def compare(self, path: str, label: str, old: Any, new: Any, rules: tuple[Rule, ...], scope: Iterable[str]) -> None:
        handled = frozenset(name for rule in rules for name in rule.fields)
        at = At(path, label, old, new, scope, handled)
        for rule in rules:
            rule.apply(self, at)

    # --------------------------------------------------------------------------------- recording

    def add(
        self,
        path: str,
        kind: ChangeKind,
        summary: str,
        *,
        material: bool = False,
        reason: str | None = None,
        purposes: Iterable[str] = (),
    ) -> None:
        affected = tuple(sorted(set(purposes) & self.common_purposes)) if material else ()
        self.out.append(PolicyChange(path, kind, summary, material, reason if material else None, affected))

    def other_fields(
        self, path: str, old: BaseModel, new: BaseModel, label: str, handled: frozenset[str] | set[str]
    ) -> None:
        """Minor changes for every field without a rule of its own, so no difference goes unlisted."""
        for name in type(new).model_fields:
            if name in handled:
                continue
            before, after = getattr(old, name), getattr(new, name)
            if before == after:
                continue
            words = name.replace("_", " ")
            if before is None or before == []:
                self.add(f"{path}.{name}", "added", f"{cap(label)} now states its {words}.")
            elif after is None or after == []:
                self.add(f"{path}.{name}", "removed", f"{cap(label)} no longer states its {words}.")
            else:
                self.add(f"{path}.{name}", "changed", f"The {words} of {label} changed.")

    def listed(
        self,
        path: str,
        old: Iterable[T],
        new: Iterable[T],
        added: Callable[[T], str],
        removed: Callable[[T], str],
        *,
        reason: str | None = None,
        worse_when: Literal["added", "removed"] = "added",
        purposes: Iterable[str] = (),
    ) -> None:
        """Items gained, then items lost, in a list field, each at `path[item]`.

        Most lists widen what is done when they gain an item (a source, a country); some weaken what a person
        can do when they lose one (a request channel). With a `reason`, the `worse_when` side is material and
        the other minor; without one, both are minor.
        """
        gained, lost = added_removed(old, new)
        for item in gained:
            material = reason is not None and worse_when == "added"
            self.add(
                f"{path}[{key_text(item)}]", "added", added(item), material=material, reason=reason, purposes=purposes
            )
        for item in lost:
            material = reason is not None and worse_when == "removed"
            self.add(
                f"{path}[{key_text(item)}]",
                "removed",
                removed(item),
                material=material,
                reason=reason,
                purposes=purposes,
            )

    def order(self, path: str, old_keys: Sequence[Hashable], new_keys: Sequence[Hashable], what: str) -> None:
        common = set(old_keys) & set(new_keys)
        if [k for k in old_keys if k in common] != [k for k in new_keys if k in common]:
            self.add(path, "changed", f"The order of {what} in the notice changed.")

    # ------------------------------------------------------------------------------ lookups

    def purposes_using(self, doc: PolicyDocument, category: str) -> set[str]:
        return set(self._users[id(doc)].get(category, ()))

    def longest(self, doc: PolicyDocument, cid: str) -> float | None:
        """The longest retention any rule states for a category; None when no rule covers it."""
        spans = self._spans[id(doc)].get(cid)
        return max(spans) if spans else None

    def extends(self, cid: str, new_days: float) -> bool:
        """True if keeping `cid` for `new_days` is longer than any rule of the old policy allowed."""
        if cid not in self.old_categories:
            return False  # a new category is material in its own right
        before = self.longest(self.old, cid)
        return before is not None and new_days > before

    def category_name(self, cid: str) -> str:
        category = self.new_categories.get(cid) or self.old_categories.get(cid)
        return f'"{category.name}" ({cid})' if category else cid
