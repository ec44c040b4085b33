"""The one table from our policy vocabulary to fideslang's and DPV's: categories, uses, purposes, grounds.

Both exports read this module and nothing else for their vocabulary, so a mapping is decided once and
the two never disagree (a purpose exported as fideslang `essential.fraud_detection` is DPV
`FraudPreventionAndDetection`, whatever its id is spelled). Every choice that is an approximation is
returned as a note, which the exports carry in the document and the CLI prints, so a store sees what
another tool will read differently from what its policy says.

`FIDESLANG_DATA_CATEGORIES` and `FIDESLANG_DATA_USES` are the keys of fideslang 3.1.4's default taxonomy
(tests/policy/test_policy_export.py checks them against the installed package); the product does not
need fideslang at run time.
"""

from __future__ import annotations

from dataclasses import dataclass

from fiduciary.policy.schema import (
    DataCategory,
    DpdpExemption,
    EventTrigger,
    Jurisdiction,
    LegalGround,
    LegitimateUse,
    PolicyDocument,
    Purpose,
    RecipientKind,
    RetentionRule,
    RetentionTrigger,
    Sensitivity,
)

# ------------------------------------------------------------------------------- fideslang's taxonomy

_CATEGORY_KEYS = """
    system system.authentication system.operations user user.account user.authorization user.behavior
    user.biometric user.childrens user.contact user.content user.demographic user.location user.device
    user.payment user.social user.unique_id user.telemetry user.user_sensor user.workplace user.sensor
    user.financial user.government_id user.health_and_medical user.name user.criminal_history
    user.privacy_preferences user.job_title user.account.settings user.account.username
    user.authorization.credentials user.authorization.biometric user.authorization.password
    user.behavior.browsing_history user.behavior.media_consumption user.behavior.purchase_history
    user.behavior.search_history user.biometric.fingerprint user.biometric.retinal user.biometric.voice
    user.biometric.health user.contact.address user.contact.email user.contact.phone_number user.contact.url
    user.contact.fax_number user.contact.organization user.contact.address.city user.contact.address.country
    user.contact.address.postal_code user.contact.address.state user.contact.address.street
    user.content.private user.content.public user.content.self_image user.demographic.age_range
    user.demographic.date_of_birth user.demographic.gender user.demographic.language
    user.demographic.marital_status user.demographic.political_opinion user.demographic.profile
    user.demographic.race_ethnicity user.demographic.religious_belief user.demographic.sexual_orientation
    user.device.cookie user.device.cookie_id user.device.device_id user.device.ip_address
    user.financial.bank_account user.financial.credit_card user.government_id.birth_certificate
    user.government_id.drivers_license_number user.government_id.immigration
    user.government_id.national_identification_number user.government_id.passport_number
    user.government_id.vehicle_registration user.health_and_medical.genetic
    user.health_and_medical.insurance_beneficiary_id user.health_and_medical.record_id user.location.imprecise
    user.location.precise user.name.first user.name.last user.unique_id.pseudonymous
    """
FIDESLANG_DATA_CATEGORIES = frozenset(_CATEGORY_KEYS.split())

_USE_KEYS = """
    analytics analytics.reporting analytics.reporting.ad_performance analytics.reporting.content_performance
    analytics.reporting.campaign_insights analytics.reporting.system analytics.reporting.system.performance
    collect employment employment.recruitment essential essential.fraud_detection essential.legal_obligation
    essential.service essential.service.authentication essential.service.notifications
    essential.service.operations essential.service.payment_processing essential.service.security
    essential.service.upgrades essential.service.notifications.email essential.service.notifications.sms
    essential.service.operations.support essential.service.operations.improve finance functional
    functional.storage functional.service functional.service.improve functional.storage.privacy_preferences
    marketing marketing.advertising marketing.communications marketing.advertising.first_party
    marketing.advertising.frequency_capping marketing.advertising.negative_targeting
    marketing.advertising.profiling marketing.advertising.serving marketing.advertising.third_party
    marketing.advertising.first_party.contextual marketing.advertising.first_party.targeted
    marketing.advertising.third_party.targeted marketing.communications.email marketing.communications.sms
    operations personalize personalize.content personalize.profiling personalize.system
    personalize.content.limited personalize.content.profiling personalize.content.profiled sales
    third_party_sharing third_party_sharing.legal_obligation train_ai_system
    """
FIDESLANG_DATA_USES = frozenset(_USE_KEYS.split())

# fideslang 3's legal bases for processing (GDPR Art 6(1)); the strings are its enum values.
CONSENT, CONTRACT, LEGAL_OBLIGATION = "Consent", "Contract", "Legal obligations"
VITAL_INTERESTS, PUBLIC_INTEREST, LEGITIMATE_INTERESTS = "Vital interests", "Public interest", "Legitimate interests"


