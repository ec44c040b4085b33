"""The example policies: each loads cleanly; the five seed examples express the practice their seed is known for.

The seed examples are the proof that the policy format can express every practice of the seed stores
(docs/seed-coverage.md maps each practice to a key path). These tests guard that proof: a schema or
checker change that makes an example invalid, or an edit that drops a seed's key practice, fails here.
The examples written for issue 12 (06, 07) model no seed; their own practices are checked in
tests/policy/test_examples_written.py, and every invariant below holds for them too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.duration import DurationUnit
from fiduciary.policy.loader import LoadedPolicy, PolicyInvalid, load_policy
from fiduciary.policy.schema import (
    AnnouncementChannel,
    CookieCategory,
    LegalGround,
    PolicyDocument,
    Purpose,
    RecipientKind,
    RequestChannel,
    Right,
    RightKind,
    Sensitivity,
    Source,
    StoreRole,
    Verification,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "policies"

# Which seed document (in ../shared/seeds/) each example models.
SEED_OF = {
    "01_manufacturer_retailer.yaml": "000_a543a2c9f59e30bf.txt",
    "02_membership_shop.yaml": "001_d376061113b7be31.txt",
    "03_regional_marketplace.yaml": "002_40646f6f40f7db04.txt",
    "04_cross_border_shop.yaml": "003_00cdd43fbd023d4e.txt",
    "05_b2b_import_platform.yaml": "004_fdd3b9eeeb568d0c.txt",
}
SEED_NAME = re.compile(r"\b\d{3}_[0-9a-f]{16}\.txt\b")
# Written for issue 12 from kinds of store not among the seeds; they model no seed document.
WRITTEN = ("06_hosted_template_store.yaml", "07_home_furnishings_store.yaml")

ALL_FILES = sorted(p.name for p in EXAMPLES.glob("*.yaml"))
SEED_FILES = sorted(SEED_OF)


def _load(name: str) -> LoadedPolicy:
    try:
        return load_policy(EXAMPLES / name)
    except PolicyInvalid as exc:  # show every problem, not just "invalid"
        pytest.fail(f"{name} does not load:\n" + "\n".join(str(p) for p in exc.problems))


_CACHE: dict[str, LoadedPolicy] = {}


def doc(name: str) -> PolicyDocument:
    if name not in _CACHE:
        _CACHE[name] = _load(name)
    return _CACHE[name].document


def purpose(d: PolicyDocument, purpose_id: str) -> Purpose:
    found = [p for p in d.purposes if p.id == purpose_id]
    assert found, f"no purpose {purpose_id}"
    return found[0]


def right(d: PolicyDocument, kind: RightKind) -> Right:
    found = [r for r in d.rights if r.kind is kind]
    assert len(found) == 1, f"expected exactly one {kind.value} right"
    return found[0]


def purposes_by_id(d: PolicyDocument) -> dict[str, Purpose]:
    return {p.id: p for p in d.purposes}


def leading_comment(name: str) -> str:
    lines: list[str] = []
    for line in (EXAMPLES / name).read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ the set of files


def test_the_five_seed_examples_and_the_written_ones_exist() -> None:
    assert sorted([*SEED_OF, *WRITTEN]) == ALL_FILES
    assert len(set(SEED_OF.values())) == 5


@pytest.mark.parametrize("name", SEED_FILES)
def test_example_names_its_seed_in_the_opening_comment(name: str) -> None:
    comment = leading_comment(name)
    assert comment, f"{name} must start with a comment block"
    assert SEED_NAME.findall(comment) == [SEED_OF[name]], "the opening comment names exactly its own seed"
    # A summary of the store in our own words, not just the file name.
    assert len(comment.split()) > 60


# -------------------------------------------------------------------------------------- loads and checks


@pytest.mark.parametrize("name", ALL_FILES)
def test_example_loads_without_errors(name: str) -> None:
    loaded = _load(name)
    assert isinstance(loaded.document, PolicyDocument)
    errors = [p for p in loaded.warnings if p.severity == "error"]
    assert errors == []


@pytest.mark.parametrize("name", ALL_FILES)
def test_example_has_no_warnings(name: str) -> None:
    """The examples are the reference for store authors: they should be clean, not merely valid."""
    assert [str(p) for p in _load(name).warnings] == []


@pytest.mark.parametrize("name", ALL_FILES)
def test_policy_check_command_passes_the_example(name: str) -> None:
    from typer.testing import CliRunner

    from fiduciary.cli.main import app

    result = CliRunner().invoke(app, ["policy", "check", str(EXAMPLES / name)])
    assert result.exit_code == 0, result.output
    assert "no problems found" in result.output


@pytest.mark.parametrize("name", ALL_FILES)
def test_example_compiles_for_the_runtime(name: str) -> None:
    d = doc(name)
    compiled = CompiledPolicy.build(d, "sha256:example")
    assert compiled.child_age == 18
    # Everything the runtime needs consent for is exactly the consent purposes.
    assert compiled.consent_purposes == {p.id for p in d.purposes if p.legal_ground is LegalGround.CONSENT}
    # Tracking, profiling and targeted advertising are refused for children (DPDP s.9(3)).
    for p in d.purposes:
        if p.tracking or p.profiling or p.targeted_advertising:
            assert compiled.compiled_purposes[p.id].barred_for_children


# ------------------------------------------------------------------------------ invariants of every example


@pytest.mark.parametrize("name", ALL_FILES)
def test_example_uses_only_reserved_example_domains(name: str) -> None:
    """Invented contact details only: every email and web address uses an RFC 2606 reserved name."""
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    emails = re.findall(r"[\w.+-]+@([\w-]+(?:\.[\w-]+)+)", text)
    assert emails
    assert all(domain.endswith(".example") for domain in emails), emails
    hosts = re.findall(r"https?://([\w.-]+)", text)
    # Real sites people must be able to reach: the regulator, and the opt-out pages others run (06).
    allowed_public = {
        "www.dpboard.gov.in",
        "optout.networkadvertising.org",
        "optout.aboutads.info",
        "www.youronlinechoices.eu",
        "myadcenter.google.com",
        "www.facebook.com",
    }
    assert all(h.endswith(".example") or h in allowed_public for h in hosts), hosts


@pytest.mark.parametrize("name", ALL_FILES)
def test_every_category_is_used_and_every_use_has_a_retention_rule(name: str) -> None:
    """The notice states a period for each data item and purpose, so no (category, purpose) pair is left open."""
    d = doc(name)
    used = {c for p in d.purposes for c in [*p.categories, *p.optional_categories]}
    for category in d.categories:
        assert category.id in used, f"{category.id} is collected for no purpose"
    missing = [
        (c, p.id)
        for p in d.purposes
        for c in [*p.categories, *p.optional_categories]
        if not any(c in r.categories and (not r.purposes or p.id in r.purposes) for r in d.retention)
    ]
    assert missing == []


@pytest.mark.parametrize("name", ALL_FILES)
def test_recipients_get_only_categories_their_purposes_use(name: str) -> None:
    d = doc(name)
    by_id = purposes_by_id(d)
    for recipient in d.recipients:
        allowed = {c for pid in recipient.purposes for c in [*by_id[pid].categories, *by_id[pid].optional_categories]}
        assert set(recipient.categories) <= allowed, recipient.id


@pytest.mark.parametrize("name", ALL_FILES)
def test_every_transfer_abroad_names_its_safeguard(name: str) -> None:
    # Every example serves India, so anything processed outside India is a transfer (DPDP s.16).
    abroad = [r for r in doc(name).recipients if set(r.countries) - {"IN"}]
    assert all(r.transfer_safeguard for r in abroad), [r.id for r in abroad if not r.transfer_safeguard]


@pytest.mark.parametrize("name", ALL_FILES)
def test_dpdp_grounds_are_honest(name: str) -> None:
    """Marketing, tracking and advertising rest on consent in India; nobody is made to consent to get served."""
    for p in doc(name).purposes:
        assert p.legal_ground is not LegalGround.LEGITIMATE_INTERESTS, "not a ground under DPDP"
        if p.is_marketing or p.tracking or p.profiling or p.targeted_advertising or p.sale_or_sharing:
            assert p.legal_ground is LegalGround.CONSENT, p.id
        if p.legal_ground is LegalGround.CONSENT:
            assert not p.required_for_service, p.id


@pytest.mark.parametrize("name", ALL_FILES)
def test_non_necessary_cookies_need_a_purpose_and_tracking_cookies_consent(name: str) -> None:
    by_id = purposes_by_id(doc(name))
    for cookie in doc(name).cookies:
        if cookie.category is not CookieCategory.NECESSARY:
            assert cookie.purpose in by_id, cookie.name
        if cookie.category in (CookieCategory.ANALYTICS, CookieCategory.ADVERTISING):
            assert cookie.purpose is not None
            assert by_id[cookie.purpose].legal_ground is LegalGround.CONSENT, cookie.name


@pytest.mark.parametrize("name", ALL_FILES)
def test_indian_essentials_are_present(name: str) -> None:
    d = doc(name)
    officer = d.contacts.grievance_officer
    assert officer is not None and officer.hours and officer.address is not None
    assert d.contacts.privacy_contact is not None
    kinds = {r.kind for r in d.rights}
    assert {
        RightKind.ACCESS,
        RightKind.CORRECTION,
        RightKind.ERASURE,
        RightKind.WITHDRAW_CONSENT,
        RightKind.OPT_OUT_MARKETING,
        RightKind.NOMINATION,
        RightKind.GRIEVANCE,
    } <= kinds
    assert d.children.minimum_age == 18
    assert d.policy_changes.material_changes_require_reconsent
    # Processing logs are kept for at least the one-year floor of DPDP Rules 2025 Rule 8(3).
    holds = [r.legal_hold for r in d.retention if r.legal_hold is not None]
    assert any("Rule 8(3)" in h.basis and h.minimum.approx_days >= 365 for h in holds)
    # Withdrawing consent must be as easy as giving it: never behind identity checks.
    assert right(d, RightKind.WITHDRAW_CONSENT).verification == [Verification.NONE]


# ------------------------------------------------------------- each example expresses its seed's key practice


def test_manufacturer_retailer_practices() -> None:
    d = doc("01_manufacturer_retailer.yaml")
    cats = {c.id: c for c in d.categories}
    # Device permissions, each behind its own consent purpose.
    permissions = {c.device_permission.split(" ")[0] for c in d.categories if c.device_permission}
    assert {"SMS", "Contacts", "Location"} <= permissions
    for c in d.categories:
        if c.device_permission:
            users = [p for p in d.purposes if c.id in p.categories + p.optional_categories]
            assert users and all(p.legal_ground is LegalGround.CONSENT for p in users), c.id
            assert not c.required and c.if_not_provided
    # PAN, GSTIN and KYC are government identifiers, optional, with the consequence of refusing stated.
    for cid in ("government.pan", "government.gstin", "government.kyc_documents"):
        assert cats[cid].sensitivity is Sensitivity.GOVERNMENT_ID and not cats[cid].required
        assert cats[cid].if_not_provided
    assert purpose(d, "credit_eligibility").legal_ground is LegalGround.CONSENT
    assert "government.gstin" in purpose(d, "tax_compliance").optional_categories
    # Surveys with voice/video are optional and consent-based; recordings are treated as sensitive.
    rec = cats["survey.recordings"]
    assert rec.sensitivity is Sensitivity.SENSITIVE and rec.field_type.value == "media_reference"
    assert "survey.recordings" in purpose(d, "surveys").optional_categories
    assert purpose(d, "surveys").legal_ground is LegalGround.CONSENT
    # Analytics cookies from the hosted analytics service need consent.
    ga = [c for c in d.cookies if c.name.startswith("_ga")]
    assert ga and all(c.category is CookieCategory.ANALYTICS and c.purpose == "analytics" for c in ga)
    # Responsible disclosure with rules for researchers and public thanks.
    vuln = d.cases.vulnerability
    assert vuln is not None and vuln.safe_harbour and len(vuln.researcher_rules) >= 3
    assert any("denial" in s.lower() for s in vuln.out_of_scope)
    assert any("social engineering" in s.lower() for s in vuln.out_of_scope)
    assert d.contacts.security is not None and d.contacts.security.acknowledgments_url is not None
    # The grievance officer works Monday to Saturday; the business calendar agrees.
    assert d.contacts.grievance_officer is not None
    assert "Saturday" in (d.contacts.grievance_officer.hours or "")
    assert d.calendar.weekend == ["sunday"]
    # Delivery is in-house: no courier receives delivery data.
    assert not [r for r in d.recipients if "courier" in r.name.lower()]


def test_membership_shop_practices() -> None:
    d = doc("02_membership_shop.yaml")
    assert d.children.minimum_age == 18 and d.children.guardian_consent is False
    assert d.children.guardian_verification == []
    kinds = {r.kind for r in d.rights}
    assert {RightKind.DEACTIVATION, RightKind.ERASURE} <= kinds
    assert right(d, RightKind.ERASURE).limitations  # archival copies the law requires
    social = next(c for c in d.categories if c.id == "account.social_sign_in")
    assert social.sources == [Source.THIRD_PARTY] and social.third_party_sources and not social.required
    # Promotions only with prior agreement, and an opt-out from every channel including the helpline.
    offers = purpose(d, "marketing.offers")
    assert offers.legal_ground is LegalGround.CONSENT and offers.marketing_channels
    assert RequestChannel.PHONE in right(d, RightKind.OPT_OUT_MARKETING).channels
    # Cross-border transfers are declared with a safeguard.
    abroad = [r for r in d.recipients if set(r.countries) - {"IN"}]
    assert abroad and all(r.transfer_safeguard for r in abroad)
    # Archival retention for statutory compliance survives deletion.
    hold = next(r for r in d.retention if r.id == "transaction_records").legal_hold
    assert hold is not None and hold.minimum.unit is DurationUnit.YEARS


def test_regional_marketplace_practices() -> None:
    d = doc("03_regional_marketplace.yaml")
    assert d.controller.role is StoreRole.MARKETPLACE
    # Intermediary grievance timelines (IT Rules 2021 r.3(2)).
    assert d.cases.grievance.acknowledge_within.approx_days <= 1
    assert d.cases.grievance.resolve_within.approx_days <= 15
    # Registration data kept at least 180 days after closure (IT Rules 2021 r.3(1)(h)), here one year.
    reg = next(r for r in d.retention if r.id == "registration_data")
    assert reg.trigger.value == "account_closed"
    assert reg.legal_hold is not None and reg.legal_hold.minimum.approx_days >= 180
    assert "r.3(1)(h)" in reg.legal_hold.basis
    # Newsletter needs consent and has a one-click unsubscribe in every email.
    assert purpose(d, "newsletter").legal_ground is LegalGround.CONSENT
    assert RequestChannel.EMAIL_LINK in right(d, RightKind.OPT_OUT_MARKETING).channels
    # Processors for analytics, delivery, payments and credit-risk scoring.
    processors = {pid for r in d.recipients if r.kind is RecipientKind.PROCESSOR for pid in r.purposes}
    assert {"analytics", "order_fulfilment", "credit_risk", "security"} <= processors
    assert all(r.contract_reference for r in d.recipients if r.kind is RecipientKind.PROCESSOR)
    # Delivery and address updates come from logistics partners.
    address = next(c for c in d.categories if c.id == "contact.address")
    assert Source.THIRD_PARTY in address.sources
    # Identity is verified before anyone sees account data.
    assert Verification.NONE not in right(d, RightKind.ACCESS).verification
    # Cookie bar: every cookie that is not strictly necessary maps to a consent purpose.
    by_id = purposes_by_id(d)
    for cookie in d.cookies:
        if cookie.category is not CookieCategory.NECESSARY:
            assert cookie.purpose is not None
            assert by_id[cookie.purpose].legal_ground is LegalGround.CONSENT, cookie.name


def test_cross_border_shop_practices() -> None:
    d = doc("04_cross_border_shop.yaml")
    deadline = right(d, RightKind.ACCESS).deadline.respond_within
    assert (deadline.amount, deadline.unit) == (10, DurationUnit.BUSINESS_DAYS)
    # A foreign controller that serves people in India.
    assert d.controller.address.country != "IN" and [j.value for j in d.controller.jurisdictions] == ["IN"]
    # Push notifications are consent-based and can be turned off in the app.
    push = purpose(d, "push_notifications")
    assert push.legal_ground is LegalGround.CONSENT and [c.value for c in push.marketing_channels] == ["push"]
    assert RequestChannel.IN_APP in right(d, RightKind.WITHDRAW_CONSENT).channels
    # Consignee data goes to the delivery partners; it may be about someone other than the buyer.
    logistics = next(r for r in d.recipients if r.id == "logistics")
    assert {"consignee.details", "consignee.identity_document"} <= set(logistics.categories)
    consignee = next(c for c in d.categories if c.id == "consignee.details")
    assert Source.THIRD_PARTY in consignee.sources
    # Minors only with a guardian's consent.
    assert d.children.guardian_consent is True and d.children.guardian_verification
    # Prominent notice of major changes.
    assert {AnnouncementChannel.HOME_PAGE, AnnouncementChannel.EMAIL, AnnouncementChannel.POP_UP} <= set(
        d.policy_changes.announce_via
    )
    # The seed's exemptions from consent, mapped to DPDP s.7 clauses and s.17(1) exemptions.
    clauses = {p.legitimate_use.value for p in d.purposes if p.legitimate_use is not None}
    assert {"7d", "7e", "7f", "7g", "7h"} <= clauses
    assert {p.exemption.value for p in d.purposes if p.exemption is not None} >= {"17(1)(a)", "17(1)(c)"}
    # Data leaves India: every recipient abroad names its safeguard.
    assert all(r.transfer_safeguard for r in d.recipients if set(r.countries) - {"IN"})


def test_b2b_import_platform_practices() -> None:
    d = doc("05_b2b_import_platform.yaml")
    by_id = purposes_by_id(d)
    categories = {c.category for c in d.cookies}
    assert {CookieCategory.FUNCTIONAL, CookieCategory.ANALYTICS, CookieCategory.ADVERTISING} <= categories
    advertising = [c for c in d.cookies if c.category is CookieCategory.ADVERTISING]
    for cookie in advertising:
        assert cookie.purpose is not None
        assert by_id[cookie.purpose].legal_ground is LegalGround.CONSENT
        assert by_id[cookie.purpose].targeted_advertising
    kinds = {r.kind for r in d.rights}
    assert {RightKind.ACCESS, RightKind.CORRECTION, RightKind.ERASURE, RightKind.OPT_OUT_MARKETING} <= kinds
    assert right(d, RightKind.ERASURE).limitations  # unless the law requires keeping it
    # At the end of retention: deletion or anonymisation.
    assert {r.action.value for r in d.retention} == {"delete", "anonymise"}
    assert {AnnouncementChannel.EMAIL, AnnouncementChannel.IN_APP} <= set(d.policy_changes.announce_via)
    # Communications by WhatsApp among others.
    assert any("WhatsApp" in (c.description or "") for c in d.categories)
    assert d.children.guardian_consent is False


def test_every_seed_practice_family_appears_somewhere() -> None:
    """Across the five files the schema's whole vocabulary for the seeds' practices is exercised."""
    docs = [doc(n) for n in ALL_FILES]
    grounds = {p.legal_ground for d in docs for p in d.purposes}
    assert grounds >= {
        LegalGround.CONSENT,
        LegalGround.CONTRACT,
        LegalGround.LEGAL_OBLIGATION,
        LegalGround.LEGITIMATE_USE,
        LegalGround.EXEMPTION,
    }
    kinds = {r.kind for d in docs for r in d.recipients}
    assert kinds == set(RecipientKind)
    sensitivities = {c.sensitivity for d in docs for c in d.categories}
    assert sensitivities >= {
        Sensitivity.STANDARD,
        Sensitivity.SENSITIVE,
        Sensitivity.FINANCIAL,
        Sensitivity.GOVERNMENT_ID,
    }
    sources = {s for d in docs for c in d.categories for s in c.sources}
    # issue 12 item 4: no seed the first five model collects in a physical store; 07's showrooms do.
    assert sources == set(Source)
    channels = {ch for d in docs for p in d.purposes for ch in p.marketing_channels}
    assert {"email", "sms", "push", "whatsapp"} <= {c.value for c in channels}
    announce = {a for d in docs for a in d.policy_changes.announce_via}
    assert {"email", "banner", "home_page", "pop_up", "in_app"} <= {a.value for a in announce}


# ------------------------------------------------------------------------------- docs/seed-coverage.md


COVERAGE = Path(__file__).resolve().parents[2] / "docs" / "seed-coverage.md"
_SECTION = re.compile(r"^## Seed (\d{3}) → `([^`]+)`", re.MULTILINE)
_REF = re.compile(r"\b(categories|purposes|recipients|retention|cookies|rights)\[([^\]]+)\]")


def _coverage_sections() -> dict[str, str]:
    text = COVERAGE.read_text(encoding="utf-8")
    heads = list(_SECTION.finditer(text))
    return {
        m.group(2): text[m.end() : heads[i + 1].start() if i + 1 < len(heads) else len(text)]
        for i, m in enumerate(heads)
    }


def test_coverage_page_has_one_section_per_example() -> None:
    sections = _coverage_sections()
    assert sorted(sections) == SEED_FILES
    for name, section in sections.items():
        rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
        assert len(rows) > 15, f"{name}: too few practices listed"


@pytest.mark.parametrize("name", SEED_FILES)
def test_coverage_page_cites_only_keys_that_exist(name: str) -> None:
    d = doc(name)
    ids: dict[str, set[str]] = {
        "categories": {c.id for c in d.categories},
        "purposes": {p.id for p in d.purposes},
        "recipients": {r.id for r in d.recipients},
        "retention": {r.id for r in d.retention},
        "cookies": {c.name for c in d.cookies},
        "rights": {r.kind.value for r in d.rights},
    }
    cited = _REF.findall(_coverage_sections()[name])
    assert cited
    unknown = []
    for section, inside in cited:
        for item in (part.strip() for part in inside.split(",")):
            if item == "*" or (item.endswith(".*") and any(i.startswith(item[:-1]) for i in ids[section])):
                continue
            if item not in ids[section]:
                unknown.append(f"{section}[{item}]")
    assert unknown == []
