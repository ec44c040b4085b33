"""Published policy versions: canonical hashing, immutable numbered versions, effective dates, the policy
in force, and the bootstrap that publishes the demo policy once."""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from sqlalchemy import select
from sqlalchemy.orm import Session

from fiduciary.config import DEMO_POLICY_PATH, Settings
from fiduciary.errors import Conflict, NotFound, ValidationFailed
from fiduciary.policy import versions
from fiduciary.policy.loader import PolicyInvalid, load_policy, load_policy_text
from fiduciary.policy.models import PolicyVersion
from fiduciary.policy.schema import PolicyDocument
from fiduciary.policy.versions import (
    NoPolicyInForce,
    canonical_json,
    content_hash,
    current,
    get,
    history,
    publish,
    publish_or_get,
)
from fiduciary.runtime import Runtime

DEMO_TEXT = DEMO_POLICY_PATH.read_text(encoding="utf-8")
DEMO = load_policy(DEMO_POLICY_PATH).document
T0 = datetime(2027, 1, 1, tzinfo=UTC)
PAST = datetime(2020, 1, 1, tzinfo=UTC)
Data = dict[str, Any]


def edit(fn: Callable[[Data], object], base: PolicyDocument = DEMO) -> PolicyDocument:
    data = copy.deepcopy(base.model_dump(mode="json"))
    fn(data)
    return PolicyDocument.model_validate(data)


def renamed(name: str) -> PolicyDocument:
    return edit(lambda d: d.update(name=name))


def count(session: Session) -> int:
    return versions.version_count(session)


@pytest.fixture
def empty_runtime(settings: Settings) -> Iterator[Runtime]:
    """A runtime on an empty database: no bootstrap, so nothing is published."""
    rt = Runtime.start(settings, migrate=False, bootstrap=False)
    try:
        yield rt
    finally:
        rt.close()


@pytest.fixture
def db(empty_runtime: Runtime) -> Iterator[Session]:
    with empty_runtime.sessions() as s:
        yield s


# --------------------------------------------------------------------------- canonical JSON, hash


def _reverse_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reverse_keys(value[k]) for k in sorted(value, reverse=True)}
    if isinstance(value, list):
        return [_reverse_keys(v) for v in value]
    return value


def _dump(data: Any, flow: bool) -> str:
    import io

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = flow
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def test_same_content_written_differently_has_the_same_hash() -> None:
    data = YAML(typ="safe").load(DEMO_TEXT)
    reordered = _dump(_reverse_keys(data), flow=False)
    flow = _dump(data, flow=True)
    commented = "# a comment at the top\n\n" + DEMO_TEXT.replace("\n", "   # trailing comment\n", 3).replace(
        "keep_for: 30d", "keep_for: '30 days'"
    ).replace("  role: seller\n", "")  # an explicit default left out
    hashes = {content_hash(load_policy_text(text).document) for text in (DEMO_TEXT, reordered, flow, commented)}
    assert hashes == {content_hash(DEMO)}


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(name=d["name"] + "."),
        lambda d: d["retention"][0].update(keep_for="31d"),
        lambda d: d["purposes"][0].update(required_for_service=not d["purposes"][0]["required_for_service"]),
        lambda d: d["purposes"].reverse(),
        lambda d: d["contacts"]["privacy_contact"].update(email="other@saffronlane.example"),
        lambda d: d["calendar"]["holidays"].pop(),
    ],
)
def test_any_value_change_changes_the_hash(change: Callable[[Data], None]) -> None:
    assert content_hash(edit(change)) != content_hash(DEMO)


def test_canonical_json_is_sorted_compact_utf8() -> None:
    document = renamed("Saffron Lane गोपनीयता नीति")
    raw = canonical_json(document)
    data = json.loads(raw)
    assert raw == json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert "गोपनीयता".encode() in raw and b"\\u" not in raw
    assert raw == canonical_json(PolicyDocument.model_validate(data))  # stable through a round trip
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", content_hash(document))
    assert content_hash(document) == "sha256:" + hashlib.sha256(raw).hexdigest()


# ------------------------------------------------------------------------------------------ publish


def test_first_publish_is_version_one_with_no_changes(db: Session) -> None:
    published = publish(db, DEMO, DEMO_TEXT, now=T0)
    db.commit()
    assert (published.version, published.changes, published.material) == (1, [], False)
    assert published.content_hash == content_hash(DEMO)
    assert published.effective_from == T0 == published.published_at
    row = db.scalars(select(PolicyVersion)).one()
    assert row.source_yaml == DEMO_TEXT
    assert row.document == json.loads(canonical_json(DEMO))


