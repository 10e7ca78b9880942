"""The directory's transparency log against real broker processes.

Covers tampering with the broker's SQLite file, split views between two brokers
that share one log key, the log API's responses to bad input, the proofs the broker
serves, key rotation, revocation and expired encryption keys. Every client here
pins the Secretariat key and the broker's log key, as client.transparency expects.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from broker.services.delivery import MAX_CLOCK_SKEW
from brokerproc import BrokerProcess, approve, enrol, new_material, sample_profile, signer
from client import contact
from client import home as local
from client.api import ApiFailure, BrokerClient, Signer
from client.audit import audit, compare_heads
from client.errors import TrustError, UsageError
from client.transparency import TrustContext, accept_head
from client.trust import open_received, verified_state
from keys import keystore, labels
from keys.changes import make_revocation
from keys.content import to_sealable
from keys.directory import ContactState
from keys.encoding import b64decode, b64encode, canonical_json
from keys.encryption import DEFAULT_VALIDITY, EncryptionKey, certify
from keys.envelope import RecipientKey, parse_wire, seal
from keys.header import parse_header
from keys.identity import IdentityKey, key_id
from keys.log import make_entry, parse_entry, parse_head
from keys.merkle import ProofError, leaf_hash, root_hash, verify_consistency, verify_inclusion
from keys.records import SignedDocument, sign_record
from keys.requests import SECRETARIAT, sign_request

SENDER = "mx.anam.inteligencia"
READER = "us.atf.tracing"
TARGET = "gt.sat.aduanas"
LOCAL = "mx.fgr.armas"
MX_ADMIN = "mx.anam.coordinacion"
US_ADMIN = "us.cbp.coordination"
OUTSIDER = "us.cbp.targeting"
EXTRA = "ca.rcmp.firearms"
DAY = 24 * 3600
ENLACE_SCRIPT = Path(sys.executable).with_name("enlace")


# Helpers


_log_keys: dict[Path, bytes] = {}


def log_key_of(process: BrokerProcess) -> bytes:
    """The broker's log public key, loaded once per key file because opening the keystore runs Argon2."""
    if process.log_key_path not in _log_keys:
        _log_keys[process.log_key_path] = process.log_public_key
    return _log_keys[process.log_key_path]


def trust_for(process: BrokerProcess, root: IdentityKey) -> TrustContext:
    """A client that pins ``root`` and the broker's log key and has accepted no head yet."""
    return TrustContext(root.public_key, log_key_of(process))


async def fetch_head(api: BrokerClient) -> dict:
    return await api.call("GET", "/v1/log/head", signed=False)


def decode_hashes(hashes: list[str]) -> list[bytes]:
    return [b64decode(h, field="proof hash", size=32) for h in hashes]


def log_rows(db: Path) -> list[tuple]:
    """(seq, cp_id, type, entry, leaf_hash) of every stored log entry, in order."""
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT seq, cp_id, type, entry, leaf_hash FROM log_entries ORDER BY seq").fetchall()


def log_size(db: Path) -> int:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT COUNT(*) FROM log_entries").fetchone()[0]


def entry_index(db: Path, cp_id: str, entry_type: str) -> int:
    """The index of the last log entry of ``entry_type`` about ``cp_id``."""
    indexes = [seq for seq, row_id, row_type, _, _ in log_rows(db) if row_id == cp_id and row_type == entry_type]
    assert indexes, f"no {entry_type} entry for {cp_id} in the log"
    return indexes[-1]


def rewrite_entry(db: Path, seq: int, signed: SignedDocument, *, update_leaf_hash: bool) -> None:
    """Replace the signed change inside log entry ``seq``, as an attacker with the file could."""
    with closing(sqlite3.connect(db)) as conn, conn:
        (raw,) = conn.execute("SELECT entry FROM log_entries WHERE seq = ?", (seq,)).fetchone()
        old = parse_entry(raw)
        new = make_entry(old.type, old.cp_id, signed.document, signed.signature, old.appended_at)
        if update_leaf_hash:
            conn.execute("UPDATE log_entries SET entry = ?, leaf_hash = ? WHERE seq = ?",
                         (new.raw, new.leaf_hash, seq))
        else:
            conn.execute("UPDATE log_entries SET entry = ? WHERE seq = ?", (new.raw, seq))


def rewrite_record_row(db: Path, cp_id: str, signed: SignedDocument, identity_key: bytes) -> None:
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE directory_records SET record = ?, signature = ?, identity_key = ? WHERE cp_id = ?",
                     (signed.document, signed.signature, identity_key, cp_id))


def unexpected_errors(process: BrokerProcess) -> list[dict]:
    return [e for e in process.log_events() if e.get("event") == "unexpected error"]


