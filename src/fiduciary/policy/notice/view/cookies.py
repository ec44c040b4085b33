"""The cookies section of the notice, grouped by category."""

from __future__ import annotations

from fiduciary.policy.notice.view.base import BuilderBase
from fiduciary.policy.notice.view.labels import COOKIE_CATEGORY
from fiduciary.policy.notice.view.model import (
    Coded,
    CookieGroup,
    CookieView,
)
from fiduciary.policy.schema import (
    CookieCategory,
    LegalGround,
)


class CookieSections(BuilderBase):
    """Builds the cookie groups of the notice."""

    def cookies(self) -> list[CookieGroup]:
        groups: list[CookieGroup] = []
        for category in CookieCategory:
            members = [c for c in self.doc.cookies if c.category is category]
            if not members:
                continue
            label, explanation = COOKIE_CATEGORY[category]
            views: list[CookieView] = []
            for cookie in members:
                purpose = self.purposes.get(cookie.purpose) if cookie.purpose else None
                lifetime = (
                    self._("Until you close your browser")
                    if cookie.lifetime == "session"
                    else self.duration(cookie.lifetime)
                )
                party = (
                    Coded("first", self._("First party (set by us)"))
                    if cookie.party == "first"
                    else Coded("third", self._("Third party (set by %(provider)s)") % {"provider": cookie.provider})
                )
                views.append(
                    CookieView(
                        name=cookie.name,
                        provider=cookie.provider,
                        party=party,
                        lifetime=lifetime,
                        purpose=purpose.name if purpose else None,
                        consent_required=bool(purpose and purpose.legal_ground is LegalGround.CONSENT),
                        description=cookie.description,
                    )
                )
            groups.append(CookieGroup(Coded(category.value, self._(label)), self._(explanation), views))
        return groups
