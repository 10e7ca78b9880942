"""Command-line checks that stop a mistake before anything is sent or overwritten."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from brokerproc import BrokerProcess, enrol
from keys.encoding import b64encode
from keys.identity import IdentityKey

PASSPHRASE = "checks passphrase 123"
MX = "mx.anam.inteligencia"
US = "us.atf.tracing"


def enlace(home: Path, *args: str) -> subprocess.CompletedProcess:
    environment = dict(os.environ, ENLACE_PASSPHRASE=PASSPHRASE, LANG="C")
    return subprocess.run([sys.executable, "-m", "client", "--home", str(home), *args], capture_output=True,
                          text=True, env=environment, timeout=60)


@pytest.fixture
def contact_home(tmp_path: Path, root: IdentityKey) -> Path:
    home = tmp_path / "mx"
    done = enlace(home, "init", "--id", MX, "--broker", "http://127.0.0.1:9",
                  f"--secretariat-key={b64encode(root.public_key)}", "--kdf", "interactive")
    assert done.returncode == 0, done.stderr
    return home


def test_alert_options_without_kind_refused(contact_home: Path):
    done = enlace(contact_home, "send", "--to", US, "--subject", "s", "--make", "Glock")

    assert done.returncode == 2
    assert "--make" in done.stderr
    assert "--item-kind" in done.stderr
    assert "cannot reach" not in done.stderr


def test_text_and_text_file_refused(contact_home: Path, tmp_path: Path):
    text_file = tmp_path / "text.txt"
    text_file.write_text("from the file", encoding="utf-8")

    done = enlace(contact_home, "send", "--to", US, "--subject", "s", "--text", "typed", "--text-file", str(text_file))

    assert done.returncode == 2
    assert "--text-file" in done.stderr


def test_admin_init_keeps_contact_home(contact_home: Path):
    config_before = (contact_home / "config.toml").read_bytes()

    done = enlace(contact_home, "admin", "init", "--broker", "http://127.0.0.1:9", "--kdf", "interactive")

    assert done.returncode == 2
    assert MX in done.stderr
    assert (contact_home / "config.toml").read_bytes() == config_before


def test_init_force_keeps_old_keystore(contact_home: Path, root: IdentityKey):
    old = (contact_home / "keystore.json").read_bytes()

    done = enlace(contact_home, "init", "--id", MX, "--broker", "http://127.0.0.1:9",
                  f"--secretariat-key={b64encode(root.public_key)}", "--kdf", "interactive", "--force")
    backups = sorted(contact_home.glob("keystore.*.json"))

    assert done.returncode == 0, done.stderr
    assert len(backups) == 1
    assert backups[0].read_bytes() == old


async def test_observer_home_lists_directory(broker, root, tmp_path: Path):
    await enrol(broker.url, root, MX)
    home = tmp_path / "auditor"

    created = enlace(home, "init", "--broker", broker.url, f"--secretariat-key={b64encode(root.public_key)}")
    listed = enlace(home, "directory", "list")
    audited = enlace(home, "directory", "audit")

    assert created.returncode == 0, created.stderr
    assert not (home / "keystore.json").exists()
    assert MX in listed.stdout
    assert audited.returncode == 0, audited.stdout + audited.stderr


async def test_broker_refuses_other_secretariat_key(broker, root, tmp_path: Path):
    await enrol(broker.url, root, MX)
    broker.stop()
    impostor = BrokerProcess(broker.workdir, IdentityKey.generate())

    with pytest.raises(RuntimeError, match="does not match the database"):
        impostor.start()


@pytest.mark.parametrize(("recipient", "expected"), [
    ("MX.Bad Unit", "is not a contact point id"),
    ("zz.agency.unit", "does not start with the code of an OAS member state"),
])
def test_malformed_recipient_explained(contact_home: Path, recipient: str, expected: str):
    done = enlace(contact_home, "send", "--to", recipient, "--subject", "s")

    assert done.returncode == 2
    assert expected in done.stderr
    assert recipient in done.stderr
    assert "Traceback" not in done.stderr


def test_unavailable_language_warned(contact_home: Path):
    done = enlace(contact_home, "--lang", "fr", "whoami")

    assert done.returncode == 0, done.stderr
    assert "language 'fr' is not available" in done.stderr
    assert MX in done.stdout


def test_text_file_not_utf8_explained(contact_home: Path, tmp_path: Path):
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Incautación".encode("latin-1"))

    done = enlace(contact_home, "send", "--to", US, "--subject", "s", "--text-file", str(latin1))

    assert done.returncode == 2
    assert "is not UTF-8 text" in done.stderr
    assert "codec" not in done.stderr
