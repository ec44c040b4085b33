"""The table of rules a policy diff applies: for each path, how it is compared, when a change is material
and why, and which purposes it affects. `fiduciary.policy.diff` explains what "material" means and cites
the law; `fiduciary.policy.diff.engine` holds the loop that applies this table, and
`fiduciary.policy.diff.comparisons` the rules too particular for a table row.

Read top to bottom, the table is the order changes are listed in.
"""

from __future__ import annotations

from fiduciary.policy.diff.comparisons import (
    CONTACT_LABELS,
    GROUND_FIELDS,
    OWN_ENDS,
    PURPOSE_FLAGS,
    SOURCE_WORDS,
    address,
    contact,
    cookie_days,
    cookie_purposes,
    flag,
    grievance,
    ground,
    keep_for,
    legal_hold,
    lifetime_words,
    longer,
    no_longer_limited,
    purpose_categories,
    purpose_ground,
    recipient_categories,
    recipient_purposes,
    retention_added,
    retention_categories,
    retention_removed,
    rule_purposes,
    verification,
    vulnerability,
)
from fiduciary.policy.diff.engine import (
    Custom,
    Event,
    Field,
    Grown,
    Items,
    Listed,
    Nested,
    Others,
    Rule,
    Span,
    Whole,
    cap,
    days,
    presence,
    text,
)
from fiduciary.policy.schema import CookieCategory, RetentionTrigger, Sensitivity

# -------------------------------------------------------------------------------------- the table

CATEGORY_RULES: tuple[Rule, ...] = (
    Field(
        "sensitivity",
        lambda label, b, a: f"{cap(label)} is now classed as {text(a)} instead of {text(b)}.",
        material=lambda b, a: a is not Sensitivity.STANDARD,
        reason="category reclassified as sensitive",
    ),
    Listed(
        "sources",
        lambda label, src: f"{cap(label)} is now also obtained {SOURCE_WORDS[src.value]}.",
        lambda label, src: f"{cap(label)} is no longer obtained {SOURCE_WORDS[src.value]}.",
        reason="new source of data",
    ),
    Listed(
        "third_party_sources",
        lambda label, party: f"{cap(label)} is now also received from {party}.",
        lambda label, party: f"{cap(label)} is no longer received from {party}.",
        reason="new source of data",
    ),
    Field(
        "required",
        lambda label, b, a: (
            f"{cap(label)} is now required instead of optional."
            if a
            else f"{cap(label)} is now optional instead of required."
        ),
        material=lambda b, a: bool(a),
        reason="optional data made required",
    ),
    Field(
        "device_permission",
        lambda label, b, a: (
            f"{cap(label)} no longer needs a device permission."
            if a is None
            else f"{cap(label)} now comes from the device permission {a}."
        ),
        material=lambda b, a: a is not None,
        reason="new device permission",
        kind=presence,
    ),
    Others(),
)

PURPOSE_RULES: tuple[Rule, ...] = (
    Custom(GROUND_FIELDS, purpose_ground),
    Field(
        "required_for_service",
        lambda label, b, a: (
            f"{cap(label)} is now a condition of using the service."
            if a
            else f"{cap(label)} is no longer a condition of using the service."
        ),
        material=lambda b, a: bool(a),
        reason="purpose made a condition of service",
    ),
    # DPDP s.9(5) Part B: a newly exempt purpose runs for children without a guardian's consent.
    Field(
        "children_exemption",
        lambda label, b, a: (
            f"{cap(label)} now runs for children without a guardian's consent (DPDP Fourth Schedule Part B)."
            if a
            else f"{cap(label)} now needs a guardian's consent for children."
        ),
        material=lambda b, a: a is not None,
        reason="children's data processed without a guardian's consent",
    ),
    Custom(("categories", "optional_categories"), purpose_categories),
    Listed(
        "marketing_channels",
        lambda label, ch: f"{cap(label)} now sends marketing by {text(ch)}.",
        lambda label, ch: f"{cap(label)} no longer sends marketing by {text(ch)}.",
        reason="new marketing channel",
    ),
    *(flag(name, words) for name, words in PURPOSE_FLAGS.items()),
    Others(),
)

