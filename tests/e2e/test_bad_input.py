"""Bad input against a real broker process.

Every case checks that the broker responds with the right 4xx status and a JSON
error. The error carries a stable code, a message that names the problem (and the
value, where there is one) and the request id. Each case also checks that the
SQLite file, read after the request, contains exactly the rows it contained before.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from brokerproc import BrokerProcess, enrol, new_material, register, signer
from client.api import BrokerClient, Signer
from client.contact import registration_request
from keys import keystore, labels
from keys.encoding import b64encode, canonical_json
from keys.encryption import certify
from keys.envelope import Envelope, RecipientKey, seal
from keys.identity import IdentityKey
from keys.records import Registration, SignedDocument, make_record, parse_registration
from keys.requests import (HEADER_CALLER, HEADER_KEY, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP,
                           SECRETARIAT, sign_request, signed_bytes)

# One event loop for the whole module, so that the module-scoped fixtures that
# enrol contact points can be shared by every test.
pytestmark = pytest.mark.asyncio(loop_scope="module")

SENDER = "mx.anam.inteligencia"
READER = "us.atf.tracing"
APPLICANT = "gt.sat.aduanas"
STRANGER = "mx.sat.desconocido"
TABLES = ("directory_records", "registrations", "envelopes", "mailbox")
SIZE_LIMIT = 4096
REPLAY_WINDOW = 300


# Helpers


@dataclass(frozen=True)
class Response:
    """One HTTP response, with its body parsed as JSON when it is JSON."""

    status: int
    content_type: str
    body: object
    request_id: str | None

    @property
    def error(self) -> dict:
        return self.body.get("error", {}) if isinstance(self.body, dict) else {}


async def send_raw(url: str, method: str, path: str, body: bytes = b"",
                   headers: dict[str, str] | None = None) -> Response:
    """Send exactly these bytes and headers, without signing or retrying."""
    async with aiohttp.ClientSession() as session:
        async with session.request(method, url + path, data=body or None, headers=headers or {}) as http_response:
            raw = await http_response.read()
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
            return Response(http_response.status, http_response.headers.get("Content-Type", ""), parsed,
                            http_response.headers.get("Enlace-Request-Id"))


async def send_signed(url: str, caller: Signer, method: str, path: str, body: bytes = b"", *,
                      now: int | None = None, nonce: str | None = None) -> Response:
    headers = sign_request(caller.identity, caller.caller, method, path, body, now=now, nonce=nonce)
    if body:
        headers["Content-Type"] = "application/json"
    return await send_raw(url, method, path, body, headers)


def assert_error(response: Response, status: int, code: str, *, mentions: tuple = (),
                 value: object = ...) -> None:
    """Check the status, the JSON error object, its code, message, value and request id."""
    assert response.status == status, f"expected HTTP {status}, got {response.status}: {response.body}"
    assert response.content_type.startswith("application/json"), f"not JSON: {response.content_type}"
    assert response.error, f"the body has no error object: {response.body}"
    assert response.error.get("code") == code, f"expected code {code!r}: {response.error}"
    message = response.error.get("message", "")
    for text in mentions:
        assert str(text) in message, f"message {message!r} does not name {text!r}"
    if value is not ...:
        assert response.error.get("value") == value, f"expected value {value!r}: {response.error}"
    assert response.error.get("request_id"), f"the error has no request_id: {response.error}"
    assert response.error["request_id"] == response.request_id, "the body and the header name different request ids"


def stored_rows(db: Path) -> dict[str, list[tuple]]:
    """Every row of the broker's tables, read through a read-only connection."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as connection:
        return {table: connection.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
                for table in TABLES}


def recipient_key(material: keystore.KeyMaterial) -> RecipientKey:
    key = material.encryption_keys[0].key
    return RecipientKey(material.owner, key.key_id, key.public_key)


def sealed(sender: keystore.KeyMaterial, *recipients: keystore.KeyMaterial, text: str = "",
           identity: IdentityKey | None = None, **options) -> Envelope:
    """An envelope from ``sender`` to ``recipients``, signed by ``identity`` (default: the sender's key)."""
    return seal(identity or sender.identity, sender.owner, [recipient_key(r) for r in recipients],
                kind="message", priority=options.pop("priority", "normal"),
                content={"subject": "Consulta de rastreo", "text": text}, **options)


def wire(envelope: Envelope) -> bytes:
    return json.dumps(envelope.to_wire()).encode()


