"""Audiences: every person a purpose may reach now, computed set-wise in SQL (DESIGN "Data flows: Use").

The query is the set-wise twin of `engine.decide` for a purpose as a whole (no categories): one SELECT
joining people, consent_state and the re-consent floor, with NOT EXISTS on active restrictions, so a
marketing send over a million people is one indexed scan rather than a million decisions. A property
test generates mixed populations and checks that this query and the engine agree person by person.

Only people are returned (`per_…` ids): an anonymous visitor cannot be messaged, and a visitor who signed
in has had their consents copied to the person.

A given subject list is joined as a table-valued parameter — `unnest(:ids)` on PostgreSQL, `json_each(:ids)`
on SQLite — never as a giant IN list, which would mean one bind parameter per id.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from fiduciary.consent.models import ConsentState, ProcessingRestriction, ReconsentFloor
from fiduciary.decisions.ids import PERSON_ID_RE
from fiduciary.errors import FieldProblem, ValidationFailed
from fiduciary.people.models import Person
from fiduciary.policy.ages import AgeRules, add_years, child_cutoff
from fiduciary.policy.compiled import CompiledPolicy, CompiledPurpose
from fiduciary.policy.schema import Jurisdiction, LegalGround, UnknownAge

MAX_SUBJECT_IDS = 1_000_000


def check_audience_request(
    policy: CompiledPolicy, purpose: str, channel: str | None, subject_ids: Sequence[str] | None
) -> CompiledPurpose:
    """Validate before streaming starts: once the first line is out, no problem answer can follow.

    Unlike a decision (which answers `purpose_not_declared`), an audience for an undeclared purpose is a
    caller's mistake, so it is a 422 listing the declared purposes.
    """
    cp = policy.compiled_purposes.get(purpose)
    if cp is None:
        raise ValidationFailed(
            "The purpose is not declared in the policy.",
            [FieldProblem("body.purpose", "unknown purpose", hint="one of: " + ", ".join(sorted(policy.purposes)))],
        )
    if channel is not None and channel not in {str(c) for c in cp.marketing_channels}:
        declared = ", ".join(sorted(str(c) for c in cp.marketing_channels)) or "none"
        raise ValidationFailed(
            "The purpose does not use this channel.",
            [FieldProblem("body.channel", "channel not declared for the purpose", hint=f"declared: {declared}")],
        )
    if subject_ids is not None:
        if len(subject_ids) > MAX_SUBJECT_IDS:
            raise ValidationFailed(
                "Too many subject ids.",
                [FieldProblem("body.subject_ids", f"at most {MAX_SUBJECT_IDS} ids; omit the list for everyone")],
            )
        bad = [
            FieldProblem(f"body.subject_ids.{i}", "must be a person id (per_…)")
            for i, s in enumerate(subject_ids)
            if not isinstance(s, str) or not PERSON_ID_RE.match(s)
        ]
        if bad:
            raise ValidationFailed("Some subject ids are malformed.", bad[:20])
    return cp


def _is_child(p: sa.FromClause, cutoff: sa.BindParameter[Any], unknown_is_child: bool) -> sa.ColumnElement[bool]:
    """`AgeRules.is_child` set-wise: declared a child, `adult_on` unknown or after the band's cutoff today."""
    declared = sa.and_(p.c.age_status == "child", sa.or_(p.c.adult_on.is_(None), p.c.adult_on > cutoff))
    return sa.or_(declared, p.c.age_status == "unknown") if unknown_is_child else declared


def _date_bind(name: str, value: date, postgres: bool) -> sa.BindParameter[Any]:
    """A date the driver takes natively: a DATE on PostgreSQL, ISO text on SQLite (how SQLAlchemy stores it)."""
    if postgres:
        return sa.bindparam(name, value, type_=sa.Date)
    return sa.bindparam(name, value.isoformat(), type_=sa.String)


