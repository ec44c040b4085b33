"""The notice's view model: plain frozen records of everything a reader is told, in the order told."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

VIEW_SCHEMA = "fiduciary-notice/1"

# Keys a single-jurisdiction notice never fills: left out of the JSON rendering when empty, so the notice of
# a policy serving one law is the same document it was before per-jurisdiction statements existed.
REGIONAL_KEYS = frozenset({"grounds_by_jurisdiction", "applies_to", "deadlines_by_jurisdiction", "bands"})


class Translator(Protocol):
    """The part of `gettext.NullTranslations` the view model uses."""

    def gettext(self, message: str, /) -> str: ...

    def ngettext(self, singular: str, plural: str, n: int, /) -> str: ...


def N_(message: str) -> str:
    """Marks a string for extraction by pybabel; it is translated where it is used."""
    return message


@dataclass(frozen=True)
class Coded:
    """An enumerated value: the stable code for machines, the translated label for people."""

    code: str
    label: str


@dataclass(frozen=True)
class Links:
    """DPDP Rule 3(c): the particular links to withdraw consent, exercise rights and complain."""

    notice: str | None
    rights: str | None
    withdraw_consent: str | None
    complain: list[str]


@dataclass(frozen=True)
class AddressView:
    lines: list[str]
    city: str | None
    region: str | None
    postal_code: str | None
    country: Coded
    text: str


@dataclass(frozen=True)
class ControllerView:
    legal_name: str
    trading_name: str | None
    display_name: str
    website: str
    address: AddressView
    jurisdictions: list[Coded]
    role: Coded
    statement: str


@dataclass(frozen=True)
class LegalGroundView:
    code: str
    dpdp_clause: str | None
    reference: str | None
    label: str
    explanation: str


@dataclass(frozen=True)
class RegionalGroundView:
    """The ground of a purpose for the people of some jurisdictions (issue 12 item 1)."""

    applies_to: str
    jurisdictions: list[str]
    legal_ground: LegalGroundView


@dataclass(frozen=True)
class RetentionView:
    rule: str
    summary: str
    duration: str | None
    trigger: Coded
    action: Coded
    legal_hold: str | None
    advance_notice: str | None
    exceptions: list[str]
    description: str | None
    store_wording: str | None = None  # the store's own sentence, shown beside the generated one
    counts_from: str | None = None  # the inactivity period's earliest start (DPDP Third Schedule), as a sentence
    law: str | None = None  # the law named by a rule kept "as long as the law requires"


@dataclass(frozen=True)
class ItemRow:
    """One data item used for one purpose: the itemised description DPDP Rule 3(b) asks for."""

    category: str
    category_name: str
    purpose: str
    purpose_name: str
    service: str
    legal_ground: str
    required: bool
    required_label: str
    recipients: list[str]
    retention: list[str]


@dataclass(frozen=True)
class CategoryView:
    id: str
    name: str
    description: str | None
    sensitivity: Coded
    required: bool
    required_label: str
    if_not_provided: str | None
    sources: list[Coded]
    third_party_sources: list[str]
    obtained: str
    purposes: list[str]


@dataclass(frozen=True)
class PurposeView:
    id: str
    name: str
    description: str
    service: str
    legal_ground: LegalGroundView
    required_for_service: bool
    categories: list[str]
    optional_categories: list[str]
    marketing_channels: list[Coded]
    notes: list[str]
    grounds_by_jurisdiction: list[RegionalGroundView] = field(default_factory=list)


@dataclass(frozen=True)
class RecipientView:
    id: str
    name: str
    kind: Coded
    description: str | None
    categories: list[str]
    purposes: list[str]
    countries: list[Coded]
    cross_border: bool
    transfer: str | None


@dataclass(frozen=True)
class CookieView:
    name: str
    provider: str
    party: Coded
    lifetime: str
    purpose: str | None
    consent_required: bool
    description: str


@dataclass(frozen=True)
class CookieGroup:
    category: Coded
    explanation: str
    cookies: list[CookieView]


@dataclass(frozen=True)
class MarketingView:
    purpose: str
    name: str
    channels: list[Coded]
    legal_ground: str


@dataclass(frozen=True)
class MarketingSection:
    purposes: list[MarketingView]
    opt_out: list[ChannelView]
    opt_out_deadline: str | None


@dataclass(frozen=True)
class DeadlineView:
    respond_within: str
    counting: Coded
    acknowledge_within: str | None
    extension: str | None
    summary: str


@dataclass(frozen=True)
class ChannelView:
    """One way to make a request; `url` is the link to follow (a page or a mailto:) when there is one."""

    code: str
    label: str
    url: str | None


@dataclass(frozen=True)
class RegionalDeadlineView:
    """A right's deadline for the people of some jurisdictions."""

    applies_to: str
    deadline: DeadlineView