def cli_home(home: Path, process: BrokerProcess, root: IdentityKey) -> Path:
    """A client home that pins ``root`` and the broker's log key; directory commands need no keystore."""
    local.save_config(home, local.Config(broker=process.url, secretariat_key=b64encode(root.public_key),
                                         log_key=b64encode(log_key_of(process))))
    return home


def run_enlace(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENLACE_")}
    env["LANG"] = "C.UTF-8"
    command = [str(ENLACE_SCRIPT)] if ENLACE_SCRIPT.exists() else [sys.executable, "-m", "client"]
    return subprocess.run([*command, "--home", str(home), *args], check=False, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)


def material_with_keys(cp_id: str, validities: list[tuple[int, int]]) -> keystore.KeyMaterial:
    """Keys for ``cp_id`` whose encryption keys are valid in each [not_before, not_after)."""
    keys = [keystore.StoredEncryptionKey(EncryptionKey.generate(), start, end) for start, end in validities]
    return keystore.KeyMaterial(cp_id, IdentityKey.generate(), keys)


async def enrol_material(url: str, root: IdentityKey, material: keystore.KeyMaterial, *,
                         role: str = "contact-point") -> None:
    """Register ``material`` with its own profile fields and approve it with ``root``."""
    profile = sample_profile(material.owner)
    request = contact.registration_request(material, agency=profile["agency"], agency_type=profile["agency_type"],
                                           unit=profile["unit"], languages=profile["languages"],
                                           topics=profile["topics"], role=role)
    async with BrokerClient(url) as api:
        await api.register(request)
    await approve(url, root, material.owner)


def envelope_for(sender: keystore.KeyMaterial, recipient: keystore.KeyMaterial, subject: str, *,
                 created: int | None = None, key_index: int = 0) -> dict:
    """An envelope from ``sender``, wrapped for one encryption key that the test has for ``recipient``."""
    key = recipient.encryption_keys[key_index].key
    sealed = seal(sender.identity, sender.owner, [RecipientKey(recipient.owner, key.key_id, key.public_key)],
                  kind="message", priority="normal", content=to_sealable("message", {"subject": subject}),
                  created=created)
    return sealed.to_wire()


async def post_status(url: str, caller: Signer, path: str, body: dict) -> tuple[int, str]:
    """(HTTP status, error code or "") of one POST signed by ``caller``."""
    data = json.dumps(body).encode("utf-8")
    headers = {"Content-Type": "application/json"} | sign_request(caller.identity, caller.caller, "POST", path, data)
    async with aiohttp.ClientSession() as session, session.post(url + path, data=data, headers=headers) as response:
        answer = await response.json(content_type=None)
        status = response.status
    error = answer.get("error", {}) if isinstance(answer, dict) else {}
    return status, error.get("code", "")


async def submit_status(url: str, sender: keystore.KeyMaterial, wire: dict) -> tuple[int, str]:
    """(HTTP status, error code or "") of submitting envelope ``wire`` as ``sender``."""
    return await post_status(url, signer(sender), "/v1/messages", wire)


# Tampering with the stored log


def attacker_record(signing_key: IdentityKey, original: ContactState) -> tuple[keystore.KeyMaterial, SignedDocument]:
    """New keys for ``original``'s contact point and a record for them signed by ``signing_key``."""
    cp_id = original.cp_id
    attacker = new_material(cp_id)
    certificates = [certify(attacker.identity, cp_id, k.key, not_before=k.not_before, not_after=k.not_after)
                    for k in attacker.encryption_keys]
    record = sign_record(signing_key, original.record.profile.model_dump(), attacker.identity.public_key,
                         certificates, request_digest=original.record.request_digest, now=int(time.time()),
                         serial=original.record.serial)
    return attacker, record


async def test_forged_certificate_swap_detected(broker, root, tmp_path):
    await enrol(broker.url, root, SENDER)
    target = await enrol(broker.url, root, TARGET)
    async with BrokerClient(broker.url, signer(target)) as api:
        await contact.publish_key(api, TARGET, contact.new_encryption_key(target, DEFAULT_VALIDITY, int(time.time())))
    rotation = entry_index(broker.db, TARGET, "encryption-key")
    earlier_client = trust_for(broker, root)
    async with BrokerClient(broker.url) as api:
        await verified_state(api, earlier_client, TARGET)

    # The attacker cannot sign as TARGET, so its certificate is signed by a key of its own.
    broker.stop()
    attacker_key = EncryptionKey.generate()
    now = int(time.time())
    forged = certify(IdentityKey.generate(), TARGET, attacker_key, not_before=now, not_after=now + DEFAULT_VALIDITY)
    rewrite_entry(broker.db, rotation, SignedDocument(forged.cert, forged.signature), update_leaf_hash=True)
    broker.start()

    async with BrokerClient(broker.url) as api:
        with pytest.raises(TrustError, match="not an extension"):
            await contact.recipient_keys(api, earlier_client, [TARGET])
        new_client_state = await verified_state(api, trust_for(broker, root), TARGET)
        report = await audit(api, trust_for(broker, root))
    logged = [e for e in broker.log_events() if e.get("event") == "stored log entry does not verify"]
    transcript = run_enlace(cli_home(tmp_path / "auditor", broker, root), "directory", "audit")

    assert attacker_key.key_id not in {c.key_id for c in new_client_state.keys}
    assert not report.clean
    assert any(p.startswith(f"entry {rotation} does not verify") for p in report.problems), report.problems
    assert [e["seq"] for e in logged] == [rotation]
    assert transcript.returncode == 3, transcript.stderr
    assert "PROBLEMS FOUND" in transcript.stdout
    assert f"entry {rotation} does not verify" in transcript.stdout
    assert "Traceback" not in transcript.stderr


async def test_forged_record_swap_detected(broker, root):
    await enrol(broker.url, root, SENDER)
    await enrol(broker.url, root, TARGET)
    record_index = entry_index(broker.db, TARGET, "record")
    earlier_client = trust_for(broker, root)
    async with BrokerClient(broker.url) as api:
        original = await verified_state(api, earlier_client, TARGET)

    # The attacker cannot sign as the Secretariat either.
    broker.stop()
    _attacker, forged = attacker_record(IdentityKey.generate(), original)
    rewrite_entry(broker.db, record_index, forged, update_leaf_hash=True)
    broker.start()

    async with BrokerClient(broker.url) as api:
        with pytest.raises(TrustError, match="not an extension"):
            await accept_head(api, earlier_client, await fetch_head(api))
        # The broker drops the contact point whose record does not verify, so it serves no entries for it.
        with pytest.raises(UsageError, match="is not in the directory"):
            await contact.recipient_keys(api, earlier_client, [TARGET])
        report = await audit(api, trust_for(broker, root))

    assert any(p.startswith(f"entry {record_index} does not verify") for p in report.problems), report.problems
    assert f"{TARGET} is listed by the broker but not in the log" in report.problems


async def swap_signed_record(broker: BrokerProcess, root: IdentityKey, *,
                             update_leaf_hash: bool) -> tuple[TrustContext, keystore.KeyMaterial]:
    """Enrol SENDER and TARGET, then give TARGET the attacker's keys in a record signed by ``root``.

    The new record replaces both the directory_records row and the bytes of TARGET's
    log entry. Returns a client that accepted the head before the change, and the
    attacker's keys.
    """
    await enrol(broker.url, root, SENDER)
    await enrol(broker.url, root, TARGET)
    record_index = entry_index(broker.db, TARGET, "record")
    earlier_client = trust_for(broker, root)
    async with BrokerClient(broker.url) as api:
        original = await verified_state(api, earlier_client, TARGET)

    broker.stop()
    attacker, forged = attacker_record(root, original)
    rewrite_record_row(broker.db, TARGET, forged, attacker.identity.public_key)
    rewrite_entry(broker.db, record_index, forged, update_leaf_hash=update_leaf_hash)
    broker.start()
    return earlier_client, attacker


async def test_unlogged_signed_record_rejected(broker, root):
    earlier_client, _attacker = await swap_signed_record(broker, root, update_leaf_hash=False)
    earlier_head = earlier_client.stored_head()

    async with BrokerClient(broker.url) as api:
        served_head = await accept_head(api, earlier_client, await fetch_head(api))
        # On start the broker finds the entry no longer matches its leaf hash and leaves it
        # out, so it serves nothing for the contact point: the client has no key to use.
        with pytest.raises(UsageError, match="is not in the directory"):
            await contact.recipient_keys(api, earlier_client, [TARGET])
        with pytest.raises(UsageError, match="is not in the directory"):
            await verified_state(api, trust_for(broker, root), TARGET)
        report = await audit(api, trust_for(broker, root))

    assert served_head.root_hash == earlier_head.root_hash
    assert any(e.get("event", "").startswith("stored log entry does not match its leaf hash")
               for e in broker.log_events())
    assert any("do not hash to the signed tree head" in p for p in report.problems), report.problems
    assert any(p.startswith(f"{TARGET}: the broker's answer does not verify") for p in report.problems), \
        report.problems


async def test_broker_checks_stored_leaf_hashes(broker, root):
    _earlier_client, attacker = await swap_signed_record(broker, root, update_leaf_hash=False)

    async with BrokerClient(broker.url, signer(attacker)) as api:
        with pytest.raises(ApiFailure) as refused:
            await api.mailbox()

    assert refused.value.status == 401


async def test_rehashed_signed_record_inconsistent(broker, root):
    earlier_client, _attacker = await swap_signed_record(broker, root, update_leaf_hash=True)

    async with BrokerClient(broker.url) as api:
        with pytest.raises(TrustError, match="not an extension"):
            await contact.recipient_keys(api, earlier_client, [TARGET])
        with pytest.raises(TrustError, match="not an extension"):
            await audit(api, earlier_client)


# Split view: two brokers that sign with one log key


def fork_broker(process: BrokerProcess, root: IdentityKey, workdir: Path) -> BrokerProcess:
    """Stop ``process``, copy its database and log key to ``workdir``, and run both brokers."""
    process.stop()
    workdir.mkdir()
    with closing(sqlite3.connect(process.db)) as source, closing(sqlite3.connect(workdir / "broker.db")) as copy:
        source.backup(copy)
    shutil.copy(process.log_key_path, workdir / "log-key.json")
    process.start()
    return BrokerProcess(workdir, root).start()


@dataclass
class SplitView:
    first: BrokerProcess
    second: BrokerProcess
    first_trust: TrustContext
    second_trust: TrustContext


async def split_view(broker: BrokerProcess, root: IdentityKey, tmp_path: Path) -> SplitView:
    """Two brokers that share two entries, then append a different contact point each."""
    await enrol(broker.url, root, SENDER)
    await enrol(broker.url, root, READER)
    common = trust_for(broker, root)
    async with BrokerClient(broker.url) as api:
        await accept_head(api, common, await fetch_head(api))

    second = fork_broker(broker, root, tmp_path / "second")
    await enrol(broker.url, root, TARGET)
    await enrol(second.url, root, LOCAL)

    # Both clients saw the common head, so each one's broker must stay consistent with it.
    first_trust, second_trust = trust_for(broker, root), trust_for(second, root)
    first_trust.remember(common.stored_head())
    second_trust.remember(common.stored_head())
    return SplitView(broker, second, first_trust, second_trust)


@pytest.fixture
def stop_later():
    """Brokers a test starts besides the ``broker`` fixture; each is stopped and checked for 500s."""
    started: list[BrokerProcess] = []
    yield started
    for process in started:
        process.stop()
    for process in started:
        assert not unexpected_errors(process), f"broker logged unexpected errors: {unexpected_errors(process)}"


async def test_split_view_same_size(broker, root, tmp_path, stop_later):
    view = await split_view(broker, root, tmp_path)
    stop_later.append(view.second)

    async with BrokerClient(view.first.url) as first_api, BrokerClient(view.second.url) as second_api:
        first_head = await accept_head(first_api, view.first_trust, await fetch_head(first_api))
        second_head = await accept_head(second_api, view.second_trust, await fetch_head(second_api))
        with pytest.raises(TrustError, match="SPLIT VIEW"):
            await compare_heads(first_api, view.first_trust, second_head.to_wire())
        with pytest.raises(TrustError, match="SPLIT VIEW"):
            await compare_heads(second_api, view.second_trust, first_head.to_wire())

    assert first_head.tree_size == second_head.tree_size
    assert first_head.root_hash != second_head.root_hash

    other_head = tmp_path / "other-head.json"
    other_head.write_text(json.dumps(second_head.to_wire()), encoding="utf-8")
    transcript = run_enlace(cli_home(tmp_path / "first-home", view.first, root), "directory", "compare-head",
                            str(other_head))
    assert transcript.returncode == 3, transcript.stderr
    assert "SPLIT VIEW" in transcript.stderr
    assert "Traceback" not in transcript.stderr


async def test_split_view_smaller_other_head(broker, root, tmp_path, stop_later):
    view = await split_view(broker, root, tmp_path)
    stop_later.append(view.second)
    await enrol(view.second.url, root, EXTRA)

    async with BrokerClient(view.first.url) as first_api, BrokerClient(view.second.url) as second_api:
        first_head = await accept_head(first_api, view.first_trust, await fetch_head(first_api))
        second_head = await accept_head(second_api, view.second_trust, await fetch_head(second_api))
        with pytest.raises(TrustError, match="SPLIT VIEW"):
            await compare_heads(second_api, view.second_trust, first_head.to_wire())

    assert second_head.tree_size == first_head.tree_size + 1


async def test_split_view_larger_other_head(broker, root, tmp_path, stop_later):
    view = await split_view(broker, root, tmp_path)
    stop_later.append(view.second)
    await enrol(view.second.url, root, EXTRA)

    async with BrokerClient(view.first.url) as first_api, BrokerClient(view.second.url) as second_api:
        await accept_head(first_api, view.first_trust, await fetch_head(first_api))
        second_head = await accept_head(second_api, view.second_trust, await fetch_head(second_api))
        with pytest.raises(TrustError, match="SPLIT VIEW"):
            await compare_heads(first_api, view.first_trust, second_head.to_wire())


# A small log shared by the read-only tests


@dataclass
class SmallLog:
    process: BrokerProcess
    size: int


@pytest.fixture(scope="module")
def small_log(tmp_path_factory):
    root = IdentityKey.generate()
    process = BrokerProcess(tmp_path_factory.mktemp("small-log"), root).start()
    try:
        asyncio.run(fill_small_log(process.url, root, TrustContext(root.public_key, process.log_public_key)))
        yield SmallLog(process, log_size(process.db))
    finally:
        process.stop()
    assert not unexpected_errors(process), f"broker logged unexpected errors: {unexpected_errors(process)}"


async def fill_small_log(url: str, root: IdentityKey, trust: TrustContext) -> None:
    """Nine entries: five records, three rotations and one revocation."""
    members = [await enrol(url, root, cp_id) for cp_id in (SENDER, READER, TARGET, LOCAL, EXTRA)]
    for material in members[:3]:
        async with BrokerClient(url, signer(material)) as api:
            await contact.publish_key(api, material.owner,
                                      contact.new_encryption_key(material, DEFAULT_VALIDITY, int(time.time())))
    async with BrokerClient(url, Signer(SECRETARIAT, root)) as api:
        await contact.revoke(api, trust, root, SECRETARIAT, EXTRA, "administrative")


BAD_LOG_QUERIES = [
    # (path, in which {size} is the tree size and {size_plus_one} one more, HTTP status, error code)
    ("/v1/log/entries?start=3&end=1", 400, "bad_range"),
    ("/v1/log/entries?start={size_plus_one}", 400, "bad_range"),
    ("/v1/log/entries?start=0&end={size_plus_one}", 400, "beyond_tree"),
    ("/v1/log/entries?start=abc", 400, "invalid_field"),
    ("/v1/log/entries?end=-1", 400, "invalid_field"),
    ("/v1/log/entries?start=1.5", 400, "invalid_field"),
    ("/v1/log/proof/inclusion?index={size}", 400, "beyond_tree"),
    ("/v1/log/proof/inclusion?index=2&size=2", 400, "beyond_tree"),
    ("/v1/log/proof/inclusion?index=0&size={size_plus_one}", 400, "beyond_tree"),
    ("/v1/log/proof/inclusion?index=99999999999999999999999", 400, "beyond_tree"),
    ("/v1/log/proof/inclusion", 400, "missing_field"),
    ("/v1/log/proof/inclusion?index=x", 400, "invalid_field"),
    ("/v1/log/proof/consistency?from=3&to=2", 400, "bad_range"),
    ("/v1/log/proof/consistency?from=1&to={size_plus_one}", 400, "beyond_tree"),
    ("/v1/log/proof/consistency?to=2", 400, "missing_field"),
    ("/v1/log/proof/consistency?from=%D9%A1", 400, "invalid_field"),
]


@pytest.mark.parametrize(("template", "status", "code"), BAD_LOG_QUERIES)
async def test_log_api_bad_input(small_log, template, status, code):
    path = template.format(size=small_log.size, size_plus_one=small_log.size + 1)
    async with aiohttp.ClientSession() as session:
        async with session.get(small_log.process.url + path) as response:
            answer = await response.json(content_type=None)
            content_type = response.headers.get("Content-Type", "")
            http_status = response.status
        async with session.get(small_log.process.url + "/v1/log/head") as response:
            head = parse_head(await response.json(), log_key_of(small_log.process))

    error = answer.get("error", {}) if isinstance(answer, dict) else {}
    assert http_status == status
    assert content_type.startswith("application/json")
    assert error.get("code") == code, answer
    assert error.get("message"), answer
    assert error.get("request_id"), answer
    assert head.tree_size == small_log.size
    assert log_size(small_log.process.db) == small_log.size


async def test_served_proofs_verify(small_log):
    async with BrokerClient(small_log.process.url) as api:
        head = parse_head(await fetch_head(api), log_key_of(small_log.process))
        answer = await api.call("GET", f"/v1/log/entries?start=0&end={head.tree_size}", signed=False)
        leaves = [leaf_hash(b64decode(e, field="entry")) for e in answer["entries"]]
        roots = {size: root_hash(leaves[:size]) for size in range(head.tree_size + 1)}

        failures = []
        for size in range(1, head.tree_size + 1):
            for index in range(size):
                proof = await api.call("GET", f"/v1/log/proof/inclusion?index={index}&size={size}", signed=False)
                try:
                    verify_inclusion(leaves[index], index, size, decode_hashes(proof["proof"]), roots[size])
                except ProofError as exc:  # collect every failure, then report them together
                    failures.append(f"inclusion {index} in {size}: {exc}")
        for new_size in range(head.tree_size + 1):
            for old_size in range(new_size + 1):
                proof = await api.call("GET", f"/v1/log/proof/consistency?from={old_size}&to={new_size}",
                                       signed=False)
                try:
                    verify_consistency(old_size, new_size, roots[old_size], roots[new_size],
                                       decode_hashes(proof["proof"]))
                except ProofError as exc:
                    failures.append(f"consistency {old_size} to {new_size}: {exc}")

    assert head.tree_size == small_log.size
    assert len(leaves) == head.tree_size
    assert roots[head.tree_size] == head.root_hash
    assert failures == []


async def test_served_proof_fails_other_root(small_log):
    async with BrokerClient(small_log.process.url) as api:
        head = parse_head(await fetch_head(api), log_key_of(small_log.process))
        answer = await api.call("GET", f"/v1/log/entries?start=0&end={head.tree_size}", signed=False)
        leaves = [leaf_hash(b64decode(e, field="entry")) for e in answer["entries"]]
        inclusion = await api.call("GET", f"/v1/log/proof/inclusion?index=1&size={head.tree_size}", signed=False)
        consistency = await api.call("GET", f"/v1/log/proof/consistency?from=3&to={head.tree_size}", signed=False)

    wrong_root = root_hash(leaves[:-1])
    with pytest.raises(ProofError, match="does not lead to the expected root"):
        verify_inclusion(leaves[1], 1, head.tree_size, decode_hashes(inclusion["proof"]), wrong_root)
    with pytest.raises(ProofError, match="expected new root"):
        verify_consistency(3, head.tree_size, root_hash(leaves[:3]), wrong_root, decode_hashes(consistency["proof"]))


# Key rotation


async def test_rotation_moves_senders_to_new_key(broker, root):
    sender = await enrol(broker.url, root, SENDER)
    reader = await enrol(broker.url, root, READER)
    old_key_id = reader.encryption_keys[0].key.key_id
    async with BrokerClient(broker.url, signer(sender)) as api:
        before = await contact.send(api, trust_for(broker, root), sender, [READER], kind="message",
                                    priority="normal", content={"subject": "before rotation"})

    async with BrokerClient(broker.url, signer(reader)) as api:
        certificate = contact.new_encryption_key(reader, DEFAULT_VALIDITY, int(time.time()))
        answer = await contact.publish_key(api, READER, certificate)
    new_key_id = reader.encryption_keys[-1].key.key_id

    async with BrokerClient(broker.url, signer(sender)) as api:
        after = await contact.send(api, trust_for(broker, root), sender, [READER], kind="message",
                                   priority="normal", content={"subject": "after rotation"})
    async with BrokerClient(broker.url, signer(reader)) as api:
        items = {item["id"]: item["envelope"] for item in await api.mailbox()}
        trust = trust_for(broker, root)
        opened_before = await open_received(api, trust, reader, items[before["id"]])
        opened_after = await open_received(api, trust, reader, items[after["id"]])
        state = await verified_state(api, trust, READER)

    def wrapped_key_ids(wire: dict) -> list[str]:
        return [r.key_id for r in parse_header(parse_wire(wire).header).recipients]

    assert answer["index"] == entry_index(broker.db, READER, "encryption-key")
    assert {old_key_id, new_key_id} <= {c.key_id for c in state.keys}
    assert wrapped_key_ids(items[before["id"]]) == [old_key_id]
    assert wrapped_key_ids(items[after["id"]]) == [new_key_id]
    assert opened_before.inner["content"]["subject"] == "before rotation"
    assert opened_after.inner["content"]["subject"] == "after rotation"


async def test_rotation_rejects_bad_certificates(broker, root):
    owner = await enrol(broker.url, root, READER)
    other = await enrol(broker.url, root, SENDER)
    now = int(time.time())
    path = f"/v1/directory/{READER}/keys"

    def body(certificate) -> dict:
        return {"certificate": SignedDocument(certificate.cert, certificate.signature).to_wire()}

    foreign_signature = certify(IdentityKey.generate(), READER, EncryptionKey.generate(), not_before=now,
                                not_after=now + DEFAULT_VALIDITY)
    other_owner = certify(owner.identity, SENDER, EncryptionKey.generate(), not_before=now,
                          not_after=now + DEFAULT_VALIDITY)
    valid = certify(owner.identity, READER, EncryptionKey.generate(), not_before=now, not_after=now + DEFAULT_VALIDITY)
    listed = owner.encryption_keys[0]
    already_listed = certify(owner.identity, READER, listed.key, not_before=listed.not_before,
                             not_after=listed.not_after)
    size = log_size(broker.db)

    signed_by_another_key = await post_status(broker.url, signer(owner), path, body(foreign_signature))
    naming_another_owner = await post_status(broker.url, signer(owner), path, body(other_owner))
    posted_by_another_caller = await post_status(broker.url, signer(other), path, body(valid))
    listed_twice = await post_status(broker.url, signer(owner), path, body(already_listed))

    assert signed_by_another_key == (422, "bad_signature")
    assert naming_another_owner == (422, "bad_signature")
    assert posted_by_another_caller == (403, "forbidden")
    assert listed_twice == (422, "invalid_change")
    assert log_size(broker.db) == size


# Revocation

REVOKERS = {
    # who revokes LOCAL: (reason code, signer name)
    "self": ("key-compromised", LOCAL),
    "secretariat": ("administrative", SECRETARIAT),
    "national-admin": ("left-post", MX_ADMIN),
}


async def enrol_admin(url: str, root: IdentityKey, cp_id: str) -> keystore.KeyMaterial:
    material = new_material(cp_id)
    await enrol_material(url, root, material, role="national-admin")
    return material


@pytest.mark.parametrize("revoker", list(REVOKERS))
async def test_revocation_takes_effect(broker, root, revoker):
    # LOCAL is enrolled before MX_ADMIN: once Mexico has an administrator, its contact points need a proposal.
    target = await enrol(broker.url, root, LOCAL)
    peer = await enrol(broker.url, root, READER)
    admin = await enrol_admin(broker.url, root, MX_ADMIN)
    reason, signer_name = REVOKERS[revoker]
    signer_key = {"self": target.identity, "secretariat": root, "national-admin": admin.identity}[revoker]
    size = log_size(broker.db)

    async with BrokerClient(broker.url, Signer(signer_name, signer_key)) as api:
        answer = await contact.revoke(api, trust_for(broker, root), signer_key, signer_name, LOCAL, reason)
    trust = trust_for(broker, root)
    async with BrokerClient(broker.url) as api:
        state = await verified_state(api, trust, LOCAL)
        with pytest.raises(UsageError, match="was revoked") as refused:
            await contact.recipient_keys(api, trust, [LOCAL])
    sent_by_revoked = await submit_status(broker.url, target, envelope_for(target, peer, "after revocation"))
    sent_to_revoked = await submit_status(broker.url, peer, envelope_for(peer, target, "to a revoked key"))

    assert answer["status"] == "revoked"
    assert log_size(broker.db) == size + 1
    assert state.status == "revoked"
    assert state.revocation.signer == signer_name
    assert state.revocation.reason == reason
    assert reason in refused.value.message
    assert sent_by_revoked == (403, "sender_revoked")
    assert sent_to_revoked == (403, "recipient_revoked")


async def test_revoked_sender_message_trust(broker, root):
    sender = await enrol(broker.url, root, SENDER)
    reader = await enrol(broker.url, root, READER)
    now = int(time.time())
    # The broker accepts a creation time up to MAX_CLOCK_SKEW seconds ahead of its clock.
    before = envelope_for(sender, reader, "created before", created=now - 60)
    after = envelope_for(sender, reader, "created after", created=now + MAX_CLOCK_SKEW - 60)
    submitted = [await submit_status(broker.url, sender, before), await submit_status(broker.url, sender, after)]

    async with BrokerClient(broker.url, signer(sender)) as api:
        await contact.revoke(api, trust_for(broker, root), sender.identity, SENDER, SENDER, "key-compromised")
    trust = trust_for(broker, root)
    async with BrokerClient(broker.url, signer(reader)) as api:
        opened = [await open_received(api, trust, reader, item["envelope"]) for item in await api.mailbox()]
    by_subject = {message.inner["content"]["subject"]: message for message in opened}

    assert submitted == [(201, ""), (201, "")]
    assert by_subject["created before"].trusted is True
    assert by_subject["created after"].trusted is False


async def test_revocation_without_right_rejected(broker, root):
    await enrol(broker.url, root, LOCAL)
    same_state = await enrol(broker.url, root, SENDER)
    outsider = await enrol(broker.url, root, OUTSIDER)
    other_admin = await enrol_admin(broker.url, root, US_ADMIN)
    async with BrokerClient(broker.url) as api:
        identity_key_id = key_id((await verified_state(api, trust_for(broker, root), LOCAL)).identity_key)
    path = f"/v1/directory/{LOCAL}/revocations"
    size = log_size(broker.db)

    results = {}
    for name, material in (("another state's contact point", outsider),
                           ("a contact point of the same state", same_state),
                           ("another state's administrator", other_admin)):
        revocation = make_revocation(material.identity, material.owner, LOCAL, identity_key_id, "key-compromised",
                                     int(time.time()))
        results[name] = await post_status(broker.url, signer(material), path, {"revocation": revocation.to_wire()})

    as_secretariat = make_revocation(outsider.identity, SECRETARIAT, LOCAL, identity_key_id, "administrative",
                                     int(time.time()))
    signer_not_caller = await post_status(broker.url, signer(outsider), path,
                                          {"revocation": as_secretariat.to_wire()})

    unknown_reason = canonical_json({"v": 1, "type": "revocation", "cp_id": LOCAL, "identity_key_id": identity_key_id,
                                     "reason": "bored", "revoked_at": int(time.time()), "signer": SECRETARIAT})
    bad_reason = SignedDocument(unknown_reason, root.sign(labels.SIG_REVOCATION, unknown_reason))
    unknown_reason_status = await post_status(broker.url, Signer(SECRETARIAT, root), path,
                                              {"revocation": bad_reason.to_wire()})

    async with BrokerClient(broker.url) as api:
        state = await verified_state(api, trust_for(broker, root), LOCAL)

    assert results["another state's contact point"] == (422, "not_authorized")
    assert results["a contact point of the same state"] == (422, "not_authorized")
    assert results["another state's administrator"] == (422, "not_authorized")
    assert signer_not_caller == (403, "forbidden")
    assert unknown_reason_status == (400, "bad_reason")
    assert log_size(broker.db) == size
    assert state.status == "active"


async def test_future_revocation_time_rejected(broker, root):
    target = await enrol(broker.url, root, LOCAL)
    revocation = make_revocation(target.identity, LOCAL, LOCAL, target.identity.key_id, "key-compromised",
                                 int(time.time()) + 10 * 365 * DAY)
    size = log_size(broker.db)

    status, _code = await post_status(broker.url, signer(target), f"/v1/directory/{LOCAL}/revocations",
                                      {"revocation": revocation.to_wire()})

    assert 400 <= status < 500
    assert log_size(broker.db) == size


async def test_revocation_by_revoked_admin_verifies(broker, root):
    await enrol(broker.url, root, LOCAL)
    first_admin = await enrol_admin(broker.url, root, MX_ADMIN)
    second_admin = await enrol_admin(broker.url, root, "mx.fgr.coordinacion")
    async with BrokerClient(broker.url, signer(first_admin)) as api:
        await contact.revoke(api, trust_for(broker, root), first_admin.identity, MX_ADMIN, LOCAL, "left-post")
    async with BrokerClient(broker.url, signer(second_admin)) as api:
        await contact.revoke(api, trust_for(broker, root), second_admin.identity, second_admin.owner, MX_ADMIN,
                             "key-compromised")

    # A client checking LOCAL must also be served the entries of whoever revoked MX_ADMIN.
    async with BrokerClient(broker.url) as api:
        state = await verified_state(api, trust_for(broker, root), LOCAL)
        report = await audit(api, trust_for(broker, root))

    assert state.revocation.signer == MX_ADMIN
    assert report.problems == []


# Expired encryption keys


async def test_expired_key_never_used(broker, root):
    now = int(time.time())
    sender = await enrol(broker.url, root, SENDER)
    # The broker refuses a registration with no key valid now, so this key expires
    # a few seconds after its approval.
    expired_only = material_with_keys(TARGET, [(now - 30 * DAY, now + 3)])
    mixed = material_with_keys(READER, [(now - 30 * DAY, now - DAY), (now - DAY, now + 300 * DAY)])
    await enrol_material(broker.url, root, expired_only)
    await enrol_material(broker.url, root, mixed)
    await asyncio.sleep(max(0.0, now + 4 - time.time()))

    trust = trust_for(broker, root)
    async with BrokerClient(broker.url, signer(sender)) as api:
        with pytest.raises(UsageError, match="no active record or valid encryption key") as refused:
            await contact.send(api, trust, sender, [TARGET], kind="message", priority="normal",
                               content={"subject": "to an expired key"})
        keys = await contact.recipient_keys(api, trust, [READER])
    wrapped_for_expired = await submit_status(broker.url, sender, envelope_for(sender, expired_only, "expired"))
    wrapped_for_old = await submit_status(broker.url, sender, envelope_for(sender, mixed, "old", key_index=0))

    assert TARGET in refused.value.message
    assert [k.key_id for k in keys] == [mixed.encryption_keys[1].key.key_id]
    assert wrapped_for_expired == (422, "unknown_recipient_key")
    assert wrapped_for_old == (422, "unknown_recipient_key")


EXPIRY_CASES = [
    # (validity of each key relative to now, expected text in the warning or None)
    ([(-DAY, 10 * DAY)], "expires in 10 days"),
    ([(-DAY, 29 * DAY)], "expires in 29 days"),
    ([(-DAY, 30 * DAY)], None),
    ([(-DAY, 365 * DAY)], None),
    ([(-300 * DAY, 5 * DAY), (-DAY, 365 * DAY)], None),
    ([(-30 * DAY, -DAY)], "has expired"),
]


@pytest.mark.parametrize(("validities", "expected"), EXPIRY_CASES)
def test_expiry_warning(validities, expected):
    now = int(time.time())
    material = material_with_keys(LOCAL, [(now + start, now + end) for start, end in validities])

    warning = contact.expiry_warning(material, now)

    if expected is None:
        assert warning is None
    else:
        assert expected in (warning or "")
        assert LOCAL in warning
