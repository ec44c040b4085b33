"""Visitor → person linking: newer wins, history kept, children protected, idempotent, conflicts refused."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from consent_support import adult, api_headers, child, item, ledger_length, snapshot
from fiduciary.consent.linking import link_visitor
from fiduciary.consent.service import ConsentChannel, ConsentService, state_for
from fiduciary.errors import Conflict, NotFound, ValidationFailed
from fiduciary.people.service import close_person, new_visitor_id
from fiduciary.runtime import Runtime


def test_link_copies_where_visitor_is_newer(session: Session, runtime: Runtime) -> None:
    service = ConsentService.for_runtime(runtime)
    person = adult(session, runtime)
    visitor = new_visitor_id()
    banner = ConsentChannel.BANNER
    service.record(session, item(person, "analytics", "grant"))  # 1: person, older than the visitor's choice
    service.record(session, item(visitor, "analytics", "deny", channel=banner))  # 2
    service.record(session, item(visitor, "marketing.email", "grant", channel=banner))  # 3
    service.record(session, item(visitor, "personalised_ads", "grant", channel=banner))  # 4: older than 5
    service.record(session, item(person, "personalised_ads", "withdraw"))  # 5: person, newer
    session.commit()
    result = link_visitor(service, session, person, visitor)
    session.commit()
    assert result.created and result.copied == ("analytics", "marketing.email")
    state = state_for(session, [person, visitor])
    assert state[person]["analytics"].status == "denied" and state[person]["analytics"].ledger_position == 2
    assert state[person]["analytics"].channel == "banner"  # the source shows in channel and position
    assert state[person]["marketing.email"].ledger_position == 3
    assert state[person]["personalised_ads"].status == "withdrawn"  # the person's newer choice wins
    assert set(state[visitor]) == {"analytics", "marketing.email", "personalised_ads"}  # history kept
    assert ledger_length(session) == 6  # five choices and one consent.linked event


def test_link_is_idempotent_and_exclusive(session: Session, runtime: Runtime) -> None:
    service = ConsentService.for_runtime(runtime)
    person, other = adult(session, runtime), adult(session, runtime)
    visitor = new_visitor_id()
    link_visitor(service, session, person, visitor)
    session.commit()
    before = snapshot(session)
    again = link_visitor(service, session, person, visitor)
    assert not again.created and again.ledger_position is None
    with pytest.raises(Conflict) as caught:
        link_visitor(service, session, other, visitor)
    session.rollback()
    assert caught.value.code == "visitor_already_linked"
    assert snapshot(session) == before


def test_link_bad_inputs_change_nothing(session: Session, runtime: Runtime) -> None:
    service = ConsentService.for_runtime(runtime)
    person = adult(session, runtime)
    closed = adult(session, runtime)
    close_person(session, closed)
    session.commit()
    before = snapshot(session)
    with pytest.raises(ValidationFailed):
        link_visitor(service, session, person, "vis_bad")
    with pytest.raises(ValidationFailed):
        link_visitor(service, session, person, "per_" + "a" * 26)
    with pytest.raises(ValidationFailed):
        link_visitor(service, session, "nope", new_visitor_id())
    with pytest.raises(NotFound):
        link_visitor(service, session, "per_" + "a" * 26, new_visitor_id())
    with pytest.raises(Conflict):
        link_visitor(service, session, closed, new_visitor_id())
    session.rollback()
    assert snapshot(session) == before


def test_child_gets_no_grant_from_a_visitor(session: Session, runtime: Runtime) -> None:
    service = ConsentService.for_runtime(runtime)
    kid = child(session, runtime)
    visitor = new_visitor_id()
    service.record(session, item(visitor, "marketing.email", "grant", channel=ConsentChannel.BANNER))
    service.record(session, item(visitor, "analytics", "deny", channel=ConsentChannel.BANNER))
    session.commit()
    result = link_visitor(service, session, kid, visitor)
    session.commit()
    assert result.copied == ("analytics",)
    assert set(state_for(session, [kid])[kid]) == {"analytics"}


def test_later_withdrawal_by_linked_visitor_reaches_person_but_grant_does_not(
    session: Session, runtime: Runtime
) -> None:
    service = ConsentService.for_runtime(runtime)
    person = adult(session, runtime)
    visitor = new_visitor_id()
    service.record(session, item(person, "marketing.email", "grant"))
    link_visitor(service, session, person, visitor)
    service.record(session, item(visitor, "marketing.email", "withdraw", channel=ConsentChannel.BANNER))
    service.record(session, item(visitor, "analytics", "grant", channel=ConsentChannel.BANNER))
    session.commit()
    state = state_for(session, [person])[person]
    assert state["marketing.email"].status == "withdrawn"
    assert "analytics" not in state


def test_link_over_http(client: TestClient, session: Session, runtime: Runtime) -> None:
    headers = api_headers(session)
    person = adult(session, runtime)
    visitor = client.post(
        "/v1/banner/consents",
        json={"actions": [{"purpose": "marketing.email", "action": "grant"}]},
        headers={"Origin": "https://saffronlane.example"},
    ).json()["visitor_id"]
    answer = client.post(f"/v1/people/{person}/link-visitor", json={"visitor_id": visitor}, headers=headers)
    assert answer.status_code == 200
    assert answer.json()["copied_purposes"] == ["marketing.email"] and answer.json()["linked"] is True
    bad = client.post(f"/v1/people/{person}/link-visitor", json={"visitor_id": "vis_x"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body.visitor_id"
    reader = api_headers(session, ["people:read"])
    assert (
        client.post(f"/v1/people/{person}/link-visitor", json={"visitor_id": visitor}, headers=reader).status_code
        == 403
    )
