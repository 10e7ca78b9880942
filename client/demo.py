"""``enlace demo``: a complete exchange on a temporary broker, printed step by step.

It starts a real broker process on a temporary SQLite file, registers the sample
contact points, has the Secretariat approve them, sends a firearms alert from
Mexico's customs intelligence unit to two recipients, and has each of them
decrypt, verify and acknowledge it. It returns 0 only if every step verified.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from client import audit, contact, render, secretariat
from client.api import BrokerClient, Signer
from client.transparency import TrustContext, fetch_log_key
from client.trust import OpenedMessage
from i18n import _
from keys import keystore
from keys.encoding import b64encode
from keys.identity import IdentityKey, fingerprint
from keys.ids import sample_contact_points

SENDER = "mx.anam.inteligencia"
RECIPIENTS = ["us.atf.tracing", "gt.sat.aduanas"]
READY_TIMEOUT = 30.0


class DemoFailure(Exception):
    """A demo step that did not verify; the message names it."""


def _say(step: int, text: str) -> None:
    print(f"{step:2d}. {text}", flush=True)


async def _start_broker(work: Path, root_key: str, passphrase: str) -> tuple[subprocess.Popen, str]:
    ready = work / "broker.url"
    log_key = work / "log-key.json"
    keystore.save(log_key, keystore.KeyMaterial("broker-log", IdentityKey.generate()), passphrase,
                  profile="interactive")
    log = (work / "broker.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "broker", "serve", "--db", str(work / "broker.db"),
         "--listen", "127.0.0.1:0", f"--secretariat-key={root_key}", "--ready-file", str(ready),
         "--log-key", str(log_key)],
        stdout=subprocess.DEVNULL, stderr=log, env=dict(os.environ, ENLACE_LOG_KEY_PASSPHRASE=passphrase))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_TIMEOUT
    while not ready.exists() or not ready.read_text().strip():
        if process.poll() is not None or loop.time() > deadline:
            process.kill()
            raise DemoFailure(_("the broker did not start; see {path}").format(path=work / "broker.log"))
        await asyncio.sleep(0.05)
    return process, ready.read_text().strip()


def _alert() -> dict:
    return {
        "subject": "Pistolas con número de serie borrado en cruce fronterizo",
        "tlp": "AMBER",
        "text": "Solicitamos rastreo del origen de las armas y de la munición incautadas.",
        "alert": {"item_kind": "firearm", "status": "seized", "make": "Glock", "model": "19",
                  "type": "pistol", "calibre": "9x19mm", "serial_number": "BXK-0417",
                  "serial_obliterated": True, "country_of_manufacture": "AT", "quantity": 4,
                  "seizure_place": "Aduana de Nuevo Laredo, Tamaulipas",
                  "seizure_date": (datetime.date.today() - datetime.timedelta(days=2)).isoformat(),
                  "route": "Laredo, TX → Nuevo Laredo → Monterrey",
                  "case_reference": "ANAM-NLD-2026-0193"},
    }


class Demo:
    def __init__(self, work: Path):
        self.work = work
        self.passphrase = secrets.token_urlsafe(24)
        self.materials: dict[str, keystore.KeyMaterial] = {}
        self.trusts: dict[str, TrustContext] = {}

    def trust(self, cp_id: str) -> TrustContext:
        """Each contact point keeps its own last accepted tree head, as a real client does."""
        if cp_id not in self.trusts:
            self.trusts[cp_id] = TrustContext(self.root_key, self.log_key,
                                              self.work / "contact-points" / cp_id / "log-head.json")
        return self.trusts[cp_id]

    async def run(self) -> None:
        root = secretariat.create_root(self.work / "secretariat", "", self.passphrase, profile="interactive")
        self.root_key = root.public_key
        process, url = await _start_broker(self.work, b64encode(root.public_key), self.passphrase)
        self.url = url
        async with BrokerClient(url) as api:
            self.log_key = await fetch_log_key(api)
        try:
            _say(1, _("Started a broker at {url} on a temporary SQLite database.").format(url=url))
            _say(2, _("Created the Secretariat root key; fingerprint {value}.").format(
                value=fingerprint(root.public_key)))
            await self._register_all()
            await self._approve_all(root)
            msg_id = await self._send(_alert())
            step = 6
            for recipient in RECIPIENTS:
                await self._receive(step, recipient, msg_id)
                step += 1
            await self._rotate(step)
            await self._audit(step + 1)
        finally:
            process.terminate()
            process.wait(timeout=10)

    async def _register_all(self) -> None:
        points = sample_contact_points()
        async with BrokerClient(self.url) as api:
            for point in points:
                home = self.work / "contact-points" / point["id"]
                material = contact.create_keys(home, point["id"], self.url, b64encode(self.root_key),
                                               self.passphrase, profile="interactive")
                self.materials[point["id"]] = material
                await api.register(contact.registration_request(
                    material, agency=point["agency"], agency_type=point["agency_type"],
                    unit=point["unit"], languages=point["languages"], topics=point["topics"]))
        countries = sorted({render.country_name(p["country"]) for p in points})
        _say(3, _("Registered {count} contact points of {states} member states ({names}); each "
                  "request is signed by the applicant's own new identity key.").format(
            count=len(points), states=len(countries), names=", ".join(countries)))

    async def _approve_all(self, root) -> None:
        async with BrokerClient(self.url, Signer("secretariat", root)) as api:
            pending = await secretariat.pending(api)
            invalid = [p.cp_id for p in pending if p.registration is None]
            if invalid or len(pending) != len(self.materials):
                raise DemoFailure(_("pending requests did not verify: {ids}").format(ids=", ".join(invalid)))
            for request in pending:
                await secretariat.approve(api, self.trust("secretariat"), root, request.cp_id)
        _say(4, _("The Secretariat checked each request's signature and approved {count}, signing "
                  "each directory record with the root key.").format(count=len(pending)))

    async def _send(self, content: dict, quiet: bool = False) -> str:
        material = self.materials[SENDER]
        async with BrokerClient(self.url, Signer(SENDER, material.identity)) as api:
            receipt = await contact.send(api, self.trust(SENDER), material, RECIPIENTS, kind="alert",
                                         priority="high", content=content)
        if quiet:
            return receipt["id"]
        _say(5, _("{sender} sent firearms alert {msg_id} (TLP:AMBER, priority high) to {recipients}; "
                  "the broker verified the signature and stored it on disk before answering.").format(
            sender=SENDER, msg_id=receipt["id"], recipients=", ".join(RECIPIENTS)))
        return receipt["id"]

    async def _rotate(self, step: int) -> None:
        """The first recipient rotates its key; the next alert must be wrapped for the new key."""
        recipient = RECIPIENTS[0]
        material = self.materials[recipient]
        certificate = contact.new_encryption_key(material, 180 * 86400, int(time.time()))
        new_key_id = material.encryption_keys[-1].key.key_id
        async with BrokerClient(self.url, Signer(recipient, material.identity)) as api:
            await contact.publish_key(api, recipient, certificate)

        msg_id = await self._send(_alert() | {"subject": "Seguimiento: munición del mismo lote"}, quiet=True)
        home = self.work / "contact-points" / recipient
        async with BrokerClient(self.url, Signer(recipient, material.identity)) as api:
            await contact.fetch_inbox(api, home)
            opened = await contact.read(api, home, self.trust(recipient), material, msg_id)
            await api.ack(msg_id)
        used = next(r.key_id for r in opened.header.recipients if r.id == recipient)
        if used != new_key_id:
            raise DemoFailure(_("the alert after the rotation was not wrapped for the new key"))
        _say(step, _("{cp_id} rotated its encryption key (new key {key_id}). {sender} found the new key in the "
                     "log and wrapped its next alert for it, and {cp_id} opened that alert.").format(
            cp_id=recipient, key_id=new_key_id, sender=SENDER))

    async def _audit(self, step: int) -> None:
        async with BrokerClient(self.url) as api:
            report = await audit.audit(api, TrustContext(self.root_key, self.log_key))
        if not report.clean:
            raise DemoFailure(_("the audit found problems: {problems}").format(problems="; ".join(report.problems)))
        _say(step, _("An auditor replayed all {count} log entries, checked every signature and proof, rebuilt "
                     "the directory and found it identical to what the broker serves: clean.").format(
            count=report.entries_checked))

    async def _receive(self, step: int, recipient: str, msg_id: str) -> None:
        material = self.materials[recipient]
        home = self.work / "contact-points" / recipient
        async with BrokerClient(self.url, Signer(recipient, material.identity)) as api:
            items = await contact.fetch_inbox(api, home)
            if [i["id"] for i in items] != [msg_id]:
                raise DemoFailure(_("{cp_id} did not find message {msg_id} in its mailbox").format(
                    cp_id=recipient, msg_id=msg_id))
            opened = await contact.read(api, home, self.trust(recipient), material, msg_id)
            _check_opened(opened, recipient)
            await api.ack(msg_id)
            if await api.mailbox():
                raise DemoFailure(_("the mailbox of {cp_id} is not empty after the acknowledgement").format(
                    cp_id=recipient))
        _say(step, _("{cp_id} fetched the alert, decrypted it and verified it:").format(cp_id=recipient))
        print(_("      signed by {sender}, fingerprint {value}").format(
            sender=opened.header.sender, value=opened.sender_fingerprint))
        print(_("      sender's directory record verified against the pinned Secretariat key"))
        alert = opened.inner["content"]["alert"]
        print(_("      {subject} | TLP:{tlp} | {item}, {make} {model}, serial {serial} (obliterated), "
                "{quantity} seized at {place}").format(
            subject=opened.inner["content"]["subject"], tlp=opened.inner["content"]["tlp"],
            item=render.alert_value(alert["item_kind"]), make=alert["make"], model=alert["model"],
            serial=alert["serial_number"], quantity=alert["quantity"], place=alert["seizure_place"]))
        print(_("      then acknowledged it; its mailbox is empty."))


def _check_opened(opened: OpenedMessage, recipient: str) -> None:
    expected = _alert()
    content = opened.inner["content"]
    if (opened.header.sender != SENDER or recipient not in opened.header.recipient_ids
            or content["alert"]["serial_number"] != expected["alert"]["serial_number"]
            or content["subject"] != expected["subject"]):
        raise DemoFailure(_("the message {cp_id} opened is not the one that was sent").format(cp_id=recipient))


async def run(*, keep: bool = False) -> int:
    work = Path(tempfile.mkdtemp(prefix="enlace-demo-"))
    os.chmod(work, 0o700)
    print(_("Enlace demo: a firearms-trafficking alert from Mexico to the United States and Guatemala."))
    try:
        await Demo(work).run()
    except DemoFailure as exc:
        print(_("Demo FAILED: {reason}").format(reason=exc), file=sys.stderr)
        return 1
    finally:
        if keep:
            print(_("Files kept in {path}.").format(path=work))
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(_("Every step verified."))
    return 0
