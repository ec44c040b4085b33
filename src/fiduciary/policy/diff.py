"""What changed between two policy versions, and which changes are material.

A material change is one a person would want to know about before it applies to them, because it widens
what is done with their data or weakens what they can do about it: ISO/IEC 29184 5.5 (renew notice and
consent when purposes, recipients, retention or the controller change), DPDP Act s.5-6 (consent is
specific to the notice it was given on) and GDPR Art 13(3) (new information before further processing for
another purpose). Material changes drive notice to every person and re-consent for the purposes whose
terms got broader; minor changes are listed in the version history only.

Items are matched by their identity, never by list position, so moving a purpose in the file is not a
change of that purpose: categories, purposes, recipients and retention rules by `id`, cookies by name and
provider, rights by kind, holidays by date, authorities and security measures by name.

Summaries are plain sentences made from identifiers and store-authored labels. They never quote a
contact's details or free text (descriptions, limitations), which may name a person.

Retention lengths are compared by `Duration.approx_days`. A rule without `keep_for` is treated as the
longest possible retention (the notice no longer states a period), except that giving a period to a rule
that had none is material when the clock starts at a later event (data then lives that long after the
trigger instead of ending at it); see docs/decisions/0005-policy-diff-retention.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal, TypeVar

from pydantic import BaseModel

from fiduciary.policy.duration import Duration
from fiduciary.policy.schema import (
    Contact,
    Cookie,
    CookieCategory,
    DataCategory,
    Deadline,
    LegalGround,
    PolicyDocument,
    Purpose,
    Recipient,
    RecipientKind,
    RetentionRule,
    RetentionTrigger,
    Right,
    SecurityContact,
    Sensitivity,
    Verification,
)

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


def diff_policies(old: PolicyDocument, new: PolicyDocument) -> list[PolicyChange]:
    """Every change from `old` to `new`, in document order, each classified material or minor."""
    return _Differ(old, new).run()


def materially_changed_purposes(old: PolicyDocument, new: PolicyDocument) -> set[str]:
    """Purposes in both versions whose consent must be asked again (ISO/IEC 29184 5.5.3).

    A new purpose is not here: nobody consented to it, so it is asked for like any first consent. Purposes
    on another legal ground are not here either: a material change to them calls for a notice, not consent.
    """
    return reconsent_purposes(diff_policies(old, new), new)


def reconsent_purposes(changes: Iterable[PolicyChange], new: PolicyDocument) -> set[str]:
    """The consent purposes of `new` that the material `changes` affect."""
    consent = {p.id for p in new.purposes if p.legal_ground is LegalGround.CONSENT}
    return {p for change in changes if change.material for p in change.affected_purposes if p in consent}


def is_material(changes: Iterable[PolicyChange]) -> bool:
    return any(change.material for change in changes)


def summarise(changes: Sequence[PolicyChange]) -> str:
    """One line for the end of a change list, e.g. `5 changes, 2 material.`"""
    if not changes:
        return "No changes."
    material = sum(1 for c in changes if c.material)
    noun = "change" if len(changes) == 1 else "changes"
    return f"{len(changes)} {noun}, {material} material."


# ------------------------------------------------------------------------------------------ helpers


def _by_key(items: Iterable[T], key: Callable[[T], Hashable]) -> dict[Any, T]:
    """First occurrence wins; duplicates are the checker's to report, not a reason to crash here."""
    out: dict[Any, T] = {}
    for item in items:
        out.setdefault(key(item), item)
    return out


def _added_removed(old: Iterable[T], new: Iterable[T]) -> tuple[list[T], list[T]]:
    old_list, new_list = list(dict.fromkeys(old)), list(dict.fromkeys(new))
    old_set, new_set = set(old_list), set(new_list)
    return [x for x in new_list if x not in old_set], [x for x in old_list if x not in new_set]


def _key(value: object) -> str:
    """How an item of a list field is named in a change's path: an enum by its value."""
    return str(value.value) if isinstance(value, Enum) else str(value)


def _text(value: object) -> str:
    if isinstance(value, Enum):
        return str(value.value).replace("_", " ")
    if isinstance(value, Duration):
        return value.describe()
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


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
            spans.setdefault(cid, []).append(_days(rule.keep_for))
    return spans


def _days(duration: Duration | None) -> float:
    return math.inf if duration is None else duration.approx_days


def _cookie_days(lifetime: Duration | str) -> float:
    return 0.0 if isinstance(lifetime, str) else lifetime.approx_days


def _ground(purpose: Purpose) -> str:
    if purpose.legal_ground is LegalGround.LEGITIMATE_USE and purpose.legitimate_use is not None:
        return f"legitimate use (DPDP s.7({purpose.legitimate_use.value[1:]}))"
    if purpose.legal_ground is LegalGround.EXEMPTION and purpose.exemption is not None:
        return f"an exemption (DPDP s.{purpose.exemption.value})"
    return _text(purpose.legal_ground)


_GROUND_FIELDS = ("legal_ground", "legitimate_use", "exemption")


_VERIFICATION_BURDEN = {
    Verification.NONE: 0,
    Verification.SIGNED_IN_SESSION: 1,
    Verification.EMAIL_OTP: 1,
    Verification.SMS_OTP: 1,
    Verification.DATA_POINTS_2: 2,
    Verification.DATA_POINTS_3_DECLARATION: 3,
    Verification.DOCUMENT: 3,
}

