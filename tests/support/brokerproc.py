"""A real broker process on an ephemeral loopback port, for end-to-end tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from client.api import BrokerClient, Signer
from client.contact import registration_request
from keys import keystore
from keys.encoding import b64encode
from keys.encryption import DEFAULT_VALIDITY, EncryptionKey
from keys.identity import IdentityKey
from keys.ids import sample_contact_points
from keys.records import SignedDocument, make_record, parse_registration

READY_TIMEOUT = 30.0
LOG_KEY_PASSPHRASE = "log key passphrase for tests"


@dataclass
class BrokerProcess:
    """A running ``enlace-broker serve``; ``stop()`` ends it and returns its log lines."""

    workdir: Path
    root: IdentityKey
    extra_args: list[str] = field(default_factory=list)
    url: str = ""
    process: subprocess.Popen | None = None

    @property
    def db(self) -> Path:
        return self.workdir / "broker.db"

    @property
    def log_path(self) -> Path:
        return self.workdir / "broker.log"

    @property
    def log_key_path(self) -> Path:
        return self.workdir / "log-key.json"

    def _ensure_log_key(self) -> None:
        if not self.log_key_path.exists():
            keystore.save(self.log_key_path, keystore.KeyMaterial("broker-log", IdentityKey.generate()),
                          LOG_KEY_PASSPHRASE, profile="interactive")

    @property
    def log_public_key(self) -> bytes:
        return keystore.load(self.log_key_path, LOG_KEY_PASSPHRASE).identity.public_key

    def start(self) -> "BrokerProcess":
        ready = self.workdir / "broker.url"
        ready.unlink(missing_ok=True)
        self._ensure_log_key()
        environment = dict(os.environ, ENLACE_LOG_KEY_PASSPHRASE=LOG_KEY_PASSPHRASE)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "broker", "serve", "--db", str(self.db), "--listen", "127.0.0.1:0",
                 f"--secretariat-key={b64encode(self.root.public_key)}", "--ready-file", str(ready),
                 "--log-key", str(self.log_key_path), *self.extra_args],
                stdout=subprocess.DEVNULL, stderr=log, env=environment)
        deadline = time.monotonic() + READY_TIMEOUT
        while not (ready.exists() and ready.read_text().strip()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"broker did not start:\n{self.log_path.read_text()}")
            time.sleep(0.02)
        self.url = ready.read_text().strip()
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def log_events(self) -> list[dict]:
        """Every JSON log line the broker wrote so far."""
        lines = self.log_path.read_text(encoding="utf-8").splitlines() if self.log_path.exists() else []
        return [json.loads(line) for line in lines if line.startswith("{")]


def new_material(cp_id: str) -> keystore.KeyMaterial:
    """Fresh keys for ``cp_id``, kept in memory only."""
    now = int(time.time())
    return keystore.KeyMaterial(cp_id, IdentityKey.generate(),
                                [keystore.StoredEncryptionKey(EncryptionKey.generate(), now - 60,
                                                              now + DEFAULT_VALIDITY)])


def sample_profile(cp_id: str) -> dict:
    """Registration fields of a sample contact point, or generic ones for another id."""
    for point in sample_contact_points():
        if point["id"] == cp_id:
            return {k: point[k] for k in ("agency", "agency_type", "unit", "languages", "topics")}
    return {"agency": "Test agency", "agency_type": "customs", "unit": "Test unit",
            "languages": ["es"], "topics": ["firearms"]}


async def register(url: str, cp_id: str, *, cafile: str | None = None) -> keystore.KeyMaterial:
    """Create keys for ``cp_id`` and submit its registration (left pending)."""
    material = new_material(cp_id)
    profile = sample_profile(cp_id)
    request = registration_request(material, agency=profile["agency"], agency_type=profile["agency_type"],
                                   unit=profile["unit"], languages=profile["languages"],
                                   topics=profile["topics"])
    async with BrokerClient(url, cafile=cafile) as api:
        await api.register(request)
    return material


async def approve(url: str, root: IdentityKey, cp_id: str, *, cafile: str | None = None) -> None:
    """Approve the pending registration of ``cp_id`` with the Secretariat key."""
    async with BrokerClient(url, Signer("secretariat", root), cafile=cafile) as api:
        answer = await api.registration(cp_id)
        registration = parse_registration(SignedDocument.from_wire(answer["request"], what="request"))
        await api.approve(cp_id, make_record(root, registration, now=int(time.time())))


async def enrol(url: str, root: IdentityKey, cp_id: str, *,
                cafile: str | None = None) -> keystore.KeyMaterial:
    """Register and approve ``cp_id``; return its keys."""
    material = await register(url, cp_id, cafile=cafile)
    await approve(url, root, cp_id, cafile=cafile)
    return material


def signer(material: keystore.KeyMaterial) -> Signer:
    return Signer(material.owner, material.identity)
