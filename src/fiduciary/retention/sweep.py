"""The retention sweep (issue 15 item 1): delete or anonymise what the planner finds due, in batches,
resumable after a crash, idempotent, each batch one audit event.

A run is a row in `retention_runs` holding the instant it measures due dates against and a cursor (the last
person id a committed batch reached). One batch is one transaction over the next window of people (by id):
find their due rows in every group of categories (the planner's statement, so a staff hold placed meanwhile
is respected), delete them (an anonymising rule first stages its generalised counts), advance the cursor,
write one audit event (`retention.sweep`: rules, categories and counts, never a value) and a
`retention_batches` row per rule with that event's ledger position, and commit. Killed at any point
(kill -9), the transaction in flight rolls back and the next `run` resumes the unfinished run from its last
cursor: a row is deleted at most once, and a held row never. When every window is done, the anonymised
counts are settled (k-anonymity, `anonymise.settle`), legal-hold records past their purge date are purged
(DPDP Rule 8(3); GDPR Art 17(3)(b)), and the run is marked finished.

Where a rule requires approval (`approval_required`), its rows go only in a run of a plan an admin approved
(`approve_plan`); that run measures due dates at the plan's instant, so exactly what was approved goes (less
what a hold now keeps). A run without an approved plan leaves those rules' rows for later.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.audit.service import AuditEvent
from fiduciary.context import RuntimeContext
from fiduciary.errors import Conflict, NotFound
from fiduciary.people.service import new_id
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.schema import RetentionAction
from fiduciary.retention import anonymise
from fiduciary.retention.models import RetentionBatch, RetentionPlan, RetentionRun
from fiduciary.retention.planner import Plan, acting_groups, deciding_rule, due_rows, plan
from fiduciary.retention.rules import FIELDS, PEOPLE, CategoryGroup
from fiduciary.storage.base import utcnow
from fiduciary.storage.ids import IDS, bind_integer_ids, dialect_of, ids_in, per_dialect
from fiduciary.unit_of_work import unit_of_work
from fiduciary.vault.keys.data_keys import PersonErased
from fiduciary.vault.legal_holds import purge_legal_holds
from fiduciary.vault.service import VaultService

BATCH: Final = 10_000  # people per window: one transaction, one audit event when anything went
SYSTEM_ACTOR: Final = "fiduciary"
PLAN_TTL_DAYS: Final = 30  # an approved plan older than this is stale: plan and approve again


def save_plan(
    runtime: RuntimeContext, session: Session, *, actor: str, now: datetime | None = None
) -> tuple[str, Plan]:
    """Compute a plan and keep it, so an admin can approve exactly it (audited `retention.plan`); returns its
    id and the plan. The caller commits."""
    result = plan(session, runtime.policy(), now=now)
    plan_id = new_id("rplan")
    session.add(
        RetentionPlan(
            id=plan_id,
            policy_hash=result.policy_hash,
            planned_at=result.now,
            summary=result.to_dict()["rules"],
        )
    )
    session.flush()
    unit_of_work(runtime, session).audit(
        AuditEvent(actor=actor, action="retention.plan", target=plan_id, count=sum(r.fields for r in result.rules))
    )
    return plan_id, result


def approve_plan(runtime: RuntimeContext, session: Session, *, actor: str, plan_id: str) -> RetentionPlan:
    """Record an admin's approval of a saved plan (audited `retention.approve`); the caller commits."""
    row = session.get(RetentionPlan, plan_id) if isinstance(plan_id, str) and len(plan_id) <= 40 else None
    if row is None:
        raise NotFound("No retention plan has this id.", code="plan_not_found")
    if row.approved_at is not None:
        raise Conflict("The plan was already approved.", code="plan_approved")
    if row.policy_hash != runtime.policy().content_hash:
        raise Conflict("The policy changed since this plan was made; plan again.", code="plan_stale")
    row.approved_by, row.approved_at = actor, utcnow()
    session.flush()
    unit_of_work(runtime, session).audit(AuditEvent(actor=actor, action="retention.approve", target=plan_id))
    return row


