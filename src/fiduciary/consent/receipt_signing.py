"""Signing consent receipts: Ed25519 over one receipt, or once over the Merkle root of a batch.

A batch of receipts is signed once: each receipt's leaf hash goes into a Merkle tree, the signed
statement names the root, and each receipt carries its audit path (docs/decisions/0007-consent-receipt-
batch-signing.md explains why: one Ed25519 signature costs about as much as the whole rest of a consent
write). `receipt_verify` walks the path back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final, Protocol

from fiduciary.consent.receipt_text import canonical, iso_time, scalar_text, signed_bytes
from fiduciary.ledger.signing import b64

BATCH_STATEMENT_TYPE: Final = "fiduciary.consent-receipt.batch.v1"
ALGORITHM: Final = "Ed25519"


class ReceiptSigner(Protocol):
    """What receipts need of `fiduciary.ledger.signing.Signer`."""

    @property
    def key_id(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_paths(leaves: Sequence[bytes]) -> tuple[bytes, list[list[str]]]:
    """The root over `leaves` and each leaf's audit path (sibling hashes in hex, from the bottom up).

    Pairs are hashed level by level; an odd node out is carried up unchanged (no duplication, so no
    second-preimage trick with a repeated last leaf). Leaf and node hashes are domain-separated
    (0x00 / 0x01, as RFC 6962). Which side each sibling is on follows from the leaf's index and the tree
    size, so the path holds only hashes; `_root_from_path` shows the walk.
    """
    size = len(leaves)
    levels: list[list[bytes]] = [list(leaves)]
    while len(levels[-1]) > 1:
        level = levels[-1]
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        levels.append(nxt)
    hexes = [[h.hex() for h in level] for level in levels[:-1]]
    paths: list[list[str]] = []
    for index in range(size):
        path: list[str] = []
        i = index
        for level_hex in hexes:
            sibling = i ^ 1
            if sibling < len(level_hex):
                path.append(level_hex[sibling])
            i >>= 1
        paths.append(path)
    return levels[-1][0], paths


def batch_statement(root_hex: str, size: int, key_id: str) -> bytes:
    """What a batch signature covers; the `type` keeps it from meaning anything else."""
    return canonical({"key_id": key_id, "root": root_hex, "size": size, "type": BATCH_STATEMENT_TYPE})


def path_texts(leaves: Sequence[bytes]) -> tuple[str, list[str]]:
    """The root (hex) and, per leaf, its audit path as the inside of a JSON array (`"h1","h2",…`).

    Equal to `merkle_paths`, built from the top down instead of leaf by leaf: a node's path is its
    sibling's fragment followed by its parent's path, so each level costs one pass over its nodes.
    """
    levels: list[list[bytes]] = [list(leaves)]
    while len(levels[-1]) > 1:
        level = levels[-1]
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        levels.append(nxt)
    above = [""]  # the root's path
    for level in reversed(levels[:-1]):
        width = len(level)
        hexes = [h.hex() for h in level]
        above = [(f'"{hexes[j ^ 1]}",' if j ^ 1 < width else "") + above[j >> 1] for j in range(width)]
    return levels[-1][0].hex(), [path[:-1] for path in above]


def _signature_blocks(texts: Sequence[str], signer: ReceiptSigner) -> list[str]:
    """The `signature` block (as canonical JSON text) for each unsigned receipt text.

    One receipt: Ed25519 over its text. Several: one Ed25519 signature over the batch statement naming
    the Merkle root; each block carries its leaf index, the tree size and the audit path.
    """
    key_id = scalar_text(signer.key_id)
    if len(texts) == 1:
        value = b64(signer.sign(texts[0].encode("utf-8")))
        return ['{"alg":"Ed25519","key_id":' + key_id + ',"merkle":null,"value":"' + value + '"}']
    leaf_prefix = hashlib.sha256(b"\x00")
    leaves = []
    for text in texts:
        leaf = leaf_prefix.copy()
        leaf.update(text.encode("utf-8"))
        leaves.append(leaf.digest())
    root_hex, paths = path_texts(leaves)
    size = len(texts)
    value = b64(signer.sign(batch_statement(root_hex, size, signer.key_id)))
    head = '{"alg":"Ed25519","key_id":' + key_id + ',"merkle":{"index":'
    tail = '],"root":"' + root_hex + '","size":' + str(size) + '},"value":"' + value + '"}'
    return [head + str(index) + ',"path":[' + path + tail for index, path in enumerate(paths)]


def sign_texts(texts: Sequence[str], signer: ReceiptSigner) -> list[str]:
    """Signed receipt texts: each unsigned text with its `signature` member added (still canonical JSON,
    since "signature" sorts after every other top-level key of a receipt)."""
    if not texts:
        return []
    return [
        t[:-1] + ',"signature":' + block + "}" for t, block in zip(texts, _signature_blocks(texts, signer), strict=True)
    ]


def sign_receipts(receipts: Sequence[dict[str, Any]], signer: ReceiptSigner) -> None:
    """Add the `signature` block to receipt dicts (direct for one, Merkle batch for several)."""
    if not receipts:
        return
    blocks = _signature_blocks([signed_bytes(r).decode("utf-8") for r in receipts], signer)
    for receipt, block in zip(receipts, blocks, strict=True):
        receipt["signature"] = json.loads(block)


def attach_checkpoint(
    receipt: dict[str, Any], *, stream: str, position: int, hash_: str, signed_at: datetime, key_id: str, signature: str
) -> None:
    """Attach the signed checkpoint that covers the receipt's ledger position (itself signed separately)."""
    receipt["checkpoint"] = {
        "stream": stream,
        "position": position,
        "hash": hash_,
        "signed_at": iso_time(signed_at),
        "key_id": key_id,
        "signature": signature,
    }
