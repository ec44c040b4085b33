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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol

from babel.core import Locale
from babel.dates import format_date, get_day_names
from babel.lists import format_list

from fiduciary.policy.duration import Duration, DurationUnit
from fiduciary.policy.schema import (
    AnnouncementChannel,
    Channel,
    Contact,
    CookieCategory,
    DataCategory,
    DpdpExemption,
    GuardianVerification,
    Identifier,
    Jurisdiction,
    LegalGround,
    LegitimateUse,
    PolicyDocument,
    PostalAddress,
    Purpose,
    Recipient,
    RecipientKind,
    RequestChannel,
    RetentionAction,
    RetentionRule,
    RetentionTrigger,
    Right,
    RightKind,
    Sensitivity,
    Source,
    Verification,
)

VIEW_SCHEMA = "fiduciary-notice/1"


class Translator(Protocol):
    """The part of `gettext.NullTranslations` the view model uses."""

    def gettext(self, message: str, /) -> str: ...

    def ngettext(self, singular: str, plural: str, n: int, /) -> str: ...


def N_(message: str) -> str:
    """Marks a string for extraction by pybabel; it is translated where it is used."""
    return message


# ------------------------------------------------------------------------------------------ the versions


@dataclass(frozen=True)
class NoticeVersion:
    """One published version of the policy, as the notice's history shows it (ISO/IEC 29184 5.5)."""

    version: int
    effective_from: datetime
    content_hash: str
    changes: Sequence[str] = ()
    material: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "changes", tuple(self.changes))


class _ChangeLike(Protocol):
    @property
    def summary(self) -> str: ...


class _PublishedLike(Protocol):
    @property
    def version(self) -> int: ...
    @property
    def effective_from(self) -> datetime: ...
    @property
    def content_hash(self) -> str: ...
    @property
    def changes(self) -> Sequence[_ChangeLike]: ...
    @property
    def material(self) -> bool: ...


def notice_versions(published: Iterable[_PublishedLike]) -> list[NoticeVersion]:
    """Adapt stored versions (`fiduciary.policy.versions.PublishedPolicy`) without importing the store."""
    return [
        NoticeVersion(
            version=p.version,
            effective_from=p.effective_from,
            content_hash=p.content_hash,
            changes=[c.summary for c in p.changes],
            material=p.material,
        )
        for p in published
    ]


# ----------------------------------------------------------------------------------------- the view model


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
    city: str
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


@dataclass(frozen=True)
class ChildrenView:
    minimum_age: int
    guardian_consent: bool
    statement: str
    guardian_verification: list[Coded]
    age_assurance: str
    never_for_children: list[str]
    protection: str


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
    history: list[VersionView] = field(default_factory=list)


# ------------------------------------------------------------------------------------------------ labels

_SENSITIVITY = {
    Sensitivity.STANDARD: N_("Personal data"),
    Sensitivity.SENSITIVE: N_("Sensitive personal data"),
    Sensitivity.FINANCIAL: N_("Financial information"),
    Sensitivity.GOVERNMENT_ID: N_("Government identifier"),
    Sensitivity.CHILDREN: N_("Children's data"),
}

_SOURCE = {
    Source.PROVIDED: N_("You give it to us"),
    Source.AUTOMATIC: N_("Collected automatically when you use our services"),
    Source.THIRD_PARTY: N_("From others"),
}

_LEGITIMATE_USE = {
    LegitimateUse.VOLUNTARILY_PROVIDED: N_(
        "You gave it to us voluntarily for this purpose and have not objected (DPDP Act s.7(a))"
    ),
    LegitimateUse.STATE_BENEFIT: N_(
        "To provide a subsidy, benefit, service, licence or permit of the State (DPDP Act s.7(b))"
    ),
    LegitimateUse.STATE_FUNCTION: N_("For a function of the State under law (DPDP Act s.7(c))"),
    LegitimateUse.LEGAL_DISCLOSURE_TO_STATE: N_(
        "To meet a legal duty to disclose information to the State (DPDP Act s.7(d))"
    ),
    LegitimateUse.COURT_ORDER: N_("To comply with a judgment, decree or order of a court (DPDP Act s.7(e))"),
    LegitimateUse.MEDICAL_EMERGENCY: N_("To respond to a medical emergency (DPDP Act s.7(f))"),
    LegitimateUse.EPIDEMIC: N_("To provide medical treatment or health services during an epidemic (DPDP Act s.7(g))"),
    LegitimateUse.DISASTER: N_("To keep people safe during a disaster or public disorder (DPDP Act s.7(h))"),
    LegitimateUse.EMPLOYMENT: N_("For purposes of employment (DPDP Act s.7(i))"),
}

_GROUND_LABEL = {
    LegalGround.CONSENT: N_("Your consent"),
    LegalGround.CONTRACT: N_("Needed to provide the service you asked for"),
    LegalGround.LEGAL_OBLIGATION: N_("Required by law"),
    LegalGround.LEGITIMATE_INTERESTS: N_("Our legitimate interests (GDPR Art 6(1)(f))"),
    LegalGround.VITAL_INTERESTS: N_("To protect someone's life or health"),
}

