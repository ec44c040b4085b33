"""What a kind of case is: its states, its transitions and its clocks, and the registry of kinds.

One workflow engine serves every kind of case and the rights requests (`workflow`): a kind is a `CaseKind`, a
`workflow.machine.StateMachine` with clocks, registered here, so a new kind of case (a grievance, a
vulnerability report, a breach) is one small module: its spec, its messages and its routes, not a second
state machine or deadline engine (issue 16 item 4).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from fiduciary.errors import FieldProblem, ValidationFailed
from fiduciary.policy.duration import Duration
from fiduciary.policy.schema import PolicyDocument
from fiduciary.workflow.machine import NAME, StateMachine


@dataclass(frozen=True)
class ClockSpec:
    """One deadline of a kind.

    - `within`: its length from the policy (None when the policy sets none: no clock, e.g. CERT-In outside
      India);
    - `starts_on`: the transition that starts it; None: it starts when the case is opened;
    - `from_aware`: counted from the case's `aware_at` rather than the moment it starts (a breach's clocks all
      run from the moment of awareness: DPDP Rule 7(2)(b), CERT-In Directions 2022 (ii), GDPR Art 33(1));
    - `met_by`: the transitions that answer it (a closure that is not among them stops it instead);
    - `escalate_before`: how long before its end it becomes due soon (None: a quarter of its length for a
      clock in hours or minutes, the last 3 business days otherwise).
    """

    name: str
    within: Callable[[PolicyDocument], Duration | None]
    met_by: frozenset[str]
    starts_on: str | None = None
    from_aware: bool = False
    escalate_before: Duration | None = None


@dataclass(frozen=True)
class CaseKind(StateMachine):
    """A kind of case: a state machine of the one workflow engine, with its clocks and closure reasons."""

    clocks: tuple[ClockSpec, ...] = ()
    reasons: frozenset[str] = frozenset()  # the outcome codes a closure may give

    def problems(self) -> list[str]:
        problems = super().problems()
        for clock in self.clocks:
            if not NAME.fullmatch(clock.name):
                problems.append(f"{clock.name!r} is not a name (a-z, 0-9, '_', at most 32)")
            if not clock.met_by <= set(self.transitions) or (
                clock.starts_on is not None and clock.starts_on not in self.transitions
            ):
                problems.append(f"clock {clock.name!r} names an unknown transition")
        return problems


_KINDS: dict[str, CaseKind] = {}
_GUARD = threading.Lock()


def register_kind(kind: CaseKind) -> CaseKind:
    """Register a kind of case (re-registering the same spec is a no-op; another spec under a taken name is a
    programming error)."""
    with _GUARD:
        found = _KINDS.get(kind.name)
        if found is not None and found != kind:
            raise ValueError(f"case kind {kind.name!r} is already registered")
        _KINDS[kind.name] = kind
    return kind


def kind_spec(name: str, field_name: str = "kind") -> CaseKind:
    with _GUARD:
        found = _KINDS.get(name)
    if found is None:
        raise ValidationFailed(
            "Unknown kind of case.", [FieldProblem(field_name, "no such kind of case", ", ".join(registered_kinds()))]
        )
    return found


def registered_kinds() -> list[str]:
    with _GUARD:
        return sorted(_KINDS)
