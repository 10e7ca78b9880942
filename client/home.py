"""The client's home directory: configuration, keystore and received envelopes.

Layout (default ``~/.enlace``, or ``--home`` / ENLACE_HOME)::

    log-head.json      the last tree head of the broker's log this client accepted
    config.toml        broker URL, own contact point id, pinned Secretariat and log keys,
                       and the CA file that signs the broker's TLS certificate
    keystore.json      the contact point's keys (passphrase-protected)
    secretariat.json   the Secretariat root key, on an administrator's machine
    messages/ID.json   envelopes as received: still encrypted, never plaintext
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import os
import sys
import tomllib
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from client.errors import UsageError
from i18n import _
from keys import keystore
from keys.encoding import b64decode
from keys.errors import EnlaceError
from keys.identity import fingerprint

HOME_ENV = "ENLACE_HOME"
CONFIG_FIELDS = ("broker", "contact_point", "secretariat_key", "log_key", "ca_file")


def home_dir(option: str | None) -> Path:
    if option:
        return Path(option).expanduser()
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".enlace").expanduser()


@dataclass
class Config:
    broker: str = ""
    contact_point: str = ""
    secretariat_key: str = ""
    log_key: str = ""
    ca_file: str = ""

    @property
    def root_public_key(self) -> bytes:
        try:
            return b64decode(self.secretariat_key, field="secretariat_key", size=32)
        except EnlaceError:
            raise UsageError(_("the pinned Secretariat key in the configuration is missing or invalid"),
                             hint=_("run 'enlace init' again with --secretariat-key")) from None

    @property
    def log_public_key(self) -> bytes:
        try:
            return b64decode(self.log_key, field="log_key", size=32)
        except EnlaceError:
            raise UsageError(_("the pinned log key in the configuration is invalid"),
                             hint=_("remove the log_key line from config.toml to pin the broker's key again")) from None

    @property
    def root_fingerprint(self) -> str:
        return fingerprint(self.root_public_key)


def check_broker_url(url: str) -> str:
    """``url`` if it is an http or https URL with a host, else UsageError naming it."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise UsageError(_("the broker URL {value!r} is invalid").format(value=url),
                         hint=_("write it as https://HOST:PORT"))
    return url.rstrip("/")


def check_secretariat_key(text: str) -> bytes:
    try:
        return b64decode(text, field="secretariat key", size=32)
    except EnlaceError as exc:
        raise UsageError(_("the Secretariat key {value!r} is invalid: {reason}").format(value=text, reason=exc.message),
                         hint=_("copy it exactly as 'enlace admin init' printed it, as --secretariat-key=KEY")) from None


def load_config(home: Path) -> Config:
    path = home / "config.toml"
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise UsageError(_("no Enlace configuration in {home}").format(home=home),
                         hint=_("run 'enlace init' (contact point) or 'enlace admin init' "
                                "(Secretariat) first, or pass --home")) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(_("configuration file {path} is not valid TOML: {error}").format(
            path=path, error=exc)) from None
    return Config(**{k: str(data.get(k, "")) for k in CONFIG_FIELDS})


def save_config(home: Path, config: Config) -> None:
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    # JSON string escapes are valid TOML basic-string escapes for these values.
    lines = [f"{name} = {json.dumps(getattr(config, name))}" for name in CONFIG_FIELDS]
    (home / "config.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_passphrase(*, confirm: bool) -> str:
    """The passphrase from ENLACE_PASSPHRASE, else from a prompt on the terminal."""
    value = os.environ.get(keystore.PASSPHRASE_ENV)
    if value == "":
        raise UsageError(_("{variable} is set but empty").format(variable=keystore.PASSPHRASE_ENV),
                         hint=_("set it to the keystore's passphrase, or unset it to be asked"))
    if value:
        return value
    if not sys.stdin.isatty():
        raise UsageError(_("no passphrase: standard input is not a terminal"),
                         hint=_("set {variable} for scripts").format(variable=keystore.PASSPHRASE_ENV))

    try:
        first = getpass.getpass(_("Passphrase: "))
        if confirm and getpass.getpass(_("Repeat the passphrase: ")) != first:
            raise UsageError(_("the two passphrases differ"), hint=_("run the command again"))
    except EOFError:
        raise UsageError(_("no passphrase was entered"), hint=_("run the command again")) from None
    return first


def unlock(path: Path) -> tuple[keystore.KeyMaterial, str]:
    """Open the keystore at ``path``; return its keys and the passphrase that opened it."""
    if not path.exists():
        raise UsageError(_("keystore {path} not found").format(path=path),
                         hint=_("run 'enlace init' first, or pass --home"))
    passphrase = read_passphrase(confirm=False)
    return keystore.load(path, passphrase), passphrase


@contextlib.contextmanager
def keystore_lock(home: Path):
    """Hold an exclusive lock on the home's keystore, so two commands cannot both rewrite it
    and lose each other's new keys; the second waits for the first."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(home / ".keystore.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def messages_dir(home: Path) -> Path:
    path = home / "messages"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path
