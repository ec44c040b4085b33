"""Signed unsubscribe tokens and RFC 8058 headers (pure: no database)."""

from __future__ import annotations

import base64
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fiduciary.comms.unsubscribe import (
    InvalidToken,
    list_unsubscribe_headers,
    make_token,
    read_token,
)
from fiduciary.config import Settings

SECRET = b"s" * 48
NOW = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=30)
SUBJECT = "per_abcdefghijklmnopqrstuvwxyz"


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_round_trip() -> None:
    token = make_token(SECRET, SUBJECT, "marketing.email", expires_at=LATER)
    got = read_token(SECRET, token, now=NOW)
    assert (got.subject_id, got.purpose, got.expires_at) == (SUBJECT, "marketing.email", LATER)


def test_token_is_url_safe_compact_and_holds_no_personal_value() -> None:
    token = make_token(SECRET, SUBJECT, "marketing.email", expires_at=LATER)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert len(token) < 100
    raw = unb64(token)
    assert raw[0] == 1  # versioned
    assert SUBJECT.encode() in raw and b"marketing.email" in raw


def test_expired() -> None:
    token = make_token(SECRET, SUBJECT, "marketing.email", expires_at=LATER)
    with pytest.raises(InvalidToken) as err:
        read_token(SECRET, token, now=LATER)
    assert err.value.code == "unsubscribe_token_expired" and err.value.status == 400
    read_token(SECRET, token, now=LATER - timedelta(seconds=1))


def test_other_secret_is_refused() -> None:
    token = make_token(SECRET, SUBJECT, "marketing.email", expires_at=LATER)
    with pytest.raises(InvalidToken) as err:
        read_token(b"t" * 48, token, now=NOW)
    assert err.value.code == "unsubscribe_token_invalid"


@pytest.mark.parametrize(
    "change",
    [
        lambda raw: raw.replace(b"marketing.email", b"marketing.sms__"[:15]),  # other purpose
        lambda raw: raw.replace(b"per_a", b"per_b"),  # other person
        lambda raw: raw[:1] + (int.from_bytes(raw[1:6], "big") + 86400 * 365).to_bytes(5, "big") + raw[6:],
        lambda raw: bytes([2]) + raw[1:],  # version
        lambda raw: raw[:-1] + bytes([raw[-1] ^ 1]),  # tag bit
    ],
    ids=["purpose", "subject", "expiry", "version", "tag"],
)
def test_every_tampering_is_detected(change: object) -> None:
    token = make_token(SECRET, SUBJECT, "marketing.email", expires_at=LATER)
    forged = b64(change(unb64(token)))  # type: ignore[operator]
    assert forged != token
    with pytest.raises(InvalidToken) as err:
        read_token(SECRET, forged, now=NOW)
    assert err.value.code == "unsubscribe_token_invalid"


@pytest.mark.parametrize(
    "token",
    ["", "a", "!!!!", "é" * 10, "A" * 600, b64(b"\x01short"), "abc=def", "a" * 5],
)
def test_malformed(token: str) -> None:
    with pytest.raises(InvalidToken) as err:
        read_token(SECRET, token, now=NOW)
    assert err.value.code in ("unsubscribe_token_malformed", "unsubscribe_token_invalid")


def test_a_validly_signed_but_garbled_body_is_malformed() -> None:
    import hashlib
    import hmac

    from fiduciary.comms import unsubscribe

    key = hmac.new(SECRET, b"fiduciary/unsubscribe/v1", hashlib.sha256).digest()
    body = bytes([1]) + (2**39).to_bytes(5, "big") + bytes([200]) + b"per_x" + b"p"
    tag = hmac.new(key, body, hashlib.sha256).digest()[: unsubscribe.TAG_BYTES]
    with pytest.raises(InvalidToken) as err:
        read_token(SECRET, b64(body + tag), now=NOW)
    assert err.value.code == "unsubscribe_token_malformed"


@given(st.binary(max_size=120))
def test_random_bytes_never_pass(raw: bytes) -> None:
    with pytest.raises(InvalidToken):
        read_token(SECRET, b64(raw), now=NOW)


def test_make_token_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        make_token(SECRET, SUBJECT, "marketing.email", expires_at=datetime(2027, 1, 1))  # naive
    with pytest.raises(ValueError):
        make_token(SECRET, "", "marketing.email", expires_at=LATER)
    with pytest.raises(ValueError):
        make_token(SECRET, SUBJECT, "", expires_at=LATER)


def test_headers_exact_https() -> None:
    token = make_token(SECRET, SUBJECT, "marketing.email", expires_at=LATER)
    assert list_unsubscribe_headers("https://privacy.shop.example/", token) == {
        "List-Unsubscribe": f"<https://privacy.shop.example/u/{token}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def test_headers_exact_with_mailto() -> None:
    assert list_unsubscribe_headers("https://p.example", "TOKEN-1_x", mailto="unsub@p.example") == {
        "List-Unsubscribe": "<https://p.example/u/TOKEN-1_x>, <mailto:unsub@p.example?subject=unsubscribe%20TOKEN-1_x>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def test_headers_without_https_have_no_one_click() -> None:
    """RFC 8058 s.3.1: one-click needs an HTTPS URI; offering it on http would be ignored or misused."""
    assert list_unsubscribe_headers("http://127.0.0.1:8000", "T") == {"List-Unsubscribe": "<http://127.0.0.1:8000/u/T>"}


@pytest.mark.parametrize(
    "bad", ["a>b@x", "no-at-sign", "a@b, c@d", "a@b\r\nBcc: x@y", "a@b?x=y", "@b", "a@", "a@b;c", "\u00e9@b"]
)
def test_headers_refuse_a_header_injection_in_mailto(bad: str) -> None:
    with pytest.raises(ValueError):
        list_unsubscribe_headers("https://p.example", "T", mailto=bad)


def test_secret_key_file_is_made_once_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d")
    first = settings.resolved_secret_key()
    assert len(first) >= 32
    assert settings.resolved_secret_key() == first
    mode = stat.S_IMODE(os.stat(tmp_path / "d" / "secret.key").st_mode)
    assert mode == 0o600
    assert [p.name for p in (tmp_path / "d").iterdir()] == ["secret.key"]


def test_secret_key_from_environment_must_be_long(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path, secret_key="k" * 40).resolved_secret_key() == b"k" * 40
    with pytest.raises(ValueError):
        Settings(data_dir=tmp_path, secret_key="short").resolved_secret_key()
    assert not (tmp_path / "secret.key").exists()