def with_header(envelope: Envelope, **changes) -> Envelope:
    """The envelope with header fields changed and re-encoded canonically, keeping the old signature."""
    header = json.loads(envelope.header) | changes
    return Envelope(canonical_json(header), envelope.signature, envelope.body)


async def registration_of(url: str, root: IdentityKey, cp_id: str) -> Registration:
    async with BrokerClient(url, Signer(SECRETARIAT, root)) as api:
        response = await api.registration(cp_id)
    return parse_registration(SignedDocument.from_wire(response["request"], what="request"))


async def registration_status(url: str, root: IdentityKey, cp_id: str) -> str:
    async with BrokerClient(url, Signer(SECRETARIAT, root)) as api:
        return (await api.registration(cp_id))["status"]


# Fixtures


@dataclass(frozen=True)
class Cast:
    """The contact points of a broker: two approved, one pending."""

    sender: keystore.KeyMaterial
    reader: keystore.KeyMaterial
    applicant: keystore.KeyMaterial


@pytest.fixture(scope="module")
def secretariat() -> IdentityKey:
    return IdentityKey.generate()


@pytest.fixture(scope="module")
def shared_broker(tmp_path_factory, secretariat):
    """One broker for the cases that do not interfere. It must never log a 500."""
    process = BrokerProcess(tmp_path_factory.mktemp("broker"), secretariat).start()
    yield process
    process.stop()
    errors = [e for e in process.log_events() if e.get("event") == "unexpected error"]
    assert not errors, f"broker logged unexpected errors: {errors}"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cast(shared_broker, secretariat) -> Cast:
    sender = await enrol(shared_broker.url, secretariat, SENDER)
    reader = await enrol(shared_broker.url, secretariat, READER)
    applicant = await register(shared_broker.url, APPLICANT)
    return Cast(sender, reader, applicant)


@pytest.fixture
def before(shared_broker, cast) -> dict[str, list[tuple]]:
    """The broker's rows at the start of the test, after the cast is enrolled."""
    return stored_rows(shared_broker.db)


@pytest.fixture(scope="module")
def small_broker(tmp_path_factory, secretariat):
    """A broker that accepts envelopes of at most SIZE_LIMIT bytes.

    Its teardown does not check the log for 500s, because the request-body case
    below currently produces one. Each test checks its own status instead.
    """
    process = BrokerProcess(tmp_path_factory.mktemp("small"), secretariat,
                            extra_args=["--max-envelope-bytes", str(SIZE_LIMIT)]).start()
    yield process
    process.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def small_cast(small_broker, secretariat) -> Cast:
    sender = await enrol(small_broker.url, secretariat, SENDER)
    reader = await enrol(small_broker.url, secretariat, READER)
    applicant = await register(small_broker.url, APPLICANT)
    return Cast(sender, reader, applicant)


# Malformed requests


async def test_submit_malformed_json(shared_broker, cast, before):
    body = b'{"v": 1,}'
    response = await send_signed(shared_broker.url, signer(cast.sender), "POST", "/v1/messages", body)

    assert_error(response, 400, "malformed_json", mentions=("not valid JSON", "line 1 column 9"), value=8)
    assert stored_rows(shared_broker.db) == before


async def test_registration_malformed_json(shared_broker, cast, before):
    response = await send_raw(shared_broker.url, "POST", "/v1/registrations", b"{'document': 1}",
                            {"Content-Type": "application/json"})

    assert_error(response, 400, "malformed_json", mentions=("not valid JSON",), value=1)
    assert stored_rows(shared_broker.db) == before


async def test_registration_not_utf8(shared_broker, cast, before):
    response = await send_raw(shared_broker.url, "POST", "/v1/registrations", b'{"document": "\xff"}')

    assert_error(response, 400, "malformed_json", mentions=("UTF-8",))
    assert stored_rows(shared_broker.db) == before


ENVELOPE_SHAPES = [
    # (case, change to the wire form, code, words of the message, value)
    ("body missing", lambda w: {k: v for k, v in w.items() if k != "body"},
     "missing_field", ("body",), "body"),
    ("header a number", lambda w: w | {"header": 5}, "bad_format", ("header",), "header"),
    ("signature not base64", lambda w: w | {"signature": "not base64!"}, "bad_format",
     ("signature",), "signature"),
    ("unknown field", lambda w: w | {"priority": "urgent"}, "unknown_field", ("priority",), "priority"),
    ("version 2", lambda w: w | {"v": 2}, "unsupported_version", ("version 2",), 2),
    ("a list", lambda w: [w], "invalid_field", ("JSON object", "list"), ...),
]


