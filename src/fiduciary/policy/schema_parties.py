"""The policy schema for who is responsible: the controller, its jurisdictions, and its contacts."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import (
    AnyUrl,
    AwareDatetime,
    EmailStr,
    Field,
    model_validator,
)

from fiduciary.policy.schema_types import (
    CountryCode,
    LanguageTag,
    ShortText,
    StrictModel,
)

# --------------------------------------------------------------------------------------------- controller


class Jurisdiction(StrEnum):
    """Legal regimes a store declares it serves; each switches on the checks of that law."""

    IN = "IN"  # DPDP Act 2023 + Rules 2025, IT Act 2000 / SPDI Rules 2011, CERT-In directions
    EU = "EU"  # GDPR
    UK = "UK"  # UK GDPR
    US_CA = "US-CA"  # CCPA as amended by CPRA


class StoreRole(StrEnum):
    """Marketplaces are intermediaries under the IT Rules 2021, with stricter grievance timelines."""

    SELLER = "seller"
    MARKETPLACE = "marketplace"


class ThirdScheduleClass(StrEnum):
    """The classes of data fiduciary in the DPDP Third Schedule (Rule 8(1)) whose purpose is deemed no longer
    served after 3 years without the person's contact; each applies from its registered-user threshold
    (`THIRD_SCHEDULE_THRESHOLDS`)."""

    E_COMMERCE_ENTITY = "e_commerce_entity"  # 2 crore registered users in India (a marketplace seller is not one)
    ONLINE_GAMING_INTERMEDIARY = "online_gaming_intermediary"  # 50 lakh registered users in India
    SOCIAL_MEDIA_INTERMEDIARY = "social_media_intermediary"  # 2 crore registered users in India
    NOT_COVERED = "not_covered"  # e.g. a seller that sells only through others' marketplaces


# DPDP Rules 2025 Third Schedule: the registered users in India from which each class is covered.
THIRD_SCHEDULE_THRESHOLDS: dict[ThirdScheduleClass, int] = {
    ThirdScheduleClass.E_COMMERCE_ENTITY: 20_000_000,
    ThirdScheduleClass.ONLINE_GAMING_INTERMEDIARY: 5_000_000,
    ThirdScheduleClass.SOCIAL_MEDIA_INTERMEDIARY: 20_000_000,
}

# DPDP Rules 2025 Third Schedule: the period after the last contact (3 years) as days, for comparisons.
THIRD_SCHEDULE_PERIOD_DAYS = 3 * 365.25

# DPDP Rules 2025 Rule 1 (G.S.R. 846(E)): Rule 8 and the Third Schedule come into force 18 months after the
# Rules' publication (13 Nov 2025), on 13 May 2027. The Schedule's period runs from the last contact "or the
# commencement of these rules, whichever is later": a covered store's inactivity clock need not start before this
# date, and may not start after it (`RetentionRule.counts_from`).
THIRD_SCHEDULE_COMMENCEMENT = date(2027, 5, 13)


class PostalAddress(StrictModel):
    """An address for letters. Some stores publish only a city or a country: that loads, with a warning from
    `policy check` (`partial_address`), since a request by post needs an address it can reach (DPDP Rule
    3(c), GDPR Art 13(1)(a) identity and contact details)."""

    lines: list[ShortText] = Field(default_factory=list, description="Street address lines.")
    city: ShortText | None = None
    region: ShortText | None = Field(default=None, description="State or province.")
    postal_code: ShortText | None = None
    country: CountryCode


class Controller(StrictModel):
    """The store as data fiduciary / controller."""

    legal_name: ShortText
    trading_name: ShortText | None = Field(default=None, description="The brand customers know.")
    website: AnyUrl
    address: PostalAddress
    jurisdictions: list[Jurisdiction] = Field(min_length=1, description="Legal regimes the store serves.")
    role: StoreRole = StoreRole.SELLER
    default_country: CountryCode = Field(
        default="IN", description="Country used to normalise phone numbers given without a country code."
    )
    registered_users_in_india: int | None = Field(
        default=None,
        ge=0,
        description="Registered users in India; from the threshold of the store's `third_schedule_class` (2 crore "
        "for an e-commerce entity or a social media intermediary, 50 lakh for an online gaming intermediary) the "
        "DPDP Third Schedule inactivity rule applies.",
    )
    third_schedule_class: ThirdScheduleClass | None = Field(
        default=None,
        description="The class of the DPDP Third Schedule (Rule 8(1)) the store belongs to. Unset: an e-commerce "
        "entity, since the store sells online itself (seller or marketplace); `not_covered` for one that sells "
        "only through others' marketplaces (a marketplace seller is not an e-commerce entity there).",
    )
    significant_data_fiduciary: bool = Field(
        default=False, description="Notified as a Significant Data Fiduciary under DPDP s.10."
    )
    occasional_processing: bool = Field(
        default=False,
        description="GDPR / UK GDPR Art 27(2)(a): processing of people in the EU or UK is occasional, not large-scale "
        "special-category or criminal data, and unlikely to result in a risk; then no Art 27 representative is "
        "required (`policy check` warns instead of failing).",
    )


# ----------------------------------------------------------------------------------------------- contacts


class Contact(StrictModel):
    name: ShortText | None = None
    designation: ShortText | None = None
    email: EmailStr | None = None
    phone: ShortText | None = None
    address: PostalAddress | None = None
    url: AnyUrl | None = None
    hours: ShortText | None = Field(
        default=None, description="When the contact is reachable, e.g. 'Mon-Fri 09:00-18:00 IST'."
    )

    @model_validator(mode="after")
    def _reachable(self) -> Contact:
        if not (self.email or self.phone or self.address or self.url):
            raise ValueError("a contact needs at least one of email, phone, address or url")
        return self


class GrievanceOfficer(Contact):
    """IT Act / SPDI Rule 5(9) and Consumer Protection (E-Commerce) Rules r.4 require name and designation."""

    name: ShortText
    designation: ShortText
    email: EmailStr


class SecurityContact(StrictModel):
    """Feeds /.well-known/security.txt (RFC 9116) and the vulnerability report form."""

    email: EmailStr | None = None
    url: AnyUrl | None = None
    policy_url: AnyUrl | None = Field(default=None, description="The responsible-disclosure policy.")
    preferred_languages: list[LanguageTag] = Field(default_factory=lambda: ["en"])
    acknowledgments_url: AnyUrl | None = Field(
        default=None, description="Where researchers are thanked; unset means the service's own hall of thanks."
    )
    encryption_url: AnyUrl | None = Field(
        default=None,
        description="An OpenPGP key researchers may encrypt a report to (RFC 9116 s.2.5.4 'Encryption'); "
        "recommended when the contact is an email address.",
    )
    expires: AwareDatetime | None = Field(
        default=None,
        description="Until when these contacts are vouched for (RFC 9116 s.2.5.5 'Expires'). security.txt serves "
        "at most a year ahead; once it has passed the service warns at start and in /healthz. Unset means a year "
        "from the day the file is served, for as long as this policy is in force.",
    )

    @model_validator(mode="after")
    def _reachable(self) -> SecurityContact:
        if not (self.email or self.url):
            raise ValueError("a security contact needs an email or a url (RFC 9116 'Contact')")
        return self


class Authority(StrictModel):
    """Where a person may complain after the store's own grievance route (DPDP s.13(3), GDPR Art 77)."""

    name: ShortText
    url: AnyUrl | None = None
    jurisdiction: Jurisdiction


