"""Offline verification of a consent receipt: its signature (direct or through its Merkle path) and its
signed checkpoint, against trusted public keys only, without our database."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fiduciary.consent.receipt_signing import ALGORITHM, batch_statement, leaf_hash, node_hash
from fiduciary.consent.receipt_text import signed_bytes
from fiduciary.ledger.chain import checkpoint_statement
from fiduciary.ledger.signing import verify_signature


@dataclass
class ReceiptCheck:
    """The outcome of checking one receipt; `problems` say what failed, in plain words."""

    signature_ok: bool = False
    checkpoint_present: bool = False
    checkpoint_ok: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.signature_ok and (self.checkpoint_ok or not self.checkpoint_present) and not self.problems


def _root_from_path(leaf: bytes, index: Any, size: Any, path: Any) -> bytes | None:
    """Walk from a leaf to the root; None if the path does not fit a tree of `size` leaves."""
    if not (isinstance(index, int) and isinstance(size, int) and isinstance(path, list)):
        return None
    if not 0 <= index < size or size > 2**32:
        return None
    current, i, width, steps = leaf, index, size, iter(path)
    while width > 1:
        sibling_index = i ^ 1
        if sibling_index < width:
            step = next(steps, None)
            if not isinstance(step, str):
                return None
            try:
                sibling = bytes.fromhex(step)
            except ValueError:
                return None
            if len(sibling) != 32:
                return None
            current = node_hash(sibling, current) if i & 1 else node_hash(current, sibling)
        i >>= 1
        width = (width + 1) // 2
    if next(steps, None) is not None:
        return None
    return current


@functools.lru_cache(maxsize=1024)
def _batch_signature_valid(public_key: str, root_hex: str, size: int, key_id: str, value: str) -> bool:
    """One Ed25519 check per batch, not per receipt: checking a directory of receipts from one batch (up to
    10,000) repeats the same statement and signature, and the check is a pure function of its arguments."""
    return verify_signature(public_key, batch_statement(root_hex, size, key_id), value)


def verify_receipt(receipt: Any, public_keys: Mapping[str, str]) -> ReceiptCheck:
    """Check a receipt offline against trusted public keys ({key_id: base64 raw key}).

    Checks the receipt signature (directly or through its Merkle path) and, if a checkpoint is attached,
    the checkpoint signature and that it covers the receipt's ledger position.
    """
    check = ReceiptCheck()
    if not isinstance(receipt, dict):
        check.problems.append("the file is not a JSON object")
        return check
    sig = receipt.get("signature")
    if not isinstance(sig, dict) or sig.get("alg") != ALGORITHM:
        check.problems.append("the receipt has no Ed25519 signature block")
        return check
    key_id = sig.get("key_id")
    public_key = public_keys.get(key_id) if isinstance(key_id, str) else None
    if public_key is None or not isinstance(key_id, str):
        check.problems.append(f"the receipt is signed with key {key_id!r}, which is not among the trusted keys")
        return check
    value = sig.get("value")
    if not isinstance(value, str):
        check.problems.append("the signature value is missing")
        return check
    try:
        body = signed_bytes(receipt)
    except (TypeError, ValueError):
        check.problems.append("the receipt cannot be serialised canonically")
        return check
    merkle = sig.get("merkle")
    if merkle is None:
        check.signature_ok = verify_signature(public_key, body, value)
    elif isinstance(merkle, dict):
        size = merkle.get("size")
        root = _root_from_path(leaf_hash(body), merkle.get("index"), size, merkle.get("path"))
        if root is None or not isinstance(size, int) or root.hex() != merkle.get("root"):
            check.problems.append("the receipt content does not match its Merkle path (it was altered)")
            return check
        check.signature_ok = _batch_signature_valid(public_key, root.hex(), size, key_id, value)
    if not check.signature_ok:
        check.problems.append("the signature does not match the receipt content (it was altered or forged)")
    checkpoint = receipt.get("checkpoint")
    if checkpoint is not None:
        check.checkpoint_present = True
        check.checkpoint_ok = _verify_checkpoint(checkpoint, receipt.get("ledger"), public_keys, check.problems)
    return check


def _verify_checkpoint(checkpoint: Any, ledger: Any, public_keys: Mapping[str, str], problems: list[str]) -> bool:
    try:
        stream = checkpoint["stream"]
        position = checkpoint["position"]
        hash_ = checkpoint["hash"]
        signed_at = checkpoint["signed_at"]
        key_id = checkpoint["key_id"]
        signature = checkpoint["signature"]
    except (KeyError, TypeError):
        problems.append("the checkpoint block is incomplete")
        return False
    key = public_keys.get(key_id) if isinstance(key_id, str) else None
    if key is None:
        problems.append(f"the checkpoint is signed with key {key_id!r}, which is not among the trusted keys")
        return False
    try:
        statement = checkpoint_statement(stream, position, hash_, signed_at, key_id)
    except (TypeError, ValueError):
        problems.append("the checkpoint block is malformed")
        return False
    if not verify_signature(key, statement, signature):
        problems.append("the checkpoint signature does not match (it was altered or forged)")
        return False
    if not isinstance(ledger, dict) or ledger.get("stream") != stream:
        problems.append("the checkpoint is for another ledger stream than the receipt")
        return False
    receipt_position = ledger.get("position")
    if not isinstance(receipt_position, int) or receipt_position > position:
        problems.append("the checkpoint does not cover the receipt's ledger position")
        return False
    if receipt_position == position and ledger.get("event_hash") != hash_:
        problems.append("the checkpoint hash differs from the receipt's event hash at the same position")
        return False
    return True
