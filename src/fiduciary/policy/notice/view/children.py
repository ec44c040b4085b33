"""The children section of the notice: the age below which a guardian decides, and how the guardian is
verified (DPDP s.9).
"""

from __future__ import annotations

from fiduciary.policy.notice.view.jurisdictions import JurisdictionSections
from fiduciary.policy.notice.view.labels import GUARDIAN
from fiduciary.policy.notice.view.model import (
    ChildrenView,
    Coded,
)


class ChildrenSections(JurisdictionSections):
    """Builds the children section of the notice."""

    def children(self) -> ChildrenView:
        rules = self.doc.children
        age = rules.minimum_age
        if rules.guardian_consent:
            statement = self._(
                "If you are under %(age)d, you may use our services only with the verifiable consent of a "
                "parent or lawful guardian (DPDP Act s.9(1))."
            ) % {"age": age}
        else:
            statement = self._(
                "Our services are not for anyone under %(age)d, and we do not knowingly collect their data."
            ) % {"age": age}
        protection = self._(
            "We never track or monitor the behaviour of children, never build profiles of them and never "
            "show them targeted advertising (DPDP Act s.9(3))."
        )
        return ChildrenView(
            minimum_age=age,
            guardian_consent=rules.guardian_consent,
            statement=statement,
            guardian_verification=[Coded(g.value, self.label(GUARDIAN, g)) for g in rules.guardian_verification],
            age_assurance=rules.age_assurance,
            never_for_children=[p.name for p in self.doc.purposes if p.barred_for_children],
            protection=protection,
            bands=self.age_bands(),
        )
