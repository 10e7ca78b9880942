"""A transcript of the directory commands of ``enlace`` and ``enlace-broker``, run as subprocesses.

The module fixture walks one flow. The Secretariat creates its key, the broker
operator creates the log key and starts the broker, and Mexico gets a national
administrator. The administrator proposes a Mexican contact point, which then
rotates its encryption key. A reader in the United States audits the log and
compares tree heads. The administrator updates the contact point's profile and
revokes it, and the Secretariat revokes the reader. Each step's transcript is then
checked on its own: the exit status, what the output must show, and that no output
contains a traceback, a passphrase or a private key.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from keys import keystore
from transcript import Transcript, user_environment
from keys.encoding import b64encode
from keys.identity import fingerprint

PASSPHRASE = "contrasena-de-prueba-2026"
LOG_KEY_PASSPHRASE = "log-key-passphrase-for-the-transcript"
BIN = Path(sys.executable).parent
READY_TIMEOUT = 30.0

MX_ADMIN = "mx.anam.coordinacion"
LOCAL = "mx.fgr.armas"
READER = "us.atf.tracing"
HOMES = ("admin", MX_ADMIN, LOCAL, READER)
PROFILES = {
    # id: (agency, unit, language)
    MX_ADMIN: ("Agencia Nacional de Aduanas de México", "Coordinación Nacional", "es"),
    LOCAL: ("Fiscalía General de la República", "Unidad de Armas", "es"),
    READER: ("Bureau of Alcohol, Tobacco, Firearms and Explosives", "National Tracing Center", "en"),
}
NEW_UNIT = "Unidad Especializada en Tráfico de Armas"


def command_env() -> dict[str, str]:
    return user_environment(PASSPHRASE, ENLACE_LOG_KEY_PASSPHRASE=LOG_KEY_PASSPHRASE)


def run(program: str, *args: str) -> Transcript:
    """Run ``program`` (enlace or enlace-broker) from the venv, with no terminal on standard input."""
    argv = [str(BIN / program), *args]
    result = subprocess.run(argv, env=command_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=120, check=False)
    return Transcript([program, *args], result.returncode, result.stdout, result.stderr, program="")


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Flow:
    base: Path
    url: str
    steps: dict[str, Transcript] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    broker: subprocess.Popen | None = None

    def home(self, name: str) -> Path:
        return self.base / name

    def enlace(self, step: str, home: str, *args: str) -> Transcript:
        self.steps[step] = run("enlace", "--home", str(self.home(home)), *args)
        return self.steps[step]

    @property
    def broker_log(self) -> Path:
        return self.base / "broker.log"

    def start_broker(self, secretariat_key: str) -> Transcript:
        """Start ``enlace-broker serve`` and wait until it writes its URL to the ready file."""
        ready = self.base / "broker.url"
        argv = ["serve", "--db", str(self.base / "broker.db"), "--listen", self.url.removeprefix("http://"),
                f"--secretariat-key={secretariat_key}", "--log-key", str(self.base / "log-key.json"),
                "--ready-file", str(ready)]
        stdout_path = self.base / "broker.out"
        with self.broker_log.open("wb") as log, stdout_path.open("wb") as out:
            self.broker = subprocess.Popen([str(BIN / "enlace-broker"), *argv], env=command_env(),
                                           stdin=subprocess.DEVNULL, stdout=out, stderr=log)
        deadline = time.monotonic() + READY_TIMEOUT
        while not (ready.exists() and ready.read_text().strip()):
            if self.broker.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        running = self.broker.poll() is None
        transcript = Transcript(["enlace-broker", *argv], 0 if running else self.broker.returncode,
                                stdout_path.read_text(encoding="utf-8"), self.broker_log.read_text(encoding="utf-8"),
                                program="")
        self.steps["broker serve"] = transcript
        return transcript

    def stop_broker(self) -> None:
        if self.broker is not None and self.broker.poll() is None:
            self.broker.terminate()
            self.broker.wait(timeout=10)

    def broker_events(self) -> list[dict]:
        lines = self.broker_log.read_text(encoding="utf-8").splitlines() if self.broker_log.exists() else []
        return [json.loads(line) for line in lines if line.startswith("{")]


def walk(flow: Flow) -> None:
    init = flow.enlace("admin init", "admin", "admin", "init", "--broker", flow.url, "--kdf", "interactive")
    assert init.returncode == 0, f"the flow cannot start:\n{init}"
    secretariat_key = tomllib.loads((flow.home("admin") / "config.toml").read_text("utf-8"))["secretariat_key"]
    flow.values["key"] = re.escape(secretariat_key)

    flow.steps["log-key create"] = run("enlace-broker", "log-key", "create", "--out", str(flow.base / "log-key.json"),
                                       "--kdf", "interactive")
    served = flow.start_broker(secretariat_key)
    assert served.returncode == 0, f"the broker did not start:\n{served}"

    for cp_id in (MX_ADMIN, LOCAL, READER):
        flow.enlace(f"init {cp_id}", cp_id, "init", "--id", cp_id, "--broker", flow.url,
                    f"--secretariat-key={secretariat_key}", "--kdf", "interactive")

    register(flow, MX_ADMIN, "--role", "national-admin")
    flow.enlace("admin pending admin", "admin", "admin", "pending")
    flow.enlace("admin approve admin", "admin", "admin", "approve", MX_ADMIN)

    register(flow, LOCAL)
    flow.enlace("admin approve unproposed", "admin", "admin", "approve", LOCAL)
    flow.enlace("national pending", MX_ADMIN, "national", "pending")
    flow.enlace("national propose", MX_ADMIN, "national", "propose", LOCAL, "--yes")
    flow.enlace("admin pending local", "admin", "admin", "pending")
    flow.enlace("admin approve local", "admin", "admin", "approve", LOCAL)
    register(flow, READER)
    flow.enlace("admin approve reader", "admin", "admin", "approve", READER)

    flow.enlace("keys rotate", LOCAL, "keys", "rotate", "--validity-days", "90")
    flow.enlace("directory show", READER, "directory", "show", LOCAL)
    flow.enlace("directory audit", READER, "directory", "audit")
    head = flow.enlace("directory head", READER, "directory", "head")
    head_file = flow.base / "reader-head.json"
    head_file.write_text(head.stdout, encoding="utf-8")
    flow.enlace("compare-head", LOCAL, "directory", "compare-head", str(head_file))
    not_a_head = flow.base / "not-a-head.json"
    not_a_head.write_text("this is not JSON", encoding="utf-8")
    flow.enlace("compare-head unreadable", LOCAL, "directory", "compare-head", str(not_a_head))

    flow.enlace("national update", MX_ADMIN, "national", "update", LOCAL, "--unit", NEW_UNIT)
    flow.enlace("admin pending update", "admin", "admin", "pending")
    flow.enlace("admin approve update", "admin", "admin", "approve", LOCAL)
    flow.enlace("directory show updated", READER, "directory", "show", LOCAL)
    flow.enlace("national proposals", MX_ADMIN, "national", "proposals")

    flow.enlace("national revoke", MX_ADMIN, "national", "revoke", LOCAL, "--reason", "left-post")
    flow.enlace("send to revoked", READER, "send", "--to", LOCAL, "--subject", "Consulta de trazabilidad")
    flow.enlace("admin revoke", "admin", "admin", "revoke", READER, "--reason", "administrative")
    flow.enlace("directory show revoked", MX_ADMIN, "directory", "show", READER)
    flow.enlace("directory audit after revocations", MX_ADMIN, "directory", "audit")


def register(flow: Flow, cp_id: str, *extra: str) -> Transcript:
    agency, unit, language = PROFILES[cp_id]
    return flow.enlace(f"register {cp_id}", cp_id, "register", "--agency", agency, "--agency-type", "customs",
                       "--unit", unit, "--language", language, "--topic", "firearms", *extra)


def collect_secrets(flow: Flow) -> None:
    """Every private key of the flow, as base64url and hex, to search the outputs for; and each fingerprint."""
    materials = {name: keystore.load(flow.home(name) / ("secretariat.json" if name == "admin" else "keystore.json"),
                                     PASSPHRASE) for name in HOMES}
    materials["log key"] = keystore.load(flow.base / "log-key.json", LOG_KEY_PASSPHRASE)
    for name, material in materials.items():
        for label, secret in [("identity seed", material.identity.seed),
                              *[("encryption key", k.key.secret) for k in material.encryption_keys]]:
            flow.secrets[f"{label} of {name} (base64url)"] = b64encode(secret)
            flow.secrets[f"{label} of {name} (hex)"] = secret.hex()
        flow.values[fingerprint_name(name)] = re.escape(fingerprint(material.identity.public_key))
    flow.values["new_key"] = materials[LOCAL].encryption_keys[-1].key.key_id
    flow.values["first_key"] = materials[LOCAL].encryption_keys[0].key.key_id


def fingerprint_name(name: str) -> str:
    """The key of ``name``'s fingerprint in Flow.values, usable as a str.format field."""
    return "fpr_" + re.sub(r"[^a-z0-9]", "_", name)


