"""The one state machine of every workflow: rights requests and every kind of case (issue 16 item 4).

A workflow is a `StateMachine` value: its states, which of them close it, and its named transitions, each
from a set of states to a target. Rules are data, so a new kind of case or request lifecycle is a value, not
code; the engine that applies them to a row is `workflow.versioned.advance`, one conditional UPDATE on the
row's version, and the clocks are counted by `workflow.deadlines`. What a machine may not do is checked once,
when it is built: a transition naming an unknown state is a programming error, not a request's 409.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from fiduciary.errors import Conflict, FieldProblem, ValidationFailed

NAME_PATTERN: Final = r"^[a-z][a-z0-9_]{0,31}$"
NAME: Final = re.compile(NAME_PATTERN)


@dataclass(frozen=True)
class Transition:
    """`name` moves a row from one of `sources` to `target` (None: it stays where it is, e.g. a deadline
    extended or a report sent while the case stays open). `also_to`: other targets the caller may choose
    (a verified request goes to staff approval or straight to work, as the policy says). `needs_reason`:
    refused without a reason code (a closure)."""

    name: str
    sources: frozenset[str]
    target: str | None
    needs_reason: bool = False
    also_to: frozenset[str] = frozenset()

    def targets(self) -> frozenset[str]:
        return self.also_to | ({self.target} if self.target is not None else set())


@dataclass(frozen=True)
class StateMachine:
    """A workflow's rules. `noun` names what moves in messages ("request", "case"); `changed_code` and
    `wrong_state_code` are the problem codes of its 409s, kept per workflow because clients match on them."""

    name: str
    initial: str
    states: frozenset[str]
    closed: frozenset[str]  # states that end the workflow: no transition leaves them
    transitions: Mapping[str, Transition]
    noun: str = "case"
    changed_code: str = "case_changed"
    wrong_state_code: str = "wrong_state"

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ValueError(f"workflow {self.name!r}: " + "; ".join(problems))

    def problems(self) -> list[str]:
        """What is wrong with the rules; a subclass adds its own (a case kind's clocks)."""
        problems: list[str] = []
        for name in (self.name, *self.states, *self.transitions):
            if not NAME.fullmatch(name):
                problems.append(f"{name!r} is not a name (a-z, 0-9, '_', at most 32)")
        if self.initial not in self.states or not self.closed <= self.states:
            problems.append("the initial and closed states must be among the states")
        for key, t in self.transitions.items():
            if key != t.name or not t.sources <= self.states or not t.targets() <= self.states:
                problems.append(f"transition {key!r} names an unknown state")
            if t.sources & self.closed:
                problems.append(f"transition {key!r} leaves a closed state")
        return problems

    def transition(self, name: str, field_name: str = "transition") -> Transition:
        """The named transition, or 422 naming `field_name` with the ones there are."""
        found = self.transitions.get(name)
        if found is None:
            offered = ", ".join(sorted(self.transitions))
            raise ValidationFailed(
                "Unknown transition.", [FieldProblem(field_name, f"not a transition of this {self.noun}", offered)]
            )
        return found

    def is_open(self, state: str) -> bool:
        return state not in self.closed

    def check(self, transition: str, state: str, to: str | None = None) -> tuple[Transition, str]:
        """(the transition, the state it leads to) from `state`, or 409 `wrong_state_code` when it does not
        leave that state (a closed row changes no more). `to` picks one of its other targets."""
        spec = self.transition(transition)
        if state not in spec.sources:
            allowed = ", ".join(sorted(spec.sources))
            raise Conflict(
                f"A {self.noun} in state {state} cannot be moved by {transition}.",
                code=self.wrong_state_code,
                fields=[FieldProblem("state", f"is {state}; {transition} needs one of: {allowed}")],
            )
        target = (spec.target or state) if to is None else to
        if to is not None and to not in spec.targets():
            raise ValueError(f"{transition} does not lead to {to}")  # a programming error: targets are data
        return spec, target
