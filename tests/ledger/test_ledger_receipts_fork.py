"""Receipts held outside the database reveal a ledger fork that the chain alone cannot show.

The real failure: the service acknowledged consent writes (the customer holds their signed receipts), then
the database was restored to a state before them (SQLite: the file copied back; PostgreSQL: tables emptied
and refilled, as a restore does), and the next write reused a position for another event. `ledger verify`
still finds a perfect chain. `ledger verify --receipts DIR` and `POST /v1/receipts/verify` must name the
forked position, the position the ledger no longer reaches, and a checkpoint the ledger contradicts, while
untouched receipts (single and Merkle-batch) pass and a receipt changed by one character fails its signature
(DPDP s.6(10), GDPR Art 7(1): the receipt is the person's copy of the evidence).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from consent_support import adult, item
from fiduciary.cli.main import app
from fiduciary.config import Settings
from fiduciary.consent.receipt_check import ReceiptReason, compare_receipts, trusted_keys
from fiduciary.consent.receipt_signing import sign_receipts
from fiduciary.consent.service import ConsentService
from fiduciary.ledger.service import Ledger
from fiduciary.ledger.signing import load_signer
from fiduciary.runtime import Runtime
from fiduciary.web.app import create_app
from restore_support import Backup

runner = CliRunner()


@dataclass
class Story:
    """Receipt files by name, and the positions the restore took from the ledger."""

    good: dict[str, dict[str, Any]]  # acknowledged and still in the ledger
    forked: dict[str, Any]  # lost by the restore; its position now holds another event
    lost: dict[str, Any]  # lost by the restore; the ledger no longer reaches its position
    sealed: dict[str, Any]  # still in the ledger, but its checkpoint was signed over the lost events
    forked_position: int
    lost_position: int
    subjects: list[str]


def _write(directory: Path, receipts: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, receipt in receipts.items():
        (directory / f"{name}.json").write_text(json.dumps(receipt, indent=2), encoding="utf-8")


@pytest.fixture
def story(settings: Settings, tmp_path: Path, cli_env: None) -> Iterator[Story]:
    Runtime.start(settings, migrate=True).close()
    with closing(Runtime.start(settings, migrate=False)) as runtime, runtime.sessions() as session:
        service = ConsentService.for_runtime(runtime)
        alice, bob, carol = (adult(session, runtime) for _ in range(3))
        single = service.record(session, item(alice, "marketing.email"))
        batch = service.record_many(session, [item(p, "analytics") for p in (alice, bob, carol)])
        session.commit()
    backup = Backup(settings.resolved_database_url, tmp_path)
    backup.take()
    # Acknowledged after the backup: lost when it is restored.
    with closing(Runtime.start(settings, migrate=False)) as runtime, runtime.sessions() as session:
        service = ConsentService.for_runtime(runtime)
        forked = service.record(session, item(bob, "marketing.email"))
        lost = service.record(session, item(carol, "marketing.email"))
        session.commit()
        Ledger.from_settings("consent", runtime.settings).seal(session)
        session.commit()
        # Fetched after the seal: carries the checkpoint signed over the lost events.
        sealed = service.receipt(session, single.ledger_position)
    assert sealed["checkpoint"]["position"] == lost.ledger_position
    backup.restore()
    with closing(Runtime.start(settings, migrate=False)) as runtime, runtime.sessions() as session:
        service = ConsentService.for_runtime(runtime)
        after = service.record(session, item(alice, "marketing.email", action="withdraw"))
        session.commit()
    assert after.ledger_position == forked.ledger_position  # the position is reused
    good = {"single": single.receipt, "after-restore": after.receipt}
    good.update({f"batch-{i}": r.receipt for i, r in enumerate(batch)})
    assert all(r["signature"]["merkle"] for n, r in good.items() if n.startswith("batch"))
    yield Story(
        good=good,
        forked=forked.receipt,
        lost=lost.receipt,
        sealed=sealed,
        forked_position=forked.ledger_position,
        lost_position=lost.ledger_position,
        subjects=[alice, bob, carol],
    )


def one_character_changed(receipt: dict[str, Any]) -> dict[str, Any]:
    changed = json.loads(json.dumps(receipt))
    changed["processing"]["language"] = "hi" if changed["processing"]["language"] != "hi" else "en"
    assert json.dumps(changed) != json.dumps(receipt)
    return changed


# ------------------------------------------------------------------------------------------------ CLI


def test_untouched_receipts_pass_and_the_chain_alone_sees_nothing(story: Story, tmp_path: Path) -> None:
    directory = tmp_path / "good"
    _write(directory, story.good)
    result = runner.invoke(app, ["ledger", "verify", "--receipts", str(directory)])
    assert result.exit_code == 0, result.output
    assert f"{len(story.good)} files: {len(story.good)} agree with the ledger, 0 disagree" in result.output
    # The point: without the receipts the restored ledger verifies perfectly.
    plain = runner.invoke(app, ["ledger", "verify", "--stream", "consent"])
    assert plain.exit_code == 0 and "consent: ok" in plain.output


def test_verify_receipts_names_the_fork_the_lost_event_and_the_contradicted_checkpoint(
    story: Story, tmp_path: Path
) -> None:
    directory = tmp_path / "all"
    _write(directory, {**story.good, "forked": story.forked, "lost": story.lost, "sealed": story.sealed})
    _write(directory, {"altered": one_character_changed(story.good["batch-1"])})
    (directory / "broken.json").write_text('{"ledger":\n  {oops}\n', encoding="utf-8")
    (directory / "notes.txt").write_text("not a receipt file: ignored", encoding="utf-8")
    result = runner.invoke(app, ["ledger", "verify", "--receipts", str(directory)])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()

    def line_of(name: str) -> str:
        [found] = [line for line in lines if f"{name}.json" in line]
        return found

    assert f"consent position {story.forked_position}: event_hash_differs" in line_of("forked")
    assert f"consent position {story.lost_position}: position_beyond_head" in line_of("lost")
    assert "lost an acknowledged event" in line_of("lost")
    assert "checkpoint_differs" in line_of("sealed")
    assert "signature_invalid" in line_of("altered") and "altered" in line_of("altered").split("—")[-1]
    assert "broken.json:2: not JSON" in line_of("broken")
    for name in story.good:
        assert not [line for line in lines if f"{name}.json" in line], name
    assert f"{len(story.good) + 5} files: {len(story.good)} agree with the ledger, 4 disagree, 1 unreadable" in (
        result.output
    )
    assert "Traceback" not in result.output
    for subject in story.subjects:
        assert subject not in result.output


def test_verify_receipts_bad_directory_and_empty_directory(story: Story, tmp_path: Path) -> None:
    missing = runner.invoke(app, ["ledger", "verify", "--receipts", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "not a directory" in missing.output
    (tmp_path / "empty").mkdir()
    empty = runner.invoke(app, ["ledger", "verify", "--receipts", str(tmp_path / "empty")])
    assert empty.exit_code == 1 and "no receipt files" in empty.output


# ------------------------------------------------------------------------------------------ the domain


def test_a_receipt_signed_over_other_facts_than_the_event_is_named(story: Story, settings: Settings) -> None:
    """Same event hash, different subject: only a key misuse or a bug could produce it; it must not pass."""
    receipt = json.loads(json.dumps(story.good["single"]))
    receipt["header"]["pii_principal_id"] = story.subjects[1]
    del receipt["signature"]
    signer = load_signer(settings)
    sign_receipts([receipt], signer)
    keys = trusted_keys(signer.known_public_keys())
    with closing(Runtime.start(settings, migrate=False)) as runtime, runtime.sessions() as session:
        [different, same] = compare_receipts(session, [receipt, story.good["single"]], keys)
    assert different.reason is ReceiptReason.EVENT_CONTENT_DIFFERS
    assert different.fields == ("header.pii_principal_id",)
    assert story.subjects[1] not in different.detail
    assert same.ok and same.ledger_agrees is True


def test_once_the_ledger_grows_past_the_lost_position_it_is_a_fork_too(story: Story, settings: Settings) -> None:
    keys = trusted_keys(load_signer(settings).known_public_keys())
    with closing(Runtime.start(settings, migrate=False)) as runtime, runtime.sessions() as session:
        service = ConsentService.for_runtime(runtime)
        before = compare_receipts(session, [story.lost, story.sealed], keys)
        again = service.record(session, item(story.subjects[0], "analytics", action="withdraw"))
        session.commit()
        assert again.ledger_position == story.lost_position
        after = compare_receipts(session, [story.lost, story.sealed], keys)
    assert [r.reason for r in before] == [ReceiptReason.POSITION_BEYOND_HEAD, ReceiptReason.CHECKPOINT_DIFFERS]
    assert [r.reason for r in after] == [ReceiptReason.EVENT_HASH_DIFFERS, ReceiptReason.CHECKPOINT_DIFFERS]


def test_unknown_key_and_non_receipts(story: Story, settings: Settings) -> None:
    with closing(Runtime.start(settings, migrate=False)) as runtime, runtime.sessions() as session:
        results = compare_receipts(session, [story.good["single"], [], {"ledger": 1}], {})
    assert [r.reason for r in results] == [
        ReceiptReason.SIGNATURE_INVALID,
        ReceiptReason.MALFORMED,
        ReceiptReason.SIGNATURE_INVALID,
    ]
    assert results[0].position == story.good["single"]["ledger"]["position"]
    assert all(r.ledger_agrees is None for r in results)


# ------------------------------------------------------------------------------------------------ API


def test_the_api_answers_as_the_cli(story: Story, settings: Settings) -> None:
    with closing(Runtime.start(settings, migrate=False)) as runtime, TestClient(create_app(runtime=runtime)) as client:

        def check(receipt: Any) -> dict[str, Any]:
            response = client.post("/v1/receipts/verify", json=receipt)
            assert response.status_code == 200, response.text
            for subject in story.subjects:
                assert subject not in response.text
            body: dict[str, Any] = response.json()
            return body

        for name, receipt in story.good.items():
            answer = check(receipt)
            assert answer["valid"] and answer["reason"] == "agrees", name
            assert answer["position"] == receipt["ledger"]["position"]
        wrapped = check({"receipt": story.good["single"]})
        assert wrapped["valid"]
        forked = check(story.forked)
        assert forked == {
            "valid": False,
            "signature_valid": True,
            "ledger_agrees": False,
            "stream": "consent",
            "position": story.forked_position,
            "reason": "event_hash_differs",
            "detail": "the ledger holds a different event at this position (a fork)",
        }
        lost = check(story.lost)
        assert (lost["reason"], lost["position"], lost["ledger_agrees"]) == (
            "position_beyond_head",
            story.lost_position,
            False,
        )
        assert check(story.sealed)["reason"] == "checkpoint_differs"
        altered = check(one_character_changed(story.good["batch-2"]))
        assert (altered["reason"], altered["signature_valid"], altered["ledger_agrees"]) == (
            "signature_invalid",
            False,
            None,
        )


def test_the_api_refuses_what_is_not_a_receipt_with_problems(runtime: Runtime) -> None:
    with TestClient(create_app(runtime=runtime)) as client:
        not_json = client.post(
            "/v1/receipts/verify", content=b"{per_secret", headers={"Content-Type": "application/json"}
        )
        assert not_json.status_code == 422
        assert not_json.headers["content-type"].startswith("application/problem+json")
        assert not_json.json()["errors"][0]["field"] == "body"
        assert "per_secret" not in not_json.text
        array = client.post("/v1/receipts/verify", json=[1, 2])
        assert array.status_code == 422 and array.json()["errors"][0]["field"] == "body"
        huge = client.post("/v1/receipts/verify", json={"padding": "x" * 300_000})
        assert huge.status_code == 413 and huge.json()["code"] == "payload_too_large"
        malformed = client.post("/v1/receipts/verify", json={"ledger": {"position": "one"}})
        assert malformed.status_code == 200 and malformed.json()["reason"] == "signature_invalid"


def test_the_api_is_rate_limited_like_other_public_endpoints(database_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=database_url, data_dir=tmp_path / "data", public_rate_limit_per_minute=2)
    with closing(Runtime.start(settings, migrate=False)) as runtime, TestClient(create_app(runtime=runtime)) as client:
        codes = [client.post("/v1/receipts/verify", json={}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_openapi_documents_the_endpoint(runtime: Runtime) -> None:
    with TestClient(create_app(runtime=runtime)) as client:
        spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/v1/receipts/verify"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["type"] == "object"
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/ReceiptVerification"}
    for status in ("413", "422", "429"):
        assert "application/problem+json" in operation["responses"][status]["content"]
    reasons = spec["components"]["schemas"]["ReceiptReason"]["enum"]
    assert set(reasons) == {r.value for r in ReceiptReason}