@pytest.fixture(scope="module")
def flow(tmp_path_factory) -> Flow:
    # NOTE: the port is chosen before the broker binds it, because 'enlace admin init'
    # needs the broker's URL before the broker can start with the Secretariat key.
    flow = Flow(tmp_path_factory.mktemp("log-cli"), f"http://127.0.0.1:{free_port()}")
    try:
        walk(flow)
        collect_secrets(flow)
        yield flow
    finally:
        flow.stop_broker()
    errors = [e for e in flow.broker_events() if e.get("event") == "unexpected error"]
    assert not errors, f"broker logged unexpected errors: {errors}"


FPR = {name: "{" + fingerprint_name(name) + "}" for name in (*HOMES, "log key")}

# (step, exit status, patterns stdout must match, patterns stderr must match). Patterns are
# regular expressions in which {name} is replaced by an escaped value of the flow.
STEPS = [
    ("admin init", 0, [r"^Created the Secretariat root key in ", r"^  --secretariat-key={key}$",
                       rf"^Fingerprint \(read it aloud to confirm\): {FPR['admin']}$"], []),
    ("log-key create", 0, [r"^Created the log key in .*log-key\.json\.$", rf"^Log key fingerprint: {FPR['log key']}$"],
     []),
    ("broker serve", 0, [r"^Enlace broker listening on http://127\.0\.0\.1:\d+$"], [r'"event": "log loaded"']),
    *[(f"init {cp_id}", 0, [rf"^Created keys for {cp_id} in ", rf"^Pinned Secretariat key:\s+{FPR['admin']}$"], [])
      for cp_id in (MX_ADMIN, LOCAL, READER)],
    *[(f"register {cp_id}", 0, [rf"^Registration request for {cp_id} sent; it awaits the Secretariat's decision\.$"],
       []) for cp_id in (MX_ADMIN, LOCAL, READER)],
    ("admin pending admin", 0, [rf"^{MX_ADMIN}\s+.*{FPR[MX_ADMIN]}"], []),
    ("admin approve admin", 0, [rf"^Approved {MX_ADMIN}; its record is signed and published\.$"], []),
    ("admin approve unproposed", 1, [], [rf"^enlace: error: {LOCAL} needs a proposal from a national administrator",
                                         (r"^enlace: hint: ask a national administrator to run "
                                          r"'enlace national propose ID'$")]),
    ("national pending", 0, [r"^ID\s+UNIT\s+ROLE\s+KIND\s+FINGERPRINT\s+RECEIVED$",
                             rf"^{LOCAL}\s+.*\s+contact point\s+new\s+[0-9 ]+\s+\d\d\d\d-\d\d-\d\d"], []),
    ("national propose", 0, [rf"^Proposed {LOCAL} to the Secretariat for listing\.$"], []),
    ("admin pending local", 0, [rf"^{LOCAL}\s+.*{FPR[LOCAL]}"], []),
    ("admin approve local", 0, [rf"^Approved {LOCAL}; its record is signed and published\.$",
                                rf"^Fingerprint of the approved key: {FPR[LOCAL]}$"], []),
    ("admin approve reader", 0, [rf"^Approved {READER}; its record is signed and published\.$"], []),
    ("keys rotate", 0, [r"^New encryption key {new_key} is valid until \d\d\d\d-\d\d-\d\d"], []),
    ("directory show", 0, [rf"^Contact point: {LOCAL}$", rf"^Fingerprint:\s+{FPR[LOCAL]}$",
                           r"^\s+{first_key}\s", r"^\s+{new_key}\s",
                           r"^Verified against the pinned Secretariat key and the broker's log \(entries "], []),
    ("directory audit", 0, [r"^Audited 4 log entries \(tree size 4\)\.$", r"^The log defines 3 contact points\.$",
                            r"^Clean: "], []),
    ("directory head", 0, [r'^\{{"head": "[A-Za-z0-9_-]+", "signature": "[A-Za-z0-9_-]+"\}}$'], []),
    ("compare-head", 0, [r"^Consistent: the other tree head \(size 4\) and yours belong to the same log\.$"], []),
    ("compare-head unreadable", 2, [], [r"^enlace: error: cannot read a tree head from .*not-a-head\.json",
                                        r"^enlace: hint: the other person prints theirs with 'enlace directory head'$"]),
    ("national update", 0, [rf"^Proposed the update of {LOCAL} \(proposal \d+\); the Secretariat decides\.$"], []),
    ("admin pending update", 0, [rf"{LOCAL}.*{MX_ADMIN}"], []),
    ("admin approve update", 0, [(rf"^Approved the update of {LOCAL} proposed by {MX_ADMIN}; the new record is "
                                  r"published\.$")], []),
    ("directory show updated", 0, [rf"^Unit:\s+{NEW_UNIT}$", r"^\s+{first_key}\s", r"^\s+{new_key}\s"], []),
    ("national proposals", 0, [r"^NUMBER\s+ID\s+ACTION\s+STATUS\s+REASON$",
                               rf"^\d+\s+{LOCAL}\s+register\s+approved\s*$", rf"^\d+\s+{LOCAL}\s+update\s+approved\s*$"],
     []),
    ("national revoke", 0, [rf"^Revoked the identity key of {LOCAL} \(left-post\)\.$"], []),
    ("send to revoked", 2, [], [rf"^enlace: error: {LOCAL} was revoked \(left-post\); do not send to it$"]),
    ("admin revoke", 0, [rf"^Revoked the identity key of {READER} \(administrative\)\.$"], []),
    ("directory show revoked", 0, [r"^Status:\s+revoked$", r"^Revoked:\s+.* by secretariat \(administrative\)$"],
     []),
    ("directory audit after revocations", 0, [r"^Audited 7 log entries \(tree size 7\)\.$",
                                              r"^The log defines 3 contact points\.$", r"^Clean: "], []),
]
NOTE = "enlace: note: "
WARNING = "enlace: warning: "


