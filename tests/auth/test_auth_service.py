"""API keys in the service layer: stored hashed, shown once, authenticated, scoped, listed and revoked."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.auth.models import ApiKey
from fiduciary.auth.scopes import Scope, held_scopes, missing_scopes, parse_scopes
from fiduciary.auth.service import (
    authenticate,
    create_api_key,
    get_api_key,
    list_api_keys,
    parse_key,
    require,
    revoke_api_key,
)
from fiduciary.errors import Forbidden, NotFound, Unauthorized, ValidationFailed


def _count(session: Session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(ApiKey)) or 0


def test_key_format_and_only_the_digest_is_stored(session: Session) -> None:
    row, plaintext = create_api_key(session, "checkout backend", ["consent:write", "decisions"])
    session.commit()
    assert plaintext.startswith("fid_" + row.id + "_")
    secret = plaintext[len("fid_") + 12 + 1 :]
    assert len(row.id) == 12 and row.id.isalnum()
    assert len(secret) == 43  # 32 bytes, base64url without padding

    raw = session.execute(sa.text("SELECT * FROM api_keys")).mappings().one()
    assert raw["secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    for column, value in raw.items():
        text = str(value)
        assert secret not in text, column
        assert plaintext not in text, column
    assert raw["id"] == row.id
    assert raw["name"] == "checkout backend"


def test_keys_are_unique_and_the_plaintext_is_not_recoverable_from_the_row(session: Session) -> None:
    created = [create_api_key(session, f"k{i}", ["decisions"]) for i in range(5)]
    session.commit()
    assert len({row.id for row, _ in created}) == 5
    assert len({key for _, key in created}) == 5
    for row, key in created:
        fresh = session.get(ApiKey, row.id)
        assert fresh is not None
        assert key not in repr(vars(fresh))


def test_scopes_are_normalised_deduplicated_and_ordered(session: Session) -> None:
    row, _ = create_api_key(session, "k", [" decisions", "consent:read", "decisions"])
    assert row.scopes == ["consent:read", "decisions"]


def test_authenticate_happy_path_and_last_used_is_throttled(session: Session) -> None:
    row, key = create_api_key(session, "k", ["decisions"])
    session.commit()
    assert row.last_used_at is None

    t0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    assert authenticate(session, key, now=t0).id == row.id
    session.commit()
    assert session.scalar(sa.select(ApiKey.last_used_at).where(ApiKey.id == row.id)) == t0

    authenticate(session, key, now=t0 + timedelta(seconds=30))  # within the minute: no write
    session.commit()
    session.expire_all()
    assert session.scalar(sa.select(ApiKey.last_used_at).where(ApiKey.id == row.id)) == t0

    t2 = t0 + timedelta(minutes=2)
    authenticate(session, key, now=t2)
    session.commit()
    session.expire_all()
    assert session.scalar(sa.select(ApiKey.last_used_at).where(ApiKey.id == row.id)) == t2


def test_every_authentication_failure_looks_the_same(session: Session) -> None:
    row, key = create_api_key(session, "k", ["decisions"])
    revoked_row, revoked_key = create_api_key(session, "old", ["decisions"])
    revoke_api_key(session, revoked_row.id)
    session.commit()
    wrong_secret = key[:-1] + ("A" if key[-1] != "A" else "B")
    unknown_id = "fid_" + "Z" * 12 + key[len("fid_") + 12 :]
    presented: list[str | None] = [
        None,
        "",
        "not a key",
        key + "x",
        key.replace("fid_", "fix_"),
        "fid_" + row.id + "-" + key[len("fid_") + 13 :],  # wrong separator
        wrong_secret,
        unknown_id,
        revoked_key,
    ]
    details = set()
    for value in presented:
        with pytest.raises(Unauthorized) as info:
            authenticate(session, value)
        details.add((info.value.detail, info.value.code, info.value.status))
    assert details == {("A valid API key is required.", "unauthorized", 401)}
    session.commit()
    session.expire_all()
    assert session.scalar(sa.select(ApiKey.last_used_at).where(ApiKey.id == row.id)) is None


def test_parse_key_is_positional_because_secrets_may_contain_underscores() -> None:
    key_id = "Ab3" * 4
    secret = "_-" * 21 + "_"
    assert parse_key(f"fid_{key_id}_{secret}") == (key_id, secret)
    assert parse_key(f"fid_{key_id}_{secret[:-1]}") is None
    assert parse_key(f"fid_{key_id[:-1]}-_{secret}") is None  # '-' is not allowed in ids
    assert parse_key(f"fid_{key_id}_{secret[:-1]}=") is None


def test_require_names_the_missing_scope_and_admin_implies_all(session: Session) -> None:
    narrow, _ = create_api_key(session, "narrow", ["decisions"])
    admin, _ = create_api_key(session, "admin", ["admin"])
    require(narrow, Scope.DECISIONS)
    require(narrow)
    with pytest.raises(Forbidden) as info:
        require(narrow, Scope.DECISIONS, Scope.PEOPLE_READ)
    assert "people:read" in info.value.detail
    assert "decisions" not in info.value.detail
    assert info.value.status == 403
    for scope in Scope:
        require(admin, scope)


def test_scope_helpers() -> None:
    assert held_scopes(["admin"]) == set(Scope)
    assert held_scopes(["decisions", "from:the-future"]) == {Scope.DECISIONS}
    assert missing_scopes(["decisions"], ["decisions", "audit:read", "audit:read"]) == [Scope.AUDIT_READ]
    assert parse_scopes(["admin"]) == [Scope.ADMIN]
    with pytest.raises(ValueError):
        missing_scopes(["admin"], ["no:such"])  # asking for an unknown scope is a programming error


@pytest.mark.parametrize(
    ("scopes", "field"),
    [
        ([], "scopes"),
        (["  "], "scopes[0]"),
        (["decisions", "consent:delete"], "scopes[1]"),
        (["ADMIN"], "scopes[0]"),
    ],
)
def test_bad_scopes_are_refused_naming_the_field_and_nothing_is_stored(
    session: Session, scopes: list[str], field: str
) -> None:
    with pytest.raises(ValidationFailed) as info:
        create_api_key(session, "k", scopes)
    assert [p.field for p in info.value.fields] == [field]
    hint = info.value.fields[0].hint or ""
    for scope in Scope:
        assert scope.value in hint
    session.rollback()
    assert _count(session) == 0


@pytest.mark.parametrize(
    "name",
    ["", "   ", "x" * 101, "bell\x07", "line\nbreak", "tab\there", "rtl\u202eoverride", "zero\u200bwidth"],
)
def test_bad_names_are_refused_and_nothing_is_stored(session: Session, name: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        create_api_key(session, name, ["decisions"])
    assert [p.field for p in info.value.fields] == ["name"]
    session.rollback()
    assert _count(session) == 0


def test_names_up_to_100_characters_in_any_script_are_accepted(session: Session) -> None:
    row, _ = create_api_key(session, "ए" * 100, ["decisions"])
    session.commit()
    assert session.scalar(sa.select(ApiKey.name).where(ApiKey.id == row.id)) == "ए" * 100


def test_list_and_revoke(session: Session) -> None:
    first, _ = create_api_key(session, "first", ["decisions"])
    second, key = create_api_key(session, "second", ["consent:read"])
    session.commit()
    assert [r.id for r in list_api_keys(session)] == [first.id, second.id]

    when = datetime(2030, 5, 1, tzinfo=UTC)
    revoke_api_key(session, second.id, now=when)
    session.commit()
    again = revoke_api_key(session, second.id, now=when + timedelta(days=1))  # idempotent: first time kept
    session.commit()
    assert again.revoked_at == when
    assert session.scalar(sa.select(ApiKey.revoked_at).where(ApiKey.id == second.id)) == when
    assert session.scalar(sa.select(ApiKey.revoked_at).where(ApiKey.id == first.id)) is None
    with pytest.raises(Unauthorized):
        authenticate(session, key)
    assert len(list_api_keys(session)) == 2  # revoked keys stay listed


@pytest.mark.parametrize("key_id", ["ZZZZZZZZZZZZ", "", "x" * 500, "'; DROP TABLE api_keys; --"])
def test_unknown_ids_are_not_found_and_nothing_changes(session: Session, key_id: str) -> None:
    row, _ = create_api_key(session, "k", ["decisions"])
    session.commit()
    with pytest.raises(NotFound):
        revoke_api_key(session, key_id)
    with pytest.raises(NotFound):
        get_api_key(session, key_id)
    session.rollback()
    assert session.scalar(sa.select(ApiKey.revoked_at).where(ApiKey.id == row.id)) is None
    assert _count(session) == 1
