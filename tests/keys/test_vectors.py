"""Check every test vector in tests/vectors against the reference implementation.

A valid vector must verify and open to its inner body; a reject vector must raise
the error it names. The files must also be exactly what tests/vectors/generate.py
builds, so the vectors and the code cannot drift apart.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import nacl.bindings
import pytest

from keys import labels
from keys.changes import parse_revocation
from keys.directory import Directory
from keys.encoding import b64decode, digest
from keys.encryption import EncryptionKey
from keys.envelope import header_core_digest, open_envelope, parse_wire, verify
from keys.errors import EnlaceError
from keys.identity import fingerprint, key_id, verify as verify_signature
from keys.log import parse_entry, parse_head
from keys.merkle import root_hash
from keys.records import SignedDocument, parse_record, parse_registration, parse_rejection

VECTOR_DIR = Path(__file__).parents[1] / "vectors"

MANDATORY = {"type", "expect", "description"}
OPTIONAL = {"error", "code", "sender-public-key", "recipient-id", "recipient-secret-key", "inner",
            "content-key", "body-nonce", "ephemeral-secret-key", "header-core-digest", "wrap-key",
            "secretariat-public-key", "key-id", "fingerprint", "log-public-key", "tree-size",
            "root-hash", "leaf-hash", "signer-public-key", "rejected-index", "contact-point", "status",
            "identity-key-id", "encryption-key-ids"}
TYPES = {"envelope", "registration", "record", "rejection", "key", "tree-head", "log-entry",
         "revocation", "directory-log"}

# Vectors that the reference implementation gets wrong today, each with the reason.
# They run as xfail(strict=True), so a fix makes them fail until the entry is removed.
KNOWN_BUGS: dict[str, str] = {}

REQUIRED = {
    "envelope-ok-one-recipient", "envelope-ok-three-recipients", "header-not-canonical",
    "header-duplicate-key", "header-float", "unknown-header-field", "unsupported-version",
    "body-digest-mismatch", "body-truncated", "signature-by-other-key", "signature-over-other-label",
    "header-changed-after-signing", "wrap-wrong-length", "wrap-for-other-recipient",
    "wrap-bound-to-other-header", "low-order-epk", "inner-sender-differs", "inner-recipients-differ",
    "inner-id-differs", "expires-before-created", "duplicate-recipient", "bad-base64-padding",
    "registration-ok", "record-ok", "record-signed-by-other-key", "key-identity-sender",
    "tree-head-ok", "tree-head-signed-by-other-key", "tree-head-wrong-log-key-id", "tree-head-version-true",
    "log-entry-ok", "log-entry-unknown-type", "log-entry-duplicate-key", "revocation-ok",
    "revocation-unknown-reason", "directory-log-ok", "directory-log-key-by-other-identity",
    "directory-log-serial-not-increasing", "directory-log-revocation-by-other-state",
    "directory-log-key-after-revocation",
}


class VectorFormatError(Exception):
    """A vector file that does not follow the format of tests/vectors/generate.py."""


@dataclass(frozen=True)
class Vector:
    name: str
    headers: dict[str, str]
    payload: str

    def __getitem__(self, key: str) -> str:
        return self.headers[key]

    def get(self, key: str) -> str | None:
        return self.headers.get(key)

    def words(self, key: str) -> list[str]:
        return self.headers[key].split(" ")


def parse_vector(name: str, text: str) -> Vector:
    """Parse a vector file; VectorFormatError names the first problem."""
    head, separator, payload = text.partition("\n\n")
    if not separator or not payload.endswith("\n"):
        raise VectorFormatError(f"{name}: expected header lines, a blank line, the payload and a newline")

    headers: dict[str, str] = {}
    for line in head.split("\n"):
        key, colon, value = line.partition(": ")
        if not colon:
            raise VectorFormatError(f"{name}: header line {line!r} is not 'key: value'")
        if key not in MANDATORY | OPTIONAL:
            raise VectorFormatError(f"{name}: unknown header {key!r}")
        if key in headers:
            raise VectorFormatError(f"{name}: header {key!r} appears twice")
        headers[key] = value

    _check_headers(name, headers)
    return Vector(name, headers, payload[:-1])


def _check_headers(name: str, headers: dict[str, str]) -> None:
    missing = sorted(MANDATORY - set(headers))
    if missing:
        raise VectorFormatError(f"{name}: missing header {', '.join(missing)}")
    if headers["type"] not in TYPES:
        raise VectorFormatError(f"{name}: unknown type {headers['type']!r}")
    if headers["expect"] not in ("ok", "reject"):
        raise VectorFormatError(f"{name}: expect must be ok or reject, got {headers['expect']!r}")
    if (headers["expect"] == "reject") != ("error" in headers):
        raise VectorFormatError(f"{name}: the error header is required with expect: reject and not allowed with expect: ok")


def load_vector(path: Path) -> Vector:
    return parse_vector(path.stem, path.read_text(encoding="utf-8"))


def load_generator():
    """Import tests/vectors/generate.py afresh; dataclasses need it in sys.modules."""
    spec = importlib.util.spec_from_file_location("vector_generator", VECTOR_DIR / "generate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def vector_paths() -> list:
    params = []
    for path in sorted(VECTOR_DIR.glob("*.vec")):
        marks = ()
        if path.stem in KNOWN_BUGS:
            marks = pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[path.stem])
        params.append(pytest.param(path, id=path.stem, marks=marks))
    return params


# Running one vector.

def recipients_of(vector: Vector) -> list[tuple[str, EncryptionKey]]:
    ids = vector.words("recipient-id")
    secrets = vector.words("recipient-secret-key")
    if len(ids) != len(secrets):
        raise VectorFormatError(f"{vector.name}: recipient-id and recipient-secret-key differ in length")
    return [(cp_id, EncryptionKey(bytes.fromhex(secret))) for cp_id, secret in zip(ids, secrets)]


def open_as(vector: Vector, cp_id: str, key: EncryptionKey) -> dict:
    envelope = parse_wire(json.loads(vector.payload))
    sender = b64decode(vector["sender-public-key"], size=32)
    header = verify(envelope, sender)
    return open_envelope(envelope, header, cp_id, {key.key_id: key})


def run_envelope(vector: Vector) -> list[dict]:
    return [open_as(vector, cp_id, key) for cp_id, key in recipients_of(vector)[:1]]


def signed_document(vector: Vector) -> SignedDocument:
    return SignedDocument.from_wire(json.loads(vector.payload), what=vector["type"])


def secretariat_key(vector: Vector) -> bytes:
    return b64decode(vector["secretariat-public-key"], size=32)


def run_revocation(vector: Vector) -> object:
    signed = signed_document(vector)
    revocation = parse_revocation(signed)
    verify_signature(b64decode(vector["signer-public-key"], size=32), labels.SIG_REVOCATION,
                     signed.document, signed.signature, what="revocation")
    return revocation


def log_lines(vector: Vector) -> list[bytes]:
    return [line.encode("utf-8") for line in vector.payload.split("\n")]


def run_directory_log(vector: Vector) -> Directory:
    """Fold every entry in; for a reject vector, every entry before rejected-index must apply."""
    directory = Directory(secretariat_key(vector))
    lines = log_lines(vector)
    rejected = int(vector["rejected-index"]) if vector["expect"] == "reject" else None
    if rejected is not None and rejected != len(lines) - 1:
        raise VectorFormatError(f"{vector.name}: rejected-index must name the last entry")

    for index, line in enumerate(lines):
        if index == rejected:
            directory.apply(index, parse_entry(line))
            raise AssertionError(f"{vector.name}: entry {index} was accepted")
        try:
            directory.apply(index, parse_entry(line))
        except EnlaceError as exc:
            raise AssertionError(f"{vector.name}: entry {index}, before the rejected one, "
                                 f"raised {type(exc).__name__}: {exc}") from None
    return directory


def run_document(vector: Vector) -> object:
    kind = vector["type"]
    if kind == "registration":
        return parse_registration(signed_document(vector))
    if kind == "record":
        return parse_record(signed_document(vector), secretariat_key(vector))
    if kind == "rejection":
        return parse_rejection(signed_document(vector), secretariat_key(vector))
    if kind == "tree-head":
        return parse_head(json.loads(vector.payload), b64decode(vector["log-public-key"], size=32))
    if kind == "log-entry":
        return parse_entry(vector.payload.encode("utf-8"))
    if kind == "revocation":
        return run_revocation(vector)
    if kind == "directory-log":
        return run_directory_log(vector)
    raise VectorFormatError(f"{vector.name}: no runner for type {kind!r}")


def check_rejected(vector: Vector) -> None:
    run = run_envelope if vector["type"] == "envelope" else run_document
    with pytest.raises(EnlaceError) as caught:
        run(vector)

    names = [cls.__name__ for cls in type(caught.value).__mro__]
    assert vector["error"] in names, f"raised {names[0]}: {caught.value}"
    if vector.get("code") is not None:
        assert caught.value.code == vector["code"], f"raised code {caught.value.code}: {caught.value}"


def check_envelope_opens(vector: Vector) -> None:
    expected = json.loads(vector["inner"])
    for cp_id, key in recipients_of(vector):
        assert open_as(vector, cp_id, key) == expected, f"{cp_id} opened another inner body"


def check_key(vector: Vector) -> None:
    public_key = b64decode(vector.payload, size=32)
    assert key_id(public_key) == vector["key-id"]
    assert fingerprint(public_key) == vector["fingerprint"]


def check_tree_head(vector: Vector) -> None:
    head = run_document(vector)
    assert head.tree_size == int(vector["tree-size"])
    assert head.root_hash.hex() == vector["root-hash"]


def check_log_entry(vector: Vector) -> None:
    entry = run_document(vector)
    assert entry.leaf_hash.hex() == vector["leaf-hash"]


def check_directory_log(vector: Vector) -> None:
    state = run_directory_log(vector).contacts[vector["contact-point"]]
    assert state.status == vector["status"]
    assert key_id(state.identity_key) == vector["identity-key-id"]
    assert [c.key_id for c in state.keys] == vector.words("encryption-key-ids")


def check_valid(vector: Vector) -> None:
    checks = {"envelope": check_envelope_opens, "key": check_key, "tree-head": check_tree_head,
              "log-entry": check_log_entry, "directory-log": check_directory_log}
    if vector["type"] in checks:
        checks[vector["type"]](vector)
    else:
        assert run_document(vector) is not None


@pytest.mark.parametrize("path", vector_paths())
def test_vector(path: Path):
    vector = load_vector(path)
    if vector["expect"] == "ok":
        check_valid(vector)
    else:
        check_rejected(vector)


# The intermediate values of the valid envelopes, recomputed from the wire bytes.

VALID_ENVELOPES = ["envelope-ok-one-recipient", "envelope-ok-three-recipients"]


def intermediates(name: str) -> tuple[Vector, dict]:
    vector = load_vector(VECTOR_DIR / f"{name}.vec")
    envelope = parse_wire(json.loads(vector.payload))
    header = verify(envelope, b64decode(vector["sender-public-key"], size=32))
    return vector, {"envelope": envelope, "header": header}


@pytest.mark.parametrize("name", VALID_ENVELOPES)
def test_intermediate_core_digest(name: str):
    vector, parts = intermediates(name)
    assert header_core_digest(parts["header"].raw).hex() == vector["header-core-digest"]


@pytest.mark.parametrize("name", VALID_ENVELOPES)
def test_intermediate_body_nonce(name: str):
    vector, parts = intermediates(name)
    assert parts["envelope"].body[:24].hex() == vector["body-nonce"]


@pytest.mark.parametrize("name", VALID_ENVELOPES)
def test_intermediate_ephemeral_keys(name: str):
    vector, parts = intermediates(name)
    secrets = [bytes.fromhex(s) for s in vector.words("ephemeral-secret-key")]
    epks = [b64decode(entry.epk, size=32) for entry in parts["header"].recipients]
    assert [nacl.bindings.crypto_scalarmult_base(s) for s in secrets] == epks


@pytest.mark.parametrize("name", VALID_ENVELOPES)
def test_intermediate_wrap_keys(name: str):
    vector, parts = intermediates(name)
    wrap_keys = []
    for (cp_id, key), entry in zip(recipients_of(vector), parts["header"].recipients):
        epk = b64decode(entry.epk, size=32)
        shared = nacl.bindings.crypto_scalarmult(key.secret, epk)
        wrap_keys.append(digest(shared + epk + key.public_key, labels.KDF_WRAP_KEY).hex())
    assert wrap_keys == vector.words("wrap-key")


@pytest.mark.parametrize("name", VALID_ENVELOPES)
def test_intermediate_content_key(name: str):
    vector, parts = intermediates(name)
    body = parts["envelope"].body
    header = parts["header"]
    ad = labels.AD_BODY + bytes.fromhex(header.id) + header.sender.encode("ascii")
    plaintext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
        body[24:], ad, body[:24], bytes.fromhex(vector["content-key"]))
    assert json.loads(plaintext) == json.loads(vector["inner"])


# Values that tie vectors to the code and to each other: Merkle roots, the tree head's
# log and the record's request digest.

LOG_VECTORS = sorted(path.stem for path in VECTOR_DIR.glob("directory-log-*.vec"))


@pytest.mark.parametrize("name", LOG_VECTORS)
def test_log_root_hash(name: str):
    vector = load_vector(VECTOR_DIR / f"{name}.vec")
    leaves = [parse_entry(line).leaf_hash for line in log_lines(vector)]
    assert root_hash(leaves).hex() == vector["root-hash"]


def test_record_names_registration_digest():
    registration = signed_document(load_vector(VECTOR_DIR / "registration-ok.vec"))
    record = load_vector(VECTOR_DIR / "record-ok.vec")
    parsed = parse_record(signed_document(record), secretariat_key(record))
    assert parsed.request_digest == digest(registration.document, labels.DIGEST_DOCUMENT)


def test_tree_head_commits_to_log():
    head = load_vector(VECTOR_DIR / "tree-head-ok.vec")
    log = load_vector(VECTOR_DIR / "directory-log-ok.vec")
    assert (head["tree-size"], head["root-hash"]) == (str(len(log_lines(log))), log["root-hash"])


# The files and the generator agree, both ways.

@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    return load_generator().build_vectors()


def test_vectors_match_generator(generated: dict[str, str]):
    on_disk = {path.stem: path.read_text(encoding="utf-8") for path in VECTOR_DIR.glob("*.vec")}
    differing = sorted(name for name in generated if on_disk.get(name) != generated[name])
    assert differing == [], "run tests/vectors/generate.py and review the diff"


def test_vectors_none_stale(generated: dict[str, str]):
    stale = sorted(path.stem for path in VECTOR_DIR.glob("*.vec") if path.stem not in generated)
    assert stale == []


def test_vectors_required_present():
    present = {path.stem for path in VECTOR_DIR.glob("*.vec")}
    assert sorted(REQUIRED - present) == []


def test_vectors_known_bugs_exist():
    present = {path.stem for path in VECTOR_DIR.glob("*.vec")}
    assert sorted(set(KNOWN_BUGS) - present) == []


def test_generator_deterministic():
    first = load_generator().build_vectors()
    second = load_generator().build_vectors()
    assert first == second


# The loader itself.

VALID_TEXT = "type: key\nexpect: ok\ndescription: d\nkey-id: x\nfingerprint: y\n\npayload\n"


def test_loader_accepts_valid():
    assert parse_vector("v", VALID_TEXT).payload == "payload"


def test_loader_rejects_unknown_header():
    with pytest.raises(VectorFormatError, match="unknown header 'colour'"):
        parse_vector("v", "colour: red\n" + VALID_TEXT)


def test_loader_rejects_missing_description():
    with pytest.raises(VectorFormatError, match="missing header description"):
        parse_vector("v", VALID_TEXT.replace("description: d\n", ""))


def test_loader_rejects_repeated_header():
    with pytest.raises(VectorFormatError, match="appears twice"):
        parse_vector("v", "expect: ok\n" + VALID_TEXT)


def test_loader_rejects_reject_without_error():
    with pytest.raises(VectorFormatError, match="error header is required"):
        parse_vector("v", VALID_TEXT.replace("expect: ok", "expect: reject"))


def test_loader_rejects_ok_with_error():
    with pytest.raises(VectorFormatError, match="error header is required"):
        parse_vector("v", "error: FormatError\n" + VALID_TEXT)


def test_loader_rejects_missing_blank_line():
    with pytest.raises(VectorFormatError, match="blank line"):
        parse_vector("v", "type: key\nexpect: ok\ndescription: d\n")


def test_loader_rejects_line_without_colon():
    with pytest.raises(VectorFormatError, match="is not 'key: value'"):
        parse_vector("v", "type key\n" + VALID_TEXT)


# The worked example of docs/PROTOCOL.md is the one-recipient vector.

def worked_example_wire() -> dict:
    text = (Path(__file__).parents[2] / "docs" / "PROTOCOL.md").read_text(encoding="utf-8")
    section = text.split("**Wire form**", 1)[1]
    block = section.split("```json\n", 1)[1].split("```", 1)[0]
    return json.loads(block)


def test_worked_example_matches_vector():
    vector = load_vector(VECTOR_DIR / "envelope-ok-one-recipient.vec")
    assert worked_example_wire() == json.loads(vector.payload)