@pytest.mark.parametrize(("step", "status", "stdout", "stderr"), STEPS, ids=[case[0] for case in STEPS])
def test_step(flow, step, status, stdout, stderr):
    transcript = flow.steps[step]

    assert transcript.returncode == status, f"unexpected exit status:\n{transcript}"
    for template in stdout:
        pattern = template.format(**flow.values)
        assert re.search(pattern, transcript.stdout, re.MULTILINE), f"{pattern!r} not in stdout:\n{transcript}"
    for template in stderr:
        pattern = template.format(**flow.values)
        assert re.search(pattern, transcript.stderr, re.MULTILINE), f"{pattern!r} not in stderr:\n{transcript}"
    if status == 0 and transcript.argv[0] == "enlace":
        extra = [line for line in transcript.stderr.splitlines() if not line.startswith((NOTE, WARNING))]
        assert extra == [], f"a successful step wrote more than notes to stderr:\n{transcript}"


@pytest.mark.parametrize("step", [case[0] for case in STEPS])
def test_step_output_clean(flow, step):
    transcript = flow.steps[step]
    output = transcript.stdout + transcript.stderr

    assert "Traceback" not in output, f"a traceback reached the user:\n{transcript}"
    assert PASSPHRASE not in output, f"the keystore passphrase was printed:\n{transcript}"
    assert LOG_KEY_PASSPHRASE not in output, f"the log key passphrase was printed:\n{transcript}"
    for name, secret in flow.secrets.items():
        assert secret not in output, f"the {name} was printed:\n{transcript}"