# A processor acts only on the store's instructions; other kinds use the data for their own ends.
_OWN_ENDS = {RecipientKind.AFFILIATE, RecipientKind.THIRD_PARTY, RecipientKind.ACQUIRER}

_PURPOSE_FLAGS = {
    "tracking": "tracking",
    "profiling": "profiling",
    "targeted_advertising": "targeted advertising",
    "sale_or_sharing": "sale or sharing",
    "automated_decision": "automated decisions",
    "spdi_written_consent": "sensitive personal data (SPDI)",
}

_CONTACT_LABELS = {
    "grievance_officer": "the grievance officer",
    "data_protection_officer": "the data protection officer",
    "privacy_contact": "the privacy contact",
    "security": "the security contact",
    "cert_in_point_of_contact": "the CERT-In point of contact",
}


class _Differ:
    def __init__(self, old: PolicyDocument, new: PolicyDocument) -> None:
        self.old, self.new = old, new
        self.out: list[PolicyChange] = []
        self.old_purposes = _by_key(old.purposes, lambda p: p.id)
        self.new_purposes = _by_key(new.purposes, lambda p: p.id)
        self.common_purposes = set(self.old_purposes) & set(self.new_purposes)
        self.old_categories = _by_key(old.categories, lambda c: c.id)
        self.new_categories = _by_key(new.categories, lambda c: c.id)
        self._users = {id(old): _category_users(old), id(new): _category_users(new)}
        self._spans = {id(old): _category_spans(old), id(new): _category_spans(new)}

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

    def other_fields(self, path: str, old: BaseModel, new: BaseModel, label: str, handled: set[str]) -> None:
        """Minor changes for every field without a rule of its own, so no difference goes unlisted."""
        for name in type(new).model_fields:
            if name in handled:
                continue
            before, after = getattr(old, name), getattr(new, name)
            if before == after:
                continue
            words = name.replace("_", " ")
            if before is None or before == []:
                self.add(f"{path}.{name}", "added", f"{_cap(label)} now states its {words}.")
            elif after is None or after == []:
                self.add(f"{path}.{name}", "removed", f"{_cap(label)} no longer states its {words}.")
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
        gained, lost = _added_removed(old, new)
        for item in gained:
            material = reason is not None and worse_when == "added"
            self.add(f"{path}[{_key(item)}]", "added", added(item), material=material, reason=reason, purposes=purposes)
        for item in lost:
            material = reason is not None and worse_when == "removed"
            self.add(
                f"{path}[{_key(item)}]", "removed", removed(item), material=material, reason=reason, purposes=purposes
            )

    def order(self, path: str, old_keys: Sequence[Hashable], new_keys: Sequence[Hashable], what: str) -> None:
        common = set(old_keys) & set(new_keys)
        if [k for k in old_keys if k in common] != [k for k in new_keys if k in common]:
            self.add(path, "changed", f"The order of {what} in the notice changed.")

    # --------------------------------------------------------------------------------------- run

    def run(self) -> list[PolicyChange]:
        self.document()
        self.controller()
        self.contacts()
        self.categories()
        self.purposes()
        self.recipients()
        self.retention()
        self.cookies()
        self.rights()
        self.calendar()
        self.children()
        self.cases()
        self.policy_changes()
        self.security_measures()
        if not self.out and self.old != self.new:  # pragma: no cover - a schema field no rule reaches
            self.add("", "changed", "The policy changed in a way this comparison does not itemise.")
        return self.out

    def document(self) -> None:
        handled = {
            "controller", "contacts", "categories", "purposes", "recipients", "retention", "cookies",
            "rights", "calendar", "children", "cases", "policy_changes", "security_measures",
        }  # fmt: skip
        old, new = self.old, self.new
        if old.name != new.name:
            self.add("name", "changed", "The title of the policy changed.")
        if old.language != new.language:
            self.add("language", "changed", f"The notice language changed from {old.language} to {new.language}.")
        self.other_fields("document", old, new, "the policy", handled | {"name", "language"})

    # -------------------------------------------------------------------------------- controller

    def controller(self) -> None:
        old, new = self.old.controller, self.new.controller
        if old.legal_name != new.legal_name:
            # Consent was given to one controller; another cannot rely on it (ISO/IEC 29184 5.3.3, 5.5).
            self.add(
                "controller.legal_name",
                "changed",
                "The legal identity of the store responsible for your data changed.",
                material=True,
                reason="controller identity changed",
                purposes=self.common_purposes,
            )
        if old.address.country != new.address.country:
            self.add(
                "controller.address.country",
                "changed",
                f"The store's registered country changed from {old.address.country} to {new.address.country}.",
                material=True,
                reason="controller moved to another country",
                purposes=self.common_purposes,
            )
        elif old.address != new.address:
            self.add("controller.address", "changed", "The store's postal address changed.")
        self.listed(
            "controller.jurisdictions",
            old.jurisdictions,
            new.jurisdictions,
            lambda j: f"The store now also applies {j.value} law.",
            lambda j: f"The store no longer applies {j.value} law, so the rights it gives no longer apply.",
            reason="weaker rights",
            worse_when="removed",
        )
        self.other_fields("controller", old, new, "the store", {"legal_name", "address", "jurisdictions"})

    # ---------------------------------------------------------------------------------- contacts

    def contacts(self) -> None:
        old, new = self.old.contacts, self.new.contacts
        for name, label in _CONTACT_LABELS.items():
            before: Contact | SecurityContact | None = getattr(old, name)
            after: Contact | SecurityContact | None = getattr(new, name)
            path = f"contacts.{name}"
            if before == after:
                continue
            if before is None:
                self.add(path, "added", f"{_cap(label)} is now named in the notice.")
            elif after is None:
                self.add(path, "removed", f"{_cap(label)} is no longer named in the notice.")
            else:
                # Contact values may name a person: say which detail changed, never what it is.
                for field_name in type(after).model_fields:
                    if getattr(before, field_name) != getattr(after, field_name):
                        words = field_name.replace("_", " ")
                        self.add(f"{path}.{field_name}", "changed", f"The {words} of {label} changed.")
        old_auth = _by_key(old.authorities, lambda a: a.name)
        new_auth = _by_key(new.authorities, lambda a: a.name)
        for key, auth in new_auth.items():
            path = f"contacts.authorities[{key}]"
            if key not in old_auth:
                self.add(path, "added", f"The notice now names {auth.name} as an authority to complain to.")
            elif old_auth[key] != auth:
                self.other_fields(path, old_auth[key], auth, f"the authority {auth.name}", set())
        for key, auth in old_auth.items():
            if key not in new_auth:
                self.add(
                    f"contacts.authorities[{key}]",
                    "removed",
                    f"The notice no longer names {auth.name} as an authority to complain to.",
                )

    # -------------------------------------------------------------------------------- categories

    def purposes_using(self, doc: PolicyDocument, category: str) -> set[str]:
        return set(self._users[id(doc)].get(category, ()))

    def categories(self) -> None:
        old_map, new_map = self.old_categories, self.new_categories
        for cid, new in new_map.items():
            path = f"categories[{cid}]"
            label = f'the data category "{new.name}" ({cid})'
            if cid not in old_map:
                self.add(path, "added", f"{_cap(label)} is newly collected.", material=True, reason="new category")
                continue
            if old_map[cid] != new:
                self.category(path, label, old_map[cid], new)
        for cid, old in old_map.items():
            if cid not in new_map:
                self.add(
                    f"categories[{cid}]",
                    "removed",
                    f'The data category "{old.name}" ({cid}) is no longer collected.',
                )
        self.order("categories", list(old_map), list(new_map), "data categories")

    def category(self, path: str, label: str, old: DataCategory, new: DataCategory) -> None:
        users = self.purposes_using(self.new, new.id)
        if old.sensitivity != new.sensitivity:
            stricter = new.sensitivity is not Sensitivity.STANDARD
            self.add(
                f"{path}.sensitivity",
                "changed",
                f"{_cap(label)} is now classed as {_text(new.sensitivity)} instead of {_text(old.sensitivity)}.",
                material=stricter,
                reason="category reclassified as sensitive",
                purposes=users,
            )
        self.listed(
            f"{path}.sources",
            old.sources,
            new.sources,
            lambda src: f"{_cap(label)} is now also obtained {_SOURCE_WORDS[src.value]}.",
            lambda src: f"{_cap(label)} is no longer obtained {_SOURCE_WORDS[src.value]}.",
            reason="new source of data",
            purposes=users,
        )
        self.listed(
            f"{path}.third_party_sources",
            old.third_party_sources,
            new.third_party_sources,
            lambda party: f"{_cap(label)} is now also received from {party}.",
            lambda party: f"{_cap(label)} is no longer received from {party}.",
            reason="new source of data",
            purposes=users,
        )
        if old.required != new.required:
            if new.required:
                self.add(
                    f"{path}.required",
                    "changed",
                    f"{_cap(label)} is now required instead of optional.",
                    material=True,
                    reason="optional data made required",
                    purposes=users,
                )
            else:
                self.add(f"{path}.required", "changed", f"{_cap(label)} is now optional instead of required.")
        if old.device_permission != new.device_permission:
            if new.device_permission is None:
                self.add(f"{path}.device_permission", "removed", f"{_cap(label)} no longer needs a device permission.")
            else:
                self.add(
                    f"{path}.device_permission",
                    "added" if old.device_permission is None else "changed",
                    f"{_cap(label)} now comes from the device permission {new.device_permission}.",
                    material=True,
                    reason="new device permission",
                    purposes=users,
                )
        self.other_fields(
            path, old, new, label, {"sensitivity", "sources", "third_party_sources", "required", "device_permission"}
        )

    # ---------------------------------------------------------------------------------- purposes

    def purposes(self) -> None:
        old_map, new_map = self.old_purposes, self.new_purposes
        for pid, new in new_map.items():
            path = f"purposes[{pid}]"
            label = f'the purpose "{new.name}" ({pid})'
            if pid not in old_map:
                self.add(
                    path,
                    "added",
                    f"Your data is used for a new purpose: {new.name} ({pid}), on the ground of {_ground(new)}.",
                    material=True,
                    reason="new purpose",
                )
                continue
            if old_map[pid] != new:
                self.purpose(path, label, old_map[pid], new)
        for pid, old in old_map.items():
            if pid not in new_map:
                self.add(f"purposes[{pid}]", "removed", f'Your data is no longer used for "{old.name}" ({pid}).')
        self.order("purposes", list(old_map), list(new_map), "purposes")

    def purpose(self, path: str, label: str, old: Purpose, new: Purpose) -> None:
        me = (new.id,)
        ground_changed = [f for f in _GROUND_FIELDS if getattr(old, f) != getattr(new, f)]
        if ground_changed:
            consent = LegalGround.CONSENT in (old.legal_ground, new.legal_ground)
            field_name = ground_changed[0]
            self.add(
                f"{path}.{field_name}",
                "changed",
                f"{_cap(label)} now relies on {_ground(new)} instead of {_ground(old)}.",
                material=True,
                reason="legal ground changed to or from consent" if consent else "legal ground changed",
                purposes=me,
            )
        if old.required_for_service != new.required_for_service:
            if new.required_for_service:
                self.add(
                    f"{path}.required_for_service",
                    "changed",
                    f"{_cap(label)} is now a condition of using the service.",
                    material=True,
                    reason="purpose made a condition of service",
                    purposes=me,
                )
            else:
                self.add(
                    f"{path}.required_for_service",
                    "changed",
                    f"{_cap(label)} is no longer a condition of using the service.",
                )
        if old.children_exemption != new.children_exemption:
            # DPDP s.9(5) Part B: a newly exempt purpose runs for children without a guardian's consent.
            self.add(
                f"{path}.children_exemption",
                "changed",
                f"{_cap(label)} now runs for children without a guardian's consent (DPDP Fourth Schedule Part B)."
                if new.children_exemption
                else f"{_cap(label)} now needs a guardian's consent for children.",
                material=new.children_exemption is not None,
                reason="children's data processed without a guardian's consent",
                purposes=me,
            )
        old_req, new_req = set(old.categories), set(new.categories)
        old_all = old_req | set(old.optional_categories)
        new_all = new_req | set(new.optional_categories)
        for cid in dict.fromkeys([*new.categories, *new.optional_categories]):
            where = "categories" if cid in new_req else "optional_categories"
            if cid not in old_all:
                self.add(
                    f"{path}.{where}[{cid}]",
                    "added",
                    f"{_cap(label)} now uses {self.category_name(cid)}.",
                    material=True,
                    reason="category added to purpose",
                    purposes=me,
                )
            elif cid in new_req and cid not in old_req:
                self.add(
                    f"{path}.categories[{cid}]",
                    "changed",
                    f"{_cap(label)} now requires {self.category_name(cid)}, which was optional.",
                    material=True,
                    reason="optional data made required",
                    purposes=me,
                )
            elif cid not in new_req and cid in old_req:
                self.add(
                    f"{path}.optional_categories[{cid}]",
                    "changed",
                    f"{_cap(label)} now uses {self.category_name(cid)} only if you give it.",
                )
        for cid in dict.fromkeys([*old.categories, *old.optional_categories]):
            if cid not in new_all:
                where = "categories" if cid in old_req else "optional_categories"
                self.add(
                    f"{path}.{where}[{cid}]",
                    "removed",
                    f"{_cap(label)} no longer uses {self.category_name(cid)}.",
                )
        self.listed(
            f"{path}.marketing_channels",
            old.marketing_channels,
            new.marketing_channels,
            lambda ch: f"{_cap(label)} now sends marketing by {_text(ch)}.",
            lambda ch: f"{_cap(label)} no longer sends marketing by {_text(ch)}.",
            reason="new marketing channel",
            purposes=me,
        )
        for flag, words in _PURPOSE_FLAGS.items():
            before, after = getattr(old, flag), getattr(new, flag)
            if before == after:
                continue
            if after:
                self.add(
                    f"{path}.{flag}",
                    "changed",
                    f"{_cap(label)} now involves {words}.",
                    material=True,
                    reason=f"purpose now involves {words}",
                    purposes=me,
                )
            else:
                self.add(f"{path}.{flag}", "changed", f"{_cap(label)} no longer involves {words}.")
        self.other_fields(
            path,
            old,
            new,
            label,
            {*_GROUND_FIELDS, "required_for_service", "categories", "optional_categories",
             "marketing_channels", "children_exemption", *_PURPOSE_FLAGS},
        )  # fmt: skip

    def category_name(self, cid: str) -> str:
        category = self.new_categories.get(cid) or self.old_categories.get(cid)
        return f'"{category.name}" ({cid})' if category else cid

    # -------------------------------------------------------------------------------- recipients

    def recipients(self) -> None:
        old_map = _by_key(self.old.recipients, lambda r: r.id)
        new_map = _by_key(self.new.recipients, lambda r: r.id)
        for rid, new in new_map.items():
            path = f"recipients[{rid}]"
            label = f'the recipient "{new.name}" ({rid})'
            if rid not in old_map:
                countries = ", ".join(new.countries)
                self.add(
                    path,
                    "added",
                    f"{_cap(label)} now receives personal data, processed in {countries}.",
                    material=True,
                    reason="new recipient",
                    purposes=new.purposes,
                )
                continue
            if old_map[rid] != new:
                self.recipient(path, label, old_map[rid], new)
        for rid, old in old_map.items():
            if rid not in new_map:
                self.add(
                    f"recipients[{rid}]", "removed", f'The recipient "{old.name}" ({rid}) no longer receives data.'
                )
        self.order("recipients", list(old_map), list(new_map), "recipients")

    def recipient(self, path: str, label: str, old: Recipient, new: Recipient) -> None:
        if old.kind != new.kind:
            own_ends = new.kind in _OWN_ENDS and old.kind not in _OWN_ENDS
            self.add(
                f"{path}.kind",
                "changed",
                f"{_cap(label)} is now a {_text(new.kind)} instead of a {_text(old.kind)}.",
                material=own_ends,
                reason="recipient now uses data for its own ends",
                purposes=new.purposes,
            )
        self.listed(
            f"{path}.countries",
            old.countries,
            new.countries,
            lambda country: f"{_cap(label)} now also processes data in {country}.",
            lambda country: f"{_cap(label)} no longer processes data in {country}.",
            reason="cross-border transfer to a new country",
            purposes=new.purposes,
        )
        added_p, removed_p = _added_removed(old.purposes, new.purposes)
        for pid in added_p:
            self.add(
                f"{path}.purposes[{pid}]",
                "added",
                f"{_cap(label)} now receives data for the purpose {pid}.",
                material=True,
                reason="recipient receives data for a new purpose",
                purposes=(pid,),
            )
        for pid in removed_p:
            self.add(
                f"{path}.purposes[{pid}]", "removed", f"{_cap(label)} no longer receives data for the purpose {pid}."
            )
        added_c, removed_c = _added_removed(old.categories, new.categories)
        for cid in added_c:
            users = self.purposes_using(self.new, cid) & set(new.purposes)
            self.add(
                f"{path}.categories[{cid}]",
                "added",
                f"{_cap(label)} now receives {self.category_name(cid)}.",
                material=True,
                reason="recipient receives a new category",
                purposes=users or new.purposes,
            )
        for cid in removed_c:
            self.add(
                f"{path}.categories[{cid}]", "removed", f"{_cap(label)} no longer receives {self.category_name(cid)}."
            )
        if old.transfer_safeguard != new.transfer_safeguard:
            if new.transfer_safeguard is None:
                self.add(
                    f"{path}.transfer_safeguard",
                    "removed",
                    f"{_cap(label)} no longer has a stated safeguard for transfers.",
                    material=True,
                    reason="transfer safeguard removed",
                    purposes=new.purposes,
                )
            else:
                kind: ChangeKind = "added" if old.transfer_safeguard is None else "changed"
                self.add(f"{path}.transfer_safeguard", kind, f"The transfer safeguard for {label} changed.")
        self.other_fields(path, old, new, label, {"kind", "countries", "purposes", "categories", "transfer_safeguard"})

    # --------------------------------------------------------------------------------- retention

    def rule_purposes(self, doc: PolicyDocument, rule: RetentionRule) -> set[str]:
        if rule.purposes:
            return set(rule.purposes)
        found: set[str] = set()
        for cid in rule.categories:
            found |= self.purposes_using(doc, cid)
        return found

    def longest(self, doc: PolicyDocument, cid: str) -> float | None:
        """The longest retention any rule states for a category; None when no rule covers it."""
        spans = self._spans[id(doc)].get(cid)
        return max(spans) if spans else None

    def retention(self) -> None:
        old_map = _by_key(self.old.retention, lambda r: r.id)
        new_map = _by_key(self.new.retention, lambda r: r.id)
        for rid, new in new_map.items():
            path = f"retention[{rid}]"
            label = f"the retention rule {rid}"
            if rid not in old_map:
                longer = [c for c in new.categories if self.extends(c, _days(new.keep_for))]
                self.add(
                    path,
                    "added",
                    f"A new retention rule {rid} applies to {', '.join(new.categories)}.",
                    material=bool(longer),
                    reason="longer retention",
                    purposes=self.rule_purposes(self.new, new),
                )
                continue
            if old_map[rid] != new:
                self.rule(path, label, old_map[rid], new)
        for rid, old in old_map.items():
            if rid in new_map:
                continue
            unlimited = [c for c in old.categories if c in self.new_categories and self.longest(self.new, c) is None]
            self.add(
                f"retention[{rid}]",
                "removed",
                f"The retention rule {rid} was removed"
                + (f"; no rule now limits how long {', '.join(unlimited)} is kept." if unlimited else "."),
                material=bool(unlimited),
                reason="retention no longer limited",
                purposes=self.rule_purposes(self.old, old),
            )
        self.order("retention", list(old_map), list(new_map), "retention rules")

    def extends(self, cid: str, new_days: float) -> bool:
        """True if keeping `cid` for `new_days` is longer than any rule of the old policy allowed."""
        if cid not in self.old_categories:
            return False  # a new category is material in its own right
        before = self.longest(self.old, cid)
        return before is not None and new_days > before

    def rule(self, path: str, label: str, old: RetentionRule, new: RetentionRule) -> None:
        affected = self.rule_purposes(self.new, new) | self.rule_purposes(self.old, old)
        if old.keep_for != new.keep_for:
            if new.keep_for is None:
                assert old.keep_for is not None
                self.add(
                    f"{path}.keep_for",
                    "removed",
                    f"{_cap(label)} no longer states how long data is kept (was {old.keep_for.describe()}).",
                    material=True,
                    reason="longer retention",
                    purposes=affected,
                )
            elif old.keep_for is None:
                # Without keep_for, data ends at the trigger; with it, data outlives the trigger.
                later = new.trigger is not RetentionTrigger.COLLECTED
                self.add(
                    f"{path}.keep_for",
                    "added",
                    f"{_cap(label)} now keeps data for {new.keep_for.describe()} after {_text(new.trigger)}.",
                    material=later,
                    reason="longer retention",
                    purposes=affected,
                )
            else:
                longer = new.keep_for.approx_days > old.keep_for.approx_days
                self.add(
                    f"{path}.keep_for",
                    "changed",
                    f"{_cap(label)} now keeps data for {new.keep_for.describe()} instead of {old.keep_for.describe()}.",
                    material=longer,
                    reason="longer retention",
                    purposes=affected,
                )
        if old.trigger != new.trigger:
            self.add(
                f"{path}.trigger",
                "changed",
                f"{_cap(label)} now counts from {_text(new.trigger)} instead of {_text(old.trigger)}.",
                material=new.trigger is not RetentionTrigger.COLLECTED,
                reason="retention counted from a later event",
                purposes=affected,
            )
        if old.action != new.action:
            # Anonymised data is no longer personal data; either action ends the personal data.
            self.add(
                f"{path}.action",
                "changed",
                f"{_cap(label)} now ends with {_text(new.action)} instead of {_text(old.action)}.",
            )
        if old.legal_hold != new.legal_hold:
            if new.legal_hold is None:
                self.add(f"{path}.legal_hold", "removed", f"{_cap(label)} no longer has a legal hold.")
            elif old.legal_hold is None:
                self.add(
                    f"{path}.legal_hold",
                    "added",
                    f"{_cap(label)} now has a legal hold of {new.legal_hold.minimum.describe()}, "
                    "kept even if you ask for erasure.",
                    material=True,
                    reason="legal hold added",
                    purposes=affected,
                )
            elif old.legal_hold.minimum != new.legal_hold.minimum:
                longer = new.legal_hold.minimum.approx_days > old.legal_hold.minimum.approx_days
                self.add(
                    f"{path}.legal_hold.minimum",
                    "changed",
                    f"The legal hold of {label} is now {new.legal_hold.minimum.describe()} instead of "
                    f"{old.legal_hold.minimum.describe()}.",
                    material=longer,
                    reason="longer legal hold",
                    purposes=affected,
                )
            else:
                self.add(f"{path}.legal_hold.basis", "changed", f"The legal basis of the hold in {label} changed.")
        added, removed = _added_removed(old.categories, new.categories)
        for cid in added:
            longer = self.extends(cid, _days(new.keep_for))
            self.add(
                f"{path}.categories[{cid}]",
                "added",
                f"{_cap(label)} now applies to {self.category_name(cid)}.",
                material=longer,
                reason="longer retention",
                purposes=self.purposes_using(self.new, cid) & (set(new.purposes) or self.common_purposes),
            )
        for cid in removed:
            unlimited = cid in self.new_categories and self.longest(self.new, cid) is None
            self.add(
                f"{path}.categories[{cid}]",
                "removed",
                f"{_cap(label)} no longer applies to {self.category_name(cid)}"
                + ("; no rule now limits how long it is kept." if unlimited else "."),
                material=unlimited,
                reason="retention no longer limited",
                purposes=self.purposes_using(self.new, cid),
            )
        self.listed(
            f"{path}.purposes",
            old.purposes,
            new.purposes,
            lambda pid: f"{_cap(label)} now covers data used for {pid}.",
            lambda pid: f"{_cap(label)} no longer covers data used for {pid}.",
        )
        if len(new.exceptions) > 0 and set(new.exceptions) - set(old.exceptions):
            self.add(
                f"{path}.exceptions",
                "added",
                f"{_cap(label)} has a new exception: some data is kept past the rule.",
                material=True,
                reason="new retention exception",
                purposes=affected,
            )
        elif set(old.exceptions) - set(new.exceptions):
            self.add(f"{path}.exceptions", "removed", f"{_cap(label)} has fewer exceptions.")
        self.optional_span(
            f"{path}.advance_notice",
            f"the warning before erasure under {label}",
            old.advance_notice,
            new.advance_notice,
            missing_days=0.0,
            worse_if_longer=False,
            reason="less warning before erasure",
            purposes=affected,
        )
        self.other_fields(
            path,
            old,
            new,
            label,
            {"keep_for", "trigger", "action", "legal_hold", "categories", "purposes", "exceptions",
             "advance_notice"},
        )  # fmt: skip

    # ----------------------------------------------------------------------------------- cookies

    def cookies(self) -> None:
        def key(c: Cookie) -> str:
            return f"{c.name}@{c.provider}"

        old_map = _by_key(self.old.cookies, key)
        new_map = _by_key(self.new.cookies, key)
        for k, new in new_map.items():
            path = f"cookies[{k}]"
            label = f"the cookie {new.name} from {new.provider}"
            purposes = (new.purpose,) if new.purpose else ()
            if k not in old_map:
                necessary = new.category is CookieCategory.NECESSARY
                self.add(
                    path,
                    "added",
                    f"A new {_text(new.category)} cookie {new.name} from {new.provider} is set.",
                    material=not necessary,
                    reason="new non-necessary cookie",
                    purposes=purposes,
                )
                continue
            old = old_map[k]
            if old.category != new.category:
                self.add(
                    f"{path}.category",
                    "changed",
                    f"{_cap(label)} is now {_text(new.category)} instead of {_text(old.category)}.",
                    material=True,
                    reason="cookie category changed",
                    purposes=purposes,
                )
            if old.party != new.party:
                self.add(
                    f"{path}.party",
                    "changed",
                    f"{_cap(label)} is now a {new.party}-party cookie.",
                    material=new.party == "third",
                    reason="cookie now set by a third party",
                    purposes=purposes,
                )
            if old.lifetime != new.lifetime:
                self.add(
                    f"{path}.lifetime",
                    "changed",
                    f"{_cap(label)} now lasts {_lifetime(new.lifetime)} instead of {_lifetime(old.lifetime)}.",
                    material=_cookie_days(new.lifetime) > _cookie_days(old.lifetime),
                    reason="longer cookie lifetime",
                    purposes=purposes,
                )
            if old.purpose != new.purpose:
                self.add(
                    f"{path}.purpose",
                    "changed",
                    f"{_cap(label)} now serves {new.purpose or 'no declared purpose'} instead of "
                    f"{old.purpose or 'no declared purpose'}.",
                    material=new.purpose is not None,
                    reason="cookie used for another purpose",
                    purposes=purposes,
                )
            self.other_fields(path, old, new, label, {"category", "party", "lifetime", "purpose"})
        for k, old in old_map.items():
            if k not in new_map:
                self.add(f"cookies[{k}]", "removed", f"The cookie {old.name} from {old.provider} is no longer set.")
        self.order("cookies", list(old_map), list(new_map), "cookies")

    # ------------------------------------------------------------------------------------ rights

    def rights(self) -> None:
        old_map = _by_key(self.old.rights, lambda r: r.kind)
        new_map = _by_key(self.new.rights, lambda r: r.kind)
        for kind, new in new_map.items():
            path = f"rights[{kind.value}]"
            label = f"the right of {_text(kind)}"
            if kind not in old_map:
                self.add(path, "added", f"You now have {label}.")
                continue
            if old_map[kind] != new:
                self.right(path, label, old_map[kind], new)
        for kind in old_map:
            if kind not in new_map:
                self.add(
                    f"rights[{kind.value}]",
                    "removed",
                    f"The notice no longer offers the right of {_text(kind)}.",
                    material=True,
                    reason="weaker rights: right removed",
                )
        self.order("rights", list(old_map), list(new_map), "rights")

    def right(self, path: str, label: str, old: Right, new: Right) -> None:
        self.deadline(f"{path}.deadline", label, old.deadline, new.deadline)
        self.listed(
            f"{path}.identifiers",
            old.identifiers,
            new.identifiers,
            lambda ident: f"To use {label} you may now be asked for your {_text(ident)}.",
            lambda ident: f"{_cap(label)} no longer asks for your {_text(ident)}.",
            reason="weaker rights: more identifiers asked",
        )
        old_burden = [_VERIFICATION_BURDEN[v] for v in old.verification]
        new_burden = [_VERIFICATION_BURDEN[v] for v in new.verification]
        added_v, removed_v = _added_removed(old.verification, new.verification)
        for v in added_v:
            heavier = _VERIFICATION_BURDEN[v] > max(old_burden)
            self.add(
                f"{path}.verification[{v.value}]",
                "added",
                f"{_cap(label)} may now be verified by {_text(v)}.",
                material=heavier,
                reason="weaker rights: heavier identity verification",
            )
        for v in removed_v:
            easiest_gone = _VERIFICATION_BURDEN[v] == min(old_burden) and min(new_burden) > min(old_burden)
            self.add(
                f"{path}.verification[{v.value}]",
                "removed",
                f"{_cap(label)} is no longer verified by {_text(v)}.",
                material=easiest_gone,
                reason="weaker rights: heavier identity verification",
            )
        self.listed(
            f"{path}.channels",
            old.channels,
            new.channels,
            lambda ch: f"You can now use {label} by {_text(ch)}.",
            lambda ch: f"You can no longer use {label} by {_text(ch)}.",
            reason="weaker rights: fewer channels",
            worse_when="removed",
        )
        if set(new.limitations) - set(old.limitations):
            self.add(
                f"{path}.limitations",
                "added",
                f"{_cap(label)} has a new limitation.",
                material=True,
                reason="weaker rights: new limitation",
            )
        elif set(old.limitations) - set(new.limitations):
            self.add(f"{path}.limitations", "removed", f"{_cap(label)} has fewer limitations.")
        self.other_fields(path, old, new, label, {"deadline", "identifiers", "verification", "channels", "limitations"})

    def deadline(self, path: str, label: str, old: Deadline, new: Deadline) -> None:
        if old.respond_within != new.respond_within:
            self.add(
                f"{path}.respond_within",
                "changed",
                f"The deadline to answer {label} is now {new.respond_within.describe()} instead of "
                f"{old.respond_within.describe()}.",
                material=new.respond_within.approx_days > old.respond_within.approx_days,
                reason="weaker rights: longer deadline",
            )
        self.optional_span(
            f"{path}.acknowledge_within",
            f"the time to acknowledge {label}",
            old.acknowledge_within,
            new.acknowledge_within,
            missing_days=math.inf,
            worse_if_longer=True,
            reason="weaker rights: longer deadline",
        )
        self.optional_span(
            f"{path}.extendable_by",
            f"the permitted extension for {label}",
            old.extendable_by,
            new.extendable_by,
            missing_days=0.0,
            worse_if_longer=True,
            reason="weaker rights: longer possible extension",
        )

    def optional_span(
        self,
        path: str,
        label: str,
        old: Duration | None,
        new: Duration | None,
        *,
        missing_days: float,
        worse_if_longer: bool,
        reason: str,
        purposes: Iterable[str] = (),
    ) -> None:
        """Compare an optional length; `missing_days` is what no value means (no limit, or nothing)."""
        if old == new:
            return
        before = old.approx_days if old else missing_days
        after = new.approx_days if new else missing_days
        kind: ChangeKind = "added" if old is None else "removed" if new is None else "changed"
        if new is None:
            summary = f"{_cap(label)} is no longer stated."
        else:
            summary = f"{_cap(label)} is now {new.describe()}" + (f" instead of {old.describe()}." if old else ".")
        material = after > before if worse_if_longer else after < before
        self.add(path, kind, summary, material=material, reason=reason, purposes=purposes)

    # ---------------------------------------------------------------------- calendar and the rest

    def calendar(self) -> None:
        old, new = self.old.calendar, self.new.calendar
        if old.timezone != new.timezone:
            self.add("calendar.timezone", "changed", f"Deadlines are now counted in {new.timezone}.")
        self.listed(
            "calendar.weekend",
            old.weekend,
            new.weekend,
            lambda day: f"{day.capitalize()} is no longer a business day, so business-day deadlines run longer.",
            lambda day: f"{day.capitalize()} is now a business day.",
            reason="weaker rights: longer deadline",
        )
        old_h = _by_key(old.holidays, lambda h: h.date)
        new_h = _by_key(new.holidays, lambda h: h.date)
        for d, holiday in new_h.items():
            if d not in old_h:
                self.add(f"calendar.holidays[{d.isoformat()}]", "added", f"{d.isoformat()} is now a holiday.")
            elif old_h[d] != holiday:
                self.add(
                    f"calendar.holidays[{d.isoformat()}]", "changed", f"The holiday on {d.isoformat()} was renamed."
                )
        for d in old_h:
            if d not in new_h:
                self.add(f"calendar.holidays[{d.isoformat()}]", "removed", f"{d.isoformat()} is no longer a holiday.")

    def children(self) -> None:
        old, new = self.old.children, self.new.children
        if old.minimum_age != new.minimum_age:
            self.add(
                "children.minimum_age",
                "changed",
                f"Children's protections now apply below age {new.minimum_age} instead of {old.minimum_age}.",
                material=new.minimum_age < old.minimum_age,
                reason="children's protections apply to fewer people",
            )
        if old.guardian_consent != new.guardian_consent:
            self.add(
                "children.guardian_consent",
                "changed",
                "Children may now use the service with a guardian's consent."
                if new.guardian_consent
                else "Children may no longer use the service with a guardian's consent.",
                material=new.guardian_consent,
                reason="children's data now processed",
            )
        self.other_fields("children", old, new, "the rules for children", {"minimum_age", "guardian_consent"})

    def cases(self) -> None:
        old, new = self.old.cases, self.new.cases
        for name in ("acknowledge_within", "resolve_within"):
            before: Duration = getattr(old.grievance, name)
            after: Duration = getattr(new.grievance, name)
            if before != after:
                verb = "acknowledge" if name == "acknowledge_within" else "resolve"
                self.add(
                    f"cases.grievance.{name}",
                    "changed",
                    f"Grievances are now {verb}d within {after.describe()} instead of {before.describe()}.",
                    material=after.approx_days > before.approx_days,
                    reason="weaker rights: longer grievance deadline",
                )
        if old.breach.notify_people != new.breach.notify_people:
            before_d, after_d = old.breach.notify_people, new.breach.notify_people
            self.add(
                "cases.breach.notify_people",
                "changed",
                f"You are now told of a breach within {after_d.describe()} instead of {before_d.describe()}.",
                material=after_d.approx_days > before_d.approx_days,
                reason="weaker rights: later breach notice",
            )
        self.other_fields("cases.breach", old.breach, new.breach, "the breach deadlines", {"notify_people"})
        if old.vulnerability != new.vulnerability:
            if old.vulnerability is None or new.vulnerability is None:
                kind: ChangeKind = "added" if old.vulnerability is None else "removed"
                self.add("cases.vulnerability", kind, "The vulnerability disclosure terms " + kind + ".")
            else:
                self.other_fields(
                    "cases.vulnerability",
                    old.vulnerability,
                    new.vulnerability,
                    "the vulnerability disclosure terms",
                    set(),
                )

    def policy_changes(self) -> None:
        old, new = self.old.policy_changes, self.new.policy_changes
        if old.material_changes_require_reconsent != new.material_changes_require_reconsent:
            self.add(
                "policy_changes.material_changes_require_reconsent",
                "changed",
                "Material changes now ask for your consent again."
                if new.material_changes_require_reconsent
                else "Material changes no longer ask for your consent again.",
                material=not new.material_changes_require_reconsent,
                reason="re-consent no longer asked after material changes",
            )
        self.optional_span(
            "policy_changes.advance_notice",
            "the advance notice of material changes",
            old.advance_notice,
            new.advance_notice,
            missing_days=0.0,
            worse_if_longer=False,
            reason="less advance notice of changes",
        )
        self.listed(
            "policy_changes.announce_via",
            old.announce_via,
            new.announce_via,
            lambda ch: f"Changes are now also announced by {_text(ch)}.",
            lambda ch: f"Changes are no longer announced by {_text(ch)}.",
        )

    def security_measures(self) -> None:
        old_map = _by_key(self.old.security_measures, lambda m: m.name)
        new_map = _by_key(self.new.security_measures, lambda m: m.name)
        for name, measure in new_map.items():
            if name not in old_map:
                self.add(f"security_measures[{name}]", "added", f"The notice now describes the measure {name}.")
            elif old_map[name] != measure:
                self.add(f"security_measures[{name}]", "changed", f"The description of the measure {name} changed.")
        for name in old_map:
            if name not in new_map:
                self.add(f"security_measures[{name}]", "removed", f"The notice no longer describes the measure {name}.")


_SOURCE_WORDS = {
    "provided": "from you directly",
    "automatic": "automatically as you use the service",
    "third_party": "from third parties",
}


def _lifetime(lifetime: Duration | str) -> str:
    return "for the session" if isinstance(lifetime, str) else lifetime.describe()
