"""Requests that say "stop using my data for this": restriction, objection, withdrawal of consent and the
two opt-outs. Each is done through the consent domain's own rules and records, so a request changes
exactly what the same choice made through `/v1/people/{id}/restrictions` or `/v1/consents` would, and every
decision denies the purposes from the moment the request completes.

- Restriction (GDPR Art 18): `purposes`, absent or empty for every purpose; never a legal obligation
  (Art 18(2)). Objection (GDPR Art 21; DPDP s.7(a) illustration II): at least one purpose, on a ground the
  person can object to where they live. Both are checked at receipt with the consent domain's
  `check_purpose`, and a purpose it refuses is named (`purposes[i]`) before anything is written.
- Withdrawal of consent (DPDP s.6(4), GDPR Art 7(3)): the named consent purposes, or every purpose the
  person granted; each withdrawal is a `consent.withdrawn` event in the consent ledger with its receipt.
- Opt-out of direct marketing (GDPR Art 21(2)-(3), absolute; DPDP s.6(4)): every purpose the policy gives
  `marketing_channels`. Opt-out of sale and sharing (CCPA §1798.120, §1798.135): every purpose flagged
  `sale_or_sharing` or `targeted_advertising` ("sharing" is cross-context behavioural advertising,
  §1798.140(ah)), the purposes a GPC signal covers (`consent.gpc`). A consent purpose is withdrawn in the
  ledger; one on another ground takes an objection (a restriction where no objection is possible), so the
  opt-out holds whatever ground the purpose runs on. A purpose already withdrawn or refused is left as it is.

A closed account is used for nothing but a legal obligation already (`decisions.engine` rule 3), and takes
no new consent record or restriction: such a request completes with nothing to change (`account_closed`).
Purposes the person's residence no longer allows when the request runs (it changed after receipt) are left
alone and listed under `skipped` with the refusal's code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Final

from sqlalchemy.orm import Session

from fiduciary.consent.restrictions import RestrictionKind, add_restriction, check_purpose
from fiduciary.consent.service import ConsentChannel, ConsentInput, ConsentService, state_for
from fiduciary.context import RuntimeContext
from fiduciary.errors import Conflict, FiduciaryError, FieldProblem, ValidationFailed
from fiduciary.people.service import CLOSED, get_person
from fiduciary.policy.compiled import CompiledPolicy, CompiledPurpose
from fiduciary.policy.schema import Jurisdiction, LegalGround, Right
from fiduciary.rights.kind_support import (
    PURPOSES,
    SKIPPED,
    person_at_receipt,
    purposes_param,
    recipients_receiving,
    refuse,
    with_details,
)
from fiduciary.rights.requests import NewRequest
from fiduciary.rights.running import Check, Outcome, Run

ACCOUNT_CLOSED: Final = "account_closed"  # in `details`: the account was closed, nothing was changed
WITHDRAWN: Final = "withdrawn"  # in `details`: the purposes whose consent was withdrawn
RECEIPTS: Final = "receipts"  # in `details`: the consent ledger positions of those withdrawals
STOPPED: Final = "stopped"  # in `details`: {purpose (None: every purpose), kind} objections and restrictions
PROPAGATE_TO: Final = "propagate_to"  # in `details`: recipients to tell (GDPR Art 19)
_SETTLED: Final = frozenset({"withdrawn", "denied"})  # consent states an opt-out leaves as they are
# The request channels the consent ledger names as they are; the rest reach it through the store's backend.
_LEDGER_CHANNELS: Final[Mapping[str, ConsentChannel]] = {
    "privacy_center": ConsentChannel.PRIVACY_CENTER,
    "email_link": ConsentChannel.EMAIL_LINK,
}
_LANGUAGE: Final = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")


# ------------------------------------------------------------------------------ restriction, objection


def _stop_check(kind: RestrictionKind) -> Check:
    def check(runtime: RuntimeContext, session: Session, new: NewRequest, right: Right) -> NewRequest:
        purposes = purposes_param(new.details) or []
        if kind == "objection" and not purposes:
            raise ValidationFailed(
                "Name the purposes objected to.", [FieldProblem(PURPOSES, "name at least one purpose")]
            )
        where = person_at_receipt(runtime, session, new.person_id).residence
        refusals: list[FiduciaryError] = []
        for i, purpose in enumerate(purposes):
            try:
                check_purpose(runtime.policy(), purpose, kind, where, field=f"{PURPOSES}[{i}]")
            except (ValidationFailed, Conflict) as exc:
                refusals.append(exc)
        refuse(f"The {kind} cannot cover these purposes.", refusals)
        return with_details(new, **{PURPOSES: purposes or None})

    return check


def _stop_start(kind: RestrictionKind) -> Callable[[Run], Outcome]:
    def start(run: Run) -> Outcome:
        uow, row = run.uow, run.row
        policy = uow.runtime.policy()
        person = get_person(uow.session, row.person_id)
        if person.status == CLOSED:
            return _closed(run)
        where = policy.residence(person.jurisdiction)
        targets: list[str | None] = list(row.details.get(PURPOSES) or []) or [None]  # None: every purpose
        stopped: list[dict[str, str | None]] = []
        skipped: list[dict[str, str]] = []
        for purpose in targets:
            try:
                check_purpose(policy, purpose, kind, where)
            except (ValidationFailed, Conflict) as exc:
                skipped.append({"purpose": str(purpose), "code": exc.code})
                continue
            add_restriction(uow.session, policy, row.person_id, purpose=purpose, kind=kind, runtime=uow.runtime)
            stopped.append({"purpose": purpose, "kind": kind})
        reached = _stopped_purposes(policy, where, [s["purpose"] for s in stopped])
        told = recipients_receiving(policy, uow.session, row.person_id, purposes=reached)
        _record(run, {STOPPED: stopped, SKIPPED: skipped, PROPAGATE_TO: told})
        return Outcome.DONE

    return start


def _stopped_purposes(policy: CompiledPolicy, where: Jurisdiction | None, purposes: list[str | None]) -> set[str]:
    """The purposes a set of restrictions stops: None stands for every purpose but a legal obligation."""
    if None in purposes:
        return {
            pid for pid, cp in policy.purposes_for(where).items() if cp.legal_ground is not LegalGround.LEGAL_OBLIGATION
        }
    return {p for p in purposes if p is not None}


check_restriction: Final = _stop_check("restriction")
check_objection: Final = _stop_check("objection")
start_restriction: Final = _stop_start("restriction")
start_objection: Final = _stop_start("objection")


# ------------------------------------------------------------------------------------ withdrawal of consent


def check_withdrawal(runtime: RuntimeContext, session: Session, new: NewRequest, right: Right) -> NewRequest:
    """The named purposes must be purposes on consent where the person lives: one on another ground is
    objected to or restricted instead (DPDP s.7(a) illustration II; GDPR Art 18, 21)."""
    purposes = purposes_param(new.details) or []
    policy = runtime.policy()
    where = person_at_receipt(runtime, session, new.person_id).residence
    problems: list[FieldProblem] = []
    for i, purpose in enumerate(purposes):
        compiled = policy.purpose(purpose, where)
        if compiled is None:
            problems.append(FieldProblem(f"{PURPOSES}[{i}]", "is not a purpose of the policy in force"))
        elif not compiled.needs_consent:
            ground = compiled.legal_ground.value
            problems.append(
                FieldProblem(
                    f"{PURPOSES}[{i}]",
                    f"legal ground is {ground}, not consent",
                    "ask for an objection or a restriction of this purpose instead",
                )
            )
    if problems:
        raise ValidationFailed("Only consent can be withdrawn.", problems)
    return with_details(new, **{PURPOSES: purposes or None})


def start_withdrawal(run: Run) -> Outcome:
    """Withdraw the named purposes, or every purpose the person granted (DPDP s.6(4), GDPR Art 7(3))."""
    uow, row = run.uow, run.row
    person = get_person(uow.session, row.person_id)
    if person.status == CLOSED:
        return _closed(run)
    named = list(row.details.get(PURPOSES) or [])
    if not named:
        states = state_for(uow.session, [row.person_id]).get(row.person_id, {})
        named = sorted(p for p, state in states.items() if state.status == "granted")
    where = uow.runtime.policy().residence(person.jurisdiction)
    _stop_each(run, where, named, consent_only=True)
    return Outcome.DONE


# -------------------------------------------------------------------------------------------- opt-outs


def check_opt_out(runtime: RuntimeContext, session: Session, new: NewRequest, right: Right) -> NewRequest:
    """An opt-out covers what the policy says it covers; it names no purposes."""
    if new.details.get(PURPOSES):
        raise ValidationFailed(
            "An opt-out covers every purpose of its kind.",
            [FieldProblem(PURPOSES, "leave it out: the policy says which purposes an opt-out covers")],
        )
    return with_details(new, **{PURPOSES: None})


def _opt_out(covers: Callable[[CompiledPurpose], bool]) -> Callable[[Run], Outcome]:
    def start(run: Run) -> Outcome:
        uow, row = run.uow, run.row
        person = get_person(uow.session, row.person_id)
        if person.status == CLOSED:
            return _closed(run)
        policy = uow.runtime.policy()
        where = policy.residence(person.jurisdiction)
        purposes = sorted(pid for pid, cp in policy.purposes_for(where).items() if covers(cp))
        _stop_each(run, where, purposes, consent_only=False)
        return Outcome.DONE

    return start


# GDPR Art 21(3): direct marketing stops on objection, whatever its ground; DPDP s.6(4) for consent.
start_marketing_opt_out: Final = _opt_out(lambda cp: bool(cp.marketing_channels))
# CCPA §1798.120(a), §1798.135(a)-(c); the purposes GPC covers (11 CCR §7025).
start_sale_sharing_opt_out: Final = _opt_out(lambda cp: cp.sale_or_sharing or cp.targeted_advertising)


# -------------------------------------------------------------------------------------------- shared


def _stop_each(run: Run, where: Jurisdiction | None, purposes: list[str], *, consent_only: bool) -> None:
    """Withdraw the consent purposes among `purposes` in the ledger (one receipt each); object to (or, where
    that is not possible, restrict) the others, unless `consent_only`; record what was done on the request."""
    uow, row = run.uow, run.row
    policy = uow.runtime.policy()
    states = state_for(uow.session, [row.person_id]).get(row.person_id, {})
    consent: list[str] = []
    stopped: list[dict[str, str | None]] = []
    skipped: list[dict[str, str]] = []
    for purpose in purposes:
        compiled = policy.purpose(purpose, where)
        if compiled is None:
            skipped.append({"purpose": purpose, "code": "purpose_not_declared"})
        elif compiled.needs_consent:
            if states.get(purpose) is None or states[purpose].status not in _SETTLED:
                consent.append(purpose)
        elif consent_only:
            skipped.append({"purpose": purpose, "code": "purpose_not_consent_based"})
        else:
            kind = _objection_or_restriction(policy, purpose, where)
            if kind is None:
                skipped.append({"purpose": purpose, "code": "purpose_is_legal_obligation"})
            else:
                add_restriction(uow.session, policy, row.person_id, purpose=purpose, kind=kind, runtime=uow.runtime)
                stopped.append({"purpose": purpose, "kind": kind})
    receipts = _withdraw(run, consent)
    _record(run, {WITHDRAWN: consent, RECEIPTS: receipts, STOPPED: stopped, SKIPPED: skipped})


def _objection_or_restriction(
    policy: CompiledPolicy, purpose: str, where: Jurisdiction | None
) -> RestrictionKind | None:
    kinds: tuple[RestrictionKind, ...] = ("objection", "restriction")
    for kind in kinds:
        try:
            check_purpose(policy, purpose, kind, where)
        except (ValidationFailed, Conflict):
            continue
        return kind
    return None


def _withdraw(run: Run, purposes: list[str]) -> list[int]:
    """One `consent.withdrawn` ledger event per purpose, through the consent service (signed receipts,
    the person's consent state updated in this transaction); their ledger positions."""
    if not purposes:
        return []
    uow, row = run.uow, run.row
    service = ConsentService.for_runtime(uow.runtime)
    channel = _LEDGER_CHANNELS.get(row.channel, ConsentChannel.API)
    language = row.language if row.language and _LANGUAGE.fullmatch(row.language) else None
    language = language or service.policy().document.language
    items = [ConsentInput(row.person_id, purpose, "withdraw", channel, language=language) for purpose in purposes]
    return [result.ledger_position for result in service.record_many(uow.session, items)]


def _closed(run: Run) -> Outcome:
    _record(run, {ACCOUNT_CLOSED: True})
    return Outcome.DONE


def _record(run: Run, values: Mapping[str, object]) -> None:
    run.row.details = {**run.row.details, **{k: v for k, v in values.items() if v not in ([], None)}}
    run.uow.session.flush()