@dataclass
class RunReport:
    run_id: str
    plan_id: str | None
    now: datetime
    resumed: bool
    batches: list[dict[str, Any]] = field(default_factory=list)  # per batch and rule: counts, ledger position
    anonymised: list[dict[str, Any]] = field(default_factory=list)
    legal_hold_records_purged: int = 0
    waiting_for_approval: list[str] = field(default_factory=list)

    def per_rule(self) -> dict[str, dict[str, Any]]:
        rules: dict[str, dict[str, Any]] = {}
        for b in self.batches:
            entry = rules.setdefault(b["rule"], {"action": b["action"], "people": 0, "fields": 0, "batches": []})
            entry["people"] += b["people"]
            entry["fields"] += b["fields"]
            entry["batches"].append({"seq": b["seq"], "fields": b["fields"], "ledger_position": b["ledger_position"]})
        return rules

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "plan_id": self.plan_id,
            "now": self.now.isoformat(),
            "resumed": self.resumed,
            "rules": self.per_rule(),
            "anonymised": self.anonymised,
            "legal_hold_records_purged": self.legal_hold_records_purged,
            "waiting_for_approval": self.waiting_for_approval,
        }


def _approved(session: Session, plan_id: str | None, policy: CompiledPolicy) -> RetentionPlan | None:
    if plan_id is None:
        return None
    row = session.get(RetentionPlan, plan_id) if len(plan_id) <= 40 else None
    if row is None:
        raise NotFound("No retention plan has this id.", code="plan_not_found")
    if row.approved_at is None:
        raise Conflict("Only a plan an admin approved runs: `fiduciary retention approve`.", code="plan_not_approved")
    if row.policy_hash != policy.content_hash:
        raise Conflict("The policy changed since this plan was approved; plan again.", code="plan_stale")
    if (utcnow() - row.planned_at).days > PLAN_TTL_DAYS:
        raise Conflict(f"The plan is more than {PLAN_TTL_DAYS} days old; plan again.", code="plan_stale")
    return row


def _open_run(session: Session, actor: str, plan_row: RetentionPlan | None, now: datetime) -> tuple[RetentionRun, bool]:
    """The unfinished run to resume (the same plan, or no plan), or a new one."""
    unfinished = session.scalars(
        sa.select(RetentionRun).where(RetentionRun.finished_at.is_(None)).order_by(RetentionRun.started_at)
    ).first()
    plan_id = plan_row.id if plan_row is not None else None
    if unfinished is not None:
        if unfinished.plan_id != plan_id:
            raise Conflict(
                f"Run {unfinished.id} is unfinished; finish it first (`fiduciary retention run"
                + (f" --plan {unfinished.plan_id}" if unfinished.plan_id else "")
                + "`).",
                code="run_unfinished",
            )
        return unfinished, True
    run = RetentionRun(
        id=new_id("rrun"),
        plan_id=plan_id,
        actor=actor,
        started_at=utcnow(),
        now=plan_row.planned_at if plan_row is not None else now,
        cursor={},
    )
    session.add(run)
    session.commit()
    return run, False


def _needing_approval(policy: CompiledPolicy, approved: bool) -> list[str]:
    return [] if approved else [r.id for r in policy.document.retention if r.approval_required]