@dataclass(frozen=True, slots=True)
class Ground:
    """A purpose's legal ground in the other vocabularies.

    `fideslang` is a fideslang legal basis, `dpv` the DPV legal-basis class (local name in dpv:);
    `law` names the Indian ground where the policy's ground is a DPDP one (kept beside the nearest GDPR
    basis, because neither vocabulary has DPDP grounds), else None.
    """

    fideslang: str
    dpv: str
    law: str | None = None


_GDPR_GROUNDS = {
    LegalGround.CONSENT: Ground(CONSENT, "Consent"),  # GDPR 6(1)(a); DPDP s.6
    LegalGround.CONTRACT: Ground(CONTRACT, "Contract"),  # GDPR 6(1)(b)
    LegalGround.LEGAL_OBLIGATION: Ground(LEGAL_OBLIGATION, "LegalObligation"),  # GDPR 6(1)(c)
    LegalGround.VITAL_INTERESTS: Ground(VITAL_INTERESTS, "VitalInterest"),  # GDPR 6(1)(d)
    LegalGround.LEGITIMATE_INTERESTS: Ground(LEGITIMATE_INTERESTS, "LegitimateInterest"),  # GDPR 6(1)(f)
}

# DPDP s.7 legitimate uses → the nearest GDPR Art 6 basis. s.7(a) (data given voluntarily for a
# specified purpose) is closest to 6(1)(b): the person gives the data to get something done.
_DPDP_LEGITIMATE_USES = {
    LegitimateUse.VOLUNTARILY_PROVIDED: (CONTRACT, "Contract"),
    LegitimateUse.STATE_BENEFIT: (PUBLIC_INTEREST, "PublicInterest"),
    LegitimateUse.STATE_FUNCTION: (PUBLIC_INTEREST, "PublicInterest"),
    LegitimateUse.LEGAL_DISCLOSURE_TO_STATE: (LEGAL_OBLIGATION, "LegalObligation"),
    LegitimateUse.COURT_ORDER: (LEGAL_OBLIGATION, "LegalObligation"),
    LegitimateUse.MEDICAL_EMERGENCY: (VITAL_INTERESTS, "VitalInterest"),
    LegitimateUse.EPIDEMIC: (PUBLIC_INTEREST, "PublicInterest"),
    LegitimateUse.DISASTER: (VITAL_INTERESTS, "VitalInterest"),
    LegitimateUse.EMPLOYMENT: (CONTRACT, "Contract"),
}

# DPDP s.17(1) exemptions → the nearest GDPR basis (legal claims and fraud prevention are legitimate
# interests under GDPR, Recital 47 and Art 21(1)).
_DPDP_EXEMPTIONS = {
    DpdpExemption.LEGAL_CLAIMS: (LEGITIMATE_INTERESTS, "LegitimateInterest"),
    DpdpExemption.JUDICIAL_FUNCTION: (PUBLIC_INTEREST, "PublicInterest"),
    DpdpExemption.OFFENCES: (LEGITIMATE_INTERESTS, "LegitimateInterest"),
    DpdpExemption.FOREIGN_CONTRACT: (CONTRACT, "Contract"),
    DpdpExemption.MERGER: (LEGITIMATE_INTERESTS, "LegitimateInterest"),
    DpdpExemption.LOAN_DEFAULT: (LEGITIMATE_INTERESTS, "LegitimateInterest"),
}


def ground_of(purpose: Purpose, jurisdiction: Jurisdiction | None = None) -> Ground:
    """The purpose's ground (for the people of `jurisdiction`; None: its own) in fideslang and DPV terms, with
    the DPDP clause kept where there is one."""
    stated = purpose.ground_for(jurisdiction)
    if stated.legal_ground is LegalGround.LEGITIMATE_USE and stated.legitimate_use is not None:
        clause = stated.legitimate_use.value  # "7a"
        fides, dpv = _DPDP_LEGITIMATE_USES[stated.legitimate_use]
        return Ground(fides, dpv, f"DPDP Act 2023 s.7({clause[1:]}) legitimate use")
    if stated.legal_ground is LegalGround.EXEMPTION and stated.exemption is not None:
        fides, dpv = _DPDP_EXEMPTIONS[stated.exemption]
        return Ground(fides, dpv, f"DPDP Act 2023 s.{stated.exemption.value} exemption")
    return _GDPR_GROUNDS[stated.legal_ground]