@pytest.mark.parametrize("change, code, words, value",
                         [case[1:] for case in ENVELOPE_SHAPES], ids=[case[0] for case in ENVELOPE_SHAPES])
async def test_submit_envelope_shape(shared_broker, cast, before, change, code, words, value):
    envelope = sealed(cast.sender, cast.reader)
    body = json.dumps(change(envelope.to_wire())).encode()
    response = await send_signed(shared_broker.url, signer(cast.sender), "POST", "/v1/messages", body)

    assert_error(response, 400, code, mentions=words, value=value)
    assert stored_rows(shared_broker.db) == before


async def test_registration_document_a_number(shared_broker, cast, before):
    body = json.dumps({"document": 7, "signature": b64encode(bytes(64))}).encode()
    response = await send_raw(shared_broker.url, "POST", "/v1/registrations", body)

    assert_error(response, 400, "bad_format", mentions=("document", "base64url"))
    assert stored_rows(shared_broker.db) == before


async def test_registration_self_signature_invalid(shared_broker, cast, before):
    material = new_material("co.dian.fiscalizacion")
    request = registration_request(material, agency="Dirección de Impuestos y Aduanas", agency_type="customs",
                                   unit="Fiscalización", languages=["es"], topics=["firearms"])
    forged = SignedDocument(request.document, IdentityKey.generate().sign(labels.SIG_REGISTRATION,
                                                                         request.document))
    response = await send_raw(shared_broker.url, "POST", "/v1/registrations",
                            json.dumps(forged.to_wire()).encode())

    assert_error(response, 422, "bad_signature", mentions=("registration request",))
    assert stored_rows(shared_broker.db) == before


async def test_approval_record_missing(shared_broker, secretariat, cast, before):
    path = f"/v1/admin/registrations/{APPLICANT}/approve"
    response = await send_signed(shared_broker.url, Signer(SECRETARIAT, secretariat), "POST", path,
                               json.dumps({"approval": {}}).encode())

    assert_error(response, 400, "missing_field", mentions=("record",), value="record")
    assert stored_rows(shared_broker.db) == before


# Authentication


async def test_submit_unknown_sender(shared_broker, cast, before):
    stranger = new_material(STRANGER)
    envelope = sealed(stranger, cast.reader)
    response = await send_signed(shared_broker.url, signer(stranger), "POST", "/v1/messages", wire(envelope))

    assert_error(response, 401, "unknown_caller", mentions=(STRANGER,), value=STRANGER)
    assert stored_rows(shared_broker.db) == before


async def test_request_signed_by_other_key(shared_broker, cast, before):
    impostor = Signer(SENDER, IdentityKey.generate())
    envelope = sealed(cast.sender, cast.reader)
    response = await send_signed(shared_broker.url, impostor, "POST", "/v1/messages", wire(envelope))

    assert_error(response, 401, "auth_invalid", mentions=(impostor.identity.key_id, SENDER),
                 value=impostor.identity.key_id)
    assert stored_rows(shared_broker.db) == before


async def test_request_signature_invalid(shared_broker, cast, before):
    """The headers name the sender's key, but another key made the signature."""
    body = wire(sealed(cast.sender, cast.reader))
    timestamp, nonce = int(time.time()), os.urandom(16).hex()
    data = signed_bytes(method="POST", path="/v1/messages", caller=SENDER, key_id=cast.sender.identity.key_id,
                        timestamp=timestamp, nonce=nonce, body=body)
    headers = {HEADER_CALLER: SENDER, HEADER_KEY: cast.sender.identity.key_id,
               HEADER_TIMESTAMP: str(timestamp), HEADER_NONCE: nonce,
               HEADER_SIGNATURE: b64encode(IdentityKey.generate().sign(labels.SIG_REQUEST, data))}
    response = await send_raw(shared_broker.url, "POST", "/v1/messages", body, headers)

    assert_error(response, 401, "auth_invalid", mentions=("does not verify",), value=SENDER)
    assert stored_rows(shared_broker.db) == before


async def test_request_body_changed_after_signing(shared_broker, cast, before):
    signed_body = wire(sealed(cast.sender, cast.reader))
    headers = sign_request(cast.sender.identity, SENDER, "POST", "/v1/messages", signed_body)
    other_body = wire(sealed(cast.sender, cast.reader))
    response = await send_raw(shared_broker.url, "POST", "/v1/messages", other_body, headers)

    assert_error(response, 401, "auth_invalid", mentions=("does not verify",))
    assert stored_rows(shared_broker.db) == before


