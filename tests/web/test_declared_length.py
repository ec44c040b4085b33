"""`web.contract.check_declared_length`, the one Content-Length check of the routes that judge a body before
reading it (recipients' acknowledgements, vulnerability reports): 411 without a usable length, 413 over the
limit with the route's own code and field, nothing raised at or under it."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from fiduciary.errors import FiduciaryError, FieldProblem
from fiduciary.web.contract import check_declared_length

FIELD = FieldProblem("body", "at most 10 bytes")


def _check(length: str | None) -> None:
    headers = [] if length is None else [(b"content-length", length.encode())]
    request = Request({"type": "http", "method": "POST", "path": "/", "headers": headers})
    check_declared_length(
        request, 10, missing="Say how long.", too_large="Too long.", code="thing_too_large", field=FIELD
    )


@pytest.mark.parametrize("length", [None, "", "ten", "-1", "1e3", " 5"])
def test_no_usable_length_is_411(length: str | None) -> None:
    with pytest.raises(FiduciaryError) as raised:
        _check(length)
    problem = raised.value
    assert (problem.status, problem.code, str(problem)) == (411, "length_required", "Say how long.")
    assert [f.field for f in problem.fields] == ["body"]


def test_over_the_limit_is_413_with_the_routes_code_and_field() -> None:
    with pytest.raises(FiduciaryError) as raised:
        _check("11")
    problem = raised.value
    assert (problem.status, problem.code, str(problem)) == (413, "thing_too_large", "Too long.")
    assert problem.fields == [FIELD]


@pytest.mark.parametrize("length", ["0", "10"])
def test_at_or_under_the_limit_passes(length: str) -> None:
    _check(length)