def grounds_apart(purpose: Purpose) -> list[tuple[Ground, list[Jurisdiction]]]:
    """The grounds the purpose has for some jurisdictions that differ from its own, each with the
    jurisdictions it applies to (issue 12 item 1: "fraud prevention is a DPDP s.17 exemption in India and
    legitimate interests in the EU"), in the order the policy lists them."""
    own = ground_of(purpose)
    apart: dict[Ground, list[Jurisdiction]] = {}
    for jurisdiction in purpose.grounds_by_jurisdiction:
        ground = ground_of(purpose, jurisdiction)
        if ground != own:
            apart.setdefault(ground, []).append(jurisdiction)
    return list(apart.items())


# ------------------------------------------------------------------------------------------ categories


def fideslang_category(category: DataCategory) -> tuple[str, str | None]:
    """The category's declared fideslang key, or its nearest parent that fideslang knows, and a note if so."""
    key = category.fideslang
    nearest = key
    while nearest not in FIDESLANG_DATA_CATEGORIES and "." in nearest:
        nearest = nearest.rsplit(".", 1)[0]
    if nearest not in FIDESLANG_DATA_CATEGORIES:
        nearest = "user"
    if nearest == key:
        return key, None
    return nearest, (
        f"category {category.id}: {key!r} is not in the fideslang taxonomy; exported as its nearest parent {nearest!r}"
    )


def approximations(document: PolicyDocument, vocabulary: str) -> list[str]:
    """What the vocabulary (`fideslang` or `dpv`) can only approximate: one sentence each, for the CLI and the
    document. DPV's personal-data concepts are chosen from the fideslang key, so its category notes are the same.
    """
    notes = [note for category in document.categories if (note := fideslang_category(category)[1])]
    for purpose in document.purposes:
        for ground in dict.fromkeys([ground_of(purpose), *(g for g, _ in grounds_apart(purpose))]):
            if ground.law:
                basis = ground.fideslang if vocabulary == "fideslang" else f"dpv:{ground.dpv}"
                notes.append(
                    f"purpose {purpose.id}: {vocabulary} has no {ground.law}; exported as the nearest legal basis "
                    f"{basis!r}, with the clause kept beside it"
                )
    return notes


# fideslang category → DPV personal-data concept (local name in dpv-pd:); the nearest ancestor listed
# wins, and `user` itself is plain dpv:PersonalData.
_DPV_PD = {
    "user.name": "Name",
    "user.contact": "Contact",
    "user.contact.email": "EmailAddress",
    "user.contact.phone_number": "TelephoneNumber",
    "user.contact.address": "PhysicalAddress",
    "user.contact.address.country": "Country",
    "user.account": "Identifier",
    "user.account.username": "Username",
    "user.authorization": "Authenticating",
    "user.authorization.password": "Password",
    "user.behavior": "Behavioral",
    "user.behavior.browsing_history": "BrowserHistory",
    "user.behavior.search_history": "BrowsingBehavior",
    "user.behavior.purchase_history": "PurchasesAndSpendingHabit",
    "user.behavior.media_consumption": "ServiceConsumptionBehavior",
    "user.biometric": "Biometric",
    "user.content": "Communication",
    "user.content.self_image": "Picture",
    "user.demographic": "Demographic",
    "user.demographic.date_of_birth": "BirthDate",
    "user.demographic.age_range": "AgeRange",
    "user.demographic.gender": "Gender",
    "user.demographic.language": "Language",
    "user.demographic.profile": "Profile",
    "user.device": "DeviceBased",
    "user.device.ip_address": "IPAddress",
    "user.device.cookie_id": "Identifier",
    "user.financial": "Financial",
    "user.financial.bank_account": "BankAccount",
    "user.financial.credit_card": "PaymentCardNumber",
    "user.payment": "Transaction",
    "user.government_id": "OfficialID",
    "user.government_id.passport_number": "Passport",
    "user.health_and_medical": "Health",
    "user.location": "Location",
    "user.location.precise": "GPSCoordinate",
    "user.unique_id": "UID",
    "user.privacy_preferences": "PrivacyPreference",
    "user.job_title": "Job",
    "user.workplace": "Professional",
    "user.social": "SocialMedia",
    "user.criminal_history": "Criminal",
}


def dpv_personal_data(fideslang_key: str) -> str | None:
    """The dpv-pd concept for a fideslang category; None means only dpv:PersonalData fits."""
    key = fideslang_key
    while key:
        if key in _DPV_PD:
            return _DPV_PD[key]
        key = key.rsplit(".", 1)[0] if "." in key else ""
    return None


# -------------------------------------------------------------------------------------------- purposes