@pytest.mark.parametrize("header", [HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE, HEADER_CALLER, HEADER_KEY])
async def test_auth_header_missing(shared_broker, cast, before, header):
    body = wire(sealed(cast.sender, cast.reader))
    headers = sign_request(cast.sender.identity, SENDER, "POST", "/v1/messages", body)
    del headers[header]
    response = await send_raw(shared_broker.url, "POST", "/v1/messages", body, headers)

    assert_error(response, 401, "auth_missing", mentions=(header,), value=header)
    assert stored_rows(shared_broker.db) == before


async def test_auth_headers_all_missing(shared_broker, cast, before):
    response = await send_raw(shared_broker.url, "POST", "/v1/messages", wire(sealed(cast.sender, cast.reader)),
                            {"Content-Type": "application/json"})

    assert_error(response, 401, "auth_missing", mentions=("not signed",))
    assert stored_rows(shared_broker.db) == before


@pytest.mark.parametrize("header, bad_value", [(HEADER_TIMESTAMP, "yesterday"), (HEADER_NONCE, "0123"),
                                               (HEADER_SIGNATURE, "c2lnbmF0dXJl")])
async def test_auth_header_malformed(shared_broker, cast, before, header, bad_value):
    body = wire(sealed(cast.sender, cast.reader))
    headers = sign_request(cast.sender.identity, SENDER, "POST", "/v1/messages", body) | {header: bad_value}
    response = await send_raw(shared_broker.url, "POST", "/v1/messages", body, headers)

    assert_error(response, 401, "auth_invalid")
    assert stored_rows(shared_broker.db) == before


async def test_request_replayed_twice(shared_broker, cast, before):
    body = wire(sealed(cast.sender, cast.reader))
    headers = sign_request(cast.sender.identity, SENDER, "POST", "/v1/messages", body)
    first = await send_raw(shared_broker.url, "POST", "/v1/messages", body, headers)
    assert first.status == 201, f"the original request failed: {first.body}"
    after_first = stored_rows(shared_broker.db)

    for _ in range(2):
        replay = await send_raw(shared_broker.url, "POST", "/v1/messages", body, headers)
        assert_error(replay, 401, "request_replayed", mentions=(headers[HEADER_NONCE],),
                     value=headers[HEADER_NONCE])
    assert stored_rows(shared_broker.db) == after_first


@pytest.mark.parametrize("offset", [-(REPLAY_WINDOW + 60), REPLAY_WINDOW + 60], ids=["past", "future"])
async def test_request_outside_window(shared_broker, cast, before, offset):
    timestamp = int(time.time()) + offset
    body = wire(sealed(cast.sender, cast.reader))
    response = await send_signed(shared_broker.url, signer(cast.sender), "POST", "/v1/messages", body,
                               now=timestamp)

    assert_error(response, 401, "request_expired", mentions=(timestamp, "window"), value=timestamp)
    assert stored_rows(shared_broker.db) == before


# Envelopes that do not verify


async def test_envelope_signed_by_other_key(shared_broker, cast, before):
    other = IdentityKey.generate()
    envelope = sealed(cast.sender, cast.reader, identity=other)
    response = await send_signed(shared_broker.url, signer(cast.sender), "POST", "/v1/messages", wire(envelope))

    assert_error(response, 422, "bad_signature", mentions=(other.key_id, cast.sender.identity.key_id),
                 value=other.key_id)
    assert stored_rows(shared_broker.db) == before


async def test_envelope_signature_invalid(shared_broker, cast, before):
    """The header names the sender's key, but the signature is another key's."""
    envelope = sealed(cast.sender, cast.reader)
    forged = Envelope(envelope.header, IdentityKey.generate().sign(labels.SIG_ENVELOPE_HEADER, envelope.header),
                      envelope.body)
    response = await send_signed(shared_broker.url, signer(cast.sender), "POST", "/v1/messages", wire(forged))

    assert_error(response, 422, "bad_signature", mentions=("envelope header", "does not verify"))
    assert stored_rows(shared_broker.db) == before


def _drop_last_recipient(header: dict) -> dict:
    return {"recipients": header["recipients"][:-1]}


