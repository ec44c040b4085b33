"""A rights request's states and the transitions between them: pure rules, no database.

received → identity_check → (awaiting_approval, where the policy asks for staff approval) → in_progress →
completed | rejected (with a reason) | cancelled. A request whose identity is already known (a signed-in
session, or an opt-out that needs no verification, CCPA §7026) passes the identity check at receipt.
Extension is not a state: it moves the deadline of an open request, once, with a reason sent to the person
(GDPR Art 12(3); CCPA §1798.130(a)(2)(A)).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from fiduciary.errors import Conflict, FieldProblem


class State(StrEnum):
    RECEIVED = "received"
    IDENTITY_CHECK = "identity_check"
    AWAITING_APPROVAL = "awaiting_approval"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class Transition(StrEnum):
    """What moves a request; each is one audit event `request.<value>`."""

    ASK_IDENTITY = "ask_identity"
    VERIFY = "verify"
    APPROVE = "approve"
    COMPLETE = "complete"
    REJECT = "reject"
    CANCEL = "cancel"
    EXTEND = "extend"
    CONFIRM_STEP = "confirm_step"


OPEN: Final = frozenset({State.RECEIVED, State.IDENTITY_CHECK, State.AWAITING_APPROVAL, State.IN_PROGRESS})
CLOSED: Final = frozenset({State.COMPLETED, State.REJECTED, State.CANCELLED})

# From which states each transition may start. EXTEND leaves the state as it is.
ALLOWED: Final[Mapping[Transition, frozenset[State]]] = {
    Transition.ASK_IDENTITY: frozenset({State.RECEIVED}),
    Transition.VERIFY: frozenset({State.RECEIVED, State.IDENTITY_CHECK}),
    Transition.APPROVE: frozenset({State.AWAITING_APPROVAL}),
    Transition.COMPLETE: frozenset({State.IN_PROGRESS}),
    Transition.REJECT: OPEN,
    Transition.CANCEL: OPEN,
    Transition.EXTEND: OPEN,
    Transition.CONFIRM_STEP: frozenset({State.IN_PROGRESS}),
}


def after_identity(staff_approval: bool) -> State:
    """Where a request goes once the person is known."""
    return State.AWAITING_APPROVAL if staff_approval else State.IN_PROGRESS


def check_transition(transition: Transition, state: State) -> None:
    """409 naming the state when `transition` cannot start from it (a closed request changes no more)."""
    if state not in ALLOWED[transition]:
        allowed = ", ".join(sorted(s.value for s in ALLOWED[transition]))
        raise Conflict(
            f"A request that is {state.value} cannot be {_past(transition)}.",
            code="request_state_conflict",
            fields=[FieldProblem("state", f"is {state.value}; {transition.value} needs one of: {allowed}")],
        )


def _past(transition: Transition) -> str:
    return {
        Transition.ASK_IDENTITY: "sent to an identity check",
        Transition.VERIFY: "verified",
        Transition.APPROVE: "approved",
        Transition.COMPLETE: "completed",
        Transition.REJECT: "rejected",
        Transition.CANCEL: "cancelled",
        Transition.EXTEND: "extended",
        Transition.CONFIRM_STEP: "confirmed",
    }[transition]
