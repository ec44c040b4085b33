"""Anonymisation with k-anonymity (issue 15 item 1): what an anonymising rule keeps is counts over its
generalised quasi-identifiers, and every group it keeps has at least k people.

A rule states its quasi-identifiers and how each is coarsened (`anonymise: {k: 5, keep: [...]}` in the
policy): a PIN code to its first digits, a date to its month, year or decade, a value with few answers as it
is. The sweep reads each person's kept values once (the person is counted under the rule when the rule's
anchor category, its first kept one, is anonymised), generalises them and stages the counts under its run;
the values themselves are then deleted with the rest of the rule's data. When the run ends, `settle` merges
the staged counts into the kept ones: a combination with at least k people (with what earlier runs kept) is
kept; smaller ones are suppressed into one all-`*` group, kept only if it reaches k itself. Nothing links a
count to a person: no id, no time finer than the generalisation.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.policy.schema import Anonymisation, Generalisation, QuasiIdentifier, RetentionRule
from fiduciary.retention.models import AnonymisedCount

SUPPRESSED = "*"
_DATE = re.compile(r"(\d{4})-(\d{2})")


def generalise(kept: QuasiIdentifier, value: str | None) -> str:
    """One value coarsened as the rule says; anything that does not parse is suppressed (`*`)."""
    if value is None:
        return SUPPRESSED
    text = value.strip()
    if kept.generalise is Generalisation.EXACT:
        return text[:80] or SUPPRESSED
    if kept.generalise is Generalisation.PREFIX:
        compact = text.replace(" ", "")
        digits = kept.digits or 1
        return compact[:digits] if len(compact) >= digits else SUPPRESSED
    match = _DATE.match(text)
    if match is None:
        return SUPPRESSED
    year, month = match.groups()
    if kept.generalise is Generalisation.MONTH:
        return f"{year}-{month}"
    if kept.generalise is Generalisation.YEAR:
        return year
    return year[:3] + "0s"


def spec_of(rule: RetentionRule) -> Anonymisation:
    return rule.anonymise or Anonymisation()


def anchor(rule: RetentionRule) -> str:
    """The category whose anonymisation counts the person under the rule (once per person and rule)."""
    spec = spec_of(rule)
    return spec.keep[0].category if spec.keep else rule.categories[0]


def combination(rule: RetentionRule, values: Mapping[str, str]) -> str:
    """The person's generalised quasi-identifiers as canonical JSON (the kept group's key)."""
    return json.dumps([generalise(q, values.get(q.category)) for q in spec_of(rule).keep], separators=(",", ":"))


def stage(session: Session, run_id: str, rule: str, combinations: Iterable[str]) -> None:
    """Add one batch's counts to the run's staged counts (no person reference)."""
    counted = Counter(combinations)
    if counted:
        session.execute(
            sa.insert(AnonymisedCount),
            [{"rule": rule, "run_id": run_id, "qi": qi, "people": n} for qi, n in sorted(counted.items())],
        )


@dataclass(frozen=True)
class Settled:
    rule: str
    people_kept: int
    people_suppressed: int
    groups: int


def _totals(session: Session, rule: str, run_id: str | None) -> dict[str, int]:
    where = [AnonymisedCount.rule == rule]
    where.append(AnonymisedCount.run_id.is_(None) if run_id is None else AnonymisedCount.run_id == run_id)
    rows = session.execute(
        sa.select(AnonymisedCount.qi, sa.func.sum(AnonymisedCount.people)).where(*where).group_by(AnonymisedCount.qi)
    )
    return {qi: int(n) for qi, n in rows}


def settle(session: Session, run_id: str, rule: RetentionRule) -> Settled:
    """Merge the run's staged counts for `rule` into the kept ones, suppressing groups smaller than k."""
    k = spec_of(rule).k
    staged = _totals(session, rule.id, run_id)
    kept = _totals(session, rule.id, None)
    session.execute(sa.delete(AnonymisedCount).where(AnonymisedCount.rule == rule.id))
    merged = dict(kept)
    suppressed_key = json.dumps([SUPPRESSED] * len(spec_of(rule).keep), separators=(",", ":"))
    small = 0
    for qi, people in staged.items():
        if qi in kept or people >= k:
            merged[qi] = merged.get(qi, 0) + people
        else:
            small += people
    dropped = 0
    if small:
        if merged.get(suppressed_key, 0) + small >= k:
            merged[suppressed_key] = merged.get(suppressed_key, 0) + small
        else:
            dropped = small
    if merged:
        session.execute(
            sa.insert(AnonymisedCount),
            [{"rule": rule.id, "run_id": None, "qi": qi, "people": n} for qi, n in sorted(merged.items())],
        )
    return Settled(rule.id, sum(staged.values()) - dropped, dropped, len(merged))


def kept_groups(session: Session, rule: str) -> list[tuple[list[str], int]]:
    """The counts an anonymising rule keeps: (generalised quasi-identifiers, people), largest first."""
    rows = session.execute(
        sa.select(AnonymisedCount.qi, AnonymisedCount.people)
        .where(AnonymisedCount.rule == rule, AnonymisedCount.run_id.is_(None))
        .order_by(AnonymisedCount.people.desc(), AnonymisedCount.qi)
    )
    return [(json.loads(qi), int(n)) for qi, n in rows]