def _children_conditions(
    policy: CompiledPolicy,
    ages: AgeRules,
    cp: CompiledPurpose,
    p: sa.FromClause,
    c: sa.FromClause,
    today: date,
    postgres: bool,
    tag: str = "",
) -> list[sa.ColumnElement[bool]]:
    """Rule 4 of `engine.decide`, set-wise, under the ages `ages`: the children's rules, unknown ages and the
    minor-sale band. `tag` keeps bind names apart when one statement holds a query per jurisdiction."""
    conditions: list[sa.ColumnElement[bool]] = []
    cutoff = _date_bind(f"child_cutoff{tag}", child_cutoff(today, ages.years_earlier), postgres)
    child = _is_child(p, cutoff, policy.unknown_age is UnknownAge.TREAT_AS_CHILD)
    if cp.needs_consent and policy.unknown_age is UnknownAge.ASK:
        conditions.append(p.c.age_status != "unknown")
    if cp.barred_for_children or (not cp.child_exempt and not policy.guardian_consent):
        conditions.append(sa.not_(child))  # DPDP s.9(3); or a store that serves no children
    elif not cp.child_exempt:
        # DPDP s.9(1), Rule 10: a child's data only on a guardian's current grant, whatever the ground.
        if cp.needs_consent:
            guardian_grant: sa.ColumnElement[bool] = c.c.guardian_id.is_not(None)
        else:
            g = ConsentState.__table__.alias("guardian_grant")
            guardian_grant = sa.exists().where(
                g.c.subject_id == p.c.id,
                g.c.purpose == cp.id,
                g.c.status == "granted",
                g.c.guardian_id.is_not(None),
            )
        conditions.append(sa.or_(sa.not_(child), guardian_grant))
    if not cp.child_exempt:
        # DPDP s.9(1), Rule 11: a person with a verified lawful guardian, only on that guardian's grant.
        if cp.needs_consent:
            ward_grant: sa.ColumnElement[bool] = c.c.guardian_id == p.c.lawful_guardian_id
        else:
            w = ConsentState.__table__.alias("ward_grant")
            ward_grant = sa.exists().where(
                w.c.subject_id == p.c.id,
                w.c.purpose == cp.id,
                w.c.status == "granted",
                w.c.guardian_id == p.c.lawful_guardian_id,
            )
        ward = sa.and_(p.c.guardianship_verified_at.is_not(None), p.c.lawful_guardian_id.is_not(None))
        conditions.append(sa.or_(sa.not_(ward), child, ward_grant))
    if cp.sale_or_sharing and ages.sale_rule:
        # CCPA 1798.120(c): under sale_opt_in_age, an opt-in grant (a guardian's under sale_parent_age).
        minor = sa.and_(
            sa.not_(child),
            p.c.adult_on.is_not(None),
            p.c.adult_on > _date_bind(f"opt_in_cutoff{tag}", add_years(today, -ages.sale_years), postgres),
        )
        under_parent: sa.ColumnElement[bool] = (
            p.c.adult_on > _date_bind(f"parent_cutoff{tag}", add_years(today, ages.parent_years), postgres)
            if ages.sale_parent_age is not None
            else sa.false()
        )
        s = ConsentState.__table__.alias("sale_opt_in")
        opted_in = sa.exists().where(
            s.c.subject_id == p.c.id,
            s.c.purpose == cp.id,
            s.c.status == "granted",
            sa.or_(sa.not_(under_parent), s.c.guardian_id.is_not(None)),
        )
        conditions.append(sa.or_(sa.not_(minor), opted_in))
    return conditions


def audience_query(
    dialect: str,
    cp: CompiledPurpose,
    *,
    today: date,
    policy: CompiledPolicy,
    subject_ids: Sequence[str] | None = None,
) -> sa.Select[tuple[str]]:
    """The SELECT of eligible person ids for purpose `cp`, in id order; mirrors `engine.decide`.

    Where the policy makes the person's residence matter for this purpose (another ground or another age
    band in some jurisdiction), each person is held to their group's conditions through one CASE on
    `people.jurisdiction`, so the statement still scans once in id order; only when the groups disagree on
    whether the purpose needs consent (a join for some, none for others) is it one query per group, joined
    by UNION ALL and sorted. Every bind value is one the driver takes natively (the date as ISO text on
    SQLite, where SQLAlchemy stores dates as text), so `eligible_people` can run it on the raw cursor.
    """
    groups = residence_groups(policy, cp.id)
    if len({g.purpose.needs_consent for g in groups}) == 1:
        return _query(dialect, groups, today=today, policy=policy, subject_ids=subject_ids)
    parts = [
        _query(dialect, [group], today=today, policy=policy, subject_ids=subject_ids, tag=f"_{i}").order_by(None)
        for i, group in enumerate(groups)
    ]
    union = sa.union_all(*parts).subquery("eligible")
    return sa.select(union.c.id).order_by(union.c.id)


