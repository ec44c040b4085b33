"""The notice's view model: everything a reader is told, computed from the policy data by pure functions.

One view model feeds all three formats (HTML, Markdown, JSON), so the formats cannot drift apart and the
JSON form is exactly what the pages show. Its content follows the notice requirements together:
DPDP Act s.5(1) and Rule 3 (itemised data, purpose, service enabled, links to withdraw, exercise rights and
complain), SPDI Rules r.4 and r.5(3) (types of data, purpose, disclosure, security practices, who collects),
GDPR Art 13 (controller, contacts, legal basis, recipients, transfers, retention, rights, complaint) and
ISO/IEC 29184 5.3 (collection method, jurisdiction of storage, basis for processing, versioning).

Fixed wording goes through the `Translator` passed in (a Babel `Translations`); the store's own words from
the policy file are passed through untouched.
"""

from __future__ import annotations

from collections.abc import Sequence

from babel.core import Locale

from fiduciary.policy.notice.view.changes import ChangeSections
from fiduciary.policy.notice.view.children import ChildrenSections
from fiduciary.policy.notice.view.contacts import ContactSections
from fiduciary.policy.notice.view.cookies import CookieSections
from fiduciary.policy.notice.view.data import DataSections
from fiduciary.policy.notice.view.model import (
    N_,
    VIEW_SCHEMA,
    AddressView,
    AuthorityView,
    BusinessDaysView,
    CategoryView,
    ChangesView,
    ChannelView,
    ChildrenView,
    Coded,
    ComplaintsView,
    ContactView,
    ControllerView,
    CookieGroup,
    CookieView,
    CurrentVersionView,
    DeadlineView,
    HolidayView,
    ItemRow,
    LegalGroundView,
    Links,
    MarketingSection,
    MarketingView,
    NoticeView,
    OptOutSection,
    OptOutView,
    PurposeView,
    RecipientView,
    RetentionView,
    RightView,
    SecurityMeasureView,
    SecuritySection,
    Translator,
    VersionView,
)
from fiduciary.policy.notice.view.optouts import OptOutSections
from fiduciary.policy.notice.view.rights import RightsSections
from fiduciary.policy.notice.view.versions import NoticeVersion, notice_versions
from fiduciary.policy.schema import PolicyDocument

__all__ = [
    "N_",
    "VIEW_SCHEMA",
    "AddressView",
    "AuthorityView",
    "BusinessDaysView",
    "CategoryView",
    "ChangesView",
    "ChannelView",
    "ChildrenView",
    "Coded",
    "ComplaintsView",
    "ContactView",
    "ControllerView",
    "CookieGroup",
    "CookieView",
    "CurrentVersionView",
    "DeadlineView",
    "HolidayView",
    "ItemRow",
    "LegalGroundView",
    "Links",
    "MarketingSection",
    "MarketingView",
    "NoticeVersion",
    "NoticeView",
    "OptOutSection",
    "OptOutView",
    "PurposeView",
    "RecipientView",
    "RetentionView",
    "RightView",
    "SecurityMeasureView",
    "SecuritySection",
    "Translator",
    "VersionView",
    "build_notice_view",
    "notice_versions",
]


class _Builder(
    DataSections, CookieSections, RightsSections, OptOutSections, ChildrenSections, ContactSections, ChangeSections
):
    """Every section of the notice; each concept's methods live in its own module."""


def build_notice_view(
    document: PolicyDocument,
    translations: Translator,
    *,
    language: str = "en",
    locale: Locale | None = None,
    history: Sequence[NoticeVersion] = (),
    current: int | None = None,
    base_url: str | None = None,
) -> NoticeView:
    """Compute everything the notice says. Pure: the same inputs always give the same view."""
    b = _Builder(document, translations, locale or Locale.parse(language), base_url)
    head, versions = b.history(history, current)
    return NoticeView(
        schema=VIEW_SCHEMA,
        language=language,
        title=document.name,
        version=head,
        controller=b.controller(),
        links=b.links(),
        items=b.items(),
        categories=[b.category(c) for c in document.categories],
        purposes=[b.purpose(p) for p in document.purposes],
        recipients=[b.recipient(r) for r in document.recipients],
        cookies=b.cookies(),
        marketing=b.marketing(),
        rights=[b.right(r) for r in document.rights],
        business_days=b.business_days(),
        children=b.children(),
        security=b.security(),
        contacts=b.contacts(),
        complaints=b.complaints(),
        changes=b.changes(),
        opt_outs=b.opt_outs(),
        history=versions,
    )
