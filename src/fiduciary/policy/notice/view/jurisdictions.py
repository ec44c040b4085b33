"""What the notice says per jurisdiction (issue 12 item 1): each statement that differs by where a person
lives is shown once, with whom it applies to ("If you live in the European Union or the United Kingdom").

A policy serving one law gets none of this: every list here is empty and every `applies_to` None, so its
notice reads (and its JSON is) exactly as before. GDPR Art 13(1)(a) (the representative), 13(1)(c) (the
legal basis), 13(2)(b) and (d) (rights, complaint), DPDP s.5(1) and Rule 3 (notice), CCPA 1798.120(c).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import TypeVar

from fiduciary.policy.notice.view.base import BuilderBase
from fiduciary.policy.notice.view.labels import REGION
from fiduciary.policy.notice.view.model import (
    N_,
    AgeBandView,
    Coded,
    ContactView,
    LegalGroundView,
    RegionalGroundView,
)
from fiduciary.policy.schema import Deadline, Jurisdiction, JurisdictionGround, Purpose, Right

_Value = TypeVar("_Value")
# Where a person lives, as the sentence "If you live in …" needs it.
LIVE_IN = {
    Jurisdiction.IN: N_("India"),
    Jurisdiction.EU: N_("the European Union"),
    Jurisdiction.UK: N_("the United Kingdom"),
    Jurisdiction.US_CA: N_("California"),
}
# The representative's law per jurisdiction (GDPR Art 27, UK GDPR Art 27).
_REPRESENTATIVE_LAW = {Jurisdiction.EU: "GDPR Art 27", Jurisdiction.UK: "UK GDPR Art 27"}


def _ground_key(g: JurisdictionGround) -> Hashable:
    return (g.legal_ground, g.legitimate_use, g.exemption, g.legal_basis_reference)


class JurisdictionSections(BuilderBase):
    """The per-jurisdiction parts of the purposes, rights, children, complaints and contacts sections."""

    @property
    def declared(self) -> list[Jurisdiction]:
        return list(self.doc.controller.jurisdictions)

    def applies_to(self, jurisdictions: Iterable[Jurisdiction]) -> str:
        wanted = set(jurisdictions)
        regions = [self.label(LIVE_IN, j) for j in self.declared if j in wanted]
        return self._("If you live in %(regions)s") % {"regions": self.join_or(regions)}

    @staticmethod
    def _groups(
        jurisdictions: list[Jurisdiction], value_of: dict[Jurisdiction, _Value]
    ) -> list[tuple[list[Jurisdiction], _Value]]:
        """Jurisdictions grouped by an equal value, in the order the controller declares them."""
        groups: list[tuple[list[Jurisdiction], _Value]] = []
        for j in jurisdictions:
            for members, value in groups:
                if value == value_of[j]:
                    members.append(j)
                    break
            else:
                groups.append(([j], value_of[j]))
        return groups

    # ------------------------------------------------------------------------------------ purposes

    def regional_grounds(self, purpose: Purpose) -> list[RegionalGroundView]:
        """The ground for each group of jurisdictions, when it is not the same for all (GDPR Art 13(1)(c))."""
        if not purpose.grounds_by_jurisdiction:
            return []
        statements = {j: purpose.ground_for(j) for j in self.declared}
        keyed = {j: _ground_key(g) for j, g in statements.items()}
        groups = self._groups(self.declared, keyed)
        if len(groups) < 2:  # one ground for everyone: nothing regional to say
            return []
        return [
            RegionalGroundView(
                applies_to=self.applies_to(members),
                jurisdictions=[j.value for j in members],
                legal_ground=self.legal_ground(statements[members[0]]),
            )
            for members, _ in groups
        ]

    def purpose_ground(self, purpose: Purpose) -> LegalGroundView:
        """The purpose's ground as the notice states it: its own, or the one every jurisdiction shares."""
        statements = {_ground_key(purpose.ground_for(j)) for j in self.declared}
        if purpose.grounds_by_jurisdiction and len(statements) == 1:
            return self.legal_ground(purpose.ground_for(self.declared[0]))
        return self.legal_ground(purpose)

    def ground_text(self, purpose: Purpose) -> str:
        """One line for the itemised table: the ground, or each group's with whom it applies to."""
        regional = self.regional_grounds(purpose)
        if not regional:
            return self.purpose_ground(purpose).label
        return "; ".join(f"{g.applies_to}: {g.legal_ground.label}" for g in regional)

    # -------------------------------------------------------------------------------------- rights

    def right_applies_to(self, right: Right) -> str | None:
        """'If you live in California' for a right offered only to some of the people the store serves."""
        if not right.jurisdictions or set(self.declared) <= set(right.jurisdictions):
            return None
        return self.applies_to(right.jurisdictions)

    def offered_in(self, right: Right) -> list[Jurisdiction]:
        return [j for j in self.declared if not right.jurisdictions or j in right.jurisdictions]

    def right_deadline(self, right: Right) -> Deadline:
        """The one deadline of a right when it is the same for everyone it is offered to."""
        offered = self.offered_in(right)
        if right.deadlines_by_jurisdiction and offered:
            groups = self._groups(offered, {j: right.deadline_for(j) for j in offered})
            if len(groups) == 1:
                return groups[0][1]
        return right.deadline

    def regional_deadlines(self, right: Right) -> list[tuple[str, Deadline]]:
        """Each group's deadline with whom it applies to, when they differ (GDPR Art 12(3), CCPA 1798.130)."""
        if not right.deadlines_by_jurisdiction:
            return []
        offered = self.offered_in(right)
        groups = self._groups(offered, {j: right.deadline_for(j) for j in offered})
        if len(groups) < 2:  # the same deadline for everyone
            return []
        return [(self.applies_to(members), deadline) for members, deadline in groups]

    # ------------------------------------------------------------------------------------ children

    def age_bands(self) -> list[AgeBandView]:
        """The ages each law sets, for the people who live there (DPDP s.2(f), GDPR Art 8(1), CCPA 1798.120(c))."""
        bands = self.doc.children.by_jurisdiction
        views: list[AgeBandView] = []
        for j in self.declared:
            band = bands.get(j)
            if band is None:
                continue
            parts = [self._("Under %(age)d you count as a child.") % {"age": band.minimum_age}]
            if band.country_ages:
                ages = [f"{self.country(c).label} {age}" for c, age in sorted(band.country_ages.items())]
                parts.append(self._("The age differs by country: %(ages)s.") % {"ages": self.join(ages)})
            if band.sale_opt_in_age is not None:
                parts.append(
                    self._("Under %(age)d we sell or share your personal data only if you opt in.")
                    % {"age": band.sale_opt_in_age}
                )
            if band.sale_parent_age is not None:
                parts.append(
                    self._("Under %(age)d only a parent or guardian can opt in for you.")
                    % {"age": band.sale_parent_age}
                )
            views.append(
                AgeBandView(
                    applies_to=self.applies_to([j]),
                    jurisdiction=Coded(j.value, self.label(REGION, j)),
                    minimum_age=band.minimum_age,
                    statement=" ".join(parts),
                )
            )
        return views

    # ---------------------------------------------------------------------------- complaints, contacts

    def authority_applies_to(self, jurisdiction: Jurisdiction) -> str | None:
        return self.applies_to([jurisdiction]) if len(self.declared) > 1 else None

    def representatives(self) -> list[ContactView]:
        """GDPR Art 27 / UK GDPR Art 27 representatives, named with their contact details (Art 13(1)(a))."""
        views: list[ContactView] = []
        for rep in self.doc.contacts.representatives:
            region = self.label(LIVE_IN, rep.jurisdiction)
            label = self._("Our representative in %(region)s (%(law)s)") % {
                "region": region,
                "law": _REPRESENTATIVE_LAW.get(rep.jurisdiction, "GDPR Art 27"),
            }
            note = self._("%(applies_to)s, you can also contact our representative about your personal data.") % {
                "applies_to": self.applies_to([rep.jurisdiction])
            }
            views.append(
                ContactView(
                    role=Coded(f"representative_{rep.jurisdiction.value.lower()}", label),
                    name=rep.name,
                    designation=rep.designation,
                    email=str(rep.email) if rep.email else None,
                    phone=rep.phone,
                    address=self.address(rep.address).text if rep.address else None,
                    url=str(rep.url) if rep.url else None,
                    hours=rep.hours,
                    policy_url=None,
                    notes=[note],
                )
            )
        return views
