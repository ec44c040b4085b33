"""The policy file: one document that declares a store's personal-data practices.

This Pydantic model is the single source of truth for the file format. It is published as JSON Schema
(`fiduciary policy schema`, docs/policy-schema.json) and documented in docs/policy-reference.md, both
generated from these classes. The classes of each section live in `schema_parties`, `schema_data` and
`schema_rights` (on `schema_types`); this module holds the document and re-exports them all. Field-level
checks live with the classes; checks that relate several sections (dangling references, legal problems)
live in `policy.checks` so they can report every problem at once with the file position of each.

Identifiers (`id`) are lower-case slugs with dots allowed (`contact.email`, `marketing.email`) so a store
can group its categories and purposes; they are what the API, the ledger and the decisions refer to.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from fiduciary.policy.schema_data import (
    AccessRole,
    Anonymisation,
    Channel,
    ChildrenExemption,
    Cookie,
    CookieCategory,
    DataCategory,
    DpdpExemption,
    FieldType,
    Generalisation,
    JurisdictionGround,
    LegalGround,
    LegalHold,
    LegitimateUse,
    Purpose,
    QuasiIdentifier,
    Recipient,
    RecipientKind,
    RetentionAction,
    RetentionRule,
    RetentionTrigger,
    Sensitivity,
    Source,
    trigger_code,
)
from fiduciary.policy.schema_jurisdictions import AgeBand
from fiduciary.policy.schema_optouts import (
    BrowserSignals,
    DoNotTrack,
    ExternalOptOut,
    GpcHandling,
    OptOutKind,
)
from fiduciary.policy.schema_parties import (
    THIRD_SCHEDULE_COMMENCEMENT,
    THIRD_SCHEDULE_PERIOD_DAYS,
    THIRD_SCHEDULE_THRESHOLDS,
    Authority,
    Contact,
    Contacts,
    Controller,
    GrievanceOfficer,
    Jurisdiction,
    PostalAddress,
    Representative,
    SecurityContact,
    StoreRole,
    ThirdScheduleClass,
    third_schedule_class,
)
from fiduciary.policy.schema_retention import EventTrigger, RetentionEvent
from fiduciary.policy.schema_rights import (
    AnnouncementChannel,
    BreachDeadlines,
    BusinessCalendar,
    Cases,
    ChildrenRules,
    Deadline,
    GrievanceDeadlines,
    GuardianVerification,
    Holiday,
    Identifier,
    ManualStep,
    PolicyChanges,
    RequestChannel,
    Right,
    RightKind,
    SecurityMeasure,
    UnknownAge,
    Verification,
    VulnerabilityDisclosure,
    Weekday,
)
from fiduciary.policy.schema_types import (
    ID_MAX_LENGTH,
    ID_PATTERN,
    LANGUAGE_PATTERN,
    CountryCode,
    LanguageTag,
    LongText,
    ShortText,
    Slug,
    StrictModel,
)

__all__ = [
    "ID_MAX_LENGTH",
    "ID_PATTERN",
    "LANGUAGE_PATTERN",
    "THIRD_SCHEDULE_COMMENCEMENT",
    "THIRD_SCHEDULE_PERIOD_DAYS",
    "THIRD_SCHEDULE_THRESHOLDS",
    "AccessRole",
    "AgeBand",
    "AnnouncementChannel",
    "Anonymisation",
    "Authority",
    "BreachDeadlines",
    "BrowserSignals",
    "BusinessCalendar",
    "Cases",
    "Channel",
    "ChildrenExemption",
    "ChildrenRules",
    "Contact",
    "Contacts",
    "Controller",
    "Cookie",
    "CookieCategory",
    "CountryCode",
    "DataCategory",
    "Deadline",
    "DoNotTrack",
    "DpdpExemption",
    "EventTrigger",
    "ExternalOptOut",
    "FieldType",
    "Generalisation",
    "GpcHandling",
    "GrievanceDeadlines",
    "GrievanceOfficer",
    "GuardianVerification",
    "Holiday",
    "Identifier",
    "Jurisdiction",
    "JurisdictionGround",
    "LanguageTag",
    "LegalGround",
    "LegalHold",
    "LegitimateUse",
    "LongText",
    "ManualStep",
    "OptOutKind",
    "PolicyChanges",
    "PolicyDocument",
    "PostalAddress",
    "Purpose",
    "QuasiIdentifier",
    "Recipient",
    "RecipientKind",
    "Representative",
    "RequestChannel",
    "RetentionAction",
    "RetentionEvent",
    "RetentionRule",
    "RetentionTrigger",
    "Right",
    "RightKind",
    "SecurityContact",
    "SecurityMeasure",
    "Sensitivity",
    "ShortText",
    "Slug",
    "Source",
    "StoreRole",
    "StrictModel",
    "ThirdScheduleClass",
    "UnknownAge",
    "Verification",
    "VulnerabilityDisclosure",
    "Weekday",
    "third_schedule_class",
    "trigger_code",
]


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
    retention_events: list[RetentionEvent] = Field(
        default_factory=list,
        description="Events the store names itself that start a retention clock, e.g. "
        "warranty_ended; a rule counts from one with `trigger: {event: warranty_ended}`.",
    )
    cookies: list[Cookie] = Field(default_factory=list)
    rights: list[Right] = Field(min_length=1)
    calendar: BusinessCalendar = Field(default_factory=BusinessCalendar)
    children: ChildrenRules
    cases: Cases
    policy_changes: PolicyChanges
    security_measures: list[SecurityMeasure] = Field(default_factory=list)
    external_opt_outs: list[ExternalOptOut] = Field(
        default_factory=list,
        description="Opt-outs others run (industry portals, platforms' ad settings), shown in the notice.",
    )
    browser_signals: BrowserSignals | None = Field(
        default=None, description="The store's stated answer to Do Not Track and Global Privacy Control."
    )
