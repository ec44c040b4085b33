"""The policy schema for what a person can do and expect: rights, the business calendar, children, case
deadlines, policy changes and security measures."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from fiduciary.policy.duration import Duration
from fiduciary.policy.schema_jurisdictions import AgeBand
from fiduciary.policy.schema_parties import Jurisdiction
from fiduciary.policy.schema_types import (
    CountryCode,
    ShortText,
    StrictModel,
)

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
    EXTERNAL_MECHANISM = "external_mechanism"  # an opt-out someone else runs, listed in external_opt_outs


class Deadline(StrictModel):
    respond_within: Duration
    acknowledge_within: Duration | None = None
    extendable_by: Duration | None = Field(default=None, description="A permitted extension, with notice.")


class ManualStep(StrictModel):
    """A system outside Fiduciary that a request must reach by hand; staff confirm it was done."""

    system: ShortText = Field(description="Where the data is, e.g. 'Order database' or 'Courier partner'.")
    action: ShortText | None = Field(default=None, description="What staff do there, e.g. 'Delete the customer'.")


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
    authorised_agents: bool = Field(
        default=False,
        description="A person may make this request through an authorised agent (CCPA Civ. Code "
        "§1798.130(a)(3), §1798.135(e), §1798.185(a)(7); CCPA Regulations §7063); the store may ask the agent "
        "for the person's signed permission and the person to verify their identity.",
    )
    staff_approval: bool = Field(
        default=False,
        description="A member of staff approves each request of this kind after the identity check and before "
        "it runs (e.g. an erasure the store reviews for a legal hold first).",
    )
    waiting_period: Duration | None = Field(
        default=None,
        description="Erasure and deactivation only: how long after approval the request waits before it runs; "
        "the person can cancel it until then.",
    )
    manual_steps: list[ManualStep] = Field(
        default_factory=list,
        description="Systems outside Fiduciary that hold the person's data (the store's order database, a "
        "courier without an API): each is a step staff confirm by hand; the request completes only when every "
        "step is confirmed.",
    )
    keep_after_deactivation: Duration | None = Field(
        default=None,
        description="Deactivation only: how long the closed account's data is kept before it is erased "
        "(processing stops at once).",
    )
    jurisdictions: list[Jurisdiction] = Field(
        default_factory=list,
        description="Offered only to people of these jurisdictions ('California residents may …'); empty: to "
        "everyone the policy serves.",
    )
    deadlines_by_jurisdiction: dict[Jurisdiction, Deadline] = Field(
        default_factory=dict,
        description="The deadline for people of a jurisdiction where it differs from deadline, e.g. "
        "{EU: {respond_within: 1mo, extendable_by: 2mo}, US-CA: {respond_within: 45d}}.",
    )

    def deadline_for(self, jurisdiction: Jurisdiction) -> Deadline:
        return self.deadlines_by_jurisdiction.get(jurisdiction, self.deadline)


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
    by_jurisdiction: dict[Jurisdiction, AgeBand] = Field(
        default_factory=dict,
        description="The ages each jurisdiction sets, stated in the notice for the people who live there (DPDP "
        "s.2(f): under 18 is a child; GDPR Art 8(1): 13 to 16 by member state; UK: 13; CCPA 1798.120(c): sale "
        "opt-in under 16, a parent's under 13). Decisions apply a band to the people whose residence is recorded "
        "as its jurisdiction (`PUT /v1/people/{id}/jurisdiction`) and the ages above to everyone else, so those "
        "must be at least every band's (`policy check`).",
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
    POSTED_ON_PAGE = "posted_on_page"  # the new version is posted on the notice's page, nothing is sent


class PolicyChanges(StrictModel):
    announce_via: list[AnnouncementChannel] = Field(min_length=1)
    advance_notice: Duration | None = Field(default=None, description="How long before a material change takes effect.")
    material_changes_require_reconsent: bool = True


class SecurityMeasure(StrictModel):
    name: ShortText
    description: ShortText