def test_broker_log_clean(flow):
    """The broker's JSON log, read after the flow, contains no passphrase or private key."""
    text = flow.broker_log.read_text(encoding="utf-8")

    assert "Traceback" not in text
    assert PASSPHRASE not in text
    assert LOG_KEY_PASSPHRASE not in text
    for name, secret in flow.secrets.items():
        assert secret not in text, f"the {name} is in the broker log"


def test_log_key_pinned_once(flow):
    """Each home pins the broker's log key on its first contact, with a note naming its fingerprint."""
    log_key = keystore.load(flow.base / "log-key.json", LOG_KEY_PASSPHRASE).identity.public_key
    expected = (f"{NOTE}pinned the broker's log key, fingerprint {fingerprint(log_key)}; "
                "compare it with the fingerprint the broker operator publishes")
    for name in HOMES:
        notes = [t.stderr.strip() for t in flow.steps.values()
                 if t.argv[0] == "enlace" and t.argv[2] == str(flow.home(name)) and NOTE in t.stderr]
        assert notes == [expected], f"{name} printed these pinning notes: {notes}"


def test_heads_kept_per_home(flow):
    """Every home that read the directory keeps the last tree head it accepted."""
    for name in (READER, LOCAL, MX_ADMIN):
        head = json.loads((flow.home(name) / "log-head.json").read_text(encoding="utf-8"))
        assert set(head) == {"head", "signature"}, name
