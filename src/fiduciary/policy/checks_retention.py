"""Checks on how a policy words retention (issue 12): every category used for a purpose is covered by a rule,
store-declared events exist, open-ended rules say what ends them, and clocks that need a length have one.

Why a category without a rule is an error: GDPR Art 13(2)(a) and DPDP Rule 3(b)/s.8(7) make the period (or
the criteria that set it) part of what the notice tells the person; a gap used to be filled by the notice with
a generic sentence the store never wrote.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from fiduciary.policy.checks_registry import CheckContext, Finding, check, closest, purpose_categories
from fiduciary.policy.duration import Duration, DurationUnit
from fiduciary.policy.retention_due import add_duration
from fiduciary.policy.schema import (
    BusinessCalendar,
    EventTrigger,
    Generalisation,
    RetentionAction,
    RetentionRule,
    RetentionTrigger,
)

# A clock with no length means nothing here: "deleted at collection", "deleted when you stop using us".
NEEDS_DURATION = frozenset({RetentionTrigger.COLLECTED, RetentionTrigger.LAST_ACTIVITY})
# Open-ended by their wording: the person's request, or the named law, ends them; a length would contradict.
NO_DURATION = frozenset({RetentionTrigger.ERASURE_REQUESTED, RetentionTrigger.LAW_REQUIRES})


def rule_covers(rule: RetentionRule, category_id: str, purpose_id: str) -> bool:
    """A rule applies to a category's data used for a purpose (a rule without purposes: for every purpose)."""
    return category_id in rule.categories and (not rule.purposes or purpose_id in rule.purposes)


@check("retention_missing")
def categories_have_retention(ctx: CheckContext) -> Iterator[Finding]:
    """GDPR Art 13(2)(a), DPDP s.8(7): say how long each item is kept, for each purpose that uses it."""
    doc = ctx.document
    # Indexed once, so a 500-category, 200-purpose policy is checked in linear time (bench/policy_load.py).
    users: dict[str, list[str]] = {}
    for purpose in doc.purposes:
        for category_id in purpose_categories(purpose):
            users.setdefault(category_id, []).append(purpose.id)
    scopes: dict[str, list[frozenset[str] | None]] = {}  # per category, each rule's purposes (None: all)
    for rule in doc.retention:
        scope = frozenset(rule.purposes) if rule.purposes else None
        for category_id in rule.categories:
            scopes.setdefault(category_id, []).append(scope)
    for i, category in enumerate(doc.categories):
        covering = scopes.get(category.id, [])
        uncovered = [p for p in users.get(category.id, []) if not any(s is None or p in s for s in covering)]
        if uncovered:
            listed = ", ".join(f"'{p}'" for p in uncovered)
            yield Finding(
                ("categories", i, "id"),
                f"no retention rule covers category '{category.id}' as used for {listed}",
                f"add a rule under retention with categories: [{category.id}] (or add it to an existing rule); if "
                "the store keeps it until the person asks, say so with trigger: erasure_requested (GDPR Art "
                "13(2)(a), DPDP s.8(7))",
            )


@check("retention_event_duplicate")
def retention_events_unique(ctx: CheckContext) -> Iterator[Finding]:
    """Two events with one id make every rule counting from it ambiguous."""
    first: dict[str, int] = {}
    for i, event in enumerate(ctx.document.retention_events):
        if event.id in first:
            yield Finding(
                ("retention_events", i, "id"),
                f"duplicate retention event id '{event.id}' (first defined at "
                f"{ctx.where(('retention_events', first[event.id]))})",
                "declare each event once",
            )
        else:
            first[event.id] = i


@check("retention_event_undeclared")
def retention_events_declared(ctx: CheckContext) -> Iterator[Finding]:
    """A rule counting from a store event counts from nothing unless the policy declares that event."""
    declared = {e.id for e in ctx.document.retention_events}
    for i, rule in enumerate(ctx.document.retention):
        if isinstance(rule.trigger, EventTrigger) and rule.trigger.event not in declared:
            event = rule.trigger.event
            guess = closest(event, declared)
            yield Finding(
                ("retention", i, "trigger", "event"),
                f"retention rule '{rule.id}' counts from the event '{event}', which the policy does not declare",
                f"did you mean '{guess}'?"
                if guess
                else f"declare it under retention_events, e.g. - {{id: {event}, description: ...}}",
            )


