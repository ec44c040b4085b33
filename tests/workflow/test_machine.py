"""The one state machine: rules checked when built, transitions checked against the state, and the request
lifecycle and every registered case kind are values of it (issue 16 item 4)."""

from __future__ import annotations

import pytest

import fiduciary.cases.breach.kind
import fiduciary.cases.grievance_kind
import fiduciary.cases.vulnerability_kind  # noqa: F401
from fiduciary.cases.kinds import CaseKind, ClockSpec, kind_spec, registered_kinds
from fiduciary.errors import Conflict, ValidationFailed
from fiduciary.rights.states import CLOSED, OPEN, REQUEST_LIFECYCLE, State, Transition
from fiduciary.workflow.machine import StateMachine
from fiduciary.workflow.machine import Transition as Rule

DOOR = StateMachine(
    name="door",
    initial="shut",
    states=frozenset({"shut", "open", "gone"}),
    closed=frozenset({"gone"}),
    transitions={
        "open": Rule("open", frozenset({"shut"}), "open"),
        "knock": Rule("knock", frozenset({"shut", "open"}), None),
        "swing": Rule("swing", frozenset({"shut"}), "open", also_to=frozenset({"gone"})),
        "remove": Rule("remove", frozenset({"shut", "open"}), "gone", needs_reason=True),
    },
    noun="door",
    changed_code="door_changed",
    wrong_state_code="door_stuck",
)


def test_a_transition_leads_to_its_target_or_stays_or_to_a_chosen_other_target() -> None:
    assert DOOR.check("open", "shut")[1] == "open"
    assert DOOR.check("knock", "open")[1] == "open"  # no target: it stays
    assert DOOR.check("swing", "shut")[1] == "open"
    assert DOOR.check("swing", "shut", to="gone")[1] == "gone"
    with pytest.raises(ValueError, match="does not lead to"):
        DOOR.check("open", "shut", to="gone")


def test_a_transition_from_a_state_it_does_not_leave_is_the_machine_s_409() -> None:
    with pytest.raises(Conflict) as stuck:
        DOOR.check("open", "open")
    assert stuck.value.code == "door_stuck"
    (problem,) = stuck.value.fields
    assert problem.field == "state" and "shut" in problem.message
    with pytest.raises(Conflict):
        DOOR.check("knock", "gone")  # a closed row changes no more
    with pytest.raises(ValidationFailed) as unknown:
        DOOR.check("explode", "shut")
    assert unknown.value.fields[0].field == "transition"


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"initial": "ajar"}, "initial and closed"),
        ({"closed": frozenset({"melted"})}, "initial and closed"),
        ({"transitions": {"open": Rule("open", frozenset({"ajar"}), "open")}}, "unknown state"),
        ({"transitions": {"open": Rule("open", frozenset({"shut"}), "ajar")}}, "unknown state"),
        ({"transitions": {"open": Rule("open", frozenset({"shut"}), "open", also_to=frozenset({"x"}))}}, "unknown"),
        ({"transitions": {"open": Rule("shut_it", frozenset({"shut"}), "open")}}, "unknown state"),
        ({"transitions": {"revive": Rule("revive", frozenset({"gone"}), "shut")}}, "leaves a closed state"),
        ({"states": frozenset({"shut", "open", "gone", "Ajar"})}, "is not a name"),
    ],
)
def test_bad_rules_are_refused_when_the_machine_is_built(change: dict[str, object], complaint: str) -> None:
    rules: dict[str, object] = {
        "name": "door",
        "initial": "shut",
        "states": frozenset({"shut", "open", "gone"}),
        "closed": frozenset({"gone"}),
        "transitions": {},
        **change,
    }
    with pytest.raises(ValueError, match=complaint):
        StateMachine(**rules)  # type: ignore[arg-type]


def test_the_request_lifecycle_is_a_machine_of_the_engine() -> None:
    assert REQUEST_LIFECYCLE.states == set(State) and REQUEST_LIFECYCLE.closed == CLOSED
    assert set(REQUEST_LIFECYCLE.transitions) == {t.value for t in Transition}
    assert {s for s in State if REQUEST_LIFECYCLE.is_open(s)} == OPEN
    assert REQUEST_LIFECYCLE.check(Transition.VERIFY, State.IDENTITY_CHECK)[1] == State.IN_PROGRESS
    assert REQUEST_LIFECYCLE.check(Transition.VERIFY, State.RECEIVED, to=State.AWAITING_APPROVAL)[1] == (
        State.AWAITING_APPROVAL
    )
    assert REQUEST_LIFECYCLE.check(Transition.EXTEND, State.AWAITING_APPROVAL)[1] == State.AWAITING_APPROVAL
    for closed in CLOSED:
        for transition in Transition:
            with pytest.raises(Conflict) as refused:
                REQUEST_LIFECYCLE.check(transition, closed)
            assert refused.value.code == "request_state_conflict"


def test_every_case_kind_is_a_machine_of_the_same_engine() -> None:
    assert {"breach", "grievance", "vulnerability"} <= set(registered_kinds())
    for name in registered_kinds():
        kind = kind_spec(name)
        assert isinstance(kind, CaseKind) and isinstance(kind, StateMachine)
        assert kind.changed_code == "case_changed" and kind.wrong_state_code == "wrong_state"


def test_a_case_kind_with_a_clock_naming_an_unknown_transition_is_refused() -> None:
    with pytest.raises(ValueError, match="clock 'answer' names an unknown transition"):
        CaseKind(
            name="probe",
            initial="shut",
            states=frozenset({"shut", "gone"}),
            closed=frozenset({"gone"}),
            transitions={"remove": Rule("remove", frozenset({"shut"}), "gone")},
            clocks=(ClockSpec("answer", lambda _: None, met_by=frozenset({"reply"})),),
        )
