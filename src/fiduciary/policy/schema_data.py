"""The policy schema for the data: categories, purposes, recipients, retention rules and cookies."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AnyUrl,
    Field,
    StringConstraints,
    model_validator,
)

from fiduciary.policy.duration import Duration
from fiduciary.policy.schema_parties import Jurisdiction
from fiduciary.policy.schema_retention import EventTrigger
from fiduciary.policy.schema_types import (
    CountryCode,
    LongText,
    ShortText,
    Slug,
    StrictModel,
)

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
    CREATED_BY_US = "created_by_us"  # made by us: call notes, fraud scores, location from an IP (GDPR Art 15(1)(g))
    IN_STORE = "in_store"  # collected in a physical store or at a counter, not online


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


def _check_ground_details(
    ground: LegalGround, legitimate_use: LegitimateUse | None, exemption: DpdpExemption | None
) -> None:
    """DPDP s.7 and s.17(1) grounds are named by clause; a clause without its ground is a contradiction."""
    if ground is LegalGround.LEGITIMATE_USE and legitimate_use is None:
        raise ValueError("legal_ground legitimate_use needs the DPDP s.7 clause in legitimate_use (e.g. '7a')")
    if ground is not LegalGround.LEGITIMATE_USE and legitimate_use is not None:
        raise ValueError("legitimate_use is only meaningful when legal_ground is legitimate_use")
    if ground is LegalGround.EXEMPTION and exemption is None:
        raise ValueError("legal_ground exemption needs the DPDP s.17(1) clause in exemption (e.g. '17(1)(a)')")
    if ground is not LegalGround.EXEMPTION and exemption is not None:
        raise ValueError("exemption is only meaningful when legal_ground is exemption")


class JurisdictionGround(StrictModel):
    """The legal ground of a purpose for the people of one jurisdiction (issue 12 item 1).

    One practice can rest on different grounds under different laws: fraud prevention is a GDPR Art 6(1)(f)
    legitimate interest in the EU and UK, a DPDP s.17(1)(c) exemption (or a s.7 use) in India.
    """

    legal_ground: LegalGround
    legitimate_use: LegitimateUse | None = Field(
        default=None, description="The DPDP s.7 clause, required when legal_ground is legitimate_use."
    )
    exemption: DpdpExemption | None = Field(
        default=None, description="The DPDP s.17(1) clause, required when legal_ground is exemption."
    )
    legal_basis_reference: ShortText | None = Field(
        default=None, description="The law behind a legal_obligation in this jurisdiction, e.g. 'HGB s.257'."
    )

    @model_validator(mode="after")
    def _ground_details(self) -> JurisdictionGround:
        _check_ground_details(self.legal_ground, self.legitimate_use, self.exemption)
        return self


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
    grounds_by_jurisdiction: dict[Jurisdiction, JurisdictionGround] = Field(
        default_factory=dict,
        description="The ground for people of a jurisdiction where it differs from legal_ground, e.g. "
        "{EU: {legal_ground: legitimate_interests}, IN: {legal_ground: exemption, exemption: '17(1)(c)'}}. "
        "A jurisdiction not listed uses legal_ground; every key must be declared in controller.jurisdictions.",
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
    processing_logs: bool = Field(
        default=False,
        description="Keeps logs of processing or traffic data (access, security or fraud logs): DPDP Rule 8(3) "
        "then keeps the data it declares at least one year wherever Indian law applies.",
    )
    withdrawal_limits_service: ShortText | None = Field(
        default=None,
        description="For a consent purpose: what stops working if the person withdraws, in the store's words "
        "(e.g. 'recommendations are no longer personalised'); the notice says so.",
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

    def ground_for(self, jurisdiction: Jurisdiction | None) -> JurisdictionGround:
        """The ground that applies to the people of `jurisdiction`; None or an unlisted one: the purpose's own."""
        if jurisdiction is not None:
            found = self.grounds_by_jurisdiction.get(jurisdiction)
            if found is not None:
                return found
        return JurisdictionGround.model_construct(
            legal_ground=self.legal_ground,
            legitimate_use=self.legitimate_use,
            exemption=self.exemption,
            legal_basis_reference=self.legal_basis_reference,
        )

    @model_validator(mode="after")
    def _ground_details(self) -> Purpose:
        _check_ground_details(self.legal_ground, self.legitimate_use, self.exemption)
        return self


# --------------------------------------------------------------------------------------------- recipients


class RecipientKind(StrEnum):
    PROCESSOR = "processor"
    AFFILIATE = "affiliate"
    THIRD_PARTY = "third_party"  # an independent controller / data fiduciary
    AUTHORITY = "authority"  # law enforcement, courts, regulators, on lawful request
    ACQUIRER = "acquirer"  # a buyer in a merger or sale of the business
    PUBLIC = "public"  # anyone: what the person publishes (reviews, photos); a GDPR Art 13(1)(e) category


