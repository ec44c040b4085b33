"""A rights request's states and the transitions between them: pure rules, no database, as a value of the
one workflow engine (`workflow.machine`).

received → identity_check → (awaiting_approval, where the policy asks for staff approval) → in_progress →
completed | rejected (with a reason) | cancelled. A request whose identity is already known (a signed-in
session, or an opt-out that needs no verification, CCPA §7026) passes the identity check at receipt.
Extension is not a state: it moves the deadline of an open request, once, with a reason sent to the person
(GDPR Art 12(3); CCPA §1798.130(a)(2)(A)).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from fiduciary.workflow.machine import StateMachine
from fiduciary.workflow.machine import Transition as Rule


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


def _rule(
    transition: Transition, sources: frozenset[State], target: State | None, *, also_to: frozenset[State] = frozenset()
) -> Rule:
    return Rule(transition.value, frozenset(sources), target, also_to=frozenset(also_to))


# The request lifecycle as a value of the one workflow engine every case kind uses (issue 16 item 4): the same
# checks, the same versioned UPDATE (`workflow.versioned.advance`). EXTEND and CONFIRM_STEP leave the state as
# it is; VERIFY goes to work, or to staff approval where the policy asks for it (`after_identity`).
REQUEST_LIFECYCLE: Final = StateMachine(
    name="rights_request",
    initial=State.RECEIVED,
    states=frozenset(State),
    closed=CLOSED,
    transitions={
        rule.name: rule
        for rule in (
            _rule(Transition.ASK_IDENTITY, frozenset({State.RECEIVED}), State.IDENTITY_CHECK),
            _rule(
                Transition.VERIFY,
                frozenset({State.RECEIVED, State.IDENTITY_CHECK}),
                State.IN_PROGRESS,
                also_to=frozenset({State.AWAITING_APPROVAL}),
            ),
            _rule(Transition.APPROVE, frozenset({State.AWAITING_APPROVAL}), State.IN_PROGRESS),
            _rule(Transition.COMPLETE, frozenset({State.IN_PROGRESS}), State.COMPLETED),
            _rule(Transition.REJECT, OPEN, State.REJECTED),
            _rule(Transition.CANCEL, OPEN, State.CANCELLED),
            _rule(Transition.EXTEND, OPEN, None),
            _rule(Transition.CONFIRM_STEP, frozenset({State.IN_PROGRESS}), None),
        )
    },
    noun="request",
    changed_code="request_changed",
    wrong_state_code="request_state_conflict",
)


def after_identity(staff_approval: bool) -> State:
    """Where a request goes once the person is known."""
    return State.AWAITING_APPROVAL if staff_approval else State.IN_PROGRESS
