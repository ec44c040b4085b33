"""Access packages: what a package holds (schema-valid JSON, a CSV per record type, an HTML summary, receipts
that verify), sealed under the person's key, and refused once they are erased."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from fiduciary.audit.models import AuditEventIndex
from fiduciary.audit.reads import events_about
from fiduciary.cli.consent import receipt_app
from fiduciary.consent.receipt_verify import verify_receipt
from fiduciary.consent.service import ConsentService
from fiduciary.errors import Conflict, FiduciaryError, NotFound, ValidationFailed
from fiduciary.ledger.models import LedgerEvent
from fiduciary.personal_data.registry import EraseReport, PersonalDataRegistry, registry_for, rows_of
from fiduciary.rights import flows
from fiduciary.rights.packages.builder import build_package
from fiduciary.rights.packages.content import schema_text
from fiduciary.rights.packages.links import issue_link, open_download
from fiduciary.rights.packages.models import AccessPackage, AccessPackageChunk
from fiduciary.runtime import Runtime
from fiduciary.vault.crypto import CorruptCiphertext
from fiduciary.vault.keys.data_keys import PersonErased, cipher_for_read
from fiduciary.vault.keys.startup import check_vault_keys
from fiduciary.vault.records import PersonalField
from fiduciary.vault.service import VaultService
from packages_support import EMAIL, MESSAGES, NAME, PHONE, download, make_person, member

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "access-package.schema.json").read_text(encoding="utf-8"))


@pytest.fixture
def person(session: Session, runtime: Runtime) -> str:
    return make_person(session, runtime)


def _built(runtime: Runtime, session: Session, person: str, **link: Any) -> tuple[str, str]:
    built = build_package(runtime, session, person_id=person, actor="cli", request_id="req_1")
    token = issue_link(runtime, session, built.package_id, **link).token
    session.commit()
    return built.package_id, token


def test_the_published_schema_is_the_one_shipped() -> None:
    assert json.loads(schema_text()) == SCHEMA
    jsonschema_rs.Draft202012Validator(SCHEMA)  # a valid schema itself


def test_package_holds_json_csv_html_and_receipts(runtime: Runtime, session: Session, person: str) -> None:
    package_id, token = _built(runtime, session, person)
    archive = download(runtime, session, token)
    names = {n.split("/", 1)[1] for n in archive.namelist()}
    assert all(n.startswith(package_id + "/") for n in archive.namelist())
    assert {"package.json", "schema.json", "summary.html"} <= names

    document = json.loads(member(archive, "package.json"))
    errors = [e.message for e in jsonschema_rs.Draft202012Validator(SCHEMA).iter_errors(document)]
    assert errors == []
    assert document["person_id"] == person and document["request_id"] == "req_1"
    by_type: dict[str, list[dict[str, Any]]] = {}
    for record in document["records"]:
        by_type.setdefault(record["record_type"], []).append(record["data"])
    assert [r["value"] for r in by_type["vault.records.support.messages"]] == MESSAGES
    assert {r["category"]: r["value"] for r in by_type["vault.fields"]} == {
        "identity.name": NAME,
        "contact.email": EMAIL,
    }
    assert {r["kind"] for r in by_type["vault.identifiers"]} == {"email", "phone"}
    assert len(by_type["consent.ledger_events"]) == 3
    assert document["record_counts"] == {t: len(rows) for t, rows in by_type.items()}

    # One CSV per record type, its rows the JSON's rows (quotes and commas survive).
    csvs = {n.split("/", 2)[2] for n in archive.namelist() if "/csv/" in n}
    assert csvs == {f"{t}.csv" for t in by_type}
    rows = list(csv.DictReader(io.StringIO(member(archive, "csv/vault.records.support.messages.csv"))))
    assert [r["value"] for r in rows] == MESSAGES
    assert {r["purpose_of_collection"] for r in rows} == {"customer_support"}

    # The categories held, why, from where, to whom, for how long.
    categories = {c["id"]: c for c in document["categories"]}
    assert set(categories) == {"identity.name", "contact.email", "support.messages"}
    email = categories["contact.email"]
    assert {r["id"] for r in email["recipients"]} == {"email_service"}
    assert "account_data" in {r["rule"] for r in email["retention"]}
    assert email["sources_of_collection"] == ["provided"] and email["purposes_of_collection"] == ["account"]


def test_summary_lists_categories_purposes_recipients_retention_and_receipts(
    runtime: Runtime, session: Session, person: str
) -> None:
    _, token = _built(runtime, session, person)
    archive = download(runtime, session, token)
    html = member(archive, "summary.html")
    document = json.loads(member(archive, "package.json"))
    for text in ("Email address", "Support messages", "Email delivery service", "Courier partners"):
        assert text in html or text not in json.dumps(document), text
    assert "Email delivery service" in html
    assert "delete 30 days after account closed" in html or "account_data" in html
    assert "support_history" in html
    for receipt in document["consent_receipts"]:
        assert receipt["header"]["record_id"] in html
    assert "No rights requests are recorded" in html  # no rights_requests domain registered yet
    # Values are never markup: the name's tags are escaped (and the vault values are not in the summary).
    assert "<b>Verma</b>" not in html


def test_receipts_in_the_package_verify(runtime: Runtime, session: Session, person: str, tmp_path: Path) -> None:
    _, token = _built(runtime, session, person)
    archive = download(runtime, session, token)
    document = json.loads(member(archive, "package.json"))
    signer = ConsentService.for_runtime(runtime).signer
    keys = {signer.key_id: signer.public_key_b64}
    receipts = document["consent_receipts"]
    assert len(receipts) == 3 and all(verify_receipt(r, keys).ok for r in receipts)
    positions = {r["ledger"]["position"] for r in receipts}
    stored = {p for (p,) in session.execute(sa.select(LedgerEvent.position).where(LedgerEvent.stream == "consent"))}
    assert positions <= stored
    runner = CliRunner()
    for position in positions:
        path = tmp_path / f"consent-{position}.json"
        path.write_text(member(archive, f"receipts/consent-{position}.json"), encoding="utf-8")
        result = runner.invoke(receipt_app, ["verify", str(path), "--public-key", signer.public_key_b64])
        assert result.exit_code == 0, result.output


def test_the_stream_holds_what_the_exporter_holds(runtime: Runtime, session: Session, person: str) -> None:
    registry = registry_for(runtime)
    exported = registry.export_person(session, person)["domains"]
    streamed: dict[str, list[Any]] = {}
    for record_type, row in registry.stream_person(session, person):
        streamed.setdefault(record_type, []).append(dict(row))
    vault = exported["vault"]
    assert {r["category"]: r["value"] for r in streamed["vault.fields"]} == vault["fields"]
    assert [r["value"] for r in streamed["vault.records.support.messages"]] == [
        r["value"] for r in vault["records"]["support.messages"]
    ]
    assert streamed["consent.ledger_events"] == exported["consent"]["ledger_events"]
    assert streamed["consent.state"] == exported["consent"]["state"]
    assert streamed["audit.events"] == exported["audit"]["events"]
    assert streamed["people"] == [exported["people"]]


def test_package_is_sealed_and_build_is_audited(runtime: Runtime, session: Session, person: str) -> None:
    package_id, token = _built(runtime, session, person)
    sealed = b"".join(
        session.scalars(sa.select(AccessPackageChunk.sealed).where(AccessPackageChunk.package_id == package_id))
    )
    for value in (EMAIL, PHONE, MESSAGES[0], "package.json"):
        assert value.encode() not in sealed
    row = session.get(AccessPackage, package_id)
    assert row is not None and token.encode() not in row.link_hash  # stored hashed
    built = [e for e in events_about(session, person) if e["action"] == "package.build"]
    assert [(e["person_id"], e["target"], e["request_id"]) for e in built] == [(person, package_id, "req_1")]
    exported = flows.export_person(runtime, session, actor="cli", person_id=person)
    session.commit()
    [meta] = exported["domains"]["access_packages"]["packages"]
    assert meta["id"] == package_id and "token" not in json.dumps(meta) and meta["max_downloads"] == 3


def test_erased_person_package_is_refused(runtime: Runtime, session: Session, person: str) -> None:
    package_id, token = _built(runtime, session, person)
    VaultService(runtime).erase_person(session, person, "erasure_request")  # the key alone: crypto-shredding
    session.commit()
    with pytest.raises(PersonErased):
        open_download(runtime, session, token)
    assert session.get(AccessPackage, package_id).downloads == 0  # type: ignore[union-attr]
    with pytest.raises(Conflict) as refused:
        build_package(runtime, session, person_id=person, actor="cli")
    assert refused.value.code == "person_erased"
    summary = flows.erase_person(runtime, session, actor="cli", person_id=person)
    session.commit()
    report = {r.domain: r for r in summary.reports}["access_packages"]
    assert report.deleted == 1
    assert session.scalar(sa.select(sa.func.count()).select_from(AccessPackageChunk)) == 0
    with pytest.raises(NotFound):
        open_download(runtime, session, token)
    actions = [
        a for (a,) in session.execute(sa.select(AuditEventIndex.action).order_by(AuditEventIndex.ledger_position))
    ]
    assert actions.count("package.download") == 1  # the refused download of the erased person's package


def test_bad_input_is_refused_and_changes_nothing(runtime: Runtime, session: Session, person: str) -> None:
    with pytest.raises(ValidationFailed) as bad:
        build_package(runtime, session, person_id="asha@example.in", actor="cli")
    assert bad.value.fields[0].field == "person_id"
    with pytest.raises(NotFound):
        build_package(runtime, session, person_id="per_" + "a" * 26, actor="cli")
    with pytest.raises(ValidationFailed) as bad_request:
        build_package(runtime, session, person_id=person, actor="cli", request_id="not a request id!")
    assert bad_request.value.fields[0].field == "request_id"
    assert session.scalar(sa.select(sa.func.count()).select_from(AccessPackage)) == 0
    package_id, _ = _built(runtime, session, person)
    for kwargs, field in (
        ({"valid_for": timedelta(0)}, "valid_for"),
        ({"valid_for": timedelta(days=365)}, "valid_for"),
        ({"max_downloads": 0}, "max_downloads"),
        ({"max_downloads": True}, "max_downloads"),
    ):
        with pytest.raises(ValidationFailed) as terms:
            issue_link(runtime, session, package_id, **kwargs)
        assert terms.value.fields[0].field == field
    with pytest.raises(NotFound):
        issue_link(runtime, session, "pkg_" + "0" * 32)
    assert isinstance(bad.value, FiduciaryError)


def test_a_record_moved_to_another_item_fails_to_open(runtime: Runtime, session: Session, person: str) -> None:

    cipher = cipher_for_read(check_vault_keys(runtime), session, person)
    assert cipher is not None
    rows = session.execute(
        sa.select(PersonalField.item, PersonalField.ciphertext, PersonalField.key_version).where(
            PersonalField.person_id == person, PersonalField.category == "support.messages"
        )
    ).all()
    opener = cipher.record_opener("support.messages", rows[0].key_version)
    assert [opener(r.ciphertext, r.item) for r in rows[:3]] == [
        cipher.decrypt("support.messages", r.ciphertext, r.item, r.key_version) for r in rows[:3]
    ]
    with pytest.raises(CorruptCiphertext):
        opener(rows[0].ciphertext, rows[1].item)


def test_a_registration_without_a_stream_is_walked_from_its_mapping() -> None:
    exported = {"status": "active", "points": [{"n": 1}, {"n": 2}], "tags": ["a"], "empty": []}
    assert list(rows_of(exported)) == [
        ("points", {"n": 1}),
        ("points", {"n": 2}),
        ("", {"status": "active", "tags": ["a"]}),
    ]
    registry = PersonalDataRegistry()
    registry.register("loyalty", lambda s, p: exported, lambda s, p: EraseReport("loyalty"), ["loyalty_points"])
    assert [t for t, _ in registry.stream_person(None, "per_x")] == ["loyalty.points", "loyalty.points", "loyalty"]  # type: ignore[arg-type]
