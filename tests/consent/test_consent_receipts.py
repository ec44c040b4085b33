"""Consent receipts: 27560/Kantara shape, canonical text, single and Merkle-batch signatures, checkpoints,
offline verification from the command line, and tampering in every part."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from consent_support import adult, item
from fiduciary.cli.consent import receipt_app
from fiduciary.cli.main import app
from fiduciary.config import DEMO_POLICY_PATH
from fiduciary.consent import receipt_signing
from fiduciary.consent.receipt_signing import merkle_paths, sign_receipts, sign_texts
from fiduciary.consent.receipt_text import canonical, signed_bytes
from fiduciary.consent.receipt_verify import verify_receipt
from fiduciary.consent.receipts import (
    ReceiptEvent,
    build_receipt,
    build_receipt_text,
    build_receipt_texts,
    record_id_for,
    signed_receipt_texts,
)
from fiduciary.consent.service import ConsentChannel, ConsentService
from fiduciary.ledger.signing import Signer
from fiduciary.people.service import new_visitor_id
from fiduciary.policy.canonical import content_hash
from fiduciary.policy.compiled import CompiledPolicy
from fiduciary.policy.loader import load_policy
from fiduciary.runtime import Runtime

runner = CliRunner()
SIGNER = Signer.generate()
KEYS = {SIGNER.key_id: SIGNER.public_key_b64}


@pytest.fixture(scope="module")
def policy() -> CompiledPolicy:
    document = load_policy(DEMO_POLICY_PATH).document
    return CompiledPolicy.build(document, content_hash(document), 4)


def event(policy: CompiledPolicy, position: int = 7, **payload: Any) -> ReceiptEvent:
    base = {
        "subject": "per_" + "a" * 26,
        "purpose": "marketing.email",
        "version": policy.version,
        "notice": policy.content_hash,
        "lang": "en",
        "channel": "checkout",
    }
    base.update(payload)
    return ReceiptEvent(position, f"{position:064x}", "consent.granted", datetime(2027, 1, 2, 3, 4, 5, 6, UTC), base)


def signed(policy: CompiledPolicy, **payload: Any) -> dict[str, Any]:
    text = build_receipt_text(policy, event(policy, **payload), base_url="https://privacy.example")
    [signed_text] = sign_texts([text], SIGNER)
    receipt: dict[str, Any] = json.loads(signed_text)
    assert canonical(receipt).decode() == signed_text
    return receipt


def test_shape_follows_27560_and_kantara(policy: CompiledPolicy) -> None:
    receipt = signed(policy, guardian="per_" + "g" * 26, ua="ab" * 32, ip_prefix="203.0.113.0/24", ref="cd" * 16)
    assert set(receipt["header"]) == {"schema_version", "record_id", "pii_principal_id"}
    processing = receipt["processing"]
    for key in (
        "privacy_notice",
        "language",
        "purposes",
        "pii_information",
        "pii_controllers",
        "storage_locations",
        "retention_period",
        "jurisdiction",
        "recipient_third_parties",
        "withdrawal_method",
    ):
        assert key in processing, key
    assert processing["privacy_notice"] == {
        "url": "https://privacy.example/v1/policy/versions/4",
        "version": 4,
        "hash": policy.content_hash,
    }
    assert processing["purposes"][0]["lawful_basis"] == "consent"
    assert [p["pii_type"] for p in processing["pii_information"]] == ["identity.name", "contact.email"]
    assert processing["pii_controllers"][0]["party_name"] == "Saffron Lane Retail Private Limited"
    assert {"event_time", "event_type", "event_state", "validity_duration"} <= set(receipt["event"])
    assert receipt["event"]["event_state"] == "given" and receipt["event"]["entity_id"] == "per_" + "g" * 26
    kantara = receipt["kantara"]
    assert kantara["version"] == "KI-CR-v1.1.0" and kantara["consentReceiptID"] == receipt["header"]["record_id"]
    assert kantara["piiPrincipalId"] == "per_" + "a" * 26 and kantara["jurisdiction"] == "IN"
    assert kantara["services"][0]["purposes"][0]["consentType"] == "EXPLICIT"
    assert receipt["ledger"] == {
        "stream": "consent",
        "position": 7,
        "event_hash": f"{7:064x}",
        "event_type": "consent.granted",
    }
    assert verify_receipt(receipt, KEYS).ok


_text = st.text(max_size=40)


@settings(max_examples=150, deadline=None)
@given(
    subject=_text,
    lang=_text,
    channel=_text,
    guardian=st.none() | _text.filter(bool),
    ua=st.none() | _text,
    ip=st.none() | _text,
    ref=st.none() | _text,
    position=st.integers(1, 2**53 - 1),
)
def test_fast_text_equals_canonical_json(
    subject: str,
    lang: str,
    channel: str,
    guardian: str | None,
    ua: str | None,
    ip: str | None,
    ref: str | None,
    position: int,
) -> None:
    document = load_policy(DEMO_POLICY_PATH).document
    compiled = CompiledPolicy.build(document, content_hash(document), 4)
    payload = {"subject": subject, "lang": lang, "channel": channel, "ua": ua, "ip_prefix": ip, "ref": ref}
    if guardian is not None:
        payload["guardian"] = guardian
    text = build_receipt_text(compiled, event(compiled, position, **payload), base_url="http://x")
    receipt = json.loads(text)
    assert text.encode() == canonical(receipt) == signed_bytes(receipt)
    assert receipt["header"]["pii_principal_id"] == subject and receipt["ledger"]["position"] == position


@pytest.mark.parametrize("stored_hash", ["ab" * 32, 'a"b\\c' + "0" * 58, "é" * 64, "AB" * 32])
def test_a_rebuilt_receipt_stays_canonical_whatever_hash_the_row_holds(
    policy: CompiledPolicy, stored_hash: str
) -> None:
    """The write path's hashes are hex; a receipt rebuilt from a stored row must stay valid JSON either way."""
    base = event(policy)
    text = build_receipt_text(
        policy, ReceiptEvent(base.position, stored_hash, base.event_type, base.recorded_at, base.payload), base_url="x"
    )
    receipt = json.loads(text)
    assert text.encode() == canonical(receipt)
    assert receipt["ledger"]["event_hash"] == stored_hash
    assert receipt["header"]["record_id"] == record_id_for(stored_hash)


