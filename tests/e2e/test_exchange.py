"""The whole exchange against a real broker: register, approve, send, read, acknowledge."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest

from brokerproc import LOG_KEY_PASSPHRASE, enrol, signer
from client import contact
from client.api import ApiFailure, BrokerClient
from client.audit import compare_heads
from client.errors import TrustError
from client.transparency import TrustContext
from client.trust import open_received
from keys import keystore
from keys.content import to_sealable
from keys.envelope import seal
from keys.log import sign_head

ALERT = {"subject": "Serial obliterated", "tlp": "AMBER+STRICT",
         "alert": {"item_kind": "firearm", "status": "seized", "serial_number": "X1",
                   "serial_obliterated": True, "quantity": 2}}


async def test_alert_reaches_both_recipients(broker, root, tmp_path):
    sender = await enrol(broker.url, root, "mx.anam.inteligencia")
    first = await enrol(broker.url, root, "us.atf.tracing")
    second = await enrol(broker.url, root, "gt.sat.aduanas")

    async with BrokerClient(broker.url, signer(sender)) as api:
        receipt = await contact.send(api, TrustContext(root.public_key, broker.log_public_key), sender, ["us.atf.tracing", "gt.sat.aduanas"],
                                     kind="alert", priority="urgent", content=ALERT)

    for material in (first, second):
        async with BrokerClient(broker.url, signer(material)) as api:
            items = await api.mailbox()
            assert [i["id"] for i in items] == [receipt["id"]]
            opened = await open_received(api, TrustContext(root.public_key, broker.log_public_key), material, items[0]["envelope"])
            assert opened.header.sender == "mx.anam.inteligencia"
            assert opened.inner["content"]["alert"]["serial_number"] == "X1"
            assert opened.inner["content"]["tlp"] == "AMBER+STRICT"
            await api.ack(receipt["id"])
            assert await api.mailbox() == []


async def test_mailbox_orders_priority_first(broker, root):
    sender = await enrol(broker.url, root, "mx.anam.inteligencia")
    reader = await enrol(broker.url, root, "us.atf.tracing")
    sent = []
    async with BrokerClient(broker.url, signer(sender)) as api:
        for priority in ("low", "urgent", "normal"):
            receipt = await contact.send(api, TrustContext(root.public_key, broker.log_public_key), sender, ["us.atf.tracing"], kind="message",
                                         priority=priority, content={"subject": priority})
            sent.append((priority, receipt["id"]))

    async with BrokerClient(broker.url, signer(reader)) as api:
        order = [i["id"] for i in await api.mailbox()]
    expected = [dict(sent)[p] for p in ("urgent", "normal", "low")]
    assert order == expected


async def test_stored_envelope_survives_restart(broker, root):
    sender = await enrol(broker.url, root, "mx.anam.inteligencia")
    reader = await enrol(broker.url, root, "us.atf.tracing")
    async with BrokerClient(broker.url, signer(sender)) as api:
        receipt = await contact.send(api, TrustContext(root.public_key, broker.log_public_key), sender, ["us.atf.tracing"], kind="message",
                                     priority="normal", content={"subject": "persist"})

    broker.stop()
    broker.start()
    async with BrokerClient(broker.url, signer(reader)) as api:
        assert [i["id"] for i in await api.mailbox()] == [receipt["id"]]


async def test_damaged_row_gives_503_then_recovers(broker, root):
    sender = await enrol(broker.url, root, "mx.anam.inteligencia")
    reader = await enrol(broker.url, root, "us.atf.tracing")
    trust = TrustContext(root.public_key, broker.log_public_key)
    async with BrokerClient(broker.url, signer(sender)) as api:
        damaged = await contact.send(api, trust, sender, ["us.atf.tracing"], kind="message", priority="normal",
                                     content={"subject": "damaged"})
    with closing(sqlite3.connect(broker.db)) as conn:
        conn.execute("UPDATE envelopes SET sender = CAST(X'ff' AS TEXT) WHERE msg_id = ?", (damaged["id"],))
        conn.commit()

    async with BrokerClient(broker.url, signer(reader)) as api:
        with pytest.raises(ApiFailure) as failure:
            await api.mailbox()
        with closing(sqlite3.connect(broker.db)) as conn:
            conn.execute("DELETE FROM mailbox WHERE msg_id = ?", (damaged["id"],))
            conn.commit()
        async with BrokerClient(broker.url, signer(sender)) as sending:
            later = await contact.send(sending, trust, sender, ["us.atf.tracing"], kind="message",
                                       priority="normal", content={"subject": "later"})
        items = await api.mailbox()

    assert (failure.value.status, failure.value.code) == (503, "storage_error")
    assert [i["id"] for i in items] == [later["id"]]


async def test_sealed_tree_head_detects_split_view(broker, root):
    sender = await enrol(broker.url, root, "mx.anam.inteligencia")
    reader = await enrol(broker.url, root, "us.atf.tracing")
    sender_trust = TrustContext(root.public_key, broker.log_public_key)
    async with BrokerClient(broker.url, signer(sender)) as api:
        keys = await contact.recipient_keys(api, sender_trust, ["us.atf.tracing"])
        head = sender_trust.stored_head()
        # The sender's view came from a broker that showed it another log: a head of the
        # same size with another root, signed by the same log key.
        log_key = keystore.load(broker.log_key_path, LOG_KEY_PASSPHRASE).identity
        forked = sign_head(log_key, head.tree_size, bytes(32), head.timestamp)
        envelope = seal(sender.identity, sender.owner, keys, kind="message", priority="normal",
                        content=to_sealable("message", {"subject": "other view", "log_head": forked.to_wire()}))
        await api.submit(envelope.to_wire())

    reader_trust = TrustContext(root.public_key, broker.log_public_key)
    async with BrokerClient(broker.url, signer(reader)) as api:
        (item,) = await api.mailbox()
        opened = await open_received(api, reader_trust, reader, item["envelope"])
        with pytest.raises(TrustError, match="SPLIT VIEW"):
            await compare_heads(api, reader_trust, opened.inner["content"]["log_head"])


async def test_sent_message_carries_sender_head(broker, root):
    sender = await enrol(broker.url, root, "mx.anam.inteligencia")
    reader = await enrol(broker.url, root, "us.atf.tracing")
    async with BrokerClient(broker.url, signer(sender)) as api:
        await contact.send(api, TrustContext(root.public_key, broker.log_public_key), sender, ["us.atf.tracing"],
                           kind="message", priority="normal", content={"subject": "same view"})

    reader_trust = TrustContext(root.public_key, broker.log_public_key)
    async with BrokerClient(broker.url, signer(reader)) as api:
        (item,) = await api.mailbox()
        opened = await open_received(api, reader_trust, reader, item["envelope"])
        compared = await compare_heads(api, reader_trust, opened.inner["content"]["log_head"])

    assert compared.tree_size == 2