RECIPIENT_RULES: tuple[Rule, ...] = (
    Field(
        "kind",
        lambda label, b, a: f"{cap(label)} is now a {text(a)} instead of a {text(b)}.",
        material=lambda b, a: a in OWN_ENDS and b not in OWN_ENDS,
        reason="recipient now uses data for its own ends",
    ),
    Listed(
        "countries",
        lambda label, country: f"{cap(label)} now also processes data in {country}.",
        lambda label, country: f"{cap(label)} no longer processes data in {country}.",
        reason="cross-border transfer to a new country",
    ),
    Custom(("purposes",), recipient_purposes),
    Custom(("categories",), recipient_categories),
    Field(
        "transfer_safeguard",
        lambda label, b, a: (
            f"{cap(label)} no longer has a stated safeguard for transfers."
            if a is None
            else f"The transfer safeguard for {label} changed."
        ),
        material=lambda b, a: a is None,
        reason="transfer safeguard removed",
        kind=presence,
    ),
    Others(),
)

RETENTION_RULES: tuple[Rule, ...] = (
    Custom(("keep_for",), keep_for),
    Field(
        "trigger",
        lambda label, b, a: f"{cap(label)} now counts from {text(a)} instead of {text(b)}.",
        material=lambda b, a: a is not RetentionTrigger.COLLECTED,
        reason="retention counted from a later event",
    ),
    # Anonymised data is no longer personal data; either action ends the personal data.
    Field("action", lambda label, b, a: f"{cap(label)} now ends with {text(a)} instead of {text(b)}."),
    Custom(("legal_hold",), legal_hold),
    Custom(("categories",), retention_categories),
    Listed(
        "purposes",
        lambda label, pid: f"{cap(label)} now covers data used for {pid}.",
        lambda label, pid: f"{cap(label)} no longer covers data used for {pid}.",
    ),
    Grown(
        "exceptions",
        lambda label: f"{cap(label)} has a new exception: some data is kept past the rule.",
        lambda label: f"{cap(label)} has fewer exceptions.",
        reason="new retention exception",
    ),
    Span(
        "advance_notice",
        lambda label: f"the warning before erasure under {label}",
        missing_days=0.0,
        worse_if_longer=False,
        reason="less warning before erasure",
    ),
    Others(),
)

COOKIE_RULES: tuple[Rule, ...] = (
    Field(
        "category",
        lambda label, b, a: f"{cap(label)} is now {text(a)} instead of {text(b)}.",
        material=lambda b, a: True,
        reason="cookie category changed",
    ),
    Field(
        "party",
        lambda label, b, a: f"{cap(label)} is now a {a}-party cookie.",
        material=lambda b, a: a == "third",
        reason="cookie now set by a third party",
    ),
    Field(
        "lifetime",
        lambda label, b, a: f"{cap(label)} now lasts {lifetime_words(a)} instead of {lifetime_words(b)}.",
        material=lambda b, a: cookie_days(a) > cookie_days(b),
        reason="longer cookie lifetime",
    ),
    Field(
        "purpose",
        lambda label, b, a: (
            f"{cap(label)} now serves {a or 'no declared purpose'} instead of {b or 'no declared purpose'}."
        ),
        material=lambda b, a: a is not None,
        reason="cookie used for another purpose",
    ),
    Others(),
)

DEADLINE_RULES: tuple[Rule, ...] = (
    Field(
        "respond_within",
        lambda label, b, a: f"The deadline to answer {label} is now {a.describe()} instead of {b.describe()}.",
        material=longer,
        reason="weaker rights: longer deadline",
    ),
    Span(
        "acknowledge_within",
        lambda label: f"the time to acknowledge {label}",
        missing_days=float("inf"),
        worse_if_longer=True,
        reason="weaker rights: longer deadline",
    ),
    Span(
        "extendable_by",
        lambda label: f"the permitted extension for {label}",
        missing_days=0.0,
        worse_if_longer=True,
        reason="weaker rights: longer possible extension",
    ),
)

RIGHT_RULES: tuple[Rule, ...] = (
    Nested("deadline", DEADLINE_RULES),
    Listed(
        "identifiers",
        lambda label, ident: f"To use {label} you may now be asked for your {text(ident)}.",
        lambda label, ident: f"{cap(label)} no longer asks for your {text(ident)}.",
        reason="weaker rights: more identifiers asked",
    ),
    Custom(("verification",), verification),
    Listed(
        "channels",
        lambda label, ch: f"You can now use {label} by {text(ch)}.",
        lambda label, ch: f"You can no longer use {label} by {text(ch)}.",
        reason="weaker rights: fewer channels",
        worse_when="removed",
    ),
    Grown(
        "limitations",
        lambda label: f"{cap(label)} has a new limitation.",
        lambda label: f"{cap(label)} has fewer limitations.",
        reason="weaker rights: new limitation",
    ),
    Others(),
)

