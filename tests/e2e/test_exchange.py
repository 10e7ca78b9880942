"""The whole exchange against a real broker: register, approve, send, read, acknowledge."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest

from brokerproc import enrol, signer
from client import contact
from client.api import ApiFailure, BrokerClient
from client.transparency import TrustContext
from client.trust import open_received

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
