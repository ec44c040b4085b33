"""The policy file: one document that declares a store's personal-data practices.

This Pydantic model is the single source of truth for the file format. It is published as JSON Schema
(`fiduciary policy schema`, docs/policy-schema.json) and documented in docs/policy-reference.md, both
generated from these classes. Field-level checks live here; checks that relate several sections (dangling
references, legal problems) live in `policy.checks` so they can report every problem at once with the
file position of each.

Identifiers (`id`) are lower-case slugs with dots allowed (`contact.email`, `marketing.email`) so a store
can group its categories and purposes; they are what the API, the ledger and the decisions refer to.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AnyUrl,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from fiduciary.policy.duration import Duration

# The shape of every id a policy declares (purposes, categories, recipients, ...). The API checks ids it is
# sent against the same pattern, so the OpenAPI, the server and the policy file agree on one definition.
ID_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$"
ID_MAX_LENGTH = 80
LANGUAGE_PATTERN = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
Slug = Annotated[
    str,
    StringConstraints(pattern=ID_PATTERN, min_length=1, max_length=ID_MAX_LENGTH),
]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
LanguageTag = Annotated[str, StringConstraints(pattern=LANGUAGE_PATTERN)]


class StrictModel(BaseModel):
    """Unknown keys are errors: a misspelt key would otherwise silently drop a promise."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


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
    lines: list[ShortText] = Field(min_length=1, description="Street address lines.")
    city: ShortText
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
    acknowledgments_url: AnyUrl | None = None

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


# --------------------------------------------------------------------------------------------- categories


class Sensitivity(StrEnum):
    STANDARD = "standard"
    SENSITIVE = "sensitive"  # SPDI r.3 (health, biometrics, passwords …)
    FINANCIAL = "financial"  # SPDI r.3(ii): bank account, card, payment instrument
    GOVERNMENT_ID = "government_id"  # PAN, Aadhaar, GSTIN, passport …
    CHILDREN = "children"


class Source(StrEnum):
    PROVIDED = "provided"  # the person gives it
    AUTOMATIC = "automatic"  # collected by our systems as the person uses them (cookies, logs, device)
    THIRD_PARTY = "third_party"  # received from someone else


class FieldType(StrEnum):
    """How the vault validates and masks values of a category."""

    TEXT = "text"
    FREE_TEXT = "free_text"  # scanned for identifiers and card numbers, redacted before storage
    EMAIL = "email"
    PHONE = "phone"
    DATE = "date"
    POSTAL_ADDRESS = "postal_address"
    PIN_CODE = "pin_code"
    PAN = "pan"
    GSTIN = "gstin"
    AADHAAR = "aadhaar"  # stored only masked or tokenised
    PAYMENT_TOKEN = "payment_token"  # a gateway token; raw card numbers are refused
    DOCUMENT_REFERENCE = "document_reference"
    DEVICE = "device"
    LOCATION = "location"
    IDENTIFIER = "identifier"
    JSON = "json"
    MEDIA_REFERENCE = "media_reference"


class DataCategory(StrictModel):
    id: Slug
    name: ShortText
    description: LongText | None = None
    sensitivity: Sensitivity = Sensitivity.STANDARD
    sources: list[Source] = Field(min_length=1, description="How the store obtains this data.")
    third_party_sources: list[ShortText] = Field(
        default_factory=list,
        description="Who it comes from when a source is third_party (e.g. courier, social sign-in).",
    )
    required: bool = Field(
        description="True if the person must give it to use the service; false if optional at collection."
    )
    fideslang: Annotated[str, StringConstraints(pattern=r"^[a-z_]+(\.[a-z_]+)*$")] = Field(
        description="The fideslang data category this maps to, e.g. user.contact.email."
    )
    field_type: FieldType = FieldType.TEXT
    device_permission: ShortText | None = Field(
        default=None, description="App permission that yields this data (e.g. SMS, contacts, location)."
    )
    if_not_provided: ShortText | None = Field(
        default=None,
        description="What happens if the person does not give it or refuses the permission (GDPR Art 13(2)(e), "
        "SPDI r.5(7)); e.g. 'you can still browse, but cannot check out'. Several seed stores state this.",
    )

    @model_validator(mode="after")
    def _third_party_named(self) -> DataCategory:
        if Source.THIRD_PARTY in self.sources and not self.third_party_sources:
            raise ValueError("a category obtained from third parties must name them in third_party_sources")
        return self


# ----------------------------------------------------------------------------------------------- purposes