@dataclass(frozen=True)
class ResidenceGroup:
    """People decided alike for one purpose: those living in `jurisdictions` (None: the default group, every
    residence not listed by another group — unknown, one the policy no longer declares, or one decided like
    the default), with the purpose and the ages that apply to them."""

    jurisdictions: frozenset[Jurisdiction] | None
    purpose: CompiledPurpose
    ages: AgeRules


def residence_groups(policy: CompiledPolicy, purpose: str) -> list[ResidenceGroup]:
    """The default group first, then one per distinct way of deciding `purpose` (ground and the ages that
    matter for it: a sale's ages only for a sale or sharing), each with the jurisdictions decided that way."""
    default = policy.compiled_purposes[purpose]

    def key(cp: CompiledPurpose, ages: AgeRules) -> tuple[CompiledPurpose, AgeRules]:
        return cp, ages if cp.sale_or_sharing else ages.without_sale()

    default_key = key(default, policy.default_ages)
    apart: dict[tuple[CompiledPurpose, AgeRules], set[Jurisdiction]] = {}
    for j, purposes in policy.by_jurisdiction.items():
        k = key(purposes[purpose], policy.ages_for(j))
        if k != default_key:
            apart.setdefault(k, set()).add(j)
    groups = [ResidenceGroup(None, default, policy.default_ages)]
    groups += [ResidenceGroup(frozenset(js), cp, ages) for (cp, ages), js in apart.items()]
    return groups


def _query(
    dialect: str,
    groups: Sequence[ResidenceGroup],
    *,
    today: date,
    policy: CompiledPolicy,
    subject_ids: Sequence[str] | None,
    tag: str = "",
) -> sa.Select[tuple[str]]:
    """The eligible people of `groups` (which agree on whether the purpose needs consent): one group's
    conditions as they are, several through a CASE on the person's residence."""
    cp = groups[0].purpose
    p = Person.__table__
    c = ConsentState.__table__
    f = ReconsentFloor.__table__
    postgres = dialect == "postgresql"
    source: sa.FromClause = p
    if subject_ids is not None:
        given = _given(subject_ids, postgres, tag)
        source = given.join(p, p.c.id == given.c.value)
    conditions: list[sa.ColumnElement[bool]] = []
    if cp.needs_consent:
        floor = sa.select(f.c.min_version).where(f.c.purpose == cp.id).scalar_subquery()
        source = source.join(c, sa.and_(c.c.subject_id == p.c.id, c.c.purpose == cp.id))
        conditions += [c.c.status == "granted", c.c.policy_version >= sa.func.coalesce(floor, 0)]
    # Rules 3 and 6 hold for every group alike unless the groups differ on a legal obligation: then they are
    # stated once, outside the CASE, where the database can test them before the children's rules.
    shared = len({g.purpose.legal_ground is LegalGround.LEGAL_OBLIGATION for g in groups}) == 1
    if shared:
        conditions += _processing_conditions(cp)
    per_group = [
        sa.and_(
            *_children_conditions(policy, g.ages, g.purpose, p, c, today, postgres, f"{tag}_{i}"),
            *([] if shared else _processing_conditions(g.purpose)),
            sa.true(),
        )
        for i, g in enumerate(groups)
    ]
    if len(groups) == 1 and groups[0].jurisdictions is None:
        conditions.append(per_group[0])
    else:
        # One plain bind per code, never an expanding IN: `eligible_people` runs the statement on the raw cursor.
        whens = [
            (
                sa.or_(
                    *(p.c.jurisdiction == _code(j, f"{tag}_{i}_{k}") for k, j in enumerate(sorted(g.jurisdictions)))
                ),
                cond,
            )
            for i, (g, cond) in enumerate(zip(groups, per_group, strict=True))
            if g.jurisdictions is not None
        ]
        default = [cond for g, cond in zip(groups, per_group, strict=True) if g.jurisdictions is None]
        conditions.append(sa.case(*whens, else_=default[0] if default else sa.false()))
    # On SQLite the consent index (purpose, status, subject_id) already yields subject order, so ordering
    # by that column costs no sort; it equals people.id through the join.
    order = c.c.subject_id if cp.needs_consent and not postgres else p.c.id
    return sa.select(p.c.id).select_from(source).where(*conditions).order_by(order)