_GROUND_EXPLANATION = {
    LegalGround.CONSENT: N_(
        "We do this only if you agree. You can withdraw your consent at any time, as easily as you gave it; "
        "what we did before you withdrew stays lawful."
    ),
    LegalGround.CONTRACT: N_("If you do not give this data, we cannot provide that service."),
    LegalGround.LEGAL_OBLIGATION: N_("A law requires us to do this, so it does not depend on your consent."),
    LegalGround.LEGITIMATE_USE: N_(
        "The law allows this use without asking for consent. You can object to it at any time."
    ),
    LegalGround.LEGITIMATE_INTERESTS: N_(
        "We rely on our legitimate interests, weighed against your rights. You can object at any time."
    ),
    LegalGround.VITAL_INTERESTS: N_("We do this only to protect someone's life or health."),
    LegalGround.EXEMPTION: N_(
        "The law exempts this use from consent and from some of your rights (DPDP Act s.17(1)); we still "
        "keep the data secure and accurate."
    ),
}

_RECIPIENT_KIND = {
    RecipientKind.PROCESSOR: N_("Processor: acts only on our instructions, under a contract"),
    RecipientKind.AFFILIATE: N_("A company in our group"),
    RecipientKind.THIRD_PARTY: N_("Independent third party: decides for itself how to use the data"),
    RecipientKind.AUTHORITY: N_("Authority: only when the law requires it"),
    RecipientKind.ACQUIRER: N_("A buyer, if our business is sold or merged"),
}

_COOKIE_CATEGORY = {
    CookieCategory.NECESSARY: (
        N_("Strictly necessary"),
        N_("Needed for the site to work, so they cannot be switched off."),
    ),
    CookieCategory.FUNCTIONAL: (N_("Functional"), N_("Remember your choices and preferences.")),
    CookieCategory.ANALYTICS: (N_("Analytics"), N_("Help us understand how the store is used.")),
    CookieCategory.ADVERTISING: (N_("Advertising"), N_("Show you ads and measure them.")),
}

_CHANNEL = {
    Channel.EMAIL: N_("Email"),
    Channel.SMS: N_("SMS"),
    Channel.PUSH: N_("Push notifications"),
    Channel.WHATSAPP: N_("WhatsApp"),
    Channel.PHONE: N_("Phone calls"),
    Channel.POST: N_("Post"),
    Channel.IN_APP: N_("In-app messages"),
}

_RIGHT = {
    RightKind.ACCESS: (
        N_("Access your data"),
        N_("Get a summary of the personal data we hold about you, what we do with it and who we shared it with."),
    ),
    RightKind.CORRECTION: (
        N_("Correct your data"),
        N_("Have inaccurate or incomplete data corrected, completed or updated."),
    ),
    RightKind.ERASURE: (
        N_("Erase your data"),
        N_("Have your data erased when it is no longer needed, unless a law requires us to keep it."),
    ),
    RightKind.PORTABILITY: (
        N_("Take your data with you"),
        N_("Receive the data you gave us in a common, machine-readable format."),
    ),
    RightKind.RESTRICTION: (
        N_("Restrict use"),
        N_("Ask us to limit how we use your data while a concern is being resolved."),
    ),
    RightKind.OBJECTION: (
        N_("Object"),
        N_("Tell us to stop a use of your data that does not rely on your consent."),
    ),
    RightKind.WITHDRAW_CONSENT: (
        N_("Withdraw consent"),
        N_("Withdraw any consent you gave, at any time, as easily as you gave it."),
    ),
    RightKind.OPT_OUT_MARKETING: (
        N_("Stop marketing"),
        N_("Stop receiving marketing messages, on any channel."),
    ),
    RightKind.OPT_OUT_SALE_SHARING: (
        N_("Opt out of sale or sharing"),
        N_("Tell us not to sell or share your data for advertising."),
    ),
    RightKind.NOMINATION: (
        N_("Nominate someone"),
        N_("Name a person who can exercise your rights if you die or cannot act yourself."),
    ),
    RightKind.GRIEVANCE: (
        N_("Raise a grievance"),
        N_("Complain to us about how we handle your data and get an answer."),
    ),
    RightKind.DEACTIVATION: (
        N_("Close your account"),
        N_("Deactivate your account with us."),
    ),
}

_IDENTIFIER = {
    Identifier.EMAIL: N_("email address"),
    Identifier.PHONE: N_("mobile number"),
    Identifier.CUSTOMER_ID: N_("customer ID"),
    Identifier.ORDER_ID: N_("order number"),
    Identifier.USERNAME: N_("username"),
}

_VERIFICATION = {
    Verification.SIGNED_IN_SESSION: N_("being signed in to your account"),
    Verification.EMAIL_OTP: N_("a one-time code sent to your email"),
    Verification.SMS_OTP: N_("a one-time code sent to your mobile"),
    Verification.DOCUMENT: N_("a copy of an identity document"),
    Verification.DATA_POINTS_2: N_("two details that match our records"),
    Verification.DATA_POINTS_3_DECLARATION: N_("three details that match our records and a signed declaration"),
    Verification.NONE: N_("no check needed"),
}

_GUARDIAN = {
    GuardianVerification.EXISTING_ADULT_ACCOUNT: N_("The parent's or guardian's own adult account with us"),
    GuardianVerification.VIRTUAL_TOKEN: N_("A verified virtual token, such as one issued through DigiLocker"),
    GuardianVerification.DOCUMENT: N_("An identity document of the parent or guardian"),
}

