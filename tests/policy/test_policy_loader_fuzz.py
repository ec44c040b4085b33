"""Property tests: no input makes the loader raise anything but `PolicyInvalid`; durations round-trip."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fiduciary.config import DEMO_POLICY_PATH
from fiduciary.policy.duration import MAX_DAYS, Duration, DurationUnit, parse_duration
from fiduciary.policy.loader import (
    DURATION_PATTERN,
    PolicyInvalid,
    analyse_policy_bytes,
    analyse_policy_text,
    load_policy_text,
)

DEMO = DEMO_POLICY_PATH.read_text(encoding="utf-8")
DEMO_LINES = DEMO.splitlines(keepends=True)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _assert_problems_are_well_formed(text_or_bytes: str | bytes) -> None:
    if isinstance(text_or_bytes, bytes):
        rep = analyse_policy_bytes(text_or_bytes, "fuzz.yaml")
    else:
        rep = analyse_policy_text(text_or_bytes, "fuzz.yaml")
    for problem in rep.problems:
        assert problem.line >= 0 and problem.column >= 0
        assert problem.message
        assert problem.severity in ("error", "warning")
    assert rep.ok == (rep.document is not None and not rep.errors)


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_never_raise(data: bytes) -> None:
    _assert_problems_are_well_formed(data)


@FUZZ
@given(st.text(alphabet=st.sampled_from(list("ab: -[]{},&*!|>'\"#\n\t?%@`~0129.")), max_size=200))
def test_yaml_punctuation_soup_never_raises(text: str) -> None:
    _assert_problems_are_well_formed(text)


@FUZZ
@given(
    st.integers(min_value=0, max_value=len(DEMO_LINES) - 1),
    st.integers(min_value=1, max_value=40),
    st.sampled_from(["", "  ", "-", ": x", "\t", "[", "}", "id: 1\n", "&a", "*a", "!!int x", '"', "'"]),
)
def test_damaged_demo_never_raises(start: int, length: int, insert: str) -> None:
    """Cut lines out of the demo and splice junk in: the answer is always problems or a document."""
    text = "".join(DEMO_LINES[:start]) + insert + "".join(DEMO_LINES[start + length :])
    try:
        load_policy_text(text, "damaged.yaml")
    except PolicyInvalid as exc:
        assert exc.problems
        assert all(p.line >= 0 for p in exc.problems)


units = st.sampled_from(list(DurationUnit))


@given(units, st.integers(min_value=1, max_value=40_000))
def test_duration_text_round_trips(unit: DurationUnit, amount: int) -> None:
    if Duration.model_construct(amount=amount, unit=unit).approx_days > MAX_DAYS:
        with pytest.raises(ValueError, match="longer than 100 years"):
            Duration(amount=amount, unit=unit)
        return
    duration = Duration(amount=amount, unit=unit)
    assert Duration.model_validate(str(duration)) == duration
    assert Duration.model_validate(duration.describe()) == duration
    assert re.match(DURATION_PATTERN, str(duration))
    assert re.match(DURATION_PATTERN, duration.describe())


WORDS = [
    "h",
    "hour",
    "hours",
    "d",
    "day",
    "days",
    "bd",
    "business days",
    "business day",
    "w",
    "weeks",
    "mo",
    "month",
    "months",
    "y",
    "year",
    "years",
    "fortnights",
    "m",
    "s",
    "min",
    "decades",
    "Y",
    "D",
    "Hours",
]


@given(
    st.one_of(
        st.builds(
            lambda n, s1, w, s2: f"{s1}{n}{s2}{w}{s1}",
            st.integers(0, 999),
            st.sampled_from(["", " "]),
            st.sampled_from(WORDS),
            st.sampled_from(["", " "]),
        ),
        st.builds(
            lambda p, n, u: f"{p}{n}{u}",
            st.sampled_from(["P", "p", "PT", "P1Y"]),
            st.integers(0, 99),
            st.sampled_from(["Y", "M", "W", "D", "H", "y", "d", "S"]),
        ),
        st.text(alphabet="0123456789PTYMWDHdhy -_", max_size=12),
    )
)
def test_json_schema_pattern_accepts_exactly_what_the_parser_accepts(text: str) -> None:
    """Editors validate durations with the published pattern; it must agree with `parse_duration`."""
    try:
        parse_duration(text)
        parsed = True
    except ValueError:
        parsed = False
    assert bool(re.match(DURATION_PATTERN, text)) == parsed, text
