"""The due listing across everything: open case clocks and open rights requests in one order, paged by a
keyset cursor that neither repeats nor skips, filtered by kind, assignee and horizon."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from cases_support import PROBE, T0
from fiduciary.cases.due import DueFilter, list_due
from fiduciary.cases.workflow import NewCase, assign, get_case, move, open_case
from fiduciary.errors import ValidationFailed
from fiduciary.rights import request_flows
from fiduciary.rights.requests import MadeBy, NewRequest
from fiduciary.runtime import Runtime
from fiduciary.unit_of_work import unit_of_work
from requests_support import person_with_email


def _world(runtime: Runtime, session: Session) -> tuple[list[str], str]:
    uow = unit_of_work(runtime, session)
    ids = []
    for hours in (1, 2, 3):
        case = open_case(
            uow, NewCase(kind=PROBE.name, channel="api", aware_at=T0 - timedelta(hours=hours)), actor="key_a", now=T0
        )
        ids.append(case.id)
    session.commit()
    person = person_with_email(session, runtime)
    row = request_flows.submit(
        runtime,
        session,
        NewRequest(
            kind="access", person_id=person, made_by=MadeBy.STORE, channel="email", verified_by="signed_in_session"
        ),
        actor="key_a",
        now=T0,
    )
    session.commit()
    return ids, row.id


def test_one_ordered_list_of_case_clocks_and_rights_requests(runtime: Runtime, session: Session) -> None:
    ids, request_id = _world(runtime, session)
    page = list_due(session, DueFilter(limit=1000), now=T0 + timedelta(hours=4, minutes=30))
    assert [item.due_at for item in page.items] == sorted(item.due_at for item in page.items)
    assert len(page.items) == 3 * 2 + 1 and page.next_cursor is None
    first = page.items[0]
    assert (first.kind, first.id, first.clock, first.overdue) == ("probe", ids[2], "six_hours", True)
    assert [i.overdue for i in page.items[:3]] == [True, True, False]
    request = page.items[-1]
    assert (request.kind, request.id, request.clock, request.subkind) == ("request", request_id, "respond", "access")


def test_pages_neither_repeat_nor_skip(runtime: Runtime, session: Session) -> None:
    _world(runtime, session)
    everything = list_due(session, DueFilter(limit=1000), now=T0).items
    seen, cursor = [], None
    while True:
        page = list_due(session, DueFilter(limit=2, after=cursor), now=T0)
        seen.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == everything


def test_filters_by_horizon_kind_and_assignee_and_drops_met_clocks(runtime: Runtime, session: Session) -> None:
    ids, _ = _world(runtime, session)
    uow = unit_of_work(runtime, session)
    case = get_case(session, ids[0])
    move(uow, case, "report", actor="ops", now=T0)
    assign(uow, case, "ops.lead", actor="ops", now=T0)
    session.commit()
    soon = list_due(session, DueFilter(within=timedelta(hours=4)), now=T0).items
    assert [(i.id, i.clock) for i in soon] == [(ids[2], "six_hours"), (ids[1], "six_hours")]
    assert {i.kind for i in list_due(session, DueFilter(kind="request"), now=T0).items} == {"request"}
    mine = list_due(session, DueFilter(assigned_to="ops.lead"), now=T0).items
    assert [(i.id, i.clock, i.assigned_to) for i in mine] == [(ids[0], "three_days", "ops.lead")]


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        (DueFilter(limit=0), "limit"),
        (DueFilter(limit=1001), "limit"),
        (DueFilter(within=timedelta(days=-1)), "within"),
        (DueFilter(after="not-a-cursor"), "after"),
    ],
)
def test_bad_listing_input_names_the_field(runtime: Runtime, session: Session, filters: DueFilter, field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        list_due(session, filters, now=T0)
    assert refused.value.fields[0].field == field