class Recipient(StrictModel):
    id: Slug
    name: ShortText = Field(description="The organisation, or the class of organisation (e.g. 'Courier partners').")
    kind: RecipientKind
    description: LongText | None = None
    countries: list[CountryCode] = Field(
        min_length=1,
        description="Where the recipient processes the data (for kind public: where the store publishes it).",
    )
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
    ERASURE_REQUESTED = "erasure_requested"  # "until you ask us to erase it" (DPDP s.12(3), GDPR Art 17)
    LAW_REQUIRES = "law_requires"  # "as long as the law requires": the law named in `law` (GDPR Art 13(2)(a))


def trigger_code(trigger: RetentionTrigger | EventTrigger) -> str:
    """One string for a trigger: its value, or `event:<id>` for a store-declared event (receipts, JSON)."""
    return f"event:{trigger.event}" if isinstance(trigger, EventTrigger) else trigger.value


class LegalHold(StrictModel):
    """A minimum the law requires, kept even after the person asks for erasure."""

    minimum: Duration
    basis: ShortText = Field(description="The law, e.g. 'DPDP Rule 8(3)'.")


class Generalisation(StrEnum):
    """How a kept quasi-identifier is coarsened before it is counted (issue 15, k-anonymity)."""

    EXACT = "exact"  # a value with few distinct answers already ("delivered", "returned")
    PREFIX = "prefix"  # the first `digits` characters: a PIN code 560034 -> 560
    MONTH = "month"  # a date -> YYYY-MM
    YEAR = "year"  # a date -> YYYY
    DECADE = "decade"  # a date -> 1990s


class QuasiIdentifier(StrictModel):
    """One category an anonymising rule keeps, coarsened, in the counts it leaves behind."""

    category: Slug = Field(description="One of the rule's categories.")
    generalise: Generalisation = Field(description="How the value is coarsened before it is counted.")
    digits: int | None = Field(
        default=None, ge=1, le=10, description="With generalise: prefix, how many leading characters are kept."
    )


class Anonymisation(StrictModel):
    """What an anonymising rule keeps: counts over the generalised quasi-identifiers, every group of at least
    `k` people (smaller groups are suppressed), and nothing that links back to a person."""

    k: int = Field(default=5, ge=2, le=1000, description="The smallest group kept (k-anonymity).")
    keep: list[QuasiIdentifier] = Field(
        default_factory=list, description="The quasi-identifiers kept, generalised; empty keeps counts only."
    )


class RetentionRule(StrictModel):
    id: Slug
    description: LongText | None = None
    categories: list[Slug] = Field(min_length=1)
    purposes: list[Slug] = Field(default_factory=list, description="Limit the rule to data used for these purposes.")
    trigger: RetentionTrigger | EventTrigger = Field(
        default=RetentionTrigger.COLLECTED,
        description="When the clock starts: one of the values below, or `{event: <id>}` for an event the store "
        "declares under `retention_events` and reports through the API. `collected` and `last_activity` need "
        "keep_for; `erasure_requested` and `law_requires` take none.",
    )
    keep_for: Duration | None = Field(
        default=None, description="How long after the trigger; unset keeps until the trigger itself."
    )
    law: ShortText | None = Field(
        default=None,
        description="The law that sets the period, required with trigger law_requires, e.g. 'Companies Act 2013 "
        "s.128(5)'.",
    )
    store_wording: LongText | None = Field(
        default=None,
        description="The store's own sentence for this rule, shown in the notice beside the generated one.",
    )
    action: RetentionAction
    legal_hold: LegalHold | None = None
    exceptions: list[ShortText] = Field(
        default_factory=list,
        description="Data kept past the rule, e.g. account-access data or wallet balances.",
    )
    advance_notice: Duration | None = Field(
        default=None,
        description="Warn the person this long before erasure (DPDP Rule 8(2): at least 48 hours). With trigger "
        "last_activity the inactivity sweep sends this notice and erases no sooner than this long after it went.",
    )
    reminder: Duration | None = Field(
        default=None,
        description="With trigger last_activity: an earlier reminder this long before erasure (e.g. 30d), longer "
        "than advance_notice; the notice at advance_notice still follows it.",
    )
    counts_from: date | None = Field(
        default=None,
        description="With trigger last_activity: the period counts from this date (midnight in the policy's time "
        "zone) for anyone whose last contact is earlier. The DPDP Third Schedule's 3 years run from the last "
        "contact or the commencement of the Rules, whichever is later: 2027-05-13 for a covered store, which may "
        "not set a later date. The notice states it.",
    )
    anonymise: Anonymisation | None = Field(
        default=None,
        description="With action anonymise: k and the generalised quasi-identifiers the sweep keeps (issue 15).",
    )
    approval_required: bool = Field(
        default=False,
        description="The retention sweep erases under this rule only after an admin approved the plan "
        "(`fiduciary retention approve`); the scheduled sweep leaves it alone.",
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
