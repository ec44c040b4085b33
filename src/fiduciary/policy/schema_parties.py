"""The policy schema for who is responsible: the controller, its jurisdictions, and its contacts."""

from __future__ import annotations

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
        description="Registered users in India; at 2 crore or more the DPDP Third Schedule inactivity rule applies.",
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
