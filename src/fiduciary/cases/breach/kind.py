"""The breach kind of case: one state machine on the cases core, four clocks from the moment of awareness.

Every clock starts at the case's `aware_at` and they run in parallel (`cases.clocks`, counted with
`rights.deadlines.due_after`: hours on the clock, so a change to or from summer time neither stretches nor
shortens "72 hours"). Each is met by a recorded step:

- `cert_in` (CERT-In Directions 2022, direction (ii): 6 hours from noticing; only where the policy sets it):
  met by `report_cert_in`, or by `cert_in_not_needed` when triage finds the incident is not of a listed type;
- `authority_initial` (DPDP Rule 7(2)(a): the Board "without delay"; GDPR Art 33(1)): met by
  `inform_authority` or by the detailed report if it goes first;
- `authority_detailed` (DPDP Rule 7(2)(b): 72 hours): met by `send_detailed_report`;
- `notify_people` (DPDP s.8(6), Rule 7(1): every affected person "without delay"; GDPR Art 34): met by
  `notify_people`, recorded when the last batch of messages is queued (or by staff who told people another way).

A step met at its clock's last instant is on time (`on_time`): a report at the 72nd hour exactly is in time.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Final

from fiduciary.cases.kinds import CaseKind, ClockSpec, register_kind
from fiduciary.cases.models import CaseClock
from fiduciary.policy.duration import Duration
from fiduciary.policy.schema import PolicyDocument
from fiduciary.workflow.machine import Transition

KIND: Final = "breach"
OPEN: Final = "open"
CLOSED: Final = "closed"
CLOSE_REASONS: Final = frozenset({"resolved", "not_a_breach", "duplicate"})


class BreachClock(StrEnum):
    CERT_IN = "cert_in"
    AUTHORITY_INITIAL = "authority_initial"
    AUTHORITY_DETAILED = "authority_detailed"
    NOTIFY_PEOPLE = "notify_people"


class BreachStep(StrEnum):
    """The transitions of a breach (each audited as `case.breach.<step>`)."""

    REPORT_CERT_IN = "report_cert_in"
    CERT_IN_NOT_NEEDED = "cert_in_not_needed"
    INFORM_AUTHORITY = "inform_authority"
    SEND_DETAILED_REPORT = "send_detailed_report"
    NOTIFY_PEOPLE = "notify_people"
    UPDATE = "update"  # facts filled in later (consequences, measures…)
    SELECT_AFFECTED = "select_affected"  # people added to the set to tell
    CLOSE = "close"


# The steps staff record by hand (`POST /v1/breaches/{id}/steps`); the others have their own operations.
RECORDED_STEPS: Final = (
    BreachStep.REPORT_CERT_IN,
    BreachStep.CERT_IN_NOT_NEEDED,
    BreachStep.INFORM_AUTHORITY,
    BreachStep.SEND_DETAILED_REPORT,
    BreachStep.NOTIFY_PEOPLE,
)


def _cert_in(document: PolicyDocument) -> Duration | None:
    return document.cases.breach.cert_in  # CERT-In Directions 2022, direction (ii): 6 hours


def _authority_initial(document: PolicyDocument) -> Duration:
    return document.cases.breach.authority_initial  # DPDP Rule 7(2)(a); GDPR Art 33(1)


def _authority_detailed(document: PolicyDocument) -> Duration:
    return document.cases.breach.authority_detailed  # DPDP Rule 7(2)(b): within 72 hours


def _notify_people(document: PolicyDocument) -> Duration:
    return document.cases.breach.notify_people  # DPDP s.8(6), Rule 7(1): without delay


def _stays_open(step: BreachStep) -> Transition:
    return Transition(step.value, frozenset({OPEN}), None)


BREACH: Final = register_kind(
    CaseKind(
        name=KIND,
        initial=OPEN,
        states=frozenset({OPEN, CLOSED}),
        closed=frozenset({CLOSED}),
        transitions={
            **{s.value: _stays_open(s) for s in BreachStep if s is not BreachStep.CLOSE},
            "close": Transition("close", frozenset({OPEN}), CLOSED, needs_reason=True),
        },
        clocks=(
            ClockSpec(
                BreachClock.CERT_IN.value,
                _cert_in,
                frozenset({BreachStep.REPORT_CERT_IN.value, BreachStep.CERT_IN_NOT_NEEDED.value}),
                from_aware=True,
            ),
            ClockSpec(
                BreachClock.AUTHORITY_INITIAL.value,
                _authority_initial,
                frozenset({BreachStep.INFORM_AUTHORITY.value, BreachStep.SEND_DETAILED_REPORT.value}),
                from_aware=True,
            ),
            ClockSpec(
                BreachClock.AUTHORITY_DETAILED.value,
                _authority_detailed,
                frozenset({BreachStep.SEND_DETAILED_REPORT.value}),
                from_aware=True,
            ),
            ClockSpec(
                BreachClock.NOTIFY_PEOPLE.value,
                _notify_people,
                frozenset({BreachStep.NOTIFY_PEOPLE.value}),
                from_aware=True,
            ),
        ),
        reasons=CLOSE_REASONS,
    )
)


class ClockState(StrEnum):
    RUNNING = "running"  # not met, not yet past its end
    OVERDUE = "overdue"  # not met and past its end
    MET = "met"  # met by its last instant
    MET_LATE = "met_late"  # met after its end (DPDP Rule 7(2)(b): longer only on the Board's written leave)
    STOPPED = "stopped"  # the incident was closed before it was met


def on_time(due_at: datetime, met_at: datetime) -> bool:
    """Met by its last instant: the end itself is on time (the 6th hour exactly, the 72nd hour exactly)."""
    return met_at <= due_at


def clock_state(clock: CaseClock, now: datetime) -> ClockState:
    if clock.met_at is not None:
        return ClockState.MET if on_time(clock.due_at, clock.met_at) else ClockState.MET_LATE
    if clock.stopped_at is not None:
        return ClockState.STOPPED
    return ClockState.RUNNING if now <= clock.due_at else ClockState.OVERDUE