class Representative(Contact):
    """GDPR Art 27 / UK GDPR Art 27: a controller outside the EU (UK) that serves people there designates a
    representative in it, named in the notice with its contact details (Art 13(1)(a))."""

    name: ShortText
    jurisdiction: Jurisdiction = Field(description="EU or UK: where the representative acts.")

    @model_validator(mode="after")
    def _eu_or_uk(self) -> Representative:
        if self.jurisdiction not in (Jurisdiction.EU, Jurisdiction.UK):
            raise ValueError("a representative (GDPR Art 27) is for the EU or the UK")
        return self


class Contacts(StrictModel):
    grievance_officer: GrievanceOfficer | None = Field(
        default=None, description="Required where Indian law applies (IT Act / SPDI Rule 5(9), DPDP s.8(10))."
    )
    data_protection_officer: Contact | None = None
    privacy_contact: Contact | None = Field(
        default=None,
        description="Person who answers questions on processing (DPDP Rule 9); defaults to the DPO.",
    )
    security: SecurityContact | None = None
    cert_in_point_of_contact: Contact | None = Field(
        default=None, description="CERT-In direction (iii) point of contact."
    )
    authorities: list[Authority] = Field(default_factory=list)
    representatives: list[Representative] = Field(
        default_factory=list,
        description="EU / UK representatives (GDPR Art 27, UK GDPR Art 27), one per jurisdiction, required when "
        "the controller is established outside it.",
    )


def third_schedule_class(controller: Controller) -> ThirdScheduleClass | None:
    """The Third Schedule class that covers the store (DPDP Rule 8(1)), or None below its threshold or when
    the store is not in one; an unset class is an e-commerce entity (see `Controller.third_schedule_class`)."""
    declared = controller.third_schedule_class or ThirdScheduleClass.E_COMMERCE_ENTITY
    users = controller.registered_users_in_india
    if declared is ThirdScheduleClass.NOT_COVERED or users is None:
        return None
    return declared if users >= THIRD_SCHEDULE_THRESHOLDS[declared] else None
