"""Policy diffs: every material rule (ISO/IEC 29184 5.5, DPDP s.5-6, GDPR Art 13(3)), minor changes,
items matched by id, and which purposes need consent again."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fiduciary.config import DEMO_POLICY_PATH
from fiduciary.policy.canonical import content_hash
from fiduciary.policy.diff import (
    PolicyChange,
    diff_policies,
    is_material,
    materially_changed_purposes,
    summarise,
)
from fiduciary.policy.loader import load_policy, load_policy_text
from fiduciary.policy.schema import PolicyDocument
from retention_support import events_policy_text

Data = dict[str, Any]
DEMO = load_policy(DEMO_POLICY_PATH).document


def edit(fn: Callable[[Data], object], base: PolicyDocument = DEMO) -> PolicyDocument:
    data = copy.deepcopy(base.model_dump(mode="json"))
    fn(data)
    return PolicyDocument.model_validate(data)


def find(data: Data, section: str, key: str, field: str = "id") -> Data:
    for item in data[section]:
        if item[field] == key:
            found: Data = item
            return found
    raise AssertionError(f"{section} has no {key}")


def one(changes: list[PolicyChange], path: str) -> PolicyChange:
    found = [c for c in changes if c.path == path]
    assert len(found) == 1, f"expected one change at {path}, got {[c.path for c in changes]}"
    return found[0]


def pair(before: Callable[[Data], None], after: Callable[[Data], None]) -> list[PolicyChange]:
    return diff_policies(edit(before), edit(after))


def noop(_: Data) -> None:
    pass


NEW_PURPOSE = {
    "id": "loyalty",
    "name": "Loyalty points",
    "description": "Give you points on every order.",
    "service": "A loyalty programme",
    "legal_ground": "consent",
    "categories": ["identity.name", "commerce.orders"],
}
NEW_CATEGORY = {
    "id": "identity.gender",
    "name": "Gender",
    "sources": ["provided"],
    "required": False,
    "fideslang": "user.demographic.gender",
}


# ----------------------------------------------------------------------------------- the basics


def test_identical_documents_have_no_changes() -> None:
    assert diff_policies(DEMO, DEMO) == []
    assert diff_policies(DEMO, edit(noop)) == []
    assert materially_changed_purposes(DEMO, DEMO) == set()
    assert summarise([]) == "No changes."


def test_items_are_addressed_by_id_not_position() -> None:
    new = edit(lambda d: find(d, "purposes", "marketing.email").update(legal_ground="legitimate_interests"))
    change = one(diff_policies(DEMO, new), "purposes[marketing.email].legal_ground")
    assert change.kind == "changed"


def test_reordering_items_is_one_minor_change_not_a_change_of_each_item() -> None:
    new = edit(lambda d: d["purposes"].reverse())
    changes = diff_policies(DEMO, new)
    assert [(c.path, c.material) for c in changes] == [("purposes", False)]
    assert "order" in changes[0].summary


def test_every_change_is_a_sentence_and_only_material_ones_carry_a_reason() -> None:
    def many(d: Data) -> None:
        d["purposes"].append(NEW_PURPOSE)
        find(d, "purposes", "account")["description"] = "Run your account."
        find(d, "retention", "account_data")["keep_for"] = "10d"
        d["contacts"]["privacy_contact"]["email"] = "someone@saffronlane.example"

    changes = diff_policies(DEMO, edit(many))
    assert len(changes) == 4
    for change in changes:
        assert change.summary[0].isupper() and change.summary.endswith(".")
        assert (change.reason is not None) == change.material
        assert change.material or change.affected_purposes == ()
    assert summarise(changes) == "4 changes, 1 material."


def test_change_round_trips_through_its_stored_form() -> None:
    change = PolicyChange("purposes[a].tracking", "changed", "S.", True, "tracking", ("a", "b"))
    assert PolicyChange.from_dict(change.to_dict()) == change


def test_diff_is_deterministic() -> None:
    new = edit(lambda d: (d["purposes"].append(NEW_PURPOSE), d["categories"].append(NEW_CATEGORY)))
    assert diff_policies(DEMO, new) == diff_policies(DEMO, new)


# ------------------------------------------------------------------------------- material rules


def test_new_purpose_is_material_but_is_not_a_changed_purpose() -> None:
    new = edit(lambda d: d["purposes"].append(NEW_PURPOSE))
    change = one(diff_policies(DEMO, new), "purposes[loyalty]")
    assert (change.kind, change.material, change.reason) == ("added", True, "new purpose")
    assert materially_changed_purposes(DEMO, new) == set()  # nobody consented to it yet


def test_new_category_is_material() -> None:
    new = edit(lambda d: d["categories"].append(NEW_CATEGORY))
    change = one(diff_policies(DEMO, new), "categories[identity.gender]")
    assert (change.kind, change.material, change.reason) == ("added", True, "new category")


def test_category_added_to_a_purpose_is_material_for_that_purpose() -> None:
    new = edit(lambda d: find(d, "purposes", "marketing.email")["categories"].append("contact.phone"))
    change = one(diff_policies(DEMO, new), "purposes[marketing.email].categories[contact.phone]")
    assert change.material and change.reason == "category added to purpose"
    assert change.affected_purposes == ("marketing.email",)
    assert materially_changed_purposes(DEMO, new) == {"marketing.email"}


def test_optional_category_made_required_is_material() -> None:
    def required(d: Data) -> None:
        purpose = find(d, "purposes", "tax_compliance")
        purpose["categories"].append("government.pan")
        purpose["optional_categories"] = []

    change = one(diff_policies(DEMO, edit(required)), "purposes[tax_compliance].categories[government.pan]")
    assert change.material and change.reason == "optional data made required"


def test_new_recipient_is_material_for_the_purposes_it_serves() -> None:
    recipient = {
        "id": "crm",
        "name": "CRM provider",
        "kind": "processor",
        "countries": ["IN"],
        "purposes": ["customer_support"],
        "categories": ["identity.name", "contact.email"],
    }
    new = edit(lambda d: d["recipients"].append(recipient))
    change = one(diff_policies(DEMO, new), "recipients[crm]")
    assert change.material and change.reason == "new recipient"
    assert change.affected_purposes == ("customer_support",)
    # customer_support runs on DPDP s.7(a), not consent: the change calls for notice, not re-consent
    assert materially_changed_purposes(DEMO, new) == set()


def test_recipient_gaining_a_category_is_material() -> None:
    new = edit(lambda d: find(d, "recipients", "couriers")["categories"].append("contact.email"))
    change = one(diff_policies(DEMO, new), "recipients[couriers].categories[contact.email]")
    assert change.material and change.reason == "recipient receives a new category"
    assert change.affected_purposes == ("order_fulfilment",)


def test_recipient_gaining_a_purpose_is_material_for_that_purpose() -> None:
    new = edit(lambda d: find(d, "recipients", "email_service")["purposes"].append("order_fulfilment"))
    change = one(diff_policies(DEMO, new), "recipients[email_service].purposes[order_fulfilment]")
    assert change.material and change.affected_purposes == ("order_fulfilment",)


def test_new_country_for_a_recipient_is_a_material_cross_border_change() -> None:
    new = edit(lambda d: find(d, "recipients", "couriers")["countries"].append("SG"))
    change = one(diff_policies(DEMO, new), "recipients[couriers].countries[SG]")
    assert change.material and "cross-border" in (change.reason or "")
    assert "SG" in change.summary


def test_processor_becoming_an_independent_third_party_is_material() -> None:
    new = edit(lambda d: find(d, "recipients", "couriers").update(kind="third_party"))
    assert one(diff_policies(DEMO, new), "recipients[couriers].kind").material


def test_removed_transfer_safeguard_is_material() -> None:
    new = edit(lambda d: find(d, "recipients", "email_service").update(transfer_safeguard=None))
    assert one(diff_policies(DEMO, new), "recipients[email_service].transfer_safeguard").material


def set_rule(rule: str, **fields: Any) -> Callable[[Data], None]:
    return lambda d: find(d, "retention", rule).update(fields)


def test_longer_retention_is_material_for_the_rule_purposes() -> None:
    changes = pair(set_rule("account_data", keep_for="30d"), set_rule("account_data", keep_for="3mo"))
    change = one(changes, "retention[account_data].keep_for")
    assert change.material and change.reason == "longer retention"
    assert change.affected_purposes == ("account", "customer_support", "order_fulfilment")
    assert "3 months" in change.summary and "30 days" in change.summary


def test_shorter_retention_is_minor() -> None:
    changes = pair(set_rule("account_data", keep_for="1y"), set_rule("account_data", keep_for="364d"))
    assert not one(changes, "retention[account_data].keep_for").material


def test_removing_keep_for_is_longer_retention() -> None:
    changes = pair(set_rule("account_data", keep_for="30d"), set_rule("account_data", keep_for=None))
    change = one(changes, "retention[account_data].keep_for")
    assert (change.kind, change.material, change.reason) == ("removed", True, "longer retention")


def test_adding_keep_for_after_a_later_trigger_is_material_but_after_collection_is_not() -> None:
    later = pair(
        set_rule("account_data", keep_for=None, trigger="account_closed"),
        set_rule("account_data", keep_for="30d", trigger="account_closed"),
    )
    assert one(later, "retention[account_data].keep_for").material
    at_collection = pair(
        set_rule("browsing", keep_for=None, trigger="collected"),
        set_rule("browsing", keep_for="13mo", trigger="collected"),
    )
    assert not one(at_collection, "retention[browsing].keep_for").material


def test_retention_counted_from_a_later_event_is_material() -> None:
    changes = pair(set_rule("browsing", trigger="collected"), set_rule("browsing", trigger="last_activity"))
    assert one(changes, "retention[browsing].trigger").material
    back = pair(set_rule("browsing", trigger="last_activity"), set_rule("browsing", trigger="collected"))
    assert not one(back, "retention[browsing].trigger").material


def test_moving_a_category_to_a_rule_with_longer_retention_is_material() -> None:
    def move(d: Data) -> None:
        find(d, "retention", "account_data")["categories"].remove("contact.address")
        find(d, "retention", "transaction_records")["categories"].append("contact.address")

    changes = diff_policies(DEMO, edit(move))
    gained = one(changes, "retention[transaction_records].categories[contact.address]")
    assert gained.material and gained.reason == "longer retention"
    assert not one(changes, "retention[account_data].categories[contact.address]").material


def test_removing_the_only_rule_for_a_category_is_material_but_a_covered_one_is_not() -> None:
    unlimited = edit(lambda d: d["retention"].remove(find(d, "retention", "support_history")))
    change = one(diff_policies(DEMO, unlimited), "retention[support_history]")
    assert change.material and change.reason == "retention no longer limited"

    def covered(d: Data) -> None:
        find(d, "retention", "support_history")["categories"].append("logistics.delivery_status")
        d["retention"].remove(find(d, "retention", "delivery_data"))

    assert not one(diff_policies(DEMO, edit(covered)), "retention[delivery_data]").material


def test_delete_to_anonymise_is_minor() -> None:
    changes = pair(set_rule("account_data", action="delete"), set_rule("account_data", action="anonymise"))
    assert not one(changes, "retention[account_data].action").material


def test_legal_hold_added_is_material_and_removed_is_minor() -> None:
    hold = {"minimum": "1y", "basis": "DPDP Rules 2025 Rule 8(3)"}
    added = pair(set_rule("support_history", legal_hold=None), set_rule("support_history", legal_hold=hold))
    assert one(added, "retention[support_history].legal_hold").material
    removed = pair(set_rule("support_history", legal_hold=hold), set_rule("support_history", legal_hold=None))
    assert not one(removed, "retention[support_history].legal_hold").material


def test_new_retention_exception_is_material() -> None:
    changes = pair(set_rule("account_data", exceptions=[]), set_rule("account_data", exceptions=["Wallet balances"]))
    change = one(changes, "retention[account_data].exceptions")
    assert change.material and "Wallet" not in change.summary


def right(kind: str, **fields: Any) -> Callable[[Data], None]:
    return lambda d: find(d, "rights", kind, "kind").update(fields)


def test_a_removed_right_is_material() -> None:
    new = edit(lambda d: d["rights"].remove(find(d, "rights", "correction", "kind")))
    change = one(diff_policies(DEMO, new), "rights[correction]")
    assert (change.kind, change.material) == ("removed", True)
    assert "weaker rights" in (change.reason or "")


def test_a_longer_rights_deadline_is_material_and_a_shorter_one_minor() -> None:
    base = {"acknowledge_within": "2d"}
    longer = pair(
        right("access", deadline={**base, "respond_within": "15d"}),
        right("access", deadline={**base, "respond_within": "30d"}),
    )
    assert one(longer, "rights[access].deadline.respond_within").material
    shorter = pair(
        right("access", deadline={**base, "respond_within": "30d"}),
        right("access", deadline={**base, "respond_within": "15d"}),
    )
    assert not one(shorter, "rights[access].deadline.respond_within").material


def test_dropping_the_acknowledgement_deadline_is_material() -> None:
    changes = pair(
        right("access", deadline={"respond_within": "30d", "acknowledge_within": "2d"}),
        right("access", deadline={"respond_within": "30d"}),
    )
    assert one(changes, "rights[access].deadline.acknowledge_within").material


def test_more_identifiers_asked_is_material() -> None:
    changes = pair(right("access", identifiers=["email"]), right("access", identifiers=["email", "customer_id"]))
    assert one(changes, "rights[access].identifiers[customer_id]").material


def test_heavier_verification_is_material_and_lighter_is_minor() -> None:
    heavier = pair(right("access", verification=["email_otp"]), right("access", verification=["email_otp", "document"]))
    assert one(heavier, "rights[access].verification[document]").material
    easiest_gone = pair(
        right("access", verification=["email_otp", "document"]), right("access", verification=["document"])
    )
    assert one(easiest_gone, "rights[access].verification[email_otp]").material
    lighter = pair(right("access", verification=["document"]), right("access", verification=["document", "email_otp"]))
    assert not one(lighter, "rights[access].verification[email_otp]").material


def test_fewer_channels_is_material_and_more_is_minor() -> None:
    fewer = pair(right("access", channels=["privacy_center", "email"]), right("access", channels=["privacy_center"]))
    assert one(fewer, "rights[access].channels[email]").material
    more = pair(right("access", channels=["privacy_center"]), right("access", channels=["privacy_center", "email"]))
    assert not one(more, "rights[access].channels[email]").material


def test_new_limitation_on_a_right_is_material() -> None:
    changes = pair(right("access", limitations=[]), right("access", limitations=["Not more than once a month."]))
    assert one(changes, "rights[access].limitations").material


def purpose(pid: str, **fields: Any) -> Callable[[Data], None]:
    return lambda d: find(d, "purposes", pid).update(fields)


def test_legal_ground_changed_to_consent_is_material_naming_consent() -> None:
    changes = pair(noop, purpose("customer_support", legal_ground="consent", legitimate_use=None))
    change = one(changes, "purposes[customer_support].legal_ground")
    assert change.material and "consent" in (change.reason or "")
    assert materially_changed_purposes(
        DEMO, edit(purpose("customer_support", legal_ground="consent", legitimate_use=None))
    ) == {"customer_support"}


def test_legal_ground_changed_between_non_consent_grounds_is_material() -> None:
    changes = pair(noop, purpose("security", legal_ground="legitimate_interests", legal_basis_reference=None))
    change = one(changes, "purposes[security].legal_ground")
    assert change.material and change.reason == "legal ground changed"


def test_changed_legitimate_use_clause_is_material() -> None:
    changes = pair(noop, purpose("customer_support", legitimate_use="7i"))
    assert one(changes, "purposes[customer_support].legitimate_use").material


@pytest.mark.parametrize("flag", ["tracking", "profiling", "targeted_advertising", "sale_or_sharing"])
def test_purpose_gaining_tracking_profiling_ads_or_sale_is_material(flag: str) -> None:
    changes = pair(purpose("analytics", **{flag: False}), purpose("analytics", **{flag: True}))
    change = one(changes, f"purposes[analytics].{flag}")
    assert change.material and change.affected_purposes == ("analytics",)
    dropped = pair(purpose("analytics", **{flag: True}), purpose("analytics", **{flag: False}))
    assert not one(dropped, f"purposes[analytics].{flag}").material


def test_purpose_gaining_a_marketing_channel_is_material() -> None:
    changes = pair(noop, purpose("marketing.email", marketing_channels=["email", "push"]))
    change = one(changes, "purposes[marketing.email].marketing_channels[push]")
    assert change.material and change.reason == "new marketing channel"


def test_purpose_made_a_condition_of_service_is_material() -> None:
    changes = pair(noop, purpose("customer_support", required_for_service=True))
    assert one(changes, "purposes[customer_support].required_for_service").material


def test_controller_identity_change_is_material_for_every_purpose() -> None:
    new = edit(lambda d: d["controller"].update(legal_name="Another Retail Private Limited"))
    change = one(diff_policies(DEMO, new), "controller.legal_name")
    assert change.material and change.reason == "controller identity changed"
    assert "Another" not in change.summary
    assert set(change.affected_purposes) == {p.id for p in DEMO.purposes}
    assert materially_changed_purposes(DEMO, new) == {p.id for p in DEMO.purposes if p.legal_ground == "consent"}


def test_new_source_for_a_category_is_material() -> None:
    def social(d: Data) -> None:
        category = find(d, "categories", "contact.email")
        category["sources"] = ["provided", "third_party"]
        category["third_party_sources"] = ["social sign-in"]

    changes = diff_policies(DEMO, edit(social))
    assert one(changes, "categories[contact.email].sources[third_party]").material
    assert one(changes, "categories[contact.email].third_party_sources[social sign-in]").material


def test_category_reclassified_as_sensitive_is_material() -> None:
    new = edit(lambda d: find(d, "categories", "contact.address").update(sensitivity="sensitive"))
    change = one(diff_policies(DEMO, new), "categories[contact.address].sensitivity")
    assert change.material and "order_fulfilment" in change.affected_purposes


def cookie(name: str, **fields: Any) -> Callable[[Data], None]:
    return lambda d: find(d, "cookies", name, "name").update(fields)


def test_new_non_necessary_cookie_is_material_and_a_necessary_one_minor() -> None:
    extra = {"provider": "Saffron Lane", "party": "first", "lifetime": "1y", "description": "A cookie."}
    analytics = edit(
        lambda d: d["cookies"].append({"name": "_x", "category": "analytics", "purpose": "analytics", **extra})
    )
    change = one(diff_policies(DEMO, analytics), "cookies[_x@Saffron Lane]")
    assert change.material and change.reason == "new non-necessary cookie"
    assert change.affected_purposes == ("analytics",)
    necessary = edit(lambda d: d["cookies"].append({"name": "_y", "category": "necessary", **extra}))
    assert not one(diff_policies(DEMO, necessary), "cookies[_y@Saffron Lane]").material


def test_cookie_category_change_and_longer_lifetime_are_material() -> None:
    changes = pair(noop, cookie("_sl_stats", category="advertising", lifetime="2y"))
    assert one(changes, "cookies[_sl_stats@Saffron Lane].category").material
    assert one(changes, "cookies[_sl_stats@Saffron Lane].lifetime").material
    shorter = pair(noop, cookie("_sl_stats", lifetime="1mo"))
    assert not one(shorter, "cookies[_sl_stats@Saffron Lane].lifetime").material


def test_cookies_are_matched_by_name_and_provider() -> None:
    new = edit(cookie("_sl_stats", provider="Another analytics firm"))
    paths = {(c.path, c.kind) for c in diff_policies(DEMO, new)}
    assert ("cookies[_sl_stats@Another analytics firm]", "added") in paths
    assert ("cookies[_sl_stats@Saffron Lane]", "removed") in paths


def test_an_extra_weekend_day_lengthens_business_day_deadlines() -> None:
    new = edit(lambda d: d["calendar"].update(weekend=["friday", "saturday", "sunday"]))
    assert one(diff_policies(DEMO, new), "calendar.weekend[friday]").material


def test_children_rules_loosened_are_material() -> None:
    younger = edit(lambda d: d["children"].update(minimum_age=16))
    assert one(diff_policies(DEMO, younger), "children.minimum_age").material
    older = edit(lambda d: d["children"].update(minimum_age=16))
    assert not one(diff_policies(older, DEMO), "children.minimum_age").material
    closed = edit(lambda d: d["children"].update(guardian_consent=False))
    assert one(diff_policies(closed, DEMO), "children.guardian_consent").material


def test_longer_grievance_deadline_is_material() -> None:
    new = edit(lambda d: d["cases"]["grievance"].update(resolve_within="60d"))
    assert one(diff_policies(DEMO, new), "cases.grievance.resolve_within").material


def test_switching_off_reconsent_and_shortening_advance_notice_are_material() -> None:
    new = edit(lambda d: d["policy_changes"].update(material_changes_require_reconsent=False, advance_notice="7d"))
    changes = diff_policies(DEMO, new)
    assert one(changes, "policy_changes.material_changes_require_reconsent").material
    assert one(changes, "policy_changes.advance_notice").material
    assert not one(diff_policies(new, DEMO), "policy_changes.advance_notice").material


def test_removing_a_jurisdiction_is_material() -> None:
    both = edit(lambda d: d["controller"].update(jurisdictions=["IN", "EU"]))
    assert one(diff_policies(both, DEMO), "controller.jurisdictions[EU]").material
    assert not one(diff_policies(DEMO, both), "controller.jurisdictions[EU]").material


# --------------------------------------------------------------------------------- minor changes


def test_wording_changes_are_minor() -> None:
    def wording(d: Data) -> None:
        d["name"] = "Saffron Lane privacy notice"
        find(d, "purposes", "account")["description"] = "Create your account."
        find(d, "purposes", "account")["service"] = "An account"
        find(d, "categories", "identity.name")["name"] = "Full name"
        d["security_measures"][0]["description"] = "Every field is encrypted."

    changes = diff_policies(DEMO, edit(wording))
    assert len(changes) == 5
    assert not is_material(changes)
    assert materially_changed_purposes(DEMO, edit(wording)) == set()


def test_contact_changes_are_minor_and_never_quote_the_contact() -> None:
    def contacts(d: Data) -> None:
        officer = d["contacts"]["grievance_officer"]
        officer.update(name="Ravi Kumar", email="ravi.kumar@saffronlane.example", phone="+91 98765 43210")

    changes = diff_policies(DEMO, edit(contacts))
    assert {c.path for c in changes} == {
        "contacts.grievance_officer.name",
        "contacts.grievance_officer.email",
        "contacts.grievance_officer.phone",
    }
    assert not is_material(changes)
    text = " ".join(c.summary + c.path for c in changes)
    for value in ("Ravi", "Kumar", "ravi.kumar", "98765", "Meera"):
        assert value not in text


def test_stronger_rights_and_holidays_are_minor() -> None:
    def stronger(d: Data) -> None:
        d["rights"].append(
            {
                "kind": "portability",
                "deadline": {"respond_within": "30d"},
                "identifiers": ["email"],
                "verification": ["email_otp"],
                "channels": ["privacy_center"],
            }
        )
        d["calendar"]["holidays"].append({"date": "2027-11-08", "name": "Diwali"})
        find(d, "rights", "access", "kind")["channels"].append("phone")

    changes = diff_policies(DEMO, edit(stronger))
    assert {c.path for c in changes} == {
        "rights[portability]",
        "rights[access].channels[phone]",
        "calendar.holidays[2027-11-08]",
    }
    assert not is_material(changes)


def test_removals_of_purposes_recipients_and_countries_are_minor() -> None:
    def less(d: Data) -> None:
        d["recipients"].remove(find(d, "recipients", "ad_network"))
        find(d, "recipients", "email_service")["countries"] = ["IN"]
        find(d, "purposes", "marketing.sms")["marketing_channels"] = ["sms"]

    changes = diff_policies(DEMO, edit(less))
    assert len(changes) == 3 and not is_material(changes)


def test_unlisted_fields_still_show_up_as_minor_changes() -> None:
    new = edit(lambda d: find(d, "categories", "contact.email").update(fideslang="user.contact"))
    change = one(diff_policies(DEMO, new), "categories[contact.email].fideslang")
    assert (change.kind, change.material) == ("changed", False)


# -------------------------------------------------------------------- materially changed purposes


def test_materially_changed_purposes_follows_data_to_every_purpose_it_serves() -> None:
    def broader(d: Data) -> None:
        d["purposes"].append(NEW_PURPOSE)  # new: not a changed purpose
        d["purposes"].remove(find(d, "purposes", "marketing.sms"))  # removed: nothing to ask
        find(d, "recipients", "email_service")["countries"].append("SG")  # customer_support, marketing.email
        find(d, "retention", "browsing")["keep_for"] = "25mo"  # analytics, personalised_ads
        find(d, "purposes", "account")["description"] = "Reworded."  # minor

    # customer_support is affected too, but it is not a consent purpose
    assert materially_changed_purposes(DEMO, edit(broader)) == {
        "marketing.email",
        "analytics",
        "personalised_ads",
    }


def test_narrower_terms_need_no_new_consent() -> None:
    def narrower(d: Data) -> None:
        find(d, "purposes", "personalised_ads").update(sale_or_sharing=False, profiling=False)
        find(d, "retention", "browsing")["keep_for"] = "6mo"
        find(d, "recipients", "ad_network")["categories"] = ["device.identifiers"]

    new = edit(narrower)
    assert diff_policies(DEMO, new)
    assert materially_changed_purposes(DEMO, new) == set()


# ------------------------------------------------------------------------------------ properties

_EDITS: list[Callable[[Data], None]] = [
    lambda d: d.update(name="Another title"),
    lambda d: d["purposes"].append(NEW_PURPOSE),
    lambda d: d["categories"].append(NEW_CATEGORY),
    lambda d: find(d, "retention", "account_data").update(keep_for="45d"),
    lambda d: find(d, "recipients", "couriers")["countries"].append("AE"),
    lambda d: find(d, "rights", "access", "kind")["deadline"].update(respond_within="20d"),
    lambda d: d["contacts"]["privacy_contact"].update(email="team@saffronlane.example"),
    lambda d: d["cookies"].pop(),
    lambda d: d["calendar"]["holidays"].pop(),
    lambda d: d["children"].update(age_assurance="A guardian confirms the age."),
    lambda d: d["cases"]["breach"].update(authority_initial="12h"),
    lambda d: d["security_measures"].pop(),
    lambda d: find(d, "purposes", "analytics").update(profiling=True),
    lambda d: find(d, "categories", "support.messages").update(required=True),
]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(range(len(_EDITS))), unique=True, max_size=5))
def test_a_diff_is_empty_exactly_when_the_content_hash_is_equal(chosen: list[int]) -> None:
    def apply(d: Data) -> None:
        for i in chosen:
            _EDITS[i](d)

    new = edit(apply)
    changes = diff_policies(DEMO, new)
    assert (changes == []) == (content_hash(new) == content_hash(DEMO))
    assert len(changes) >= len(chosen)
    # the reverse direction lists the same places
    assert {c.path for c in diff_policies(new, DEMO)} == {c.path for c in changes}


def test_changed_dpdp_exemption_clause_is_material() -> None:
    changes = pair(
        purpose("security", legal_ground="exemption", exemption="17(1)(c)"),
        purpose("security", legal_ground="exemption", exemption="17(1)(a)"),
    )
    change = one(changes, "purposes[security].exemption")
    assert change.material and "17(1)(a)" in change.summary


def test_a_rule_moved_to_a_store_event_is_a_material_trigger_change() -> None:
    """issue 12: `trigger: {event: ...}` is described in words, both ways, and counts as material."""
    old = load_policy_text(DEMO_POLICY_PATH.read_text(encoding="utf-8"), "old.yaml").document
    new = load_policy_text(events_policy_text(), "new.yaml").document
    changes = {c.path: c for c in diff_policies(old, new)}
    trigger = changes["retention[support_history].trigger"]
    assert trigger.material
    assert trigger.summary == (
        "The retention rule support_history now counts from the event dispute_closed instead of case closed."
    )
    assert changes["document.retention_events"].kind == "added"