class LegalGround(StrEnum):
    CONSENT = "consent"
    # necessary to provide the service asked for (GDPR 6(1)(b); DPDP s.7(a) where provided voluntarily)
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    LEGITIMATE_USE = "legitimate_use"  # DPDP s.7, with the clause
    LEGITIMATE_INTERESTS = "legitimate_interests"  # GDPR 6(1)(f); not a ground under DPDP
    VITAL_INTERESTS = "vital_interests"
    # DPDP s.17(1): consent, notice and the Chapter III rights do not apply (s.8(1) and s.8(5) still do).
    # Added for the seed stores' legal claims, fraud/offence prevention and merger clauses (see
    # docs/seed-coverage.md): none of these is a s.7 legitimate use, and calling them consent would be false.
    EXEMPTION = "exemption"


class DpdpExemption(StrEnum):
    """DPDP Act s.17(1) clauses a store can rely on, named by clause; required with legal_ground exemption."""

    LEGAL_CLAIMS = "17(1)(a)"  # enforcing any legal right or claim
    JUDICIAL_FUNCTION = "17(1)(b)"  # a court or tribunal performing a judicial or quasi-judicial function
    OFFENCES = "17(1)(c)"  # prevention, detection, investigation or prosecution of an offence
    FOREIGN_CONTRACT = "17(1)(d)"  # data of non-Indian principals processed under a foreign contract
    MERGER = "17(1)(e)"  # a merger, demerger or transfer approved by a court, tribunal or authority
    LOAN_DEFAULT = "17(1)(f)"  # ascertaining financial information of a loan defaulter


class LegitimateUse(StrEnum):
    """DPDP Act s.7 clauses."""

    VOLUNTARILY_PROVIDED = "7a"  # specified purpose for which data was voluntarily provided, no objection
    STATE_BENEFIT = "7b"
    STATE_FUNCTION = "7c"
    LEGAL_DISCLOSURE_TO_STATE = "7d"
    COURT_ORDER = "7e"
    MEDICAL_EMERGENCY = "7f"
    EPIDEMIC = "7g"
    DISASTER = "7h"
    EMPLOYMENT = "7i"


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"
    WHATSAPP = "whatsapp"
    PHONE = "phone"
    POST = "post"
    IN_APP = "in_app"


class AccessRole(StrEnum):
    """Who reads personal fields: the store backend's own processing, or a staff role (docs/audit.md, roles).

    Roles decide masking only; which categories come back is the decision engine's answer for the purpose.
    """

    SERVICE = "service"  # the store backend itself (an order sent to the courier, an invoice rendered)
    SUPPORT = "support"
    PRIVACY_OFFICER = "privacy_officer"
    SECURITY_TRIAGE = "security_triage"
    AUDITOR = "auditor"
    ADMIN = "admin"


class ChildrenExemption(StrEnum):
    """DPDP Fourth Schedule Part B: purposes for which s.9(1) and (3) do not apply (s.9(5), Rule 12)."""

    CONFIRM_NOT_CHILD = "confirm_not_child"  # Rule 10 due diligence: confirming the person is not a child
    EMAIL_ONLY_ACCOUNT = "email_only_account"  # creating a user account limited to email communication
    BLOCK_HARMFUL_CONTENT = "block_harmful_content"  # blocking information likely to harm the child