@dataclass(frozen=True)
class RightView:
    kind: str
    title: str
    description: str
    channels: list[ChannelView]
    identifiers: list[Coded]
    identifiers_text: str
    verification: list[Coded]
    verification_text: str
    deadline: DeadlineView
    limitations: list[str]
    link: str | None
    applies_to: str | None = None  # "If you live in California": a right offered to some jurisdictions only
    deadlines_by_jurisdiction: list[RegionalDeadlineView] = field(default_factory=list)
    authorised_agent: str | None = None  # CCPA Regulations §7063: asking through an authorised agent


@dataclass(frozen=True)
class HolidayView:
    date: str
    date_text: str
    name: str


@dataclass(frozen=True)
class BusinessDaysView:
    timezone: str
    weekend: list[str]
    holidays: list[HolidayView]
    statement: str
    used: bool = True  # some deadline the notice states is in business days; else the section is left out


@dataclass(frozen=True)
class OptOutView:
    """An opt-out someone else runs (an industry portal, a platform's ad settings)."""

    name: str
    operator: str
    kind: Coded
    url: str
    covers: list[str]
    scope: str | None


@dataclass(frozen=True)
class OptOutSection:
    """Opt-outs others run, and the store's stated answer to Do Not Track and Global Privacy Control."""

    mechanisms: list[OptOutView]
    signals: list[str]


@dataclass(frozen=True)
class AgeBandView:
    """The ages one jurisdiction sets, for the people who live there."""

    applies_to: str
    jurisdiction: Coded
    minimum_age: int
    statement: str


@dataclass(frozen=True)
class ChildrenView:
    minimum_age: int
    guardian_consent: bool
    statement: str
    guardian_verification: list[Coded]
    age_assurance: str
    never_for_children: list[str]
    protection: str
    bands: list[AgeBandView] = field(default_factory=list)


@dataclass(frozen=True)
class SecurityMeasureView:
    name: str
    description: str


@dataclass(frozen=True)
class SecuritySection:
    measures: list[SecurityMeasureView]
    breach: str


@dataclass(frozen=True)
class ContactView:
    role: Coded
    name: str | None
    designation: str | None
    email: str | None
    phone: str | None
    address: str | None
    url: str | None
    hours: str | None
    policy_url: str | None
    notes: list[str]


@dataclass(frozen=True)
class AuthorityView:
    name: str
    url: str | None
    jurisdiction: Coded
    applies_to: str | None = None  # set when the policy serves several jurisdictions


@dataclass(frozen=True)
class ComplaintsView:
    grievance: str
    authorities: list[AuthorityView]
    statement: str


@dataclass(frozen=True)
class ChangesView:
    announce_via: list[Coded]
    advance_notice: str | None
    reconsent: bool
    statement: str


@dataclass(frozen=True)
class VersionView:
    version: int
    status: Coded
    effective_from: str
    effective_from_text: str
    content_hash: str
    material: bool
    material_label: str
    changes: list[str]


@dataclass(frozen=True)
class CurrentVersionView:
    version: int | None
    effective_from: str | None
    effective_from_text: str | None
    content_hash: str | None
    statement: str


@dataclass(frozen=True)
class NoticeView:
    schema: str
    language: str
    title: str
    version: CurrentVersionView
    controller: ControllerView
    links: Links
    items: list[ItemRow]
    categories: list[CategoryView]
    purposes: list[PurposeView]
    recipients: list[RecipientView]
    cookies: list[CookieGroup]
    marketing: MarketingSection
    rights: list[RightView]
    business_days: BusinessDaysView
    children: ChildrenView
    security: SecuritySection
    contacts: list[ContactView]
    complaints: ComplaintsView
    changes: ChangesView
    opt_outs: OptOutSection = field(default_factory=lambda: OptOutSection([], []))
    history: list[VersionView] = field(default_factory=list)
