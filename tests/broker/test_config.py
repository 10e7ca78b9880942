"""Configuration of ``enlace-broker serve``: a TOML file, ENLACE_* variables and flags.

Each test starts a real broker process in tmp_path and observes the setting in
effect from outside. It looks at which database file appears, which key the
broker accepts for the Secretariat, which request times and envelope sizes it
rejects, and what it logs. Bad settings must end the process with exit status 2 and one line
"enlace-broker: error: ..." on stderr, never a traceback.

Every broker needs a log key, the keystore of the key that signs the tree heads
of its transparency log. The module creates one with ``enlace-broker log-key
create`` and passes its passphrase in ENLACE_LOG_KEY_PASSPHRASE.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from brokerproc import enrol, signer
from client.api import Signer
from keys import keystore
from keys.encoding import b64encode
from keys.envelope import RecipientKey, seal
from keys.identity import IdentityKey, fingerprint
from keys.requests import SECRETARIAT, sign_request

START_TIMEOUT = 30.0
LANGUAGE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")
LOG_KEY_PASSPHRASE = "log key passphrase for config tests"


@dataclass
class Serve:
    """A finished or running ``enlace-broker serve``: its URL once listening, and its stderr."""

    process: subprocess.Popen
    url: str | None
    stderr_path: Path

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8")

    def log_events(self) -> list[dict]:
        return [json.loads(line) for line in self.stderr.splitlines() if line.startswith("{")]

    def describe(self) -> str:
        state = f"listening at {self.url}" if self.url else f"exit {self.returncode}"
        return f"[{state}]\n--- stderr\n{self.stderr}"


def broker_env(**changes: str) -> dict[str, str]:
    """The test's environment without ENLACE_* or locale variables, plus the log key passphrase and ``changes``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ENLACE_") and k not in LANGUAGE_VARIABLES}
    return env | {"LANG": "C.UTF-8", "ENLACE_LOG_KEY_PASSPHRASE": LOG_KEY_PASSPHRASE} | changes