class Purpose(StrictModel):
    id: Slug
    name: ShortText
    description: LongText
    service: ShortText = Field(description="The goods, service or use this purpose enables (DPDP Rule 3(b)).")
    legal_ground: LegalGround
    legitimate_use: LegitimateUse | None = Field(
        default=None, description="The DPDP s.7 clause, required when legal_ground is legitimate_use."
    )
    legal_basis_reference: ShortText | None = Field(
        default=None, description="The law behind a legal_obligation, e.g. 'CGST Act s.35'."
    )
    exemption: DpdpExemption | None = Field(
        default=None,
        description="The DPDP s.17(1) clause, required when legal_ground is exemption (e.g. '17(1)(a)' for "
        "legal claims); the seed stores' dispute, fraud and merger clauses need it.",
    )
    required_for_service: bool = Field(
        default=False,
        description="The service cannot be provided without it. Never true for a consent purpose (DPDP s.6(1)).",
    )
    categories: list[Slug] = Field(min_length=1, description="Data categories this purpose uses.")
    optional_categories: list[Slug] = Field(
        default_factory=list, description="Categories used if the person chose to give them."
    )
    marketing_channels: list[Channel] = Field(
        default_factory=list, description="Non-empty makes this a direct-marketing purpose on those channels."
    )
    tracking: bool = Field(default=False, description="Tracks or monitors behaviour (never for children, DPDP s.9(3)).")
    profiling: bool = False
    targeted_advertising: bool = False
    sale_or_sharing: bool = Field(default=False, description="A 'sale' or 'sharing' under CCPA; GPC opts out of it.")
    automated_decision: bool = Field(default=False, description="Decisions with legal or similar effect (GDPR Art 22).")
    spdi_written_consent: bool = Field(
        default=False, description="Uses SPDI and needs consent in writing before collection (SPDI r.5(1))."
    )
    children_exemption: ChildrenExemption | None = Field(
        default=None,
        description="The DPDP Fourth Schedule Part B purpose this is (s.9(5), Rule 12): it runs for a child without "
        "a guardian's consent. Only for a purpose that does exactly that; `policy check` refuses one that tracks, "
        "profiles, targets, sells, markets, or rests on consent.",
    )
    children_allowed: bool | None = Field(
        default=None,
        description="Whether children may be included (with a guardian's consent); unset lets the engine decide. "
        "Never true for tracking, profiling or targeted advertising (DPDP s.9(3)).",
    )
    full_values_for_roles: list[AccessRole] | None = Field(
        default=None,
        description="Roles that see full values when reading fields for this purpose; every other role sees "
        "masked values (support sees ******4321). Unset means only `service`, the store backend's own "
        "processing; [] masks for everyone (DPDP Rule 6(1)(a) masking; s.6(1) data minimisation).",
    )

    @property
    def is_marketing(self) -> bool:
        return bool(self.marketing_channels)

    @property
    def barred_for_children(self) -> bool:
        return self.tracking or self.profiling or self.targeted_advertising

    @model_validator(mode="after")
    def _ground_details(self) -> Purpose:
        if self.legal_ground is LegalGround.LEGITIMATE_USE and self.legitimate_use is None:
            raise ValueError("legal_ground legitimate_use needs the DPDP s.7 clause in legitimate_use (e.g. '7a')")
        if self.legal_ground is not LegalGround.LEGITIMATE_USE and self.legitimate_use is not None:
            raise ValueError("legitimate_use is only meaningful when legal_ground is legitimate_use")
        if self.legal_ground is LegalGround.EXEMPTION and self.exemption is None:
            raise ValueError("legal_ground exemption needs the DPDP s.17(1) clause in exemption (e.g. '17(1)(a)')")
        if self.legal_ground is not LegalGround.EXEMPTION and self.exemption is not None:
            raise ValueError("exemption is only meaningful when legal_ground is exemption")
        return self


# --------------------------------------------------------------------------------------------- recipients


class RecipientKind(StrEnum):
    PROCESSOR = "processor"
    AFFILIATE = "affiliate"
    THIRD_PARTY = "third_party"  # an independent controller / data fiduciary
    AUTHORITY = "authority"  # law enforcement, courts, regulators, on lawful request
    ACQUIRER = "acquirer"  # a buyer in a merger or sale of the business


class Recipient(StrictModel):
    id: Slug
    name: ShortText = Field(description="The organisation, or the class of organisation (e.g. 'Courier partners').")
    kind: RecipientKind
    description: LongText | None = None
    countries: list[CountryCode] = Field(min_length=1, description="Where the recipient processes the data.")
    purposes: list[Slug] = Field(min_length=1)
    categories: list[Slug] = Field(min_length=1)
    contract_reference: ShortText | None = Field(
        default=None, description="Processing contract (DPDP s.8(2)); expected for processors."
    )
    transfer_safeguard: ShortText | None = Field(
        default=None, description="For transfers out of the store's jurisdiction: SCCs, adequacy, consent …"
    )
    webhook_url: AnyUrl | None = Field(default=None, description="Where corrections and erasures are propagated.")


# ---------------------------------------------------------------------------------------------- retention


class RetentionAction(StrEnum):
    DELETE = "delete"
    ANONYMISE = "anonymise"


class RetentionTrigger(StrEnum):
    """When the retention clock starts."""

    COLLECTED = "collected"
    LAST_ACTIVITY = "last_activity"  # last login or contact (DPDP s.8(8) explanation)
    ACCOUNT_CLOSED = "account_closed"
    ORDER_COMPLETED = "order_completed"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    PURPOSE_FULFILLED = "purpose_fulfilled"
    CASE_CLOSED = "case_closed"


class LegalHold(StrictModel):
    """A minimum the law requires, kept even after the person asks for erasure."""

    minimum: Duration
    basis: ShortText = Field(description="The law, e.g. 'DPDP Rule 8(3)'.")