_ANNOUNCE = {
    AnnouncementChannel.EMAIL: N_("email"),
    AnnouncementChannel.BANNER: N_("a banner on our website"),
    AnnouncementChannel.IN_APP: N_("a notice in our app"),
    AnnouncementChannel.HOME_PAGE: N_("our home page"),
    AnnouncementChannel.POP_UP: N_("a pop-up notice"),
    AnnouncementChannel.SMS: N_("SMS"),
}

_JURISDICTION = {
    Jurisdiction.IN: N_("India (Digital Personal Data Protection Act 2023, IT Act 2000)"),
    Jurisdiction.EU: N_("European Union (GDPR)"),
    Jurisdiction.UK: N_("United Kingdom (UK GDPR)"),
    Jurisdiction.US_CA: N_("California (CCPA/CPRA)"),
}

_EXEMPTION = {
    DpdpExemption.LEGAL_CLAIMS: N_("To enforce or defend a legal right or claim (DPDP Act s.17(1)(a))"),
    DpdpExemption.JUDICIAL_FUNCTION: N_(
        "For a court or tribunal carrying out its judicial functions (DPDP Act s.17(1)(b))"
    ),
    DpdpExemption.OFFENCES: N_("To prevent, detect, investigate or prosecute offences (DPDP Act s.17(1)(c))"),
    DpdpExemption.FOREIGN_CONTRACT: N_(
        "Data of people outside India, processed under a contract with a foreign party (DPDP Act s.17(1)(d))"
    ),
    DpdpExemption.MERGER: N_(
        "For a merger, demerger or transfer of business approved by a court, tribunal or authority "
        "(DPDP Act s.17(1)(e))"
    ),
    DpdpExemption.LOAN_DEFAULT: N_(
        "To check the financial information of a person who has defaulted on a loan (DPDP Act s.17(1)(f))"
    ),
}


_REGION = {
    Jurisdiction.IN: N_("India"),
    Jurisdiction.EU: N_("European Union"),
    Jurisdiction.UK: N_("United Kingdom"),
    Jurisdiction.US_CA: N_("California"),
}

_ROLE = {"seller": N_("Seller"), "marketplace": N_("Marketplace")}

_TRIGGER_AFTER = {
    RetentionTrigger.COLLECTED: N_("%(duration)s after we collect it"),
    RetentionTrigger.LAST_ACTIVITY: N_("%(duration)s after your last activity (signing in or contacting us)"),
    RetentionTrigger.ACCOUNT_CLOSED: N_("%(duration)s after you close your account"),
    RetentionTrigger.ORDER_COMPLETED: N_("%(duration)s after the order is completed"),
    RetentionTrigger.CONSENT_WITHDRAWN: N_("%(duration)s after you withdraw consent"),
    RetentionTrigger.PURPOSE_FULFILLED: N_("%(duration)s after the purpose is fulfilled"),
    RetentionTrigger.CASE_CLOSED: N_("%(duration)s after your case is closed"),
}

_TRIGGER_AT = {
    RetentionTrigger.COLLECTED: N_("once it has been used"),
    RetentionTrigger.LAST_ACTIVITY: N_("when you stop using our services"),
    RetentionTrigger.ACCOUNT_CLOSED: N_("when you close your account"),
    RetentionTrigger.ORDER_COMPLETED: N_("when the order is completed"),
    RetentionTrigger.CONSENT_WITHDRAWN: N_("when you withdraw consent"),
    RetentionTrigger.PURPOSE_FULFILLED: N_("when the purpose is fulfilled"),
    RetentionTrigger.CASE_CLOSED: N_("when your case is closed"),
}

_TRIGGER_LABEL = {
    RetentionTrigger.COLLECTED: N_("Collection"),
    RetentionTrigger.LAST_ACTIVITY: N_("Last activity"),
    RetentionTrigger.ACCOUNT_CLOSED: N_("Account closed"),
    RetentionTrigger.ORDER_COMPLETED: N_("Order completed"),
    RetentionTrigger.CONSENT_WITHDRAWN: N_("Consent withdrawn"),
    RetentionTrigger.PURPOSE_FULFILLED: N_("Purpose fulfilled"),
    RetentionTrigger.CASE_CLOSED: N_("Case closed"),
}

_ACTION = {
    RetentionAction.DELETE: (N_("Deleted"), N_("Deleted %(when)s.")),
    RetentionAction.ANONYMISE: (N_("Anonymised"), N_("Anonymised %(when)s, so it no longer identifies you.")),
}


# ------------------------------------------------------------------------------------------ the builder


