"""The translatable labels of the notice's enumerated values (marked with `N_` for extraction)."""

from __future__ import annotations

from fiduciary.policy.notice.view.model import N_
from fiduciary.policy.schema import (
    AnnouncementChannel,
    Channel,
    CookieCategory,
    DpdpExemption,
    GuardianVerification,
    Identifier,
    Jurisdiction,
    LegalGround,
    LegitimateUse,
    RecipientKind,
    RetentionAction,
    RetentionTrigger,
    RightKind,
    Sensitivity,
    Source,
    Verification,
)

SENSITIVITY = {
    Sensitivity.STANDARD: N_("Personal data"),
    Sensitivity.SENSITIVE: N_("Sensitive personal data"),
    Sensitivity.FINANCIAL: N_("Financial information"),
    Sensitivity.GOVERNMENT_ID: N_("Government identifier"),
    Sensitivity.CHILDREN: N_("Children's data"),
}

SOURCE = {
    Source.PROVIDED: N_("You give it to us"),
    Source.AUTOMATIC: N_("Collected automatically when you use our services"),
    Source.THIRD_PARTY: N_("From others"),
    Source.CREATED_BY_US: N_("Created by us (for example notes, scores or inferences about you)"),
    Source.IN_STORE: N_("Collected in our physical stores"),
}