@check("retention_event_unused")
def retention_events_used(ctx: CheckContext) -> Iterator[Finding]:
    """A declared event no rule counts from: the backend may report it, but nothing is kept by it."""
    used = {r.trigger.event for r in ctx.document.retention if isinstance(r.trigger, EventTrigger)}
    for i, event in enumerate(ctx.document.retention_events):
        if event.id not in used:
            yield Finding(
                ("retention_events", i, "id"),
                f"retention event '{event.id}' is declared but no retention rule counts from it",
                "use it in a rule, trigger: {event: " + event.id + "}, or remove it",
                severity="warning",
            )


@check("retention_duration_missing")
def retention_durations_given(ctx: CheckContext) -> Iterator[Finding]:
    """A clock that starts at collection or at the last activity has to say how long it runs."""
    for i, rule in enumerate(ctx.document.retention):
        if rule.trigger in NEEDS_DURATION and rule.keep_for is None:
            trigger = rule.trigger.value if isinstance(rule.trigger, RetentionTrigger) else ""
            yield Finding(
                ("retention", i, "trigger"),
                f"retention rule '{rule.id}' starts its clock at {trigger} but does not say for how long",
                "add keep_for (e.g. keep_for: 1y); if the data goes once it has served its purpose, use trigger: "
                "purpose_fulfilled",
            )


@check("retention_duration_contradicts")
def retention_open_ended_without_duration(ctx: CheckContext) -> Iterator[Finding]:
    """ "Until you ask us to erase it" and "as long as the law requires" state no period of the store's own."""
    for i, rule in enumerate(ctx.document.retention):
        if rule.trigger in NO_DURATION and rule.keep_for is not None:
            what = (
                "until the person asks for erasure"
                if rule.trigger is RetentionTrigger.ERASURE_REQUESTED
                else "as long as the law requires"
            )
            yield Finding(
                ("retention", i, "keep_for"),
                f"retention rule '{rule.id}' keeps data {what}, so a keep_for of {rule.keep_for.describe()} "
                "contradicts it",
                "remove keep_for; a minimum the law sets goes in legal_hold: {minimum: ..., basis: ...}",
            )


@check("retention_law")
def retention_law_named(ctx: CheckContext) -> Iterator[Finding]:
    """ "As long as the law requires" names the law (GDPR Art 13(2)(a): the criteria for the period)."""
    for i, rule in enumerate(ctx.document.retention):
        if rule.trigger is RetentionTrigger.LAW_REQUIRES and not rule.law:
            yield Finding(
                ("retention", i, "trigger"),
                f"retention rule '{rule.id}' keeps data as long as the law requires but does not name the law",
                "add law, e.g. law: 'Companies Act 2013 s.128(5)' or law: 'CGST Act 2017 s.36'",
            )
        elif rule.law and rule.trigger is not RetentionTrigger.LAW_REQUIRES:
            yield Finding(
                ("retention", i, "law"),
                f"retention rule '{rule.id}' names a law but its trigger is not law_requires",
                "use trigger: law_requires, or state a legal minimum as legal_hold: {minimum: ..., basis: ...}",
            )


# ------------------------------------------------------------------------------ legal minimums (issue 15)

# The floors the law sets for what a rule's legal hold cites, matched on the words of its `basis`.
LEGAL_FLOORS: tuple[tuple[tuple[str, ...], Duration, str], ...] = (
    # DPDP Rules 2025 Rule 8(3): personal data, traffic data and logs of processing kept at least one year.
    (("rule 8(3)",), Duration(amount=1, unit=DurationUnit.YEARS), "DPDP Rules 2025 Rule 8(3)"),
    # CERT-In Directions of 28 April 2022, para (iv): ICT system logs kept 180 days within India.
    (("cert-in",), Duration(amount=180, unit=DurationUnit.DAYS), "CERT-In Directions 2022 (iv)"),
    # CGST Act 2017 s.36: accounts and records kept 72 months from the annual return's due date.
    (("cgst", "s.36"), Duration(amount=72, unit=DurationUnit.MONTHS), "CGST Act 2017 s.36"),
)
_FIXED_START = datetime(2001, 1, 1, tzinfo=UTC)  # any instant: lengths are compared by where they end