@pytest.mark.parametrize("size", [2, 3, 4, 5, 7, 8, 9, 16, 17, 33])
def test_merkle_batch_every_receipt_verifies(policy: CompiledPolicy, size: int) -> None:
    texts = [build_receipt_text(policy, event(policy, i + 1), base_url="http://x") for i in range(size)]
    receipts = [json.loads(t) for t in sign_texts(texts, SIGNER)]
    dict_signed = [build_receipt(policy, event(policy, i + 1), base_url="http://x") for i in range(size)]
    sign_receipts(dict_signed, SIGNER)
    assert dict_signed == receipts  # the dict path and the text path sign identically
    roots = {r["signature"]["merkle"]["root"] for r in receipts}
    assert len(roots) == 1 and len({r["signature"]["value"] for r in receipts}) == 1
    for receipt in receipts:
        assert verify_receipt(json.loads(json.dumps(receipt)), KEYS).ok
    # A receipt from the batch cannot pose as another member or another size of tree.
    forged = copy.deepcopy(receipts[0])
    forged["signature"]["merkle"]["index"] = 1
    assert not verify_receipt(forged, KEYS).ok
    forged = copy.deepcopy(receipts[-1])
    forged["signature"]["merkle"]["size"] = size + 1
    assert not verify_receipt(forged, KEYS).ok
    forged = copy.deepcopy(receipts[0])
    forged["signature"]["merkle"]["path"] = forged["signature"]["merkle"]["path"][:-1]
    assert not verify_receipt(forged, KEYS).ok


@pytest.mark.parametrize("size", [1, 2, 3, 5, 6, 7, 8, 9, 31, 32, 33, 100])
def test_path_texts_equal_the_leaf_by_leaf_merkle_paths(size: int) -> None:
    leaves = [hashlib.sha256(str(i).encode()).digest() for i in range(size)]
    root, paths = merkle_paths(leaves)
    root_hex, texts = receipt_signing.path_texts(leaves)
    assert root_hex == root.hex()
    assert texts == [",".join(f'"{h}"' for h in path) for path in paths]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 12])
def test_write_path_signing_equals_building_then_signing(policy: CompiledPolicy, size: int) -> None:
    """The write path renders each receipt twice instead of keeping and copying it; the result is the same."""
    purposes = ["marketing.email", "marketing.sms", "analytics"]
    events = []
    for i in range(size):
        payload: dict[str, Any] = {
            "subject": f"per_{i:026d}",
            "purpose": purposes[i % 3],
            "version": policy.version,
            "notice": policy.content_hash,
            "lang": "hi" if i % 2 else "en",
            "channel": "guardian" if i % 4 == 1 else "checkout",
            "ua": None if i % 3 else "ab" * 32,
            "ip_prefix": "203.0.113.0/24",
        }
        if i % 4 == 1:
            payload["guardian"] = "per_" + "g" * 26
        events.append(
            (i + 10, f"{i + 10:064x}", ["consent.granted", "consent.withdrawn", "consent.denied"][i % 3], payload)
        )
    when = datetime(2027, 1, 2, 3, 4, 5, 6, UTC)
    texts = build_receipt_texts(policy, events, when, base_url="http://x")
    assert texts == [
        build_receipt_text(policy, ReceiptEvent(p, h, t, when, pl), base_url="http://x") for p, h, t, pl in events
    ]
    signed = signed_receipt_texts(policy, events, when, SIGNER, base_url="http://x")
    assert signed == sign_texts(texts, SIGNER)
    for text in signed:
        assert verify_receipt(json.loads(text), KEYS).ok


def test_merkle_root_of_one_leaf_is_the_leaf() -> None:
    root, paths = merkle_paths([b"\x01" * 32])
    assert root == b"\x01" * 32 and paths == [[]]


