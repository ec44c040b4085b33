"""Package links: signed, expiring, limited; refused when altered, expired or used up; concurrent downloads at
the limit lose exactly as many as they must; every download audited, with no personal value anywhere."""

from __future__ import annotations

import io
import json
import threading
import zipfile
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from fiduciary.audit.reads import events_about
from fiduciary.errors import FiduciaryError, NotFound
from fiduciary.ledger.models import LedgerEvent
from fiduciary.rights.packages.builder import build_package
from fiduciary.rights.packages.links import LinkGone, PackageLink, issue_link, open_download
from fiduciary.rights.packages.models import AccessPackage
from fiduciary.runtime import Runtime
from fiduciary.storage.base import utcnow
from packages_support import EMAIL, MESSAGES, NAME, PHONE, download, make_person, member


@pytest.fixture
def person(session: Session, runtime: Runtime) -> str:
    return make_person(session, runtime)


def _link(runtime: Runtime, session: Session, person: str, **terms: object) -> PackageLink:
    built = build_package(runtime, session, person_id=person, actor="cli", request_id="req_7")
    link = issue_link(runtime, session, built.package_id, **terms)  # type: ignore[arg-type]
    session.commit()
    return link


def _altered(token: str, index: int) -> str:
    replacement = "A" if token[index] != "A" else "B"
    return token[:index] + replacement + token[index + 1 :]


def test_link_is_opaque_and_altering_any_character_is_refused(runtime: Runtime, session: Session, person: str) -> None:
    link = _link(runtime, session, person)
    assert link.url_path == f"/v1/packages/{link.token}" and len(link.token) == 64
    assert person not in link.url_path and link.max_downloads == 3
    assert link.expires_at - utcnow() > timedelta(days=6, hours=23)
    for index in (0, 10, 21, 40, 63):
        with pytest.raises(NotFound) as refused:
            open_download(runtime, session, _altered(link.token, index))
        assert refused.value.code == "package_link_not_found"
    for junk in ("", "x" * 64, link.token + "A", link.token[:-1], "../" + link.token[3:]):
        with pytest.raises(NotFound):
            open_download(runtime, session, junk)
    assert session.scalar(sa.select(AccessPackage.downloads)) == 0
    assert download(runtime, session, link.token).namelist()


def test_link_expires(runtime: Runtime, session: Session, person: str) -> None:
    link = _link(runtime, session, person, valid_for=timedelta(hours=1))
    with pytest.raises(LinkGone) as gone:
        open_download(runtime, session, link.token, now=link.expires_at)
    assert gone.value.status == 410 and gone.value.code == "package_link_expired"
    assert download(runtime, session, link.token, now=link.expires_at - timedelta(seconds=1)).namelist()


def test_link_works_a_limited_number_of_times_and_a_new_link_replaces_it(
    runtime: Runtime, session: Session, person: str
) -> None:
    link = _link(runtime, session, person, max_downloads=2)
    download(runtime, session, link.token)
    download(runtime, session, link.token)
    with pytest.raises(LinkGone) as gone:
        open_download(runtime, session, link.token)
    assert gone.value.code == "package_link_used_up"
    fresh = issue_link(runtime, session, link.package_id)
    session.commit()
    with pytest.raises(NotFound):
        open_download(runtime, session, link.token)  # replaced
    assert download(runtime, session, fresh.token).namelist()


def test_downloads_are_audited_with_no_personal_value(runtime: Runtime, session: Session, person: str) -> None:
    link = _link(runtime, session, person, max_downloads=1)
    download(runtime, session, link.token)
    with pytest.raises(LinkGone):
        open_download(runtime, session, link.token)
    session.commit()
    events = [e for e in events_about(session, person) if e["action"].startswith("package.")]
    assert [(e["action"], e["outcome"], e["reasons"]) for e in events] == [
        ("package.build", "allowed", []),
        ("package.download", "allowed", []),
        ("package.download", "error", ["package_link_used_up"]),
    ]
    assert {e["target"] for e in events[:2]} == {link.package_id}
    payloads = " ".join(session.scalars(sa.select(LedgerEvent.payload).where(LedgerEvent.stream == "audit")))
    for value in (EMAIL, PHONE, NAME, MESSAGES[0], link.token, link.url_path):
        assert value not in payloads
    row = session.get(AccessPackage, link.package_id)
    assert row is not None and row.downloads == 1


def test_concurrent_downloads_at_the_limit(runtime: Runtime, session: Session, person: str) -> None:
    allowed, clients = 3, 8
    link = _link(runtime, session, person, max_downloads=allowed)
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def one() -> None:
        with runtime.sessions() as own:
            start.wait()
            try:
                got = open_download(runtime, own, link.token)
                own.commit()
                body = b"".join(got.chunks)
                result = "ok" if len(body) == got.size_bytes else "short"
            except FiduciaryError as exc:
                result = exc.code
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=one) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok"] * allowed + ["package_link_used_up"] * (clients - allowed)
    session.expire_all()
    assert session.scalar(sa.select(AccessPackage.downloads)) == allowed


def test_http_download(runtime: Runtime, session: Session, person: str, client: TestClient) -> None:
    link = _link(runtime, session, person, max_downloads=1)
    answer = client.get(link.url_path)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    assert answer.headers["content-disposition"] == f'attachment; filename="{link.package_id}.zip"'
    assert answer.headers["cache-control"] == "no-store"
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    assert json.loads(member(archive, "package.json"))["person_id"] == person

    used = client.get(link.url_path)
    assert used.status_code == 410 and used.headers["content-type"].startswith("application/problem+json")
    assert used.json()["code"] == "package_link_used_up"
    altered = client.get("/v1/packages/" + _altered(link.token, 5))
    assert altered.status_code == 404 and altered.json()["code"] == "package_link_not_found"
    assert client.get("/v1/packages/short").status_code == 404

    expiring = issue_link(runtime, session, link.package_id, valid_for=timedelta(seconds=1))
    session.execute(
        sa.update(AccessPackage)
        .where(AccessPackage.id == link.package_id)
        .values(link_expires_at=utcnow() - timedelta(seconds=1))
    )
    session.commit()
    expired = client.get(expiring.url_path)
    assert expired.status_code == 410 and expired.json()["code"] == "package_link_expired"
    for problem in (used, altered, expired):
        assert expiring.token not in problem.text and link.token not in problem.text