def test_publishing_the_same_content_again_returns_the_existing_version(db: Session) -> None:
    first, created = publish_or_get(db, DEMO, DEMO_TEXT, now=T0)
    db.commit()
    again, created_again = publish_or_get(db, DEMO, "# same content, other text\n" + DEMO_TEXT, now=T0 + timedelta(1))
    db.commit()
    assert created and not created_again
    assert again == first
    assert count(db) == 1


def test_versions_increase_by_one_and_record_the_changes(db: Session) -> None:
    publish(db, DEMO, DEMO_TEXT, now=T0)
    second = publish(db, renamed("Second"), "x", now=T0 + timedelta(days=1))
    third_doc = edit(lambda d: find_purpose(d, "account")["categories"].append("contact.address"), renamed("Second"))
    third = publish(db, third_doc, "y", now=T0 + timedelta(days=2))
    db.commit()
    assert [v.version for v in history(db)] == [1, 2, 3]
    assert [c.path for c in second.changes] == ["name"] and not second.material
    assert third.material
    assert [c.path for c in third.changes] == ["purposes[account].categories[contact.address]"]
    assert get(db, 3) == third


def find_purpose(d: Data, pid: str) -> Data:
    return next(p for p in d["purposes"] if p["id"] == pid)


def test_republishing_an_older_version_after_a_newer_one_is_refused(db: Session) -> None:
    publish(db, DEMO, DEMO_TEXT, now=T0)
    publish(db, renamed("Second"), "x", now=T0)
    db.commit()
    with pytest.raises(Conflict) as err:
        publish(db, DEMO, DEMO_TEXT, now=T0)
    assert err.value.code == "policy_already_published"
    db.rollback()
    assert count(db) == 2


def test_naive_effective_from_is_refused_and_nothing_is_stored(db: Session) -> None:
    with pytest.raises(ValidationFailed) as err:
        publish(db, DEMO, DEMO_TEXT, datetime(2027, 1, 1, 9, 0))  # no time zone
    assert [f.field for f in err.value.fields] == ["effective_from"]
    db.rollback()
    assert count(db) == 0


def test_effective_from_earlier_than_the_previous_version_is_refused(db: Session) -> None:
    publish(db, DEMO, DEMO_TEXT, T0, now=T0)
    db.commit()
    with pytest.raises(ValidationFailed) as err:
        publish(db, renamed("Backdated"), "x", T0 - timedelta(days=1), now=T0 + timedelta(days=5))
    assert [f.field for f in err.value.fields] == ["effective_from"]
    assert "version 1" in err.value.detail
    db.rollback()
    assert count(db) == 1


def test_effective_from_defaults_to_now_and_is_stored_in_utc(db: Session) -> None:
    ist = timezone(timedelta(hours=5, minutes=30))
    past = PAST
    published = publish(db, DEMO, DEMO_TEXT, datetime(2020, 1, 1, 5, 30, tzinfo=ist), now=past)
    db.commit()
    assert published.effective_from == past and published.effective_from.utcoffset() == timedelta(0)
    db.expire_all()
    assert get(db, 1).effective_from == past
    before = datetime.now(UTC)
    second = publish(db, renamed("Now"), "x")
    assert before <= second.effective_from <= datetime.now(UTC)


def test_current_honours_an_effective_date_in_the_future(db: Session) -> None:
    publish(db, DEMO, DEMO_TEXT, T0, now=T0)
    publish(db, renamed("Next year"), "x", T0 + timedelta(days=365), now=T0)
    db.commit()
    in_force = current(db, T0 + timedelta(days=30))
    assert in_force is not None and in_force.version == 1
    later = current(db, T0 + timedelta(days=365))
    assert later is not None and later.version == 2
    assert current(db, T0 - timedelta(seconds=1)) is None
    with pytest.raises(ValidationFailed):
        current(db, datetime(2027, 6, 1))  # naive


def test_empty_database_has_no_current_version_and_unknown_versions_are_not_found(db: Session) -> None:
    assert current(db) is None and history(db) == [] and versions.latest(db) is None
    publish(db, DEMO, DEMO_TEXT, now=T0)
    db.commit()
    for missing in (0, 2, -1):
        with pytest.raises(NotFound):
            get(db, missing)


