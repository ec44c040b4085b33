"""The grievance kind of case: its states, transitions and two clocks from the policy's `cases.grievance`.

- acknowledge: `acknowledge_within` from receipt (IT Rules 2021 Rule 3(2)(a)(i): within 24 hours for an
  intermediary); met by the acknowledgement, or by a closure that answers first;
- resolve: `resolve_within` from receipt (DPDP Rule 14(3): at most 90 days, refused above that by the
  policy check `grievance_deadline`; IT Rules 2021 Rule 3(2)(a)(i): 15 days for an intermediary); met by the
  closure.
"""

from __future__ import annotations

from typing import Final

from fiduciary.cases.kinds import CaseKind, ClockSpec, register_kind
from fiduciary.policy.duration import Duration
from fiduciary.policy.schema import PolicyDocument
from fiduciary.workflow.machine import Transition

KIND: Final = "grievance"
RECEIVED: Final = "received"
ACKNOWLEDGED: Final = "acknowledged"
CLOSED: Final = "closed"
CLOSE_REASONS: Final = frozenset({"resolved", "not_upheld", "duplicate", "withdrawn", "no_response", "out_of_scope"})


def _acknowledge_within(document: PolicyDocument) -> Duration:
    return document.cases.grievance.acknowledge_within


def _resolve_within(document: PolicyDocument) -> Duration:
    return document.cases.grievance.resolve_within


GRIEVANCE: Final = register_kind(
    CaseKind(
        name=KIND,
        initial=RECEIVED,
        states=frozenset({RECEIVED, ACKNOWLEDGED, CLOSED}),
        closed=frozenset({CLOSED}),
        transitions={
            "acknowledge": Transition("acknowledge", frozenset({RECEIVED}), ACKNOWLEDGED),
            "close": Transition("close", frozenset({RECEIVED, ACKNOWLEDGED}), CLOSED, needs_reason=True),
        },
        clocks=(
            ClockSpec("acknowledge", _acknowledge_within, met_by=frozenset({"acknowledge", "close"})),
            ClockSpec("resolve", _resolve_within, met_by=frozenset({"close"})),
        ),
        reasons=CLOSE_REASONS,
    )
)