TAMPERS = [
    ("header", lambda r: r["header"].__setitem__("pii_principal_id", "per_" + "b" * 26)),
    ("purpose", lambda r: r["processing"]["purposes"][0].__setitem__("purpose", "marketing.sms")),
    ("state", lambda r: r["event"].__setitem__("event_state", "withdrawn")),
    ("time", lambda r: r["event"].__setitem__("event_time", "2020-01-01T00:00:00.000000Z")),
    ("position", lambda r: r["ledger"].__setitem__("position", 8)),
    ("kantara", lambda r: r["kantara"].__setitem__("piiPrincipalId", "per_" + "b" * 26)),
    ("added", lambda r: r.__setitem__("extra", True)),
    ("removed", lambda r: r.pop("evidence")),
    ("signature", lambda r: r["signature"].__setitem__("value", "A" * 86 + "==")),
    ("key", lambda r: r["signature"].__setitem__("key_id", "0" * 16)),
    ("no signature", lambda r: r.pop("signature")),
]


@pytest.mark.parametrize(("name", "tamper"), TAMPERS, ids=[t[0] for t in TAMPERS])
def test_tampered_receipt_fails(policy: CompiledPolicy, name: str, tamper: Any) -> None:
    receipt = signed(policy)
    assert verify_receipt(receipt, KEYS).ok
    tamper(receipt)
    check = verify_receipt(receipt, KEYS)
    assert not check.ok and check.problems


def test_wrong_key_fails(policy: CompiledPolicy) -> None:
    other = Signer.generate()
    assert not verify_receipt(signed(policy), {SIGNER.key_id: other.public_key_b64}).ok
    assert not verify_receipt("not a receipt", KEYS).ok


# --------------------------------------------------------------------------------- against the database


def sealed_receipt(session: Session, runtime: Runtime) -> tuple[ConsentService, dict[str, Any]]:
    service = ConsentService.for_runtime(runtime)
    person = adult(session, runtime)
    written = service.record(session, item(person, "marketing.email"))
    session.commit()
    assert "checkpoint" not in service.receipt(session, written.ledger_position)
    service.ledger.seal(session)
    session.commit()
    return service, service.receipt(session, written.ledger_position)


def test_receipt_with_checkpoint_verifies_and_tampered_checkpoint_fails(session: Session, runtime: Runtime) -> None:
    service, receipt = sealed_receipt(session, runtime)
    keys = {service.signer.key_id: service.signer.public_key_b64}
    check = verify_receipt(receipt, keys)
    assert check.ok and check.checkpoint_present and check.checkpoint_ok
    assert receipt["checkpoint"]["position"] >= receipt["ledger"]["position"]
    for field, value in (("hash", "0" * 64), ("position", 0), ("signed_at", "2020-01-01T00:00:00.000000Z")):
        tampered = copy.deepcopy(receipt)
        tampered["checkpoint"][field] = value
        assert not verify_receipt(tampered, keys).ok, field


def test_batch_receipts_from_the_service_verify(session: Session, runtime: Runtime) -> None:
    service = ConsentService.for_runtime(runtime)
    results = service.record_many(
        session, [item(new_visitor_id(), "analytics", channel=ConsentChannel.BANNER) for _ in range(25)]
    )
    session.commit()
    keys = {service.signer.key_id: service.signer.public_key_b64}
    assert all(verify_receipt(r.receipt, keys).ok for r in results)
    assert results[0].receipt["signature"]["merkle"]["size"] == 25


def test_cli_verifies_offline_and_rejects_tampering(session: Session, runtime: Runtime, tmp_path: Path) -> None:
    service, receipt = sealed_receipt(session, runtime)
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(receipt), encoding="utf-8")
    key = service.signer.public_key_b64
    ok = runner.invoke(receipt_app, ["verify", str(path), "--public-key", key])
    assert ok.exit_code == 0, ok.output
    assert "valid" in ok.output and "checkpoint" in ok.output
    alias = runner.invoke(app, ["consent", "verify-receipt", str(path), "--public-key", key])
    assert alias.exit_code == 0, alias.output
    receipt["event"]["event_state"] = "withdrawn"
    path.write_text(json.dumps(receipt), encoding="utf-8")
    bad = runner.invoke(receipt_app, ["verify", str(path), "--public-key", key])
    assert bad.exit_code == 1
    assert "FAILED" in bad.output and "altered" in bad.output
    other = runner.invoke(receipt_app, ["verify", str(path), "--public-key", Signer.generate().public_key_b64])
    assert other.exit_code == 1 and "not among the trusted keys" in other.output
    path.write_text("{not json", encoding="utf-8")
    assert runner.invoke(receipt_app, ["verify", str(path), "--public-key", key]).exit_code == 1
    assert runner.invoke(receipt_app, ["verify", str(tmp_path / "missing.json"), "--public-key", key]).exit_code == 1
    assert runner.invoke(receipt_app, ["verify", str(path), "--public-key", "not-a-key"]).exit_code == 2