def run_sweep(
    runtime: RuntimeContext,
    *,
    actor: str = SYSTEM_ACTOR,
    plan_id: str | None = None,
    batch_size: int = BATCH,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
    max_batches: int | None = None,
) -> RunReport:
    """Run (or resume) the sweep to the end; `progress` is told how many people each window covered.
    `max_batches` stops early, leaving the run to resume (tests)."""
    policy = runtime.policy()
    with runtime.sessions() as session:
        plan_row = _approved(session, plan_id, policy)
        run, resumed = _open_run(session, actor, plan_row, now or datetime.now(UTC))
        report = RunReport(run.id, run.plan_id, run.now, resumed)
        report.waiting_for_approval = _needing_approval(policy, plan_row is not None)
        groups = acting_groups(policy, run.now)
        statement = window_statement(groups, run.now.date(), report.waiting_for_approval)
        done = 0
        while not run.cursor.get("done"):
            if max_batches is not None and done >= max_batches:
                return report
            scanned = _batch(runtime, session, run, groups, statement, report, batch_size)
            done += 1
            if progress is not None and scanned:
                progress(scanned)
        _finish(runtime, session, run, policy, report)
        report.batches = report_of(session, run.id).batches  # every batch, those of a crashed attempt too
    return report


def _window(session: Session, after: str, size: int) -> tuple[str | None, int]:
    """The last person id of the next window of up to `size` people after `after`, and about how many it
    holds (one index probe: the window's ids themselves are never fetched)."""
    people = PEOPLE.c.id
    last = session.scalar(sa.select(people).where(people > after).order_by(people).offset(size - 1).limit(1))
    if last is not None:
        return last, size
    last = session.scalar(sa.select(sa.func.max(people)).where(people > after))
    if last is None:
        return None, 0
    return last, int(session.scalar(sa.select(sa.func.count()).where(people > after)) or 0)


_ID, _PERSON, _CATEGORY, _RULE = range(4)  # the columns of `window_statement`, read by position (C speed)


def window_statement(groups: Sequence[CategoryGroup], today: date, skip_rules: Collection[str]) -> Any | None:
    """One statement for the due rows of every group in the window of person ids (:after, :last]: the
    planner's per-group statements under UNION ALL, built once per run (only the window's bounds change, so
    each window is one round trip and no statement is rebuilt). Columns: id, person_id, category, rule."""
    window = (sa.bindparam("after", type_=sa.String), sa.bindparam("last", type_=sa.String))
    shared: dict[str, Any] = {}
    parts = [
        due_rows(
            group,
            today,
            FIELDS.c.id.label("id"),
            FIELDS.c.person_id.label("person_id"),
            FIELDS.c.category.label("category"),
            deciding_rule(group).label("rule"),
            skip_rules=skip_rules,
            window=window,
            shared=shared,
        )
        for group in groups
    ]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else sa.union_all(*parts)


def _batch(
    runtime: RuntimeContext,
    session: Session,
    run: RetentionRun,
    groups: Sequence[CategoryGroup],
    statement: Any | None,
    report: RunReport,
    size: int,
) -> int:
    """One transaction over the next window of people: their due rows in every group (`statement`, from
    `window_statement`), anonymised counts staged, deleted, audited, the cursor advanced. Returns how many
    people the window held."""
    after = str(run.cursor.get("after", ""))
    last, scanned = _window(session, after, size)
    if last is None:
        run.cursor = {**run.cursor, "done": True}
        session.commit()
        return 0
    rows: Sequence[Any] = ()
    if statement is not None:
        rows = session.execute(statement, {"after": after, "last": last}).all()
    if rows:
        _apply(runtime, session, run, groups, rows, report)
    run.cursor = {"after": last}
    session.commit()
    return scanned


