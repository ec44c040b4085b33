"""The ages that apply to a person, by the jurisdiction they live in (issue 12 item 1), as date arithmetic
on the one age fact a person carries: `adult_on`, the day they reach the policy's `children.minimum_age`.

A policy serving several laws states one age band per jurisdiction (`children.by_jurisdiction`): DPDP s.2(f)
makes anyone under 18 a child; GDPR Art 8(1) 16, or 13 to 16 by member state; UK GDPR Art 8(1) 13; CCPA Civ.
Code 1798.120(c) asks a minor's opt-in to a sale under 16 and a parent's under 13. The policy-wide ages are
at least every band's (`policy check`, rule `age_band`), so a person whose residence is unknown is held to
the strictest. A person whose residence is recorded (`people.jurisdiction`) is held to their band's.

The date of birth is not kept (data minimisation, DPDP s.6(1)); a band's coming of age is derived from
`adult_on`. Where that is ambiguous — `adult_on` 1 March of a common year is the 18th birthday of someone born
on 29 February or on 1 March — the later day is taken, so nobody is treated as an adult a day early.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

CHILD = "child"  # `people.age_status` of a declared child (fiduciary.people.service)


def add_years(day: date, years: int) -> date:
    """The same calendar day `years` later; 29 February becomes 1 March in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def child_cutoff(today: date, years_earlier: int) -> date:
    """The latest `adult_on` of someone no longer a child `today` under an age `years_earlier` below the
    policy's: a person is a child here when `adult_on` is after it.

    The band's coming of age is `add_years(adult_on, -years_earlier)`; the cutoff is the largest `adult_on`
    whose band birthday is today or before. Computed once per day and band so the engine and the audience
    query (`adult_on > :cutoff`) apply the very same predicate.
    """
    if years_earlier == 0:
        return today
    cutoff = add_years(today, years_earlier)
    while add_years(cutoff, -years_earlier) > today:
        cutoff -= timedelta(days=1)
    while add_years(cutoff + timedelta(days=1), -years_earlier) <= today:
        cutoff += timedelta(days=1)
    return cutoff


@dataclass(frozen=True, slots=True)
class AgeRules:
    """The ages for the people of one jurisdiction, as offsets in years from `adult_on`.

    `years_earlier`: how many years before `adult_on` a person comes of age here (policy minimum_age minus
    this band's; 0 for the policy-wide ages). `sale_rule`: a sale or sharing needs a minor's opt-in at ages
    above this band's age of a child (CCPA 1798.120(c)); `sale_years` and `parent_years` place the opt-in
    and the parent's opt-in ages relative to `adult_on`, as the engine has always compared them.
    """

    child_age: int
    years_earlier: int = 0
    sale_rule: bool = False
    sale_opt_in_age: int | None = None
    sale_parent_age: int | None = None
    sale_years: int = 0  # sale_opt_in_age - the policy's minimum_age
    parent_years: int = 0  # the policy's minimum_age - sale_parent_age

    @classmethod
    def of(
        cls, policy_child_age: int, child_age: int, sale_opt_in_age: int | None, sale_parent_age: int | None
    ) -> AgeRules:
        sale_rule = sale_opt_in_age is not None and sale_opt_in_age > child_age
        return cls(
            child_age=child_age,
            years_earlier=policy_child_age - child_age,
            sale_rule=sale_rule,
            sale_opt_in_age=sale_opt_in_age,
            sale_parent_age=sale_parent_age,
            sale_years=(sale_opt_in_age or 0) - policy_child_age,
            parent_years=policy_child_age - (sale_parent_age or 0),
        )

    def without_sale(self) -> AgeRules:
        """These ages without the sale band: what a purpose that sells or shares nothing depends on."""
        return AgeRules(self.child_age, self.years_earlier)

    def is_child(self, age_status: str, adult_on: date | None, today: date) -> bool:
        """A child today under this band: declared a child and not yet of this band's age (DPDP s.2(f))."""
        if age_status != CHILD:
            return False
        if adult_on is None:
            return True
        return adult_on > (today if self.years_earlier == 0 else child_cutoff(today, self.years_earlier))

    def minor_for_sale(self, adult_on: date | None, today: date) -> bool:
        """Below the opt-in age for a sale or sharing (CCPA 1798.120(c)); only asked of a non-child."""
        return self.sale_rule and adult_on is not None and adult_on > add_years(today, -self.sale_years)

    def parent_needed(self, adult_on: date, today: date) -> bool:
        """Below the age at which the sale opt-in must come from a parent (CCPA 1798.120(c), 11 CCR 7070)."""
        return self.sale_parent_age is not None and adult_on > add_years(today, self.parent_years)
