"""Transparency-log entries and signed tree heads.

Every directory change is one log entry, canonical JSON::

    {"v": 1, "type": "record" | "encryption-key" | "revocation", "cp_id": ID,
     "document": b64, "signature": b64, "appended_at": unix seconds}

``document`` and ``signature`` are the signed change exactly as its author made
it: a Secretariat-signed directory record, an encryption-key certificate signed by
the contact point's identity key, or a revocation signed by whoever had the right.
The leaf of the Merkle tree is the entry's bytes (keys.merkle.leaf_hash).

A signed tree head (STH) commits the broker to the whole log at one size::

    {"v": 1, "tree_size": N, "root_hash": b64, "timestamp": unix seconds, "log_key_id": hex}

signed with the broker's log key under SIG_TREE_HEAD. Two heads of the same size
with different roots, signed by the same log key, prove that the broker showed two
different logs.
"""

from __future__ import annotations

from dataclasses import dataclass

from keys import labels
from keys.encoding import b64decode, b64encode, canonical_json, check_fields, is_version_1, parse_canonical
from keys.errors import FormatError
from keys.identity import IdentityKey, key_id, verify
from keys.ids import check_cp_id
from keys.merkle import HASH_SIZE, leaf_hash

ENTRY_TYPES = ("record", "encryption-key", "revocation")
_ENTRY_FIELDS = {"v", "type", "cp_id", "document", "signature", "appended_at"}
_HEAD_FIELDS = {"v", "tree_size", "root_hash", "timestamp", "log_key_id"}


@dataclass(frozen=True)
class LogEntry:
    type: str
    cp_id: str
    document: bytes
    signature: bytes
    appended_at: int
    raw: bytes

    @property
    def leaf_hash(self) -> bytes:
        return leaf_hash(self.raw)


def make_entry(entry_type: str, cp_id: str, document: bytes, signature: bytes, appended_at: int) -> LogEntry:
    """Build the canonical entry for one directory change."""
    raw = canonical_json({"v": 1, "type": entry_type, "cp_id": cp_id, "document": b64encode(document),
                          "signature": b64encode(signature), "appended_at": appended_at})
    return parse_entry(raw)


def parse_entry(raw: bytes) -> LogEntry:
    """Parse entry bytes; the signature inside is checked later, against the directory state."""
    body = check_fields(parse_canonical(raw, what="log entry"), _ENTRY_FIELDS, what="log entry")
    if not is_version_1(body["v"]):
        raise FormatError(f"log entry version {body['v']!r} is not supported (expected 1)",
                          code="unsupported_version")
    if body["type"] not in ENTRY_TYPES:
        raise FormatError(f"log entry type {body['type']!r} is not supported", value=body["type"])
    if type(body["appended_at"]) is not int:
        raise FormatError("log entry appended_at must be an integer")
    return LogEntry(body["type"], check_cp_id(body["cp_id"]), b64decode(body["document"], field="document"),
                    b64decode(body["signature"], field="signature", size=64), body["appended_at"], raw)


@dataclass(frozen=True)
class TreeHead:
    tree_size: int
    root_hash: bytes
    timestamp: int
    log_key_id: str
    document: bytes
    signature: bytes

    def to_wire(self) -> dict:
        return {"head": b64encode(self.document), "signature": b64encode(self.signature)}


def sign_head(log_key: IdentityKey, tree_size: int, root_hash: bytes, timestamp: int) -> TreeHead:
    document = canonical_json({"v": 1, "tree_size": tree_size, "root_hash": b64encode(root_hash),
                               "timestamp": timestamp, "log_key_id": log_key.key_id})
    return TreeHead(tree_size, root_hash, timestamp, log_key.key_id, document,
                    log_key.sign(labels.SIG_TREE_HEAD, document))


def parse_head(wire: object, log_public_key: bytes) -> TreeHead:
    """Verify a tree head against the pinned log key and parse it."""
    check_fields(wire, {"head", "signature"}, what="tree head")
    document = b64decode(wire["head"], field="tree head")
    signature = b64decode(wire["signature"], field="tree head signature", size=64)
    verify(log_public_key, labels.SIG_TREE_HEAD, document, signature, what="tree head")

    body = check_fields(parse_canonical(document, what="tree head"), _HEAD_FIELDS, what="tree head")
    for name in ("tree_size", "timestamp"):
        if type(body[name]) is not int or body[name] < 0:
            raise FormatError(f"tree head {name} must be a non-negative integer")
    if not is_version_1(body["v"]) or body["log_key_id"] != key_id(log_public_key):
        raise FormatError("tree head names another log key or version")
    root = b64decode(body["root_hash"], field="root_hash", size=HASH_SIZE)
    return TreeHead(body["tree_size"], root, body["timestamp"], body["log_key_id"], document, signature)