def _ends(duration: Duration, ctx: CheckContext) -> datetime:
    return add_duration(_FIXED_START, duration, ctx.document.calendar)


def shorter(a: Duration, b: Duration, ctx: CheckContext) -> bool:
    """`a` ends before `b` when both start at the same instant (months and days compared on the calendar)."""
    return _ends(a, ctx) < _ends(b, ctx)


def legal_floor(basis: str) -> tuple[Duration, str] | None:
    """The floor of the law a legal hold cites, if it is one Fiduciary knows (the longest if several)."""
    text = basis.lower()
    found = [(floor, law) for words, floor, law in LEGAL_FLOORS if all(w in text for w in words)]
    if not found:
        return None
    return max(found, key=lambda pair: _ends_utc(pair[0]))


def _ends_utc(duration: Duration) -> datetime:
    return add_duration(_FIXED_START, duration, BusinessCalendar())


@check("retention_below_legal_minimum")
def retention_keeps_legal_minimum(ctx: CheckContext) -> Iterator[Finding]:
    """A rule never keeps data for less than the law it cites requires (DPDP s.8(7) "unless retention is
    necessary for compliance with any law", Rule 8(3); GDPR Art 17(3)(b)): a policy change that shortens a
    period below its legal minimum, or lowers the minimum below the law's own floor, is refused."""
    for i, rule in enumerate(ctx.document.retention):
        hold = rule.legal_hold
        if hold is None:
            continue
        if rule.keep_for is not None and shorter(rule.keep_for, hold.minimum, ctx):
            yield Finding(
                ("retention", i, "keep_for"),
                f"retention rule '{rule.id}' keeps data {rule.keep_for.describe()}, shorter than its legal minimum "
                f"of {hold.minimum.describe()} ({hold.basis})",
                f"keep it at least {hold.minimum.describe()}: keep_for: {hold.minimum}",
            )
        floor = legal_floor(hold.basis)
        if floor is not None and shorter(hold.minimum, floor[0], ctx):
            yield Finding(
                ("retention", i, "legal_hold", "minimum"),
                f"retention rule '{rule.id}' sets a legal minimum of {hold.minimum.describe()}, but {floor[1]} "
                f"requires at least {floor[0].describe()}",
                f"use minimum: {floor[0]}",
            )


@check("retention_anonymise")
def retention_anonymisation_consistent(ctx: CheckContext) -> Iterator[Finding]:
    """`anonymise:` belongs to an anonymising rule and keeps only the rule's own categories, each once."""
    for i, rule in enumerate(ctx.document.retention):
        spec = rule.anonymise
        if spec is None:
            continue
        if rule.action is not RetentionAction.ANONYMISE:
            yield Finding(
                ("retention", i, "anonymise"),
                f"retention rule '{rule.id}' deletes its data, so anonymise: has nothing to keep",
                "use action: anonymise, or remove anonymise:",
            )
        seen: set[str] = set()
        for j, kept in enumerate(spec.keep):
            where = ("retention", i, "anonymise", "keep", j)
            if kept.category not in rule.categories:
                yield Finding(
                    (*where, "category"),
                    f"retention rule '{rule.id}' keeps '{kept.category}', which is not one of its categories",
                    "keep only categories the rule covers",
                )
            if kept.category in seen:
                yield Finding((*where, "category"), f"'{kept.category}' is kept twice", "keep each category once")
            seen.add(kept.category)
            if (kept.generalise is Generalisation.PREFIX) != (kept.digits is not None):
                yield Finding(
                    (*where, "digits"),
                    f"retention rule '{rule.id}': digits goes with generalise: prefix, and prefix needs digits",
                    "e.g. {category: contact.pin_code, generalise: prefix, digits: 3}",
                )