CONTROLLER_RULES: tuple[Rule, ...] = (
    # Consent was given to one controller; another cannot rely on it (ISO/IEC 29184 5.3.3, 5.5).
    Field(
        "legal_name",
        lambda label, b, a: "The legal identity of the store responsible for your data changed.",
        material=lambda b, a: True,
        reason="controller identity changed",
        everyone=True,
    ),
    Custom(("address",), address),
    Listed(
        "jurisdictions",
        lambda label, j: f"The store now also applies {j.value} law.",
        lambda label, j: f"The store no longer applies {j.value} law, so the rights it gives no longer apply.",
        reason="weaker rights",
        worse_when="removed",
    ),
    Others(),
)

CONTACT_RULES: tuple[Rule, ...] = (
    *(contact(name, label) for name, label in CONTACT_LABELS.items()),
    Items(
        "authorities",
        key=lambda a: a.name,
        label=lambda a: f"the authority {a.name}",
        added=Event(lambda d, label, a: f"The notice now names {a.name} as an authority to complain to."),
        removed=Event(lambda d, label, a: f"The notice no longer names {a.name} as an authority to complain to."),
        rules=(Others(),),
    ),
)

POLICY_RULES: tuple[Rule, ...] = (
    Field("name", lambda label, b, a: "The title of the policy changed."),
    Field("language", lambda label, b, a: f"The notice language changed from {b} to {a}."),
    Others(path="document"),
    Nested("controller", CONTROLLER_RULES, label="the store"),
    Nested("contacts", CONTACT_RULES),
    Items(
        "categories",
        key=lambda c: c.id,
        label=lambda c: f'the data category "{c.name}" ({c.id})',
        added=Event(
            lambda d, label, c: f"{cap(label)} is newly collected.",
            material=lambda d, c: True,
            reason="new category",
        ),
        removed=Event(lambda d, label, c: f"{cap(label)} is no longer collected."),
        rules=CATEGORY_RULES,
        scope=lambda d, old, new: d.purposes_using(d.new, new.id),
        order="data categories",
    ),
    Items(
        "purposes",
        key=lambda p: p.id,
        label=lambda p: f'the purpose "{p.name}" ({p.id})',
        added=Event(
            lambda d, label, p: (
                f"Your data is used for a new purpose: {p.name} ({p.id}), on the ground of {ground(p)}."
            ),
            material=lambda d, p: True,
            reason="new purpose",
        ),
        removed=Event(lambda d, label, p: f'Your data is no longer used for "{p.name}" ({p.id}).'),
        rules=PURPOSE_RULES,
        scope=lambda d, old, new: (new.id,),
        order="purposes",
    ),
    Items(
        "recipients",
        key=lambda r: r.id,
        label=lambda r: f'the recipient "{r.name}" ({r.id})',
        added=Event(
            lambda d, label, r: f"{cap(label)} now receives personal data, processed in {', '.join(r.countries)}.",
            material=lambda d, r: True,
            reason="new recipient",
            purposes=lambda d, r: r.purposes,
        ),
        removed=Event(lambda d, label, r: f"{cap(label)} no longer receives data."),
        rules=RECIPIENT_RULES,
        scope=lambda d, old, new: new.purposes,
        order="recipients",
    ),
    Items(
        "retention",
        key=lambda r: r.id,
        label=lambda r: f"the retention rule {r.id}",
        added=Event(
            retention_added,
            material=lambda d, r: any(d.extends(c, days(r.keep_for)) for c in r.categories),
            reason="longer retention",
            purposes=lambda d, r: rule_purposes(d, d.new, r),
        ),
        removed=Event(
            retention_removed,
            material=lambda d, r: any(no_longer_limited(d, c) for c in r.categories),
            reason="retention no longer limited",
            purposes=lambda d, r: rule_purposes(d, d.old, r),
        ),
        rules=RETENTION_RULES,
        scope=lambda d, old, new: rule_purposes(d, d.new, new) | rule_purposes(d, d.old, old),
        order="retention rules",
    ),
    Items(
        "cookies",
        key=lambda c: f"{c.name}@{c.provider}",
        label=lambda c: f"the cookie {c.name} from {c.provider}",
        added=Event(
            lambda d, label, c: f"A new {text(c.category)} cookie {c.name} from {c.provider} is set.",
            material=lambda d, c: c.category is not CookieCategory.NECESSARY,
            reason="new non-necessary cookie",
            purposes=cookie_purposes,
        ),
        removed=Event(lambda d, label, c: f"{cap(label)} is no longer set."),
        rules=COOKIE_RULES,
        scope=lambda d, old, new: cookie_purposes(d, new),
        order="cookies",
    ),
    Items(
        "rights",
        key=lambda r: r.kind,
        label=lambda r: f"the right of {text(r.kind)}",
        added=Event(lambda d, label, r: f"You now have {label}."),
        removed=Event(
            lambda d, label, r: f"The notice no longer offers {label}.",
            material=lambda d, r: True,
            reason="weaker rights: right removed",
        ),
        rules=RIGHT_RULES,
        order="rights",
    ),
    Nested(
        "calendar",
        (
            Field("timezone", lambda label, b, a: f"Deadlines are now counted in {a}."),
            Listed(
                "weekend",
                lambda label, day: (
                    f"{day.capitalize()} is no longer a business day, so business-day deadlines run longer."
                ),
                lambda label, day: f"{day.capitalize()} is now a business day.",
                reason="weaker rights: longer deadline",
            ),
            Items(
                "holidays",
                key=lambda h: h.date,
                label=lambda h: h.date.isoformat(),
                added=Event(lambda d, label, h: f"{label} is now a holiday."),
                removed=Event(lambda d, label, h: f"{label} is no longer a holiday."),
                rules=(Whole(lambda label: f"The holiday on {label} was renamed."),),
            ),
        ),
    ),
    Nested(
        "children",
        (
            Field(
                "minimum_age",
                lambda label, b, a: f"Children's protections now apply below age {a} instead of {b}.",
                material=lambda b, a: a < b,
                reason="children's protections apply to fewer people",
            ),
            Field(
                "guardian_consent",
                lambda label, b, a: (
                    "Children may now use the service with a guardian's consent."
                    if a
                    else "Children may no longer use the service with a guardian's consent."
                ),
                material=lambda b, a: bool(a),
                reason="children's data now processed",
            ),
            Others(),
        ),
        label="the rules for children",
    ),
    Nested(
        "cases",
        (
            Nested(
                "grievance",
                (grievance("acknowledge_within", "acknowledge"), grievance("resolve_within", "resolve")),
            ),
            Nested(
                "breach",
                (
                    Field(
                        "notify_people",
                        lambda label, b, a: (
                            f"You are now told of a breach within {a.describe()} instead of {b.describe()}."
                        ),
                        material=longer,
                        reason="weaker rights: later breach notice",
                    ),
                    Others(),
                ),
                label="the breach deadlines",
            ),
            Custom(("vulnerability",), vulnerability),
        ),
    ),
    Nested(
        "policy_changes",
        (
            Field(
                "material_changes_require_reconsent",
                lambda label, b, a: (
                    "Material changes now ask for your consent again."
                    if a
                    else "Material changes no longer ask for your consent again."
                ),
                material=lambda b, a: not a,
                reason="re-consent no longer asked after material changes",
            ),
            Span(
                "advance_notice",
                lambda label: "the advance notice of material changes",
                missing_days=0.0,
                worse_if_longer=False,
                reason="less advance notice of changes",
            ),
            Listed(
                "announce_via",
                lambda label, ch: f"Changes are now also announced by {text(ch)}.",
                lambda label, ch: f"Changes are no longer announced by {text(ch)}.",
            ),
        ),
    ),
    Items(
        "security_measures",
        key=lambda m: m.name,
        label=lambda m: m.name,
        added=Event(lambda d, label, m: f"The notice now describes the measure {label}."),
        removed=Event(lambda d, label, m: f"The notice no longer describes the measure {label}."),
        rules=(Whole(lambda label: f"The description of the measure {label} changed."),),
    ),
)
"""Every rule of a policy diff, in the order its changes are listed."""
