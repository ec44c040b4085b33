"""`fiduciary policy publish | versions | diff` against a real database, with good and bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from fiduciary.cli.main import app
from fiduciary.config import DEMO_POLICY_PATH, get_settings
from fiduciary.policy.loader import load_policy
from fiduciary.policy.versions import content_hash, history
from fiduciary.storage import create_engine_for_url, make_session_factory

DEMO_TEXT = DEMO_POLICY_PATH.read_text(encoding="utf-8")
runner = CliRunner()


@pytest.fixture
def cli_db(database_url: str, cli_env: None) -> str:
    """This test's database, which the CLI's settings (read from the environment) point at."""
    return database_url


def stored_versions(url: str) -> list[int]:
    engine = create_engine_for_url(url)
    try:
        with make_session_factory(engine)() as session:
            return [v.version for v in history(session)]
    finally:
        engine.dispose()


def run(*args: str) -> Result:
    return runner.invoke(app, ["policy", *args])


@pytest.fixture
def changed_file(tmp_path: Path) -> Path:
    """The demo with a longer retention (material) and a new title (minor)."""
    path = tmp_path / "changed.yaml"
    assert DEMO_TEXT.count("keep_for: 7d") == 1
    text = DEMO_TEXT.replace("keep_for: 7d", "keep_for: 90d").replace(
        "name: Saffron Lane privacy policy", "name: Saffron Lane privacy notice"
    )
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def invalid_file(tmp_path: Path) -> Path:
    path = tmp_path / "invalid.yaml"
    path.write_text(DEMO_TEXT.replace("legal_ground: consent", "legal_ground: vibes", 1), encoding="utf-8")
    return path


def test_publish_prints_version_hash_and_changes(cli_db: str, changed_file: Path) -> None:
    first = run("publish", str(DEMO_POLICY_PATH))
    assert first.exit_code == 0, first.output
    assert "Published version 1" in first.stdout
    assert content_hash(load_policy(DEMO_POLICY_PATH).document) in first.stdout

    second = run("publish", str(changed_file))
    assert second.exit_code == 0, second.output
    assert "Published version 2" in second.stdout
    assert "MATERIAL retention[marketing_contacts].keep_for" in second.stdout
    assert "(longer retention)" in second.stdout
    assert "minor    name" in second.stdout
    assert "2 changes, 1 material." in second.stdout
    assert "Consent will be asked again for: marketing.email, marketing.sms." in second.stdout
    assert stored_versions(cli_db) == [1, 2]


def test_publishing_the_same_file_again_stores_nothing(cli_db: str) -> None:
    assert run("publish", str(DEMO_POLICY_PATH)).exit_code == 0
    again = run("publish", str(DEMO_POLICY_PATH))
    assert again.exit_code == 0
    assert "Already published as version 1" in again.stdout
    assert stored_versions(cli_db) == [1]


def test_invalid_file_is_refused_with_its_problems_and_nothing_stored(cli_db: str, invalid_file: Path) -> None:
    assert run("publish", str(DEMO_POLICY_PATH)).exit_code == 0
    result = run("publish", str(invalid_file))
    assert result.exit_code == 1
    assert "legal_ground" in result.stderr
    assert "not a valid policy; nothing was stored" in result.stderr
    assert stored_versions(cli_db) == [1]


@pytest.mark.parametrize(
    "content",
    ["", "schema_version: 1\nname: [unclosed\n", b"\x89PNG\r\n\x1a\n\x00\x00"],
    ids=["empty", "malformed", "binary"],
)
def test_unusable_files_are_refused(cli_db: str, tmp_path: Path, content: str | bytes) -> None:
    path = tmp_path / "bad.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    result = run("publish", str(path))
    assert result.exit_code == 1
    assert result.stderr
    assert stored_versions(cli_db) == []


def test_missing_file_and_folder_are_refused(cli_db: str, tmp_path: Path) -> None:
    missing = run("publish", str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 1 and "nope.yaml" in missing.stderr
    folder = run("publish", str(tmp_path))
    assert folder.exit_code == 1 and "nothing was stored" in folder.stderr
    assert stored_versions(cli_db) == []


def test_effective_from_must_be_iso_with_a_time_zone(cli_db: str) -> None:
    garbage = run("publish", str(DEMO_POLICY_PATH), "--effective-from", "next tuesday")
    assert garbage.exit_code == 2 and "ISO 8601" in garbage.output
    naive = run("publish", str(DEMO_POLICY_PATH), "--effective-from", "2027-01-01T00:00:00")
    assert naive.exit_code == 1
    assert "effective_from" in naive.stderr and "time zone" in naive.stderr
    assert stored_versions(cli_db) == []


def test_scheduled_version_and_the_versions_table(cli_db: str, changed_file: Path) -> None:
    assert run("publish", str(DEMO_POLICY_PATH), "--effective-from", "2020-01-01T00:00:00Z").exit_code == 0
    future = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0).isoformat()
    published = run("publish", str(changed_file), "--effective-from", future)
    assert published.exit_code == 0, published.output
    # a material change 30 days out respects the demo's 14-day advance notice: no warning
    assert "advance notice" not in published.stderr

    table = run("versions")
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert lines[1].startswith("*") and "2020-01-01T00:00:00+00:00" in lines[1]
    assert lines[2].startswith(">") and "yes" in lines[2]

    listed = json.loads(run("versions", "--format", "json").stdout)
    assert [(v["version"], v["in_force"], v["material"], v["change_count"]) for v in listed] == [
        (1, True, False, 0),
        (2, False, True, 2),
    ]


def test_material_change_sooner_than_the_promised_advance_notice_warns(cli_db: str, changed_file: Path) -> None:
    assert run("publish", str(DEMO_POLICY_PATH), "--effective-from", "2020-01-01T00:00:00Z").exit_code == 0
    result = run("publish", str(changed_file))
    assert result.exit_code == 0
    assert "14 days advance notice" in result.stderr


def test_versions_on_an_empty_database(cli_db: str) -> None:
    result = run("versions")
    assert result.exit_code == 0 and "No version is published" in result.stdout
    assert stored_versions(cli_db) == []  # listing never bootstraps


def test_diff_two_files(tmp_path: Path, changed_file: Path) -> None:
    result = run("diff", str(DEMO_POLICY_PATH), str(changed_file))
    assert result.exit_code == 0, result.output
    assert "MATERIAL retention[marketing_contacts].keep_for" in result.stdout
    assert "minor    name" in result.stdout
    assert "2 changes, 1 material." in result.stdout

    as_json = json.loads(run("diff", str(DEMO_POLICY_PATH), str(changed_file), "--format", "json").stdout)
    assert as_json["material"] is True
    assert as_json["reconsent_purposes"] == ["marketing.email", "marketing.sms"]
    assert {c["path"]: c["material"] for c in as_json["changes"]} == {
        "name": False,
        "retention[marketing_contacts].keep_for": True,
    }
    same = run("diff", str(DEMO_POLICY_PATH), str(DEMO_POLICY_PATH))
    assert same.exit_code == 0 and "No changes." in same.stdout


def test_diff_refuses_an_invalid_file(invalid_file: Path) -> None:
    result = run("diff", str(DEMO_POLICY_PATH), str(invalid_file))
    assert result.exit_code == 1 and "legal_ground" in result.stderr


def test_diff_published_versions(cli_db: str, changed_file: Path) -> None:
    run("publish", str(DEMO_POLICY_PATH), "--effective-from", "2020-01-01T00:00:00Z")
    run("publish", str(changed_file))
    result = run("diff", "--from-version", "1", "--to-version", "2")
    assert result.exit_code == 0, result.output
    assert "MATERIAL retention[marketing_contacts].keep_for" in result.stdout
    latest = json.loads(run("diff", "--from-version", "1", "--format", "json").stdout)
    assert latest["to"] == {"version": 2} and latest["material"] is True
    unknown = run("diff", "--from-version", "1", "--to-version", "7")
    assert unknown.exit_code == 1 and "version 7 does not exist" in unknown.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["diff"],
        ["diff", str(DEMO_POLICY_PATH)],
        ["diff", str(DEMO_POLICY_PATH), str(DEMO_POLICY_PATH), "--from-version", "1"],
        ["diff", "--to-version", "2"],
        ["diff", "--from-version", "0"],
        ["diff", str(DEMO_POLICY_PATH), str(DEMO_POLICY_PATH), "--format", "xml"],
    ],
)
def test_diff_usage_errors(args: list[str]) -> None:
    result = runner.invoke(app, ["policy", *args])
    assert result.exit_code == 2, result.output


def test_publish_applies_reconsent_in_the_same_step(cli_db: str, changed_file: Path) -> None:
    """A material change to a consent purpose sets its floor and queues a notice for each person who consented."""
    import sqlalchemy as sa

    from fiduciary.config import Settings
    from fiduciary.consent.models import ReconsentFloor, ReconsentNotice
    from fiduciary.consent.service import ConsentChannel, ConsentInput, ConsentService
    from fiduciary.people.service import create_person
    from fiduciary.runtime import Runtime

    assert run("publish", str(DEMO_POLICY_PATH)).exit_code == 0
    runtime = Runtime.start(Settings(database_url=cli_db, data_dir=get_settings().data_dir), migrate=False)
    try:
        with runtime.sessions() as session:
            consenting = create_person(session, policy=runtime.policy(), is_child=False).id
            create_person(session, policy=runtime.policy(), is_child=False)  # never consented: no notice
            session.commit()
            ConsentService(runtime).record(
                session, ConsentInput(consenting, "marketing.email", "grant", ConsentChannel.API)
            )
            session.commit()
        second = run("publish", str(changed_file))
        assert second.exit_code == 0, second.output
        assert "Re-consent notices queued: 1." in second.stdout
        with runtime.sessions() as session:
            floors = {f.purpose: f.min_version for f in session.scalars(sa.select(ReconsentFloor))}
            notices = [(n.person_id, n.purpose) for n in session.scalars(sa.select(ReconsentNotice))]
        assert floors == {"marketing.email": 2, "marketing.sms": 2}
        assert notices == [(consenting, "marketing.email")]
    finally:
        runtime.close()