LEGITIMATE_USE = {
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

GROUND_LABEL = {
    LegalGround.CONSENT: N_("Your consent"),
    LegalGround.CONTRACT: N_("Needed to provide the service you asked for"),
    LegalGround.LEGAL_OBLIGATION: N_("Required by law"),
    LegalGround.LEGITIMATE_INTERESTS: N_("Our legitimate interests (GDPR Art 6(1)(f))"),
    LegalGround.VITAL_INTERESTS: N_("To protect someone's life or health"),
}

GROUND_EXPLANATION = {
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

RECIPIENT_KIND = {
    RecipientKind.PROCESSOR: N_("Processor: acts only on our instructions, under a contract"),
    RecipientKind.AFFILIATE: N_("A company in our group"),
    RecipientKind.THIRD_PARTY: N_("Independent third party: decides for itself how to use the data"),
    RecipientKind.AUTHORITY: N_("Authority: only when the law requires it"),
    RecipientKind.ACQUIRER: N_("A buyer, if our business is sold or merged"),
    RecipientKind.PUBLIC: N_("The public: anyone can see what you choose to publish"),
}

COOKIE_CATEGORY = {
    CookieCategory.NECESSARY: (
        N_("Strictly necessary"),
        N_("Needed for the site to work, so they cannot be switched off."),
    ),
    CookieCategory.FUNCTIONAL: (N_("Functional"), N_("Remember your choices and preferences.")),
    CookieCategory.ANALYTICS: (N_("Analytics"), N_("Help us understand how the store is used.")),
    CookieCategory.ADVERTISING: (N_("Advertising"), N_("Show you ads and measure them.")),
}

CHANNEL = {
    Channel.EMAIL: N_("Email"),
    Channel.SMS: N_("SMS"),
    Channel.PUSH: N_("Push notifications"),
    Channel.WHATSAPP: N_("WhatsApp"),
    Channel.PHONE: N_("Phone calls"),
    Channel.POST: N_("Post"),
    Channel.IN_APP: N_("In-app messages"),
}

RIGHT = {
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

IDENTIFIER = {
    Identifier.EMAIL: N_("email address"),
    Identifier.PHONE: N_("mobile number"),
    Identifier.CUSTOMER_ID: N_("customer ID"),
    Identifier.ORDER_ID: N_("order number"),
    Identifier.USERNAME: N_("username"),
}

VERIFICATION = {
    Verification.SIGNED_IN_SESSION: N_("being signed in to your account"),
    Verification.EMAIL_OTP: N_("a one-time code sent to your email"),
    Verification.SMS_OTP: N_("a one-time code sent to your mobile"),
    Verification.DOCUMENT: N_("a copy of an identity document"),
    Verification.DATA_POINTS_2: N_("two details that match our records"),
    Verification.DATA_POINTS_3_DECLARATION: N_("three details that match our records and a signed declaration"),
    Verification.NONE: N_("no check needed"),
}

GUARDIAN = {
    GuardianVerification.EXISTING_ADULT_ACCOUNT: N_("The parent's or guardian's own adult account with us"),
    GuardianVerification.VIRTUAL_TOKEN: N_("A verified virtual token, such as one issued through DigiLocker"),
    GuardianVerification.DOCUMENT: N_("An identity document of the parent or guardian"),
}

ANNOUNCE = {
    AnnouncementChannel.EMAIL: N_("email"),
    AnnouncementChannel.BANNER: N_("a banner on our website"),
    AnnouncementChannel.IN_APP: N_("a notice in our app"),
    AnnouncementChannel.HOME_PAGE: N_("our home page"),
    AnnouncementChannel.POP_UP: N_("a pop-up notice"),
    AnnouncementChannel.SMS: N_("SMS"),
    AnnouncementChannel.POSTED_ON_PAGE: N_("posting the new version on this page"),
}

JURISDICTION = {
    Jurisdiction.IN: N_("India (Digital Personal Data Protection Act 2023, IT Act 2000)"),
    Jurisdiction.EU: N_("European Union (GDPR)"),
    Jurisdiction.UK: N_("United Kingdom (UK GDPR)"),
    Jurisdiction.US_CA: N_("California (CCPA/CPRA)"),
}

EXEMPTION = {
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


REGION = {
    Jurisdiction.IN: N_("India"),
    Jurisdiction.EU: N_("European Union"),
    Jurisdiction.UK: N_("United Kingdom"),
    Jurisdiction.US_CA: N_("California"),
}

# The areas data may move within freely under each law that restricts transfers: DPDP s.16 (India), GDPR
# Chapter V (the EEA: EU member states with Iceland, Liechtenstein and Norway), UK GDPR Chapter V. CCPA has
# no transfer rule, so California is no origin.
EEA = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
        "IS",
        "LI",
        "NO",
    ]
)
TRANSFER_AREA: dict[Jurisdiction, frozenset[str]] = {
    Jurisdiction.IN: frozenset({"IN"}),
    Jurisdiction.EU: EEA,
    Jurisdiction.UK: frozenset({"GB"}),
}
TRANSFER_ORIGIN = {
    Jurisdiction.IN: N_("India"),
    Jurisdiction.EU: N_("the European Economic Area"),
    Jurisdiction.UK: N_("the United Kingdom"),
}

ROLE = {"seller": N_("Seller"), "marketplace": N_("Marketplace")}

TRIGGER_AFTER = {
    RetentionTrigger.COLLECTED: N_("%(duration)s after we collect it"),
    RetentionTrigger.LAST_ACTIVITY: N_("%(duration)s after your last activity (signing in or contacting us)"),
    RetentionTrigger.ACCOUNT_CLOSED: N_("%(duration)s after you close your account"),
    RetentionTrigger.ORDER_COMPLETED: N_("%(duration)s after the order is completed"),
    RetentionTrigger.CONSENT_WITHDRAWN: N_("%(duration)s after you withdraw consent"),
    RetentionTrigger.PURPOSE_FULFILLED: N_("%(duration)s after the purpose is fulfilled"),
    RetentionTrigger.CASE_CLOSED: N_("%(duration)s after your case is closed"),
}
# A store-declared event (`trigger: {event: ...}`): `%(event)s` is the event's description from the policy.
EVENT_AFTER = N_("%(duration)s after %(event)s")
EVENT_AT = N_("when %(event)s")
# The two open-ended rules, said exactly as worded (issue 12): no period the store did not state.
OPEN_ENDED = {
    (RetentionTrigger.ERASURE_REQUESTED, RetentionAction.DELETE): N_("Kept until you ask us to erase it."),
    (RetentionTrigger.ERASURE_REQUESTED, RetentionAction.ANONYMISE): N_(
        "Kept until you ask us to erase it; then anonymised, so it no longer identifies you."
    ),
    (RetentionTrigger.LAW_REQUIRES, RetentionAction.DELETE): N_(
        "Kept as long as the law requires (%(law)s), then deleted."
    ),
    (RetentionTrigger.LAW_REQUIRES, RetentionAction.ANONYMISE): N_(
        "Kept as long as the law requires (%(law)s), then anonymised, so it no longer identifies you."
    ),
}

TRIGGER_AT = {
    RetentionTrigger.COLLECTED: N_("once it has been used"),
    RetentionTrigger.LAST_ACTIVITY: N_("when you stop using our services"),
    RetentionTrigger.ACCOUNT_CLOSED: N_("when you close your account"),
    RetentionTrigger.ORDER_COMPLETED: N_("when the order is completed"),
    RetentionTrigger.CONSENT_WITHDRAWN: N_("when you withdraw consent"),
    RetentionTrigger.PURPOSE_FULFILLED: N_("when the purpose is fulfilled"),
    RetentionTrigger.CASE_CLOSED: N_("when your case is closed"),
}

TRIGGER_LABEL = {
    RetentionTrigger.COLLECTED: N_("Collection"),
    RetentionTrigger.LAST_ACTIVITY: N_("Last activity"),
    RetentionTrigger.ACCOUNT_CLOSED: N_("Account closed"),
    RetentionTrigger.ORDER_COMPLETED: N_("Order completed"),
    RetentionTrigger.CONSENT_WITHDRAWN: N_("Consent withdrawn"),
    RetentionTrigger.PURPOSE_FULFILLED: N_("Purpose fulfilled"),
    RetentionTrigger.CASE_CLOSED: N_("Case closed"),
    RetentionTrigger.ERASURE_REQUESTED: N_("Until you ask us to erase it"),
    RetentionTrigger.LAW_REQUIRES: N_("As long as the law requires"),
}

ACTION = {
    RetentionAction.DELETE: (N_("Deleted"), N_("Deleted %(when)s.")),
    RetentionAction.ANONYMISE: (N_("Anonymised"), N_("Anonymised %(when)s, so it no longer identifies you.")),
}
