"""The consent write path renders its ledger payload text itself; it must be exactly the ledger's own
canonical JSON of the payload, and be refused exactly when the ledger's guard refuses the payload."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fiduciary.consent.payloads import PayloadWriter
from fiduciary.ledger.chain import LedgerPayloadError, canonical_payload

BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
ids = st.builds(lambda p, s: f"{p}_{s}", st.sampled_from(["per", "vis"]), st.text(BASE32, min_size=26, max_size=26))
person_ids = st.text(BASE32, min_size=26, max_size=26).map(lambda s: "per_" + s)
hexes = st.text("0123456789abcdef", min_size=32, max_size=64)
free = st.one_of(st.text(max_size=40), st.sampled_from(["203.0.113.0/24", "2001:db8:1::/48", "a@b.example"]))


@settings(max_examples=300, deadline=None)
@given(
    subject=ids,
    purpose=st.sampled_from(["marketing.email", "analytics", "ads_x.y_2"]),
    language=st.sampled_from(["en", "hi", "ta-IN", "zh-Hant-TW"]),
    channel=st.sampled_from(["banner", "checkout", "guardian", "gpc"]),
    guardian=st.none() | person_ids,
    ua=st.none() | hexes,
    ip_prefix=st.none() | free,
    person=st.none() | person_ids,
    ref=st.none() | hexes,
    version=st.integers(1, 10**6),
)
def test_text_is_the_ledgers_canonical_payload(
    subject: str,
    purpose: str,
    language: str,
    channel: str,
    guardian: str | None,
    ua: str | None,
    ip_prefix: str | None,
    person: str | None,
    ref: str | None,
    version: int,
) -> None:
    writer = PayloadWriter(version, "sha256:" + "ab" * 32, ref)
    expected: dict[str, Any] = {"subject": subject, "purpose": purpose, "lang": language, "channel": channel}
    try:
        payload, text = writer.build(
            subject, purpose, language, channel, guardian=guardian, ua=ua, ip_prefix=ip_prefix, person=person
        )
    except LedgerPayloadError:
        with pytest.raises(LedgerPayloadError):
            canonical_payload({**expected, "ip_prefix": ip_prefix})
        return
    assert text == canonical_payload(payload)
    assert {k: payload[k] for k in expected} == expected
    assert payload.get("guardian") == (guardian or None)
    assert payload.get("ip_prefix") == (ip_prefix or None)
    assert payload.get("person") == (person or None)
    assert payload.get("ref") == (ref or None)
    assert payload["version"] == version


def test_user_agents_are_hashed_once_per_batch() -> None:
    writer = PayloadWriter(1, "sha256:" + "0" * 64, None)
    first = writer.user_agent_hash("Mozilla/5.0")
    assert first is not None and len(first) == 64
    assert writer.user_agent_hash("Mozilla/5.0") is first
    assert writer.user_agent_hash("") is None and writer.user_agent_hash(None) is None


def test_an_email_as_address_prefix_is_refused_like_the_ledger_refuses_it() -> None:
    writer = PayloadWriter(1, "sha256:" + "0" * 64, None)
    with pytest.raises(LedgerPayloadError, match="email"):
        writer.build("vis_" + "a" * 26, "analytics", "en", "banner", ip_prefix="someone@example.com")