HEADER_EDITS = [
    ("priority", lambda header: {"priority": "urgent"}),
    ("recipients", _drop_last_recipient),
    ("expires", lambda header: {"expires": header["expires"] + 86400}),
]


@pytest.mark.parametrize("edit", [e[1] for e in HEADER_EDITS], ids=[e[0] for e in HEADER_EDITS])
async def test_header_changed_after_signing(shared_broker, cast, before, edit):
    envelope = sealed(cast.sender, cast.reader, cast.sender, priority="low")
    tampered = with_header(envelope, **edit(json.loads(envelope.header)))
    response = await send_signed(shared_broker.url, signer(cast.sender), "POST", "/v1/messages", wire(tampered))

    assert_error(response, 422, "bad_signature", mentions=("envelope header", "does not verify"))
    assert stored_rows(shared_broker.db) == before


def _flip_last_byte(body: bytes) -> bytes:
    return body[:-1] + bytes([body[-1] ^ 1])


BODY_EDITS = [
    ("byte flipped", _flip_last_byte, "digest"),
    ("truncated", lambda body: body[:-1], "bytes"),
    ("extended", lambda body: body + b"\x00", "bytes"),
]


@pytest.mark.parametrize("edit, word", [e[1:] for e in BODY_EDITS], ids=[e[0] for e in BODY_EDITS])
async def test_body_changed_after_signing(shared_broker, cast, before, edit, word):
    envelope = sealed(cast.sender, cast.reader)
    tampered = Envelope(envelope.header, envelope.signature, edit(envelope.body))
    response = await send_signed(shared_broker.url, signer(cast.sender), "POST", "/v1/messages", wire(tampered))

    assert_error(response, 422, "body_mismatch", mentions=(word, "header"))
    assert stored_rows(shared_broker.db) == before


# Directory rules


async def test_recipient_not_in_directory(shared_broker, cast, before):
    key = cast.reader.encryption_keys[0].key
    envelope = seal(cast.sender.identity, SENDER, [RecipientKey("ar.anmac.registro", key.key_id, key.public_key)],
                    kind="message", priority="normal", content={"subject": "Consulta"})
    response = await send_signed(shared_broker.url, signer(cast.sender), "POST", "/v1/messages", wire(envelope))

    assert_error(response, 422, "unknown_recipient", mentions=("ar.anmac.registro",), value="ar.anmac.registro")
    assert stored_rows(shared_broker.db) == before


async def test_recipient_pending(shared_broker, cast, before):
    envelope = sealed(cast.sender, cast.applicant)
    response = await send_signed(shared_broker.url, signer(cast.sender), "POST", "/v1/messages", wire(envelope))

    assert_error(response, 403, "recipient_not_approved", mentions=(APPLICANT,), value=APPLICANT)
    assert stored_rows(shared_broker.db) == before


async def test_sender_pending(shared_broker, cast, before):
    envelope = sealed(cast.applicant, cast.reader)
    response = await send_signed(shared_broker.url, signer(cast.applicant), "POST", "/v1/messages", wire(envelope))

    assert_error(response, 403, "sender_not_approved", mentions=(APPLICANT,), value=APPLICANT)
    assert stored_rows(shared_broker.db) == before


async def test_sender_not_caller(shared_broker, cast, before):
    envelope = sealed(cast.reader, cast.sender)
    response = await send_signed(shared_broker.url, signer(cast.sender), "POST", "/v1/messages", wire(envelope))

    assert_error(response, 403, "sender_mismatch", mentions=(READER, SENDER), value=READER)
    assert stored_rows(shared_broker.db) == before


# Message ids


async def test_resubmit_same_bytes(shared_broker, cast, before):
    envelope = sealed(cast.sender, cast.reader)
    first = await send_signed(shared_broker.url, signer(cast.sender), "POST", "/v1/messages", wire(envelope))
    assert first.status == 201, f"the first submit failed: {first.body}"
    after_first = stored_rows(shared_broker.db)
    assert len(after_first["envelopes"]) == len(before["envelopes"]) + 1, "the read-only view missed the submit"

    again = await send_signed(shared_broker.url, signer(cast.sender), "POST", "/v1/messages", wire(envelope))

    assert again.status == 200, f"expected HTTP 200 for the same bytes, got {again.status}: {again.body}"
    assert again.body == first.body, "the second receipt differs from the first"
    assert stored_rows(shared_broker.db) == after_first


