"""The authenticated-key cache (issue 17, auth/cache.py): fewer database reads, no later revocations.

A revocation made in this process refuses the key on the very next request, whether it came over the API
or from the domain function; one made by another process (here: a plain SQL update, which announces
nothing) is honoured once the cached copy is older than the cache's ttl, and not a moment later than that.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from fiduciary.auth.cache import KeyCache
from fiduciary.auth.models import ApiKey
from fiduciary.auth.service import authenticate_and_cache, cached_key, create_api_key, revoke_api_key
from fiduciary.web.security import KEY_CACHE_STATE


def _key(session: Session, scopes: list[str]) -> tuple[str, str]:
    row, plaintext = create_api_key(session, "cache-test", scopes)
    session.commit()
    return row.id, plaintext


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _install(client: TestClient, clock: _Clock, ttl: float = 5.0) -> KeyCache:
    cache = KeyCache(ttl, clock=clock)
    setattr(client.app.state, KEY_CACHE_STATE, cache)  # type: ignore[attr-defined]
    return cache


def test_a_key_revoked_over_the_api_is_refused_on_the_very_next_request(client: TestClient, session: Session) -> None:
    cache = _install(client, _Clock())  # a clock that never moves: only the revocation can evict the key
    _, admin = _key(session, ["admin"])
    victim_id, victim = _key(session, ["decisions"])
    assert client.get("/v1/apikeys/self", headers=_bearer(victim)).status_code == 200
    assert client.get("/v1/apikeys/self", headers=_bearer(victim)).status_code == 200
    assert len(cache) == 1  # served from the cache the second time

    assert client.delete(f"/v1/apikeys/{victim_id}", headers=_bearer(admin)).status_code == 204
    assert client.get("/v1/apikeys/self", headers=_bearer(victim)).status_code == 401
    assert client.get("/v1/apikeys/self", headers=_bearer(admin)).status_code == 200  # others unaffected


def test_a_key_revoked_by_the_domain_function_in_this_process_is_refused_at_once(
    client: TestClient, session: Session
) -> None:
    _install(client, _Clock())
    key_id, key = _key(session, ["decisions"])
    assert client.get("/v1/apikeys/self", headers=_bearer(key)).status_code == 200
    revoke_api_key(session, key_id)
    session.commit()
    assert client.get("/v1/apikeys/self", headers=_bearer(key)).status_code == 401


def test_a_revocation_by_another_process_is_honoured_within_the_ttl(client: TestClient, session: Session) -> None:
    clock = _Clock()
    _install(client, clock, ttl=5.0)
    key_id, key = _key(session, ["decisions"])
    assert client.get("/v1/apikeys/self", headers=_bearer(key)).status_code == 200
    # Another process revokes: no announcement reaches this one.
    session.execute(sa.update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=datetime.now(UTC)))
    session.commit()
    clock.now += 4.9
    assert client.get("/v1/apikeys/self", headers=_bearer(key)).status_code == 200  # the documented bound
    clock.now += 0.1
    assert client.get("/v1/apikeys/self", headers=_bearer(key)).status_code == 401


def test_a_wrong_secret_for_a_cached_id_is_refused(client: TestClient, session: Session) -> None:
    _install(client, _Clock())
    _, key = _key(session, ["decisions"])
    assert client.get("/v1/apikeys/self", headers=_bearer(key)).status_code == 200
    wrong = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert client.get("/v1/apikeys/self", headers=_bearer(wrong)).status_code == 401
    assert client.get("/v1/apikeys/self", headers=_bearer(key)).status_code == 200


def test_a_read_that_began_before_a_revocation_is_not_stored(session: Session) -> None:
    cache = KeyCache(60.0, clock=_Clock())
    key_id, key = _key(session, ["decisions"])
    generation = cache.generation
    row = session.get(ApiKey, key_id)
    assert row is not None
    revoke_api_key(session, key_id)  # announced while the read above is "in flight"
    session.rollback()  # the revocation did not even commit: dropping the copy is still the safe side
    row.revoked_at = None
    cache.store(row, generation)
    assert cached_key(cache, key) is None
    assert authenticate_and_cache(cache, session, key).id == key_id  # a fresh read is stored
    assert cached_key(cache, key) is not None