class RetentionRule(StrictModel):
    id: Slug
    description: LongText | None = None
    categories: list[Slug] = Field(min_length=1)
    purposes: list[Slug] = Field(default_factory=list, description="Limit the rule to data used for these purposes.")
    trigger: RetentionTrigger = RetentionTrigger.COLLECTED
    keep_for: Duration | None = Field(
        default=None, description="How long after the trigger; unset keeps until the trigger itself."
    )
    action: RetentionAction
    legal_hold: LegalHold | None = None
    exceptions: list[ShortText] = Field(
        default_factory=list,
        description="Data kept past the rule, e.g. account-access data or wallet balances.",
    )
    advance_notice: Duration | None = Field(
        default=None,
        description="Warn the person this long before erasure (DPDP Rule 8(2): at least 48 hours).",
    )


# ----------------------------------------------------------------------------------------------- cookies


class CookieCategory(StrEnum):
    NECESSARY = "necessary"
    FUNCTIONAL = "functional"
    ANALYTICS = "analytics"
    ADVERTISING = "advertising"


class Cookie(StrictModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    provider: ShortText
    party: Literal["first", "third"]
    category: CookieCategory
    lifetime: Duration | Literal["session"]
    purpose: Slug | None = Field(
        default=None, description="The policy purpose it serves; required for every non-necessary cookie."
    )
    description: ShortText


# ------------------------------------------------------------------------------------------------ rights


class RightKind(StrEnum):
    ACCESS = "access"
    CORRECTION = "correction"
    ERASURE = "erasure"
    PORTABILITY = "portability"
    RESTRICTION = "restriction"
    OBJECTION = "objection"
    WITHDRAW_CONSENT = "withdraw_consent"
    OPT_OUT_MARKETING = "opt_out_marketing"
    OPT_OUT_SALE_SHARING = "opt_out_sale_sharing"
    NOMINATION = "nomination"
    GRIEVANCE = "grievance"
    DEACTIVATION = "deactivation"


class Identifier(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    CUSTOMER_ID = "customer_id"
    ORDER_ID = "order_id"
    USERNAME = "username"


class Verification(StrEnum):
    SIGNED_IN_SESSION = "signed_in_session"
    EMAIL_OTP = "email_otp"
    SMS_OTP = "sms_otp"
    DOCUMENT = "document"
    DATA_POINTS_2 = "two_data_points"  # CCPA §7062 "reasonable degree of certainty"
    DATA_POINTS_3_DECLARATION = "three_data_points_and_declaration"
    NONE = "none"  # only for opt-outs, which need no verification (CCPA §7026)


class RequestChannel(StrEnum):
    PRIVACY_CENTER = "privacy_center"
    EMAIL = "email"
    PHONE = "phone"
    POST = "post"
    IN_APP = "in_app"
    EMAIL_LINK = "email_link"


class Deadline(StrictModel):
    respond_within: Duration
    acknowledge_within: Duration | None = None
    extendable_by: Duration | None = Field(default=None, description="A permitted extension, with notice.")


class Right(StrictModel):
    kind: RightKind
    description: ShortText | None = None
    deadline: Deadline
    identifiers: list[Identifier] = Field(
        min_length=1, description="What the person gives to be found (DPDP Rule 14(1)(b))."
    )
    verification: list[Verification] = Field(min_length=1)
    channels: list[RequestChannel] = Field(min_length=1)
    limitations: list[ShortText] = Field(
        default_factory=list, description="When the store may refuse or keep data, stated for the notice."
    )


Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class Holiday(StrictModel):
    date: date
    name: ShortText


class BusinessCalendar(StrictModel):
    timezone: ShortText = Field(
        default="Asia/Kolkata",
        description="IANA time zone of the store's calendar: deadlines in business days and the date on which a "
        "child comes of age are counted in it.",
    )
    weekend: list[Weekday] = Field(default_factory=lambda: list[Weekday](["saturday", "sunday"]))
    holidays: list[Holiday] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Asia/Kolkata") from None
        return value


# -------------------------------------------------------------------------------------------- children


class GuardianVerification(StrEnum):
    EXISTING_ADULT_ACCOUNT = "existing_adult_account"  # DPDP Rule 10(1)(a)
    VIRTUAL_TOKEN = "virtual_token"  # DPDP Rule 10(1)(b), e.g. DigiLocker
    DOCUMENT = "document"


class UnknownAge(StrEnum):
    """How decisions treat a person whose age nobody declared (docs/decisions/0015-unknown-age.md)."""

    TREAT_AS_ADULT = "treat_as_adult"
    TREAT_AS_CHILD = "treat_as_child"  # every children's rule applies until an adult age is declared
    ASK = "ask"  # consent purposes deny with `age_unknown` until an age is declared; contract purposes run


class ChildrenRules(StrictModel):
    minimum_age: int = Field(ge=13, le=21, description="Below this age a person is a child (DPDP: 18).")
    guardian_consent: bool = Field(
        description="Whether children may use the service with a guardian's consent. false: a child is refused at "
        "collection, every decision for a child denies (`children_not_served`), no guardian grant is taken."
    )
    guardian_verification: list[GuardianVerification] = Field(default_factory=list)
    age_assurance: ShortText = Field(description="How age is established, e.g. date of birth at sign-up.")
    unknown_age: UnknownAge | None = Field(
        default=None,
        description="How a person of unknown age is treated. Unset: `ask` where Indian law applies (DPDP s.9(1) "
        "puts the due diligence on the store), `treat_as_adult` elsewhere.",
    )
    sale_opt_in_age: int = Field(
        default=16,
        ge=13,
        le=21,
        description="Below this age a sale or sharing needs the person's own opt-in, whatever its legal ground "
        "(CCPA Civ. Code 1798.120(c)).",
    )
    sale_parent_age: int = Field(
        default=13,
        ge=0,
        le=21,
        description="Below this age the opt-in to a sale or sharing must come from a parent or guardian "
        "(CCPA Civ. Code 1798.120(c), 11 CCR 7070).",
    )
    country_ages: dict[CountryCode, Annotated[int, Field(ge=13, le=16)]] = Field(
        default_factory=dict,
        description="GDPR Art 8(1) ages of digital consent by member state (13 to 16), e.g. {DE: 16, FR: 15}. "
        "People carry no country, so `minimum_age` must be at least the highest of them (`policy check`).",
    )

    @model_validator(mode="after")
    def _bands(self) -> ChildrenRules:
        if self.sale_parent_age > self.sale_opt_in_age:
            raise ValueError("sale_parent_age must not be above sale_opt_in_age")
        return self


# ------------------------------------------------------------------------------------- cases and changes


class GrievanceDeadlines(StrictModel):
    acknowledge_within: Duration
    resolve_within: Duration


class BreachDeadlines(StrictModel):
    authority_initial: Duration = Field(description="First report to the Board / supervisory authority.")
    authority_detailed: Duration = Field(description="Detailed report (DPDP Rule 7(2)(b): 72 hours).")
    cert_in: Duration | None = Field(default=None, description="CERT-In report (6 hours) where Indian law applies.")
    notify_people: Duration = Field(description="Intimation to each affected person (DPDP Rule 7(1): without delay).")


class VulnerabilityDisclosure(StrictModel):
    acknowledge_within: Duration
    triage_within: Duration
    safe_harbour: bool = True
    out_of_scope: list[ShortText] = Field(default_factory=list)
    researcher_rules: list[ShortText] = Field(
        default_factory=list,
        description="What a reporter is asked to do and not do (what to include, no data beyond a proof, "
        "no disclosure before a fix); the responsible-disclosure seed states such rules.",
    )


class Cases(StrictModel):
    grievance: GrievanceDeadlines
    breach: BreachDeadlines
    vulnerability: VulnerabilityDisclosure | None = None


class AnnouncementChannel(StrEnum):
    EMAIL = "email"
    BANNER = "banner"
    IN_APP = "in_app"
    HOME_PAGE = "home_page"
    POP_UP = "pop_up"
    SMS = "sms"


class PolicyChanges(StrictModel):
    announce_via: list[AnnouncementChannel] = Field(min_length=1)
    advance_notice: Duration | None = Field(default=None, description="How long before a material change takes effect.")
    material_changes_require_reconsent: bool = True


class SecurityMeasure(StrictModel):
    name: ShortText
    description: ShortText


# ------------------------------------------------------------------------------------------- the document


class PolicyDocument(StrictModel):
    """A store's privacy policy as data."""

    schema_version: Literal[1] = Field(description="The version of this file format.")
    name: ShortText = Field(description="A title for the policy, e.g. 'Example Store privacy policy'.")
    language: LanguageTag = "en"
    controller: Controller
    contacts: Contacts
    categories: list[DataCategory] = Field(min_length=1)
    purposes: list[Purpose] = Field(min_length=1)
    recipients: list[Recipient] = Field(default_factory=list)
    retention: list[RetentionRule] = Field(default_factory=list)
    cookies: list[Cookie] = Field(default_factory=list)
    rights: list[Right] = Field(min_length=1)
    calendar: BusinessCalendar = Field(default_factory=BusinessCalendar)
    children: ChildrenRules
    cases: Cases
    policy_changes: PolicyChanges
    security_measures: list[SecurityMeasure] = Field(default_factory=list)