def broker_command(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run an ``enlace-broker`` command that ends by itself."""
    return subprocess.run([sys.executable, "-m", "broker", *args], cwd=cwd, env=broker_env() if env is None else env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)


@contextlib.contextmanager
def serving(workdir: Path, *args: str, env: dict[str, str] | None = None):
    """Run ``enlace-broker serve ARGS`` in ``workdir`` until it listens or exits, and stop it afterwards."""
    ready = workdir / "ready.url"
    stderr_path = workdir / "stderr.log"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "broker", "serve", "--ready-file", str(ready), *args],
                                   cwd=workdir, env=broker_env() if env is None else env,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        url = None
        while process.poll() is None:
            if ready.exists() and ready.read_text().strip():
                url = ready.read_text().strip()
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"the broker neither listened nor exited in {START_TIMEOUT} s")
            time.sleep(0.02)
        yield Serve(process, url, stderr_path)
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)


def toml_file(workdir: Path, text: str) -> str:
    path = workdir / "broker.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


async def secretariat_request(url: str, root: IdentityKey, *, now: int | None = None) -> tuple[int, dict]:
    """GET the pending registrations as the Secretariat and return the status and the JSON body."""
    path = "/v1/admin/registrations"
    headers = sign_request(root, SECRETARIAT, "GET", path, b"", now=now)
    async with aiohttp.ClientSession() as session:
        async with session.get(url + path, headers=headers) as response:
            return response.status, await response.json()


@pytest.fixture
def root() -> IdentityKey:
    return IdentityKey.generate()


@pytest.fixture
def key(root) -> str:
    return b64encode(root.public_key)


@pytest.fixture(scope="module")
def log_key_creation(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """The log key every broker of this module uses, and the output of the command that made it."""
    workdir = tmp_path_factory.mktemp("log-key")
    result = broker_command("log-key", "create", "--out", "log-key.json", "--kdf", "interactive", cwd=workdir)
    return workdir / "log-key.json", result


@pytest.fixture
def log_key(log_key_creation) -> str:
    path, result = log_key_creation
    assert result.returncode == 0, f"enlace-broker log-key create failed:\n{result.stderr}"
    return str(path)


# The log key


def test_log_key_create(log_key_creation):
    path, result = log_key_creation
    public_key = keystore.load(path, LOG_KEY_PASSPHRASE).identity.public_key

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "Created the log key in log-key.json.", result.stdout
    assert result.stdout.splitlines()[1] == f"Log key fingerprint: {fingerprint(public_key)}", result.stdout
    assert result.stderr == "", result.stderr
    assert LOG_KEY_PASSPHRASE not in result.stdout + result.stderr, "the passphrase was printed"


def test_log_key_create_twice(tmp_path, log_key):
    before = Path(log_key).read_bytes()
    result = broker_command("log-key", "create", "--out", log_key, "--kdf", "interactive", cwd=tmp_path)

    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("enlace-broker: error: cannot create log key "), result.stderr
    assert "already exists" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert Path(log_key).read_bytes() == before, "the existing log key changed"


# Values in effect


async def test_settings_from_file(tmp_path, root, key, log_key):
    config = toml_file(tmp_path, f'db = "from-file.db"\nlisten = "127.0.0.1:0"\nsecretariat_key = "{key}"\n'
                                 'max_envelope_bytes = 4096\nreplay_window = 30\nlog_level = "WARNING"\n'
                                 f'log_key = "{log_key}"\n')
    with serving(tmp_path, "--config", config) as broker:
        assert broker.url, f"the broker did not start:\n{broker.describe()}"
        status, _body = await secretariat_request(broker.url, root)
        late, late_body = await secretariat_request(broker.url, root, now=int(time.time()) + 60)
        sender = await enrol(broker.url, root, "mx.anam.inteligencia")
        reader = await enrol(broker.url, root, "us.atf.tracing")
        key_of_reader = reader.encryption_keys[0].key
        envelope = seal(sender.identity, sender.owner,
                        [RecipientKey(reader.owner, key_of_reader.key_id, key_of_reader.public_key)],
                        kind="message", priority="normal", content={"subject": "Consulta", "text": "x" * 5000})
        big = await _submit(broker.url, signer(sender), envelope.to_wire())

    assert (tmp_path / "from-file.db").exists(), "db from the file was not used"
    assert status == 200, "secretariat_key from the file was not used"
    assert late == 401, "replay_window = 30 from the file was not used"
    assert "30 s window" in late_body["error"]["message"], late_body
    assert big[0] == 413, f"max_envelope_bytes = 4096 from the file was not used: {big}"
    assert "4096" in big[1]["error"]["message"], big
    assert not [e for e in broker.log_events() if e.get("level") == "info"], "log_level WARNING was not used"


async def _submit(url: str, caller: Signer, wire: dict) -> tuple[int, dict]:
    body = json.dumps(wire).encode()
    headers = sign_request(caller.identity, caller.caller, "POST", "/v1/messages", body)
    async with aiohttp.ClientSession() as session:
        async with session.post(url + "/v1/messages", data=body, headers=headers) as response:
            return response.status, await response.json()


DB_SOURCES = [
    # (case, ENLACE_DB or None, --db or None, the file that must be used)
    ("file", None, None, "file.db"),
    ("environment over file", "env.db", None, "env.db"),
    ("flag over environment", "env.db", "flag.db", "flag.db"),
]


@pytest.mark.parametrize("env_db, flag_db, expected", [c[1:] for c in DB_SOURCES], ids=[c[0] for c in DB_SOURCES])
def test_db_precedence(tmp_path, key, log_key, env_db, flag_db, expected):
    config = toml_file(tmp_path, f'db = "file.db"\nlisten = "127.0.0.1:0"\nsecretariat_key = "{key}"\n'
                                 f'log_key = "{log_key}"\n')
    env = broker_env(ENLACE_DB=env_db) if env_db else broker_env()
    flags = ["--db", flag_db] if flag_db else []
    with serving(tmp_path, "--config", config, *flags, env=env) as broker:
        assert broker.url, f"the broker did not start:\n{broker.describe()}"

    listening = [e for e in broker.log_events() if e.get("event") == "listening"]
    assert [e["db"] for e in listening] == [expected], broker.describe()
    assert (tmp_path / expected).exists(), f"{expected} was not created"
    for other in {"file.db", "env.db", "flag.db"} - {expected}:
        assert not (tmp_path / other).exists(), f"{other} was created as well"


KEY_SOURCES = [
    # (case, whose key is in the file, in ENLACE_SECRETARIAT_KEY, in --secretariat-key, status for root)
    ("file", "root", None, None, 200),
    ("environment over file", "other", "root", None, 200),
    ("environment replaces file", "root", "other", None, 401),
    ("flag over environment", "other", "other", "root", 200),
]


@pytest.mark.parametrize("in_file, in_env, in_flag, status", [c[1:] for c in KEY_SOURCES],
                         ids=[c[0] for c in KEY_SOURCES])
async def test_secretariat_key_precedence(tmp_path, root, log_key, in_file, in_env, in_flag, status):
    keys = {"root": b64encode(root.public_key), "other": b64encode(IdentityKey.generate().public_key)}
    config = toml_file(tmp_path, f'db = "broker.db"\nlisten = "127.0.0.1:0"\nsecretariat_key = "{keys[in_file]}"\n'
                                 f'log_key = "{log_key}"\n')
    env = broker_env(ENLACE_SECRETARIAT_KEY=keys[in_env]) if in_env else broker_env()
    flags = [f"--secretariat-key={keys[in_flag]}"] if in_flag else []
    with serving(tmp_path, "--config", config, *flags, env=env) as broker:
        assert broker.url, f"the broker did not start:\n{broker.describe()}"
        result = await secretariat_request(broker.url, root)

    assert result[0] == status, f"expected HTTP {status} for the root key: {result}"


async def test_environment_number_overrides_file(tmp_path, root, key, log_key):
    config = toml_file(tmp_path, f'db = "broker.db"\nlisten = "127.0.0.1:0"\nsecretariat_key = "{key}"\n'
                                 f'replay_window = 300\nlog_key = "{log_key}"\n')
    with serving(tmp_path, "--config", config, env=broker_env(ENLACE_REPLAY_WINDOW="30")) as broker:
        assert broker.url, f"the broker did not start:\n{broker.describe()}"
        status, body = await secretariat_request(broker.url, root, now=int(time.time()) + 60)

    assert status == 401, f"a request 60 s ahead was accepted: {body}"
    assert body["error"]["code"] == "request_expired", body
    assert "30 s window" in body["error"]["message"], body


# Errors


def assert_config_error(broker: Serve, pattern: str) -> None:
    """Exit status 2, exactly one non-JSON line on stderr, and that line is the error."""
    plain = [line for line in broker.stderr.splitlines() if not line.startswith("{")]
    assert broker.returncode == 2, f"expected exit 2:\n{broker.describe()}"
    assert "Traceback" not in broker.stderr, f"a traceback reached stderr:\n{broker.describe()}"
    assert len(plain) == 1, f"expected one error line:\n{broker.describe()}"
    assert plain[0].startswith("enlace-broker: error: "), f"not an error line: {plain[0]!r}"
    assert re.search(pattern, plain[0]), f"{pattern!r} not in {plain[0]!r}"


# Default flags of test_config_error, passed unless a case leaves them out.
ALL_DEFAULTS = ("secretariat key", "log key")
NO_SECRETARIAT_KEY = ("log key",)
NO_LOG_KEY = ("secretariat key",)

ERRORS = [
    # TOML file text or None, flags, environment, default flags to pass, expected message
    pytest.param('listen = "127.0.0.1:0"\ndb = \n', [], {}, ALL_DEFAULTS,
     r"configuration file \S+broker\.toml is not valid TOML: .*line 2", id="bad TOML"),
    pytest.param("port = 8080\n", [], {}, ALL_DEFAULTS,
     r"configuration file \S+broker\.toml has unknown settings: port$", id="unknown setting"),
    pytest.param(None, ["--config", "missing.toml"], {}, ALL_DEFAULTS,
     r"configuration file missing\.toml not found$", id="config file missing"),
    pytest.param(None, ["--listen", "localhost"], {}, ALL_DEFAULTS,
     r"listen address 'localhost' must be HOST:PORT$", id="listen without port"),
    pytest.param(None, ["--listen", "127.0.0.1:99999"], {}, ALL_DEFAULTS,
     r"listen address '127\.0\.0\.1:99999' must be HOST:PORT$", id="listen port out of range"),
    pytest.param(None, [], {"ENLACE_LISTEN": "127.0.0.1:http"}, ALL_DEFAULTS,
     r"listen address '127\.0\.0\.1:http' must be HOST:PORT$", id="listen port a name in environment"),
    pytest.param("listen = 8080\n", [], {}, ALL_DEFAULTS,
     r"listen address '8080' must be HOST:PORT$", id="listen a number in file"),
    pytest.param(None, [], {}, NO_SECRETARIAT_KEY,
     r"no Secretariat public key: .*ENLACE_SECRETARIAT_KEY$", id="secretariat key missing"),
    pytest.param(None, ["--secretariat-key", "abc"], {}, NO_SECRETARIAT_KEY,
     r"invalid Secretariat public key: .*32 bytes", id="secretariat key invalid"),
    pytest.param(None, [], {"ENLACE_MAX_ENVELOPE_BYTES": "big"}, ALL_DEFAULTS,
     r"setting max_envelope_bytes must be a whole number, got 'big'$", id="number not a number in environment"),
    pytest.param('replay_window = "five minutes"\n', [], {}, ALL_DEFAULTS,
     r"setting replay_window must be a whole number, got 'five minutes'$", id="number a string in file"),
    pytest.param(None, ["--tls-cert", "missing.pem"], {}, ALL_DEFAULTS,
     r"cannot load TLS certificate missing\.pem: ", id="TLS certificate missing"),
    pytest.param(None, [], {}, NO_LOG_KEY,
                 r"no log key: create one with 'enlace-broker log-key create --out FILE' and pass it with --log-key$",
                 id="log key missing"),
    pytest.param(None, ["--log-key", "missing.json"], {}, ALL_DEFAULTS,
                 r"cannot open log key missing\.json: keystore missing\.json not found$", id="log key file missing"),
    pytest.param(None, [], {"ENLACE_LOG_KEY_PASSPHRASE": "not the passphrase"}, ALL_DEFAULTS,
                 r"cannot open log key \S+: the passphrase does not open keystore ", id="log key passphrase wrong"),
    pytest.param(None, [], {"ENLACE_LOG_KEY_PASSPHRASE": ""}, ALL_DEFAULTS,
                 r"no log key passphrase: set ENLACE_LOG_KEY_PASSPHRASE$", id="log key passphrase unset"),
    pytest.param(
        'log_level = "LOUD"\n', [], {}, ALL_DEFAULTS, r"log_level.*'LOUD'",
        id="log level unknown"),
    pytest.param(
        "max_envelope_bytes = 0\n", [], {}, ALL_DEFAULTS, r"max_envelope_bytes",
        id="envelope limit zero"),
    pytest.param(
        "replay_window = -1\n", [], {}, ALL_DEFAULTS, r"replay_window",
        id="replay window negative"),
]


@pytest.mark.parametrize("file_text, flags, env, defaults, pattern", ERRORS)
def test_config_error(tmp_path, key, log_key, file_text, flags, env, defaults, pattern):
    args = ["--db", "broker.db"]
    if "--listen" not in flags and "ENLACE_LISTEN" not in env and (file_text is None or "listen" not in file_text):
        args += ["--listen", "127.0.0.1:0"]
    if "secretariat key" in defaults:
        args += [f"--secretariat-key={key}"]
    if "log key" in defaults:
        args += ["--log-key", log_key]
    if file_text is not None:
        args += ["--config", toml_file(tmp_path, file_text)]
    with serving(tmp_path, *args, *flags, env=broker_env(**env)) as broker:
        pass

    assert_config_error(broker, pattern)


def test_log_key_of_contact_point(tmp_path, key):
    """A contact point's keystore, opened with the right passphrase, is still not a log key."""
    material = keystore.KeyMaterial("mx.anam.inteligencia", IdentityKey.generate())
    keystore.save(tmp_path / "keystore.json", material, LOG_KEY_PASSPHRASE, profile="interactive")
    with serving(tmp_path, "--db", "broker.db", "--listen", "127.0.0.1:0", f"--secretariat-key={key}",
                 "--log-key", "keystore.json") as broker:
        pass

    assert_config_error(broker, r"keystore\.json is not a broker log key$")


def test_port_in_use(tmp_path, key, log_key):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with serving(tmp_path, "--db", "broker.db", "--listen", f"127.0.0.1:{port}", f"--secretariat-key={key}",
                     "--log-key", log_key) as broker:
            pass

    assert_config_error(broker, rf"cannot listen on 127\.0\.0\.1:{port}: .*(?i:address already in use)")
