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

from collections.abc import Iterable, Sequence

from fiduciary.policy.diff.engine import ChangeKind, Differ, PolicyChange
from fiduciary.policy.diff.table import POLICY_RULES
from fiduciary.policy.schema import LegalGround, PolicyDocument

__all__ = [
    "ChangeKind",
    "PolicyChange",
    "diff_policies",
    "is_material",
    "materially_changed_purposes",
    "reconsent_purposes",
    "summarise",
]


def diff_policies(old: PolicyDocument, new: PolicyDocument) -> list[PolicyChange]:
    """Every change from `old` to `new`, in document order, each classified material or minor."""
    return Differ(old, new).run(POLICY_RULES)


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