class _Builder:
    """Holds the translator, locale and lookups while the pure build functions run."""

    def __init__(self, document: PolicyDocument, t: Translator, locale: Locale, base_url: str | None) -> None:
        self.doc = document
        self.t = t
        self.locale = locale
        self.base_url = base_url.rstrip("/") if base_url else None
        self.categories = {c.id: c for c in document.categories}
        self.purposes = {p.id: p for p in document.purposes}
        self.home = document.controller.address.country

    # small helpers

    def _(self, message: str) -> str:
        return self.t.gettext(message)

    def join(self, items: Sequence[str]) -> str:
        return format_list(list(items), locale=self.locale) if items else ""

    def join_or(self, items: Sequence[str]) -> str:
        return format_list(list(items), style="or", locale=self.locale) if items else ""

    def country(self, code: str) -> Coded:
        return Coded(code, self.locale.territories.get(code, code))

    def date_text(self, value: date) -> str:
        return format_date(value, format="long", locale=self.locale)

    def duration(self, value: Duration) -> str:
        n = value.amount
        t = self.t
        text = {
            DurationUnit.HOURS: lambda: t.ngettext("%(num)d hour", "%(num)d hours", n),
            DurationUnit.DAYS: lambda: t.ngettext("%(num)d day", "%(num)d days", n),
            DurationUnit.BUSINESS_DAYS: lambda: t.ngettext("%(num)d business day", "%(num)d business days", n),
            DurationUnit.WEEKS: lambda: t.ngettext("%(num)d week", "%(num)d weeks", n),
            DurationUnit.MONTHS: lambda: t.ngettext("%(num)d month", "%(num)d months", n),
            DurationUnit.YEARS: lambda: t.ngettext("%(num)d year", "%(num)d years", n),
        }[value.unit]()
        return text % {"num": n}

    def address(self, address: PostalAddress) -> AddressView:
        country = self.country(address.country)
        parts = [*address.lines, address.city]
        if address.region:
            parts.append(address.region)
        if address.postal_code:
            parts.append(address.postal_code)
        parts.append(country.label)
        return AddressView(
            lines=list(address.lines),
            city=address.city,
            region=address.region,
            postal_code=address.postal_code,
            country=country,
            text=", ".join(parts),
        )

    def link(self, path: str) -> str | None:
        return f"{self.base_url}{path}" if self.base_url else None

    def category_name(self, category_id: str) -> str:
        category = self.categories.get(category_id)
        return category.name if category else category_id

    def purpose_name(self, purpose_id: str) -> str:
        purpose = self.purposes.get(purpose_id)
        return purpose.name if purpose else purpose_id

    def rights_contact(self) -> Contact | None:
        """DPDP s.8(9) / Rule 9: the DPO if there is one, else the person who answers on processing."""
        contacts = self.doc.contacts
        return contacts.data_protection_officer or contacts.privacy_contact or contacts.grievance_officer

    # sections

    def controller(self) -> ControllerView:
        c = self.doc.controller
        display = c.trading_name or c.legal_name
        address = self.address(c.address)
        statement = self._(
            "%(legal_name)s decides why and how your personal data is used (the data fiduciary or "
            "controller). We are at %(address)s."
        ) % {"legal_name": c.legal_name, "address": address.text}
        return ControllerView(
            legal_name=c.legal_name,
            trading_name=c.trading_name,
            display_name=display,
            website=str(c.website),
            address=address,
            jurisdictions=[Coded(j.value, self.label(_JURISDICTION, j)) for j in c.jurisdictions],
            role=Coded(c.role.value, self.label(_ROLE, c.role)),
            statement=statement,
        )

    def links(self) -> Links:
        """DPDP Rule 3(c) links. The privacy center is not built yet (docs/architecture.md), so until it is
        they go to the notice's own sections, which list the store's channels for each right: every link in
        a notice answers."""
        withdraw = "#right-withdraw_consent" if self.has_right(RightKind.WITHDRAW_CONSENT) else "#rights"
        return Links(
            notice=self.link("/privacy"),
            rights=self.link("/privacy#rights"),
            withdraw_consent=self.link("/privacy" + withdraw),
            complain=[str(a.url) for a in self.doc.contacts.authorities if a.url],
        )

    def has_right(self, kind: RightKind) -> bool:
        return any(r.kind is kind for r in self.doc.rights)

    def label(self, labels: Mapping[Any, str], key: StrEnum) -> str:
        """The translated label; the raw code for a value added to the schema after this table."""
        text = labels.get(key)
        return self._(text) if text is not None else key.value

    def legal_ground(self, purpose: Purpose) -> LegalGroundView:
        ground = purpose.legal_ground
        clause = None
        if ground is LegalGround.LEGITIMATE_USE and purpose.legitimate_use is not None:
            label = self.label(_LEGITIMATE_USE, purpose.legitimate_use)
            clause = f"s.7({purpose.legitimate_use.value[1:]})"
        elif ground is LegalGround.EXEMPTION and purpose.exemption is not None:
            label = self.label(_EXEMPTION, purpose.exemption)
            clause = f"s.{purpose.exemption.value}"
        elif ground is LegalGround.LEGAL_OBLIGATION and purpose.legal_basis_reference:
            label = self._("Required by law (%(law)s)") % {"law": purpose.legal_basis_reference}
        else:
            label = self.label(_GROUND_LABEL, ground)
        explanation = self.label(_GROUND_EXPLANATION, ground)
        return LegalGroundView(
            code=ground.value,
            dpdp_clause=clause,
            reference=purpose.legal_basis_reference,
            label=label,
            explanation=explanation,
        )

    def retention_rules(self, category_id: str, purpose_id: str | None) -> list[RetentionRule]:
        """Rules for a category; a rule limited to purposes applies only to data used for them."""
        return [
            rule
            for rule in self.doc.retention
            if category_id in rule.categories
            and (purpose_id is None or not rule.purposes or purpose_id in rule.purposes)
        ]

    def retention(self, rule: RetentionRule) -> RetentionView:
        if rule.keep_for is not None:
            duration = self.duration(rule.keep_for)
            when = self.label(_TRIGGER_AFTER, rule.trigger) % {"duration": duration}
        else:
            duration = None
            when = self.label(_TRIGGER_AT, rule.trigger)
        action_label, action_sentence = _ACTION[rule.action]
        summary = self._(action_sentence) % {"when": when}
        hold = None
        if rule.legal_hold is not None:
            hold = self._(
                "The law requires us to keep it for at least %(duration)s (%(basis)s), even if you ask us "
                "to erase it sooner."
            ) % {"duration": self.duration(rule.legal_hold.minimum), "basis": rule.legal_hold.basis}
        notice = None
        if rule.advance_notice is not None:
            notice = self._("We will tell you at least %(duration)s before we erase it.") % {
                "duration": self.duration(rule.advance_notice)
            }
        return RetentionView(
            rule=rule.id,
            summary=summary,
            duration=duration,
            trigger=Coded(rule.trigger.value, self.label(_TRIGGER_LABEL, rule.trigger)),
            action=Coded(rule.action.value, self._(action_label)),
            legal_hold=hold,
            advance_notice=notice,
            exceptions=list(rule.exceptions),
            description=rule.description,
        )

    def retention_text(self, category_id: str, purpose_id: str) -> list[str]:
        rules = self.retention_rules(category_id, purpose_id)
        if not rules:
            purpose = self.purposes.get(purpose_id)
            if purpose is not None and purpose.legal_ground is LegalGround.CONSENT:
                return [
                    self._(
                        "No fixed period: kept only while this purpose needs it, and erased when you "
                        "withdraw consent or the purpose is served (DPDP Act s.8(7))."
                    )
                ]
            return [self._("No fixed period: kept only while this purpose needs it, then erased (DPDP Act s.8(7)).")]
        texts: list[str] = []
        for rule in rules:
            view = self.retention(rule)
            texts.append(" ".join(x for x in (view.summary, view.legal_hold, view.advance_notice) if x))
            if view.exceptions:
                texts.append(self._("Kept longer: %(items)s.") % {"items": self.join(view.exceptions)})
        return texts

    def recipients_for(self, category_id: str, purpose_id: str) -> list[str]:
        return [r.name for r in self.doc.recipients if category_id in r.categories and purpose_id in r.purposes]

    def required_label(self, required: bool) -> str:
        return self._("Required") if required else self._("Optional")

    def items(self) -> list[ItemRow]:
        rows: list[ItemRow] = []
        for purpose in self.doc.purposes:
            ground = self.legal_ground(purpose)
            optional = set(purpose.optional_categories)
            for category_id in [*purpose.categories, *purpose.optional_categories]:
                category = self.categories.get(category_id)
                required = bool(category and category.required) and category_id not in optional
                rows.append(
                    ItemRow(
                        category=category_id,
                        category_name=self.category_name(category_id),
                        purpose=purpose.id,
                        purpose_name=purpose.name,
                        service=purpose.service,
                        legal_ground=ground.label,
                        required=required,
                        required_label=self.required_label(required),
                        recipients=self.recipients_for(category_id, purpose.id),
                        retention=self.retention_text(category_id, purpose.id),
                    )
                )
        return rows

    def obtained(self, category: DataCategory) -> tuple[list[Coded], str]:
        sources: list[Coded] = []
        phrases: list[str] = []
        for source in category.sources:
            label = self.label(_SOURCE, source)
            sources.append(Coded(source.value, label))
            if source is Source.THIRD_PARTY:
                phrases.append(
                    self._("From others: %(sources)s") % {"sources": self.join(category.third_party_sources)}
                )
            else:
                phrases.append(label)
        return sources, "; ".join(phrases)

    def category(self, category: DataCategory) -> CategoryView:
        sources, obtained = self.obtained(category)
        return CategoryView(
            id=category.id,
            name=category.name,
            description=category.description,
            sensitivity=Coded(category.sensitivity.value, self.label(_SENSITIVITY, category.sensitivity)),
            required=category.required,
            required_label=self.required_label(category.required),
            if_not_provided=category.if_not_provided,
            sources=sources,
            third_party_sources=list(category.third_party_sources),
            obtained=obtained,
            purposes=[
                p.name for p in self.doc.purposes if category.id in p.categories or category.id in p.optional_categories
            ],
        )

    def purpose_notes(self, purpose: Purpose) -> list[str]:
        notes: list[str] = []
        if purpose.required_for_service and purpose.legal_ground is not LegalGround.CONTRACT:
            notes.append(self._("Needed for the service: without it we cannot provide the service."))
        if purpose.marketing_channels:
            notes.append(
                self._("Direct marketing by %(channels)s.")
                % {"channels": self.join([self.label(_CHANNEL, c) for c in purpose.marketing_channels])}
            )
        if purpose.tracking:
            notes.append(self._("Tracks or monitors how you use our services."))
        if purpose.profiling:
            notes.append(self._("Builds a profile of your interests."))
        if purpose.targeted_advertising:
            notes.append(self._("Used to show you targeted advertising."))
        if purpose.sale_or_sharing:
            notes.append(self._("Shares your data with another company for its advertising."))
        if purpose.automated_decision:
            notes.append(
                self._(
                    "Includes automated decisions that can significantly affect you; you can ask for a "
                    "person to review them."
                )
            )
        if purpose.spdi_written_consent:
            notes.append(self._("We ask for your written consent before collecting this data (SPDI Rules r.5(1))."))
        if purpose.barred_for_children:
            notes.append(self._("Never used for children."))
        return notes

    def purpose(self, purpose: Purpose) -> PurposeView:
        return PurposeView(
            id=purpose.id,
            name=purpose.name,
            description=purpose.description,
            service=purpose.service,
            legal_ground=self.legal_ground(purpose),
            required_for_service=purpose.required_for_service,
            categories=[self.category_name(c) for c in purpose.categories],
            optional_categories=[self.category_name(c) for c in purpose.optional_categories],
            marketing_channels=[Coded(c.value, self.label(_CHANNEL, c)) for c in purpose.marketing_channels],
            notes=self.purpose_notes(purpose),
        )

    def recipient(self, recipient: Recipient) -> RecipientView:
        countries = [self.country(code) for code in recipient.countries]
        foreign = [c for c in countries if c.code != self.home]
        transfer = None
        if foreign:
            safeguard = recipient.transfer_safeguard or self._("no safeguard is declared")
            transfer = self._("Transferred outside %(home)s to %(countries)s. Safeguard: %(safeguard)s.") % {
                "home": self.country(self.home).label,
                "countries": self.join([c.label for c in foreign]),
                "safeguard": safeguard,
            }
        return RecipientView(
            id=recipient.id,
            name=recipient.name,
            kind=Coded(recipient.kind.value, self.label(_RECIPIENT_KIND, recipient.kind)),
            description=recipient.description,
            categories=[self.category_name(c) for c in recipient.categories],
            purposes=[self.purpose_name(p) for p in recipient.purposes],
            countries=countries,
            cross_border=bool(foreign),
            transfer=transfer,
        )

    def cookies(self) -> list[CookieGroup]:
        groups: list[CookieGroup] = []
        for category in CookieCategory:
            members = [c for c in self.doc.cookies if c.category is category]
            if not members:
                continue
            label, explanation = _COOKIE_CATEGORY[category]
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

    def right_channel(self, channel: RequestChannel, right: Right) -> ChannelView:
        """How to reach us for a right, with the address to use (DPDP Rule 3(c), Rule 14(1))."""
        contact: Contact | None = (
            self.doc.contacts.grievance_officer if right.kind is RightKind.GRIEVANCE else None
        ) or self.rights_contact()
        code = channel.value
        if channel is RequestChannel.PRIVACY_CENTER and contact is not None:
            # No privacy center yet: the contact who answers for this right stands in for it, by the page
            # or the address the policy gives (never a link to a page that does not exist).
            if contact.url is not None:
                return ChannelView(code, self._("Our privacy requests page"), str(contact.url))
            if contact.email:
                email = str(contact.email)
                return ChannelView(code, self._("Email %(email)s") % {"email": email}, f"mailto:{email}")
            channel = RequestChannel.PHONE if contact.phone else RequestChannel.POST
        if channel is RequestChannel.EMAIL and contact and contact.email:
            email = str(contact.email)
            return ChannelView(code, self._("Email %(email)s") % {"email": email}, f"mailto:{email}")
        if channel is RequestChannel.PHONE and contact and contact.phone:
            return ChannelView(code, self._("Phone %(phone)s") % {"phone": contact.phone}, None)
        if channel is RequestChannel.POST and contact and contact.address:
            text = self._("Post to %(address)s") % {"address": self.address(contact.address).text}
            return ChannelView(code, text, None)
        label = {
            RequestChannel.EMAIL: self._("Email"),
            RequestChannel.PHONE: self._("Phone"),
            RequestChannel.POST: self._("Post"),
            RequestChannel.IN_APP: self._("In our app"),
            RequestChannel.EMAIL_LINK: self._("The link in any email we send you"),
            RequestChannel.PRIVACY_CENTER: self._("Our privacy team"),
        }[channel]
        return ChannelView(code, label, None)

    def channels(self, right: Right) -> list[ChannelView]:
        """The right's channels, each way of asking once (the privacy center's stand-in may repeat one)."""
        views: list[ChannelView] = []
        for channel in right.channels:
            view = self.right_channel(channel, right)
            if not any(v.label == view.label and v.url == view.url for v in views):
                views.append(view)
        return views

    def deadline(self, right: Right) -> DeadlineView:
        d = right.deadline
        respond = self.duration(d.respond_within)
        if d.respond_within.unit is DurationUnit.BUSINESS_DAYS:
            counting = Coded("business_days", self._("Business days: weekends and public holidays do not count."))
        elif d.respond_within.unit is DurationUnit.HOURS:
            counting = Coded("hours", self._("Hours, counted around the clock."))
        else:
            counting = Coded("calendar_days", self._("Calendar days: weekends and holidays count."))
        # Deadlines are the store's commitments from its policy; nothing in Fiduciary tracks requests yet.
        parts = [self._("We commit to acting within %(duration)s of receiving your request.") % {"duration": respond}]
        ack = None
        if d.acknowledge_within is not None:
            ack = self.duration(d.acknowledge_within)
            parts.append(self._("We commit to acknowledging it within %(duration)s.") % {"duration": ack})
        extension = None
        if d.extendable_by is not None:
            extension = self.duration(d.extendable_by)
            parts.append(
                self._("If a request is complex we may take up to %(duration)s more, and tell you why.")
                % {"duration": extension}
            )
        return DeadlineView(
            respond_within=respond,
            counting=counting,
            acknowledge_within=ack,
            extension=extension,
            summary=" ".join(parts),
        )

    def right(self, right: Right) -> RightView:
        title, description = _RIGHT[right.kind]
        link = self.link(f"/privacy#right-{right.kind.value}")
        identifiers = [Coded(i.value, self.label(_IDENTIFIER, i)) for i in right.identifiers]
        verification = [Coded(v.value, self.label(_VERIFICATION, v)) for v in right.verification]
        if right.verification == [Verification.NONE]:
            checks = self._("We do not need to check who you are for this.")
        else:
            checks = self._("We check it is you by %(methods)s.") % {
                "methods": self.join_or([v.label for v in verification])
            }
        return RightView(
            kind=right.kind.value,
            title=self._(title),
            description=right.description or self._(description),
            channels=self.channels(right),
            identifiers=identifiers,
            identifiers_text=self._("Your %(identifiers)s.")
            % {"identifiers": self.join_or([i.label for i in identifiers])},
            verification=verification,
            verification_text=checks,
            deadline=self.deadline(right),
            limitations=list(right.limitations),
            link=link,
        )

    def marketing(self) -> MarketingSection:
        purposes = [
            MarketingView(
                purpose=p.id,
                name=p.name,
                channels=[Coded(c.value, self.label(_CHANNEL, c)) for c in p.marketing_channels],
                legal_ground=self.legal_ground(p).label,
            )
            for p in self.doc.purposes
            if p.marketing_channels
        ]
        by_kind = {r.kind: r for r in self.doc.rights}
        right = by_kind.get(RightKind.OPT_OUT_MARKETING) or by_kind.get(RightKind.WITHDRAW_CONSENT)
        opt_out = self.channels(right) if right else []
        deadline = None
        if right is not None:
            deadline = self._("We commit to applying your choice within %(duration)s.") % {
                "duration": self.duration(right.deadline.respond_within)
            }
        return MarketingSection(purposes=purposes, opt_out=opt_out, opt_out_deadline=deadline)

    def business_days(self) -> BusinessDaysView:
        calendar = self.doc.calendar
        index = {
            "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6,
        }  # fmt: skip
        names = get_day_names("wide", locale=self.locale)
        weekend = [str(names[index[day]]) for day in calendar.weekend]
        holidays = [
            HolidayView(date=h.date.isoformat(), date_text=self.date_text(h.date), name=h.name)
            for h in sorted(calendar.holidays, key=lambda h: h.date)
        ]
        statement = self._(
            "Where a deadline is in business days, %(weekend)s and the public holidays below do not count "
            "(time zone %(timezone)s)."
        ) % {"weekend": self.join(weekend), "timezone": calendar.timezone}
        return BusinessDaysView(timezone=calendar.timezone, weekend=weekend, holidays=holidays, statement=statement)

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
            guardian_verification=[Coded(g.value, self.label(_GUARDIAN, g)) for g in rules.guardian_verification],
            age_assurance=rules.age_assurance,
            never_for_children=[p.name for p in self.doc.purposes if p.barred_for_children],
            protection=protection,
        )

    def security(self) -> SecuritySection:
        breach = self._(
            "If a personal data breach affects you, we commit to telling you what happened, what it means for "
            "you, what we are doing and what you can do, within %(duration)s (DPDP Rule 7(1))."
        ) % {"duration": self.duration(self.doc.cases.breach.notify_people)}
        return SecuritySection(
            measures=[SecurityMeasureView(m.name, m.description) for m in self.doc.security_measures],
            breach=breach,
        )

    def contact(self, role: str, label: str, contact: Contact, notes: list[str]) -> ContactView:
        return ContactView(
            role=Coded(role, label),
            name=contact.name,
            designation=contact.designation,
            email=str(contact.email) if contact.email else None,
            phone=contact.phone,
            address=self.address(contact.address).text if contact.address else None,
            url=str(contact.url) if contact.url else None,
            hours=contact.hours,
            policy_url=None,
            notes=notes,
        )

    def contacts(self) -> list[ContactView]:
        contacts = self.doc.contacts
        views: list[ContactView] = []
        if contacts.grievance_officer is not None:
            g = self.doc.cases.grievance
            views.append(
                self.contact(
                    "grievance_officer",
                    self._("Grievance Officer"),
                    contacts.grievance_officer,
                    [
                        self._(
                            "We commit to acknowledging a grievance within %(ack)s and resolving it within %(resolve)s."
                        )
                        % {"ack": self.duration(g.acknowledge_within), "resolve": self.duration(g.resolve_within)}
                    ],
                )
            )
        if contacts.data_protection_officer is not None:
            views.append(
                self.contact(
                    "data_protection_officer", self._("Data Protection Officer"), contacts.data_protection_officer, []
                )
            )
        if contacts.privacy_contact is not None:
            views.append(
                self.contact(
                    "privacy_contact",
                    self._("Questions about your data"),
                    contacts.privacy_contact,
                    [self._("Answers questions about how we process your personal data (DPDP Rule 9).")],
                )
            )
        security = contacts.security
        if security is not None:
            notes = [self._("Report a security vulnerability here.")]
            if security.preferred_languages:
                names = [self.locale.languages.get(lang.split("-")[0], lang) for lang in security.preferred_languages]
                notes.append(self._("Preferred languages: %(languages)s") % {"languages": self.join(names)})
            views.append(
                ContactView(
                    role=Coded("security", self._("Security contact")),
                    name=None,
                    designation=None,
                    email=str(security.email) if security.email else None,
                    phone=None,
                    address=None,
                    url=str(security.url) if security.url else None,
                    hours=None,
                    policy_url=str(security.policy_url) if security.policy_url else None,
                    notes=notes,
                )
            )
        return views

    def complaints(self) -> ComplaintsView:
        officer = self.doc.contacts.grievance_officer
        g = self.doc.cases.grievance
        timing = {"ack": self.duration(g.acknowledge_within), "resolve": self.duration(g.resolve_within)}
        if officer is not None:
            grievance = self._(
                "First write to our Grievance Officer, %(name)s (%(email)s). We commit to acknowledging within "
                "%(ack)s and resolving within %(resolve)s."
            ) % {"name": officer.name, "email": str(officer.email), **timing}
        else:
            grievance = (
                self._(
                    "First raise a grievance with us. We commit to acknowledging within %(ack)s and resolving "
                    "within %(resolve)s."
                )
                % timing
            )
        authorities = [
            AuthorityView(
                name=a.name,
                url=str(a.url) if a.url else None,
                jurisdiction=Coded(a.jurisdiction.value, self.label(_REGION, a.jurisdiction)),
            )
            for a in self.doc.contacts.authorities
        ]
        laws = []
        jurisdictions = set(self.doc.controller.jurisdictions)
        if Jurisdiction.IN in jurisdictions:
            laws.append("DPDP Act s.13(3)")
        if jurisdictions & {Jurisdiction.EU, Jurisdiction.UK}:
            laws.append("GDPR Art 77")
        if laws:
            statement = self._(
                "If you are not satisfied with our answer, you can complain to the data protection authority "
                "(%(laws)s)."
            ) % {"laws": ", ".join(laws)}
        else:
            statement = self._(
                "If you are not satisfied with our answer, you can complain to the data protection authority."
            )
        return ComplaintsView(grievance=grievance, authorities=authorities, statement=statement)

    def changes(self) -> ChangesView:
        c = self.doc.policy_changes
        via = [Coded(a.value, self.label(_ANNOUNCE, a)) for a in c.announce_via]
        parts = [
            self._("We announce changes to this notice by %(channels)s.")
            % {"channels": self.join([v.label for v in via])}
        ]
        advance = None
        if c.advance_notice is not None:
            advance = self.duration(c.advance_notice)
            parts.append(
                self._("We announce a change at least %(duration)s before it takes effect.") % {"duration": advance}
            )
        if c.material_changes_require_reconsent:
            parts.append(
                self._(
                    "If a change is material (a new purpose, new data, a new recipient or country, longer "
                    "retention or weaker rights), we ask for your consent again before it applies to you."
                )
            )
        else:
            parts.append(self._("We do not ask for your consent again when this notice changes."))
        return ChangesView(
            announce_via=via,
            advance_notice=advance,
            reconsent=c.material_changes_require_reconsent,
            statement=" ".join(parts),
        )

    def history(
        self, versions: Sequence[NoticeVersion], current: int | None
    ) -> tuple[CurrentVersionView, list[VersionView]]:
        ordered = sorted(versions, key=lambda v: v.version)
        if current is None and ordered:
            current = ordered[-1].version
        views: list[VersionView] = []
        first = ordered[0].version if ordered else None
        for v in reversed(ordered):
            if v.version == current:
                status = Coded("current", self._("Current"))
            elif current is not None and v.version > current:
                status = Coded("upcoming", self._("Upcoming"))
            else:
                status = Coded("previous", self._("Previous"))
            views.append(
                VersionView(
                    version=v.version,
                    status=status,
                    effective_from=v.effective_from.isoformat(),
                    effective_from_text=self.date_text(v.effective_from.date()),
                    content_hash=v.content_hash,
                    material=v.material,
                    material_label=(
                        self._("First version")
                        if v.version == first and not v.changes
                        else self._("Material change")
                        if v.material
                        else self._("Minor change")
                    ),
                    changes=list(v.changes),
                )
            )
        chosen = next((v for v in ordered if v.version == current), None)
        if chosen is None:
            head = CurrentVersionView(
                version=None,
                effective_from=None,
                effective_from_text=None,
                content_hash=None,
                statement=self._("Draft: this notice has not been published."),
            )
        else:
            head = CurrentVersionView(
                version=chosen.version,
                effective_from=chosen.effective_from.isoformat(),
                effective_from_text=self.date_text(chosen.effective_from.date()),
                content_hash=chosen.content_hash,
                statement=self._("Version %(version)d, in effect from %(date)s.")
                % {"version": chosen.version, "date": self.date_text(chosen.effective_from.date())},
            )
        return head, views


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
        history=versions,
    )