def _apply(
    runtime: RuntimeContext,
    session: Session,
    run: RetentionRun,
    groups: Sequence[CategoryGroup],
    rows: Sequence[Any],
    report: RunReport,
) -> None:
    """Anonymise (stage the counts first, while the values are still readable), delete, audit: one event."""
    by_rule: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        by_rule[row[_RULE]].append(row)
    rules = {r.id: r for g in groups for r in g.rules}
    for rule_id, chosen in sorted(by_rule.items()):
        if rules[rule_id].action is RetentionAction.ANONYMISE:
            _stage(runtime, session, run.id, rules[rule_id].rule, chosen)
    _delete(session, sorted(map(itemgetter(_ID), rows)))
    seq = _next_seq(session, run.id)
    uow = unit_of_work(runtime, session)
    uow.audit(
        AuditEvent(
            actor=run.actor,
            action="retention.sweep",
            target=run.id,
            reasons=sorted(by_rule),
            categories=sorted(set(map(itemgetter(_CATEGORY), rows))),
            count=len(rows),
        )
    )
    position = uow.flush()[0].position
    now = utcnow()
    for rule_id, chosen in sorted(by_rule.items()):
        entry = {
            "run_id": run.id,
            "seq": seq,
            "rule": rule_id,
            "action": rules[rule_id].action.value,
            "people": len(set(map(itemgetter(_PERSON), chosen))),
            "fields": len(chosen),
            "ledger_position": position,
            "at": now,
        }
        session.execute(sa.insert(RetentionBatch), [entry])
        report.batches.append({k: v for k, v in entry.items() if k not in ("run_id", "at")})


def _next_seq(session: Session, run_id: str) -> int:
    last = session.scalar(sa.select(sa.func.max(RetentionBatch.seq)).where(RetentionBatch.run_id == run_id))
    return int(last or 0) + 1


@per_dialect
def _delete_statement(dialect: str) -> sa.Delete:
    return sa.delete(FIELDS).where(ids_in(FIELDS.c.id, dialect, integers=True))


def _delete(session: Session, ids: Sequence[int]) -> None:
    """Delete the rows with these ids: one statement, the ids bound as one parameter (`storage.ids`)."""
    dialect = dialect_of(session)
    session.execute(_delete_statement(dialect), {IDS: bind_integer_ids(ids, dialect)})


def _stage(runtime: RuntimeContext, session: Session, run_id: str, rule: Any, rows: Sequence[Any]) -> None:
    """Read and generalise the kept quasi-identifiers of the people whose anchor value goes in this batch."""
    anchor = anonymise.anchor(rule)
    people = sorted({r.person_id for r in rows if r.category == anchor})
    kept = [q.category for q in anonymise.spec_of(rule).keep]
    vault = VaultService(runtime)
    combinations = []
    for person_id in people:
        try:
            values = vault.get_fields(session, person_id, kept) if kept else {}
        except PersonErased:
            continue
        combinations.append(anonymise.combination(rule, values))
    anonymise.stage(session, run_id, rule.id, combinations)


def _finish(
    runtime: RuntimeContext, session: Session, run: RetentionRun, policy: CompiledPolicy, report: RunReport
) -> None:
    for rule in policy.document.retention:
        if rule.action is RetentionAction.ANONYMISE:
            settled = anonymise.settle(session, run.id, rule)
            if settled.people_kept or settled.people_suppressed:
                report.anonymised.append(settled.__dict__)
    purged = 0
    while True:
        count = purge_legal_holds(session, today=run.now.date())
        purged += count
        if count == 0:
            break
        session.commit()
    report.legal_hold_records_purged = purged
    run.finished_at = utcnow()
    unit_of_work(runtime, session).audit(
        AuditEvent(actor=run.actor, action="retention.finish", target=run.id, count=purged)
    )
    session.commit()


def report_of(session: Session, run_id: str) -> RunReport:
    """A finished or unfinished run's proof report, rebuilt from its batches (per rule: counts and the ledger
    position of each batch)."""
    run = session.get(RetentionRun, run_id) if isinstance(run_id, str) and len(run_id) <= 40 else None
    if run is None:
        raise NotFound("No retention run has this id.", code="run_not_found")
    report = RunReport(run.id, run.plan_id, run.now, resumed=False)
    for b in session.scalars(
        sa.select(RetentionBatch)
        .where(RetentionBatch.run_id == run_id)
        .order_by(RetentionBatch.seq, RetentionBatch.rule)
    ):
        report.batches.append(
            {
                "seq": b.seq,
                "rule": b.rule,
                "action": b.action,
                "people": b.people,
                "fields": b.fields,
                "ledger_position": b.ledger_position,
            }
        )
    return report