def test_published_rows_cannot_be_changed_or_deleted(db: Session) -> None:
    publish(db, DEMO, DEMO_TEXT, now=T0)
    db.commit()
    row = db.scalars(select(PolicyVersion)).one()
    row.name = "Tampered"
    with pytest.raises(Conflict):
        db.flush()
    db.rollback()
    db.delete(db.scalars(select(PolicyVersion)).one())
    with pytest.raises(Conflict):
        db.flush()
    db.rollback()
    assert get(db, 1).name == DEMO.name


def test_stored_document_reproduces_its_hash(db: Session) -> None:
    publish(db, DEMO, DEMO_TEXT, now=T0)
    db.commit()
    versions._documents.clear()  # force a read from the database
    stored = get(db, 1)
    assert content_hash(stored.document) == stored.content_hash
    assert stored.document == DEMO


def test_diff_between_any_two_versions(db: Session) -> None:
    publish(db, DEMO, DEMO_TEXT, now=T0)
    publish(db, renamed("Two"), "x", now=T0)
    publish(db, edit(lambda d: d["cookies"].pop(), renamed("Two")), "y", now=T0)
    db.commit()
    assert [c.path for c in versions.diff_versions(db, 1, 3)] == ["name", "cookies[ad_uid@Advertising network]"]
    assert versions.diff_versions(db, 2, 3) == get(db, 3).changes
    assert versions.diff_versions(db, 2, 2) == []
    with pytest.raises(NotFound):
        versions.diff_versions(db, 1, 9)


# ------------------------------------------------------------------------------- policy in force


def test_runtime_policy_is_the_compiled_version_in_force(empty_runtime: Runtime) -> None:
    with pytest.raises(NoPolicyInForce):
        empty_runtime.policy()
    with empty_runtime.sessions() as s:
        publish(s, DEMO, DEMO_TEXT, now=PAST)
        s.commit()
    compiled = empty_runtime.policy()
    assert (compiled.version, compiled.content_hash) == (1, content_hash(DEMO))
    assert empty_runtime.policy() is compiled  # cached
    with empty_runtime.sessions() as s:
        publish(s, renamed("Two"), "x", now=PAST)
        s.commit()
    assert empty_runtime.policy().version == 2  # a publish in this process refreshes at once
    with empty_runtime.sessions() as s:
        publish(s, renamed("Scheduled"), "x", datetime.now(UTC) + timedelta(days=10))
        s.commit()
    assert empty_runtime.policy().version == 2  # not yet in force


# ----------------------------------------------------------------------------------------- bootstrap


def test_bootstrap_publishes_the_demo_policy_exactly_once(settings: Settings) -> None:
    for _ in range(2):
        rt = Runtime.start(settings, migrate=False)
        try:
            with rt.sessions() as s:
                assert [(v.version, v.content_hash) for v in history(s)] == [(1, content_hash(DEMO))]
            assert rt.policy().version == 1
        finally:
            rt.close()


def test_bootstrap_does_not_publish_a_changed_file_but_warns(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    Runtime.start(settings, migrate=False).close()
    changed = tmp_path / "policy.yaml"
    changed.write_text(DEMO_TEXT.replace("keep_for: 30d", "keep_for: 60d"), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="fiduciary.policy.versions"):
        rt = Runtime.start(settings.model_copy(update={"policy_file": changed}), migrate=False)
    try:
        with rt.sessions() as s:
            assert count(s) == 1
        assert rt.policy().content_hash == content_hash(DEMO)
    finally:
        rt.close()
    warning = " ".join(r.getMessage() for r in caplog.records)
    assert "fiduciary policy publish" in warning and str(tmp_path) not in warning


def test_bootstrap_with_an_invalid_file(settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("schema_version: 1\nname: [unclosed\n", encoding="utf-8")
    bad = settings.model_copy(update={"policy_file": broken})
    with pytest.raises(PolicyInvalid):
        Runtime.start(bad, migrate=False)  # nothing published and nothing valid to publish
    rt = Runtime.start(settings, migrate=False, bootstrap=False)
    try:
        with rt.sessions() as s:
            assert count(s) == 0
    finally:
        rt.close()
    Runtime.start(settings, migrate=False).close()  # publishes the demo
    with caplog.at_level(logging.WARNING, logger="fiduciary.policy.versions"):
        rt = Runtime.start(bad, migrate=False)  # already published: keep serving it, and say so
    try:
        assert rt.policy().version == 1
    finally:
        rt.close()
    assert "cannot be loaded" in caplog.text
