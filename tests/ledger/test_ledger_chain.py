"""Pure ledger logic: canonical JSON, the payload guard, preimages and the chain walker (no database)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fiduciary.ledger import chain
from fiduciary.ledger.chain import (
    GENESIS_HASH,
    MAX_SAFE_INTEGER,
    ChainWalker,
    LedgerPayloadError,
    canonical_json,
    canonical_payload,
    check_event_type,
    check_stream,
    checkpoint_statement,
    event_hash,
    event_preimage,
    iso_utc,
)

T0 = "2026-01-02T03:04:05.000006Z"


def test_canonical_json_sorts_keys_and_drops_whitespace() -> None:
    assert canonical_json({"b": 1, "a": [True, None, "x"], "c": {"z": 0, "y": -1}}) == (
        '{"a":[true,null,"x"],"b":1,"c":{"y":-1,"z":0}}'
    )


def test_canonical_json_is_utf8_and_escapes_like_json_stringify() -> None:
    text = canonical_json({"k": 'é "q" \\ \n\t\x01 \u2028'})
    assert text == '{"k":"é \\"q\\" \\\\ \\n\\t\\u0001 \u2028"}'


def test_canonical_json_orders_keys_by_utf16_code_units_as_rfc8785() -> None:
    # U+1F600 is D83D DE00 in UTF-16, which sorts before U+FB01 (a code-point sort puts it after).
    assert canonical_json({"\ufb01": 1, "\U0001f600": 2}) == '{"\U0001f600":2,"\ufb01":1}'


@pytest.mark.parametrize("bad", [1.5, 0.0, math.nan, math.inf, -math.inf])
def test_floats_and_nan_are_refused_naming_the_path(bad: float) -> None:
    with pytest.raises(ValueError, match=r"payload\.outer\.amount: floats") as info:
        canonical_payload({"outer": {"amount": bad}})
    assert isinstance(info.value, LedgerPayloadError)


def test_integers_beyond_the_safe_range_are_refused() -> None:
    assert canonical_payload({"n": MAX_SAFE_INTEGER}) == f'{{"n":{MAX_SAFE_INTEGER}}}'
    with pytest.raises(ValueError, match=r"payload\.n: integer outside"):
        canonical_payload({"n": MAX_SAFE_INTEGER + 1})


@pytest.mark.parametrize("key", ["email", "Phone", "name", "ip", "ip-address", "date_of_birth"])
def test_personal_keys_are_refused_listing_the_key_and_not_the_value(key: str) -> None:
    secret = "someone-private-value"
    with pytest.raises(ValueError) as info:
        canonical_payload({"subject": "per_1", "evidence": [{key: secret}]})
    message = str(info.value)
    assert f"'{key}'" in message
    assert f"payload.evidence[0].{key}" in message
    assert secret not in message


def test_keys_that_merely_contain_a_personal_word_are_allowed() -> None:
    assert canonical_payload({"purpose_name_id": "p", "ip_prefix": "203.0.113.0/24", "username_hash": "h"})


def test_email_looking_values_are_refused_without_echoing_them() -> None:
    with pytest.raises(ValueError, match=r"payload\.note: looks like an email") as info:
        canonical_payload({"note": "mail jane.doe@example.com please"})
    assert "jane" not in str(info.value)


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({1: "x"}, "keys must be strings"),
        ({"when": datetime(2026, 1, 1, tzinfo=UTC)}, "datetime is not a JSON value"),
        ({"s": {1, 2}}, "set is not a JSON value"),
        ({"s": "\ud800"}, "lone surrogate"),
        ({"deep": json.loads("[" * 20 + "]" * 20)}, "nested deeper"),
        ({"big": "x" * 70_000}, "larger than"),
    ],
)
def test_other_non_json_payloads_are_refused(payload: dict[Any, Any], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        canonical_payload(payload)


def test_payload_must_be_an_object() -> None:
    with pytest.raises(ValueError, match="must be an object"):
        canonical_payload(["not", "an", "object"])  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["", "Consent", "1x", "a b", "x" * 33, "a-b"])
def test_bad_stream_names_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="stream"):
        check_stream(bad)


@pytest.mark.parametrize("bad", ["", "Granted", "consent granted", 'x"y', "x" * 81])
def test_bad_event_types_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="event_type"):
        check_event_type(bad)


def test_iso_utc_is_fixed_width_utc_and_refuses_naive_times() -> None:
    ist = timezone(timedelta(hours=5, minutes=30))
    assert iso_utc(datetime(2026, 1, 1, 5, 30, tzinfo=ist)) == "2026-01-01T00:00:00.000000Z"
    with pytest.raises(ValueError, match="naive"):
        iso_utc(datetime(2026, 1, 1))


def test_event_preimage_is_the_canonical_json_of_the_event_object() -> None:
    """Any RFC 8785 implementation reproduces our hashes: the fast preimage equals the generic encoder."""
    payload = canonical_payload({"subject": "per_1", "purpose": "email_marketing", "policy_version": 3, "ok": True})
    preimage = event_preimage("consent", 7, "consent.granted", T0, payload, "ab" * 32)
    generic = canonical_json(
        {
            "stream": "consent",
            "position": 7,
            "event_type": "consent.granted",
            "recorded_at": T0,
            "payload": json.loads(payload),
            "prev_hash": "ab" * 32,
        }
    ).encode()
    assert preimage == generic
    assert event_hash("consent", 7, "consent.granted", T0, payload, "ab" * 32) == hashlib.sha256(generic).hexdigest()


def test_checkpoint_statement_binds_every_field() -> None:
    base = checkpoint_statement("consent", 10, "cd" * 32, T0, "0123456789abcdef")
    assert json.loads(base)["type"] == "fiduciary.ledger.checkpoint.v1"
    variants = [
        checkpoint_statement("audit", 10, "cd" * 32, T0, "0123456789abcdef"),
        checkpoint_statement("consent", 11, "cd" * 32, T0, "0123456789abcdef"),
        checkpoint_statement("consent", 10, "ce" * 32, T0, "0123456789abcdef"),
        checkpoint_statement("consent", 10, "cd" * 32, "2026-01-02T03:04:05.000007Z", "0123456789abcdef"),
        checkpoint_statement("consent", 10, "cd" * 32, T0, "fedcba9876543210"),
    ]
    assert all(v != base for v in variants)


def _chain(n: int) -> list[tuple[int, str, str, str, str, str]]:
    rows = []
    prev = GENESIS_HASH
    for position in range(1, n + 1):
        payload = canonical_payload({"subject": f"per_{position}"})
        digest = event_hash("consent", position, "consent.granted", T0, payload, prev)
        rows.append((position, "consent.granted", T0, payload, prev, digest))
        prev = digest
    return rows


def test_walker_accepts_a_good_chain_and_names_the_first_bad_position() -> None:
    rows = _chain(6)
    walker = ChainWalker("consent")
    assert walker.walk(rows) is None
    assert (walker.events, walker.last_position, walker.last_hash) == (6, 6, rows[-1][5])

    altered = list(rows)
    altered[3] = (4, "consent.granted", T0, '{"subject":"per_X"}', rows[3][4], rows[3][5])
    problem = ChainWalker("consent").walk(altered)
    assert problem is not None and problem.position == 4 and "does not match its content" in problem.problem

    gap = rows[:2] + rows[3:]
    problem = ChainWalker("consent").walk(gap)
    assert problem is not None and problem.position == 3 and "missing" in problem.problem

    swapped = [rows[0], rows[2], rows[1], *rows[3:]]
    problem = ChainWalker("consent").walk(swapped)
    assert problem is not None and problem.position == 2


def test_walker_refuses_malformed_fields_that_could_shift_preimage_boundaries() -> None:
    rows = _chain(2)
    quoted = [rows[0], (2, 'consent.granted","x', T0, rows[1][3], rows[1][4], rows[1][5])]
    problem = ChainWalker("consent").walk(quoted)
    assert problem is not None and problem.position == 2 and "malformed" in problem.problem
    short_time = [rows[0], (2, "consent.granted", T0[:-2] + "Z", rows[1][3], rows[1][4], rows[1][5])]
    problem = ChainWalker("consent").walk(short_time)
    assert problem is not None and problem.position == 2 and "malformed" in problem.problem


def test_walker_checks_a_slice_from_a_known_position() -> None:
    rows = _chain(5)
    walker = ChainWalker("consent", after_position=2, after_hash=rows[1][5])
    assert walker.walk(rows[2:]) is None
    wrong_anchor = ChainWalker("consent", after_position=2, after_hash=rows[0][5])
    problem = wrong_anchor.walk(rows[2:])
    assert problem is not None and problem.position == 3


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    | st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(alphabet="abcxyz_é😀", min_size=1, max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.text(alphabet="abcdefghij_", min_size=1, max_size=8), json_values, max_size=6))
def test_canonical_payload_round_trips_and_is_idempotent(payload: dict[str, Any]) -> None:
    try:
        text = canonical_payload(payload)
    except LedgerPayloadError as exc:  # only the guard may refuse: a personal key or an email-like value
        assert "personal value" in exc.reason or "email" in exc.reason
        return
    assert json.loads(text) == payload
    assert canonical_payload(json.loads(text)) == text
    # For these keys code-point order equals UTF-16 order, so Python's own sorted dump is an oracle.
    assert text == json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert "\n" not in text


# -- the fast path must agree with the careful path, including after it has cached a shape ------------------


def _careful(payload: Any) -> str | tuple[str, str]:
    """What the original value-by-value walk answers: the text, or the error it raises."""
    try:
        text = chain._checked_canonical(payload, "payload")
    except LedgerPayloadError as exc:
        return ("refused", str(exc))
    if len(text.encode("utf-8")) > chain.MAX_PAYLOAD_BYTES:
        return ("refused", "too large")
    return text


def _fast(payload: Any) -> str | tuple[str, str]:
    try:
        return canonical_payload(payload)
    except LedgerPayloadError as exc:
        return ("refused", "too large" if "larger than" in exc.reason else str(exc))


awkward_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(alphabet=st.characters(), max_size=12)
    | st.sampled_from(["a@b.example", "x@y", "é", '"', "\\", "%s", "\t", "\ud800", "0" * 64])
)
awkward_keys = st.sampled_from(
    ["subject", "purpose", "version", "lang", 'a"b', "c\\d", "e%f", "Email", "ip", "ip_prefix", "ﬁ", "😀", "k@x"]
)


@given(
    st.lists(
        st.dictionaries(
            awkward_keys,
            awkward_scalars | st.lists(awkward_scalars, max_size=3) | st.dictionaries(awkward_keys, awkward_scalars),
            max_size=6,
        ),
        min_size=1,
        max_size=6,
    )
)
def test_fast_path_answers_exactly_what_the_careful_path_answers(payloads: list[dict[str, Any]]) -> None:
    """Keys repeat across payloads, so later ones hit the shape cache with values of other types."""
    for payload in payloads:
        expected = _careful(payload)
        for _ in range(3):  # first call learns keys, the second the shape, the third uses it
            assert _fast(payload) == expected


def test_a_cached_shape_still_refuses_bad_values() -> None:
    good = {"subject": "vis_abc", "purpose": "analytics", "version": 3}
    for _ in range(3):
        assert canonical_payload(good) == '{"purpose":"analytics","subject":"vis_abc","version":3}'
    bad = [
        ({"subject": "jane@example.com", "purpose": "analytics", "version": 3}, "payload.subject: looks like an email"),
        ({"subject": "vis_abc", "purpose": "analytics", "version": 2**53}, "payload.version: integer outside"),
        ({"subject": "vis_abc", "purpose": "analytics", "version": 3.0}, "payload.version: floats"),
        ({"subject": "\ud800", "purpose": "analytics", "version": 3}, "payload.subject: string is not valid Unicode"),
        ({"subject": "vis_abc", "purpose": "analytics", "version": 3, "email": "x"}, "payload.email: key 'email'"),
    ]
    for payload, message in bad:
        with pytest.raises(LedgerPayloadError, match=re.escape(message)):
            canonical_payload(payload)
    assert canonical_payload({"subject": "vis_é", "purpose": "analytics", "version": 3}) == (
        '{"purpose":"analytics","subject":"vis_é","version":3}'
    )


def test_personal_and_non_ascii_keys_never_enter_the_fast_path() -> None:
    for key in ("email", "Phone", "ip-address", "ﬁ", "😀"):
        with contextlib.suppress(LedgerPayloadError):
            canonical_payload({key: "x"})
        assert key not in chain._SAFE_KEYS