# fideslang data use → DPV purpose (local name in dpv:); the nearest ancestor listed wins.
_DPV_PURPOSES = {
    "essential": "ServiceProvision",
    "essential.service": "ServiceProvision",
    "essential.service.payment_processing": "PaymentManagement",
    "essential.service.security": "EnforceSecurity",
    "essential.service.operations.support": "CustomerCare",
    "essential.legal_obligation": "LegalCompliance",
    "essential.fraud_detection": "FraudPreventionAndDetection",
    "marketing": "Marketing",
    "marketing.communications": "DirectMarketing",
    "marketing.advertising": "Advertising",
    "marketing.advertising.first_party.targeted": "TargetedAdvertising",
    "marketing.advertising.third_party.targeted": "TargetedAdvertising",
    "analytics": "ServiceUsageAnalytics",
    "personalize": "ServicePersonalisation",
    "functional": "ServiceProvision",
    "operations": "OrganisationGovernance",
    "finance": "CreditChecking",
    "third_party_sharing": "SellDataToThirdParties",
}


def dpv_purpose(data_use: str) -> str:
    key = data_use
    while "." in key and key not in _DPV_PURPOSES:
        key = key.rsplit(".", 1)[0]
    return _DPV_PURPOSES.get(key, "ServiceProvision")


_EXEMPTION_USES = {
    DpdpExemption.LEGAL_CLAIMS: "essential",  # fideslang has no "legal claims" use; its parent
    DpdpExemption.JUDICIAL_FUNCTION: "essential.legal_obligation",
    DpdpExemption.OFFENCES: "essential.fraud_detection",
    DpdpExemption.FOREIGN_CONTRACT: "essential.service",
    DpdpExemption.MERGER: "operations",
    DpdpExemption.LOAN_DEFAULT: "finance",
}


def shared_with_third_parties(document: PolicyDocument, purpose_id: str) -> bool:
    """Whether an independent controller (not a processor of ours) receives data for this purpose."""
    return any(r.kind is RecipientKind.THIRD_PARTY and purpose_id in r.purposes for r in document.recipients)


def data_use(document: PolicyDocument, purpose: Purpose) -> str:
    """The fideslang data use of a purpose, from what it does (its flags, ground and data), never its id.

    The order is the order of what most restricts the processing: advertising, marketing, what the law
    makes the store do, then the profile-building and measuring flags, then plain service provision.
    """
    if purpose.targeted_advertising:
        third = purpose.sale_or_sharing or shared_with_third_parties(document, purpose.id)
        return f"marketing.advertising.{'third_party' if third else 'first_party'}.targeted"
    channels = {c.value for c in purpose.marketing_channels}
    if channels in ({"email"}, {"sms"}):
        return f"marketing.communications.{channels.pop()}"
    if channels:
        return "marketing.communications"
    if purpose.sale_or_sharing:
        return "third_party_sharing"
    if purpose.legal_ground is LegalGround.LEGAL_OBLIGATION:
        return "essential.legal_obligation"
    if purpose.legal_ground is LegalGround.EXEMPTION and purpose.exemption is not None:
        return _EXEMPTION_USES[purpose.exemption]
    if purpose.legitimate_use in (LegitimateUse.LEGAL_DISCLOSURE_TO_STATE, LegitimateUse.COURT_ORDER):
        return "third_party_sharing.legal_obligation"
    if purpose.profiling:
        return "personalize.content.profiled"
    if purpose.tracking:
        return "analytics.reporting"
    if purpose.legal_ground is LegalGround.CONSENT:
        return "functional.service"
    return "essential.service"


def is_payment(category: DataCategory) -> bool:
    """Payment data in a service purpose gets its own declaration (fideslang's payment_processing use)."""
    return category.sensitivity is Sensitivity.FINANCIAL and category.fideslang.startswith(
        ("user.financial", "user.payment")
    )


# ------------------------------------------------------------------------------------------ retention


def retention_sentence(rule: RetentionRule) -> str:
    """One plain sentence for a rule, the same in both exports (e.g. "delete 3 years after account closed")."""
    if isinstance(rule.trigger, EventTrigger):
        trigger = f"the store-reported event {rule.trigger.event}"
    else:
        trigger = rule.trigger.value.replace("_", " ")
    if rule.trigger == RetentionTrigger.ERASURE_REQUESTED:
        text = "keep until the person asks for erasure"
    elif rule.trigger == RetentionTrigger.LAW_REQUIRES:
        text = f"keep as long as the law requires ({rule.law}), then {rule.action.value}"
    else:
        when = f"{rule.keep_for.describe()} after {trigger}" if rule.keep_for else f"when {trigger}"
        text = f"{rule.action.value} {when}"
    if rule.legal_hold:
        text += f" (kept at least {rule.legal_hold.minimum.describe()}: {rule.legal_hold.basis})"
    return text


def retention_for(document: PolicyDocument, purpose_id: str, categories: set[str]) -> list[tuple[RetentionRule, str]]:
    """The rules that govern these categories when used for this purpose, each with its sentence."""
    return [
        (rule, retention_sentence(rule))
        for rule in document.retention
        if categories & set(rule.categories) and (not rule.purposes or purpose_id in rule.purposes)
    ]