async def test_resubmit_other_bytes(shared_broker, cast, before):
    envelope = sealed(cast.sender, cast.reader)
    msg_id = json.loads(envelope.header)["id"]
    first = await send_signed(shared_broker.url, signer(cast.sender), "POST", "/v1/messages", wire(envelope))
    assert first.status == 201, f"the first submit failed: {first.body}"
    after_first = stored_rows(shared_broker.db)

    other = sealed(cast.sender, cast.reader, text="otro texto", msg_id=msg_id)
    response = await send_signed(shared_broker.url, signer(cast.sender), "POST", "/v1/messages", wire(other))

    assert_error(response, 409, "message_id_conflict", mentions=(msg_id,), value=msg_id)
    assert stored_rows(shared_broker.db) == after_first


# Approvals


async def _pending(url: str, root: IdentityKey, cp_id: str) -> tuple[keystore.KeyMaterial, Registration]:
    material = await register(url, cp_id)
    return material, await registration_of(url, root, cp_id)


async def _assert_still_pending(url: str, root: IdentityKey, cp_id: str) -> None:
    assert await registration_status(url, root, cp_id) == "pending", f"{cp_id} is no longer pending"
    listed = await send_raw(url, "GET", f"/v1/directory/{cp_id}")
    assert listed.status == 404, f"{cp_id} has a directory record: {listed.body}"


async def test_approval_signed_by_other_key(shared_broker, secretariat, cast):
    cp_id = "br.rfb.repressao"
    _material, registration = await _pending(shared_broker.url, secretariat, cp_id)
    before = stored_rows(shared_broker.db)
    record = make_record(IdentityKey.generate(), registration, now=int(time.time()))
    response = await send_signed(shared_broker.url, Signer(SECRETARIAT, secretariat), "POST",
                               f"/v1/admin/registrations/{cp_id}/approve",
                               json.dumps({"record": record.to_wire()}).encode())

    assert_error(response, 422, "bad_signature", mentions=("Secretariat",))
    await _assert_still_pending(shared_broker.url, secretariat, cp_id)
    assert stored_rows(shared_broker.db) == before


async def test_approval_by_contact_point(shared_broker, secretariat, cast):
    cp_id = "ca.rcmp.firearms"
    _material, registration = await _pending(shared_broker.url, secretariat, cp_id)
    before = stored_rows(shared_broker.db)
    record = make_record(secretariat, registration, now=int(time.time()))
    response = await send_signed(shared_broker.url, signer(cast.sender), "POST",
                               f"/v1/admin/registrations/{cp_id}/approve",
                               json.dumps({"record": record.to_wire()}).encode())

    assert_error(response, 403, "forbidden", mentions=(SENDER, "Secretariat"), value=SENDER)
    await _assert_still_pending(shared_broker.url, secretariat, cp_id)
    assert stored_rows(shared_broker.db) == before


async def test_approval_other_identity_key(shared_broker, secretariat, cast):
    """A record signed by the Secretariat for another identity key, with certificates made by that key."""
    cp_id = "us.cbp.targeting"
    material, registration = await _pending(shared_broker.url, secretariat, cp_id)
    before = stored_rows(shared_broker.db)
    other = IdentityKey.generate()
    certificates = tuple(certify(other, cp_id, k.key, not_before=k.not_before, not_after=k.not_after)
                         for k in material.encryption_keys)
    substituted = dataclasses.replace(registration, identity_key=other.public_key, certificates=certificates)
    record = make_record(secretariat, substituted, now=int(time.time()))
    response = await send_signed(shared_broker.url, Signer(SECRETARIAT, secretariat), "POST",
                               f"/v1/admin/registrations/{cp_id}/approve",
                               json.dumps({"record": record.to_wire()}).encode())

    assert_error(response, 422, "decision_mismatch", mentions=(cp_id,), value=cp_id)
    await _assert_still_pending(shared_broker.url, secretariat, cp_id)
    assert stored_rows(shared_broker.db) == before


async def test_approval_other_identity_key_message(shared_broker, secretariat, cast):
    """A Secretariat-signed record for another identity key that keeps the applicant's certificates."""
    cp_id = "mx.fgr.armas"
    _material, registration = await _pending(shared_broker.url, secretariat, cp_id)
    substituted = dataclasses.replace(registration, identity_key=IdentityKey.generate().public_key)
    record = make_record(secretariat, substituted, now=int(time.time()))
    response = await send_signed(shared_broker.url, Signer(SECRETARIAT, secretariat), "POST",
                               f"/v1/admin/registrations/{cp_id}/approve",
                               json.dumps({"record": record.to_wire()}).encode())

    assert response.status == 422, f"expected HTTP 422, got {response.status}: {response.body}"
    await _assert_still_pending(shared_broker.url, secretariat, cp_id)
    assert "encryption key certificate" in response.error.get("message", ""), response.error