def _processing_conditions(cp: CompiledPurpose) -> list[sa.ColumnElement[bool]]:
    """Rules 3 and 6 of `engine.decide`: no closed account and no active objection or restriction, except
    for a legal obligation, which neither stops (DPDP s.8(7); GDPR Art 17(3)(b), 18(2), 21(1))."""
    if cp.legal_ground is LegalGround.LEGAL_OBLIGATION:
        return []
    p = Person.__table__
    r = ProcessingRestriction.__table__
    return [
        p.c.status != "closed",
        ~sa.exists().where(
            r.c.person_id == p.c.id,
            r.c.lifted_at.is_(None),
            sa.or_(r.c.purpose.is_(None), r.c.purpose == cp.id),
        ),
    ]


def _code(jurisdiction: Jurisdiction, tag: str) -> sa.BindParameter[str]:
    return sa.bindparam(f"residence{tag}", jurisdiction.value, type_=sa.String)


def _given(subject_ids: Sequence[str], postgres: bool, tag: str) -> sa.FromClause:
    """A given subject list as a table `given(value)`: `unnest` of one array parameter on PostgreSQL,
    `json_each` of one JSON text on SQLite, never one bind parameter per id."""
    ids = sorted(set(subject_ids))
    if postgres:
        return (
            sa.func.unnest(sa.bindparam(f"ids{tag}", ids, type_=postgresql.ARRAY(sa.String)))
            .table_valued("value")
            .render_derived(name="given")
        )
    return (
        sa.func.json_each(sa.bindparam(f"ids{tag}", json.dumps(ids), type_=sa.String))
        .table_valued("value")
        .alias("given")
    )


def eligible_people(
    session: Session,
    cp: CompiledPurpose,
    *,
    today: date,
    policy: CompiledPolicy,
    subject_ids: Sequence[str] | None = None,
    batch_size: int = 5000,
) -> Iterator[list[str]]:
    """Stream the eligible ids in batches, in id order, inside the session's transaction.

    The compiled statement runs on the driver's own cursor (a named server-side cursor on PostgreSQL):
    at a million rows, building a SQLAlchemy row object per id costs more than the query itself.
    """
    conn = session.connection()
    dialect = conn.dialect
    compiled = audience_query(dialect.name, cp, today=today, policy=policy, subject_ids=subject_ids).compile(
        dialect=dialect
    )
    dbapi = conn.connection.dbapi_connection
    if dbapi is None:  # pragma: no cover - a checked-out connection always has one
        raise RuntimeError("no database connection")
    cursor: Any
    if dialect.name == "postgresql":
        # Keep the sort of a large audience in memory rather than in temporary files.
        conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")
        # The planner prices the EXISTS sub-plans of the children's rules high enough to JIT-compile the
        # query, which took 1.0 s of a 1.2 s audience over 100,000 people (bench/audience.py, "by residence").
        conn.exec_driver_sql("SET LOCAL jit = off")
        cursor = dbapi.cursor(name=f"audience_{secrets.token_hex(6)}")
        cursor.itersize = batch_size
        cursor.execute(str(compiled), compiled.params)
    else:
        cursor = dbapi.cursor()
        cursor.execute(str(compiled), [compiled.params[name] for name in compiled.positiontup or ()])
    try:
        while rows := cursor.fetchmany(batch_size):
            yield [row[0] for row in rows]
    finally:
        cursor.close()