async def test_approval_for_other_id(shared_broker, secretariat, cast):
    cp_id = "ca.cbsa.pacific-ports"
    _material, registration = await _pending(shared_broker.url, secretariat, cp_id)
    before = stored_rows(shared_broker.db)
    record = make_record(secretariat, registration, now=int(time.time()))
    response = await send_signed(shared_broker.url, Signer(SECRETARIAT, secretariat), "POST",
                               f"/v1/admin/registrations/{APPLICANT}/approve",
                               json.dumps({"record": record.to_wire()}).encode())

    assert_error(response, 422, "decision_mismatch", mentions=(cp_id, APPLICANT), value=cp_id)
    await _assert_still_pending(shared_broker.url, secretariat, APPLICANT)
    assert stored_rows(shared_broker.db) == before


# Routes and paths


async def test_unknown_route(shared_broker, cast, before):
    response = await send_raw(shared_broker.url, "GET", "/v1/mensajes")

    assert_error(response, 404, "not_found")
    assert stored_rows(shared_broker.db) == before


@pytest.mark.parametrize("method, path", [("GET", "/v1/mensajes"), ("DELETE", "/v1/mailbox")])
async def test_unknown_route_message(shared_broker, cast, method, path):
    response = await send_raw(shared_broker.url, method, path)

    assert response.status in (404, 405), f"expected HTTP 404 or 405, got {response.status}"
    assert path in response.error.get("message", ""), f"message does not name {path}: {response.error}"


async def test_ack_unknown_message(shared_broker, cast, before):
    msg_id = "0123456789abcdef0123456789abcdef"
    response = await send_signed(shared_broker.url, signer(cast.reader), "POST", f"/v1/mailbox/{msg_id}/ack", b"{}")

    assert_error(response, 404, "not_in_mailbox", mentions=(msg_id, READER), value=msg_id)
    assert stored_rows(shared_broker.db) == before


async def test_ack_of_other_recipient(shared_broker, cast, before):
    """The sender cannot acknowledge, and so delete, a delivery to the reader."""
    envelope = sealed(cast.sender, cast.reader)
    msg_id = json.loads(envelope.header)["id"]
    stored = await send_signed(shared_broker.url, signer(cast.sender), "POST", "/v1/messages", wire(envelope))
    assert stored.status == 201, f"the submit failed: {stored.body}"
    after_submit = stored_rows(shared_broker.db)

    response = await send_signed(shared_broker.url, signer(cast.sender), "POST", f"/v1/mailbox/{msg_id}/ack", b"{}")

    assert_error(response, 404, "not_in_mailbox", mentions=(msg_id,), value=msg_id)
    assert stored_rows(shared_broker.db) == after_submit


BAD_CP_IDS = [
    ("uppercase", "MX.ANAM.INTELIGENCIA", "bad_cp_id"),
    ("two parts", "mx.anam", "bad_cp_id"),
    ("not a member state", "zz.aduana.central", "unknown_country"),
]


@pytest.mark.parametrize("cp_id, code", [c[1:] for c in BAD_CP_IDS], ids=[c[0] for c in BAD_CP_IDS])
@pytest.mark.parametrize("method, template", [
    ("GET", "/v1/directory/{}"),
    ("GET", "/v1/registrations/{}"),
    ("POST", "/v1/admin/registrations/{}/approve"),
    ("POST", "/v1/admin/registrations/{}/reject"),
], ids=["directory", "registration", "approve", "reject"])
async def test_bad_cp_id_in_path(shared_broker, secretariat, cast, before, cp_id, code, method, template):
    body = b"{}" if method == "POST" else b""
    response = await send_signed(shared_broker.url, Signer(SECRETARIAT, secretariat), method,
                               template.format(cp_id), body)

    assert_error(response, 400, code, mentions=(cp_id,), value=cp_id)
    assert stored_rows(shared_broker.db) == before


@pytest.mark.parametrize("limit, code", [("abc", "invalid_field"), ("0", "bad_limit"), ("1001", "bad_limit")])
async def test_mailbox_bad_limit(shared_broker, cast, before, limit, code):
    response = await send_signed(shared_broker.url, signer(cast.reader), "GET", f"/v1/mailbox?limit={limit}")

    assert_error(response, 400, code, mentions=(limit,))
    assert stored_rows(shared_broker.db) == before


# Size limit


async def test_envelope_over_size_limit(small_broker, small_cast):
    before = stored_rows(small_broker.db)
    envelope = sealed(small_cast.sender, small_cast.reader, text="x" * (2 * SIZE_LIMIT))
    size = len(envelope.header) + len(envelope.body)
    response = await send_signed(small_broker.url, signer(small_cast.sender), "POST", "/v1/messages", wire(envelope))

    assert_error(response, 413, "too_large", mentions=(size, SIZE_LIMIT), value=size)
    assert stored_rows(small_broker.db) == before


async def test_envelope_under_size_limit(small_broker, small_cast):
    envelope = sealed(small_cast.sender, small_cast.reader, text="x" * (SIZE_LIMIT // 4))
    response = await send_signed(small_broker.url, signer(small_cast.sender), "POST", "/v1/messages", wire(envelope))

    assert response.status == 201, f"an envelope of {len(envelope.body)} body bytes was refused: {response.body}"


@pytest.mark.parametrize("path, signed", [("/v1/messages", True), ("/v1/registrations", False)],
                         ids=["messages", "registrations"])
async def test_request_body_over_http_limit(small_broker, small_cast, path, signed):
    before = stored_rows(small_broker.db)
    # aiohttp's own limit is about 4/3 of the envelope limit plus 64 KiB.
    body = json.dumps({"v": 1, "padding": "x" * (SIZE_LIMIT * 2 + 100 * 1024)}).encode()
    if signed:
        response = await send_signed(small_broker.url, signer(small_cast.sender), "POST", path, body)
    else:
        response = await send_raw(small_broker.url, "POST", path, body, {"Content-Type": "application/json"})

    assert_error(response, 413, "too_large", mentions=(SIZE_LIMIT,))
    assert stored_rows(small_broker.db) == before


# Logs


async def test_log_lines_json_without_secrets(broker, root):
    sender = await enrol(broker.url, root, SENDER)
    reader = await enrol(broker.url, root, READER)
    subject = "Fusiles AR-15 sin número de serie en Manzanillo"
    envelope = seal(sender.identity, SENDER, [recipient_key(reader)], kind="alert", priority="urgent",
                    content={"subject": subject, "tlp": "RED",
                             "alert": {"item_kind": "firearm", "status": "seized", "serial_number": "MZ-40417"}})
    body = wire(envelope)
    headers = sign_request(sender.identity, SENDER, "POST", "/v1/messages", body)
    responses = [
        await send_raw(broker.url, "POST", "/v1/messages", body, headers),
        await send_raw(broker.url, "POST", "/v1/messages", body, headers),
        await send_raw(broker.url, "POST", "/v1/registrations", b"{"),
        await send_raw(broker.url, "GET", "/v1/nowhere"),
        await send_signed(broker.url, signer(reader), "GET", "/v1/mailbox"),
    ]
    broker.stop()
    lines = broker.log_path.read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines if line.startswith("{")]
    requests = [e for e in events if e.get("event") == "request"]

    assert responses[0].status == 201, f"the submit failed: {responses[0].body}"
    assert all(line.startswith("{") for line in lines), f"non-JSON log lines: {lines}"
    assert all(isinstance(e, dict) for e in events), "a log line is not a JSON object"
    assert all("request_id" in e and "status" in e for e in requests), f"request lines lack fields: {requests}"
    for response in responses:
        matching = [e for e in requests if e["request_id"] == response.request_id]
        assert len(matching) == 1, f"expected one log line for request {response.request_id}: {matching}"
        assert matching[0]["status"] == response.status, f"logged status differs: {matching[0]}"

    secrets = {
        "subject": subject,
        "serial number": "MZ-40417",
        "envelope body": envelope.to_wire()["body"],
        "envelope signature": envelope.to_wire()["signature"],
    }
    for material in (sender, reader):
        secrets[f"identity seed of {material.owner}"] = b64encode(material.identity.seed)
        secrets[f"keystore contents of {material.owner}"] = material.to_bytes().decode()
        for stored in material.encryption_keys:
            secrets[f"encryption key {stored.key.key_id} of {material.owner}"] = b64encode(stored.key.secret)
    text = "\n".join(lines)
    for name, value in secrets.items():
        assert value not in text, f"the broker log contains the {name}"
