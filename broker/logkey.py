"""The broker's log key: it signs tree heads, and nothing else.

It lives in a passphrase-protected keystore file (the same format as a contact
point's), created by ``enlace-broker log-key create``; the passphrase comes from
ENLACE_LOG_KEY_PASSPHRASE or a prompt. It is separate from the Secretariat key:
a broker that signs two different heads of one size has proved its own misconduct.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

from broker.config import ConfigError
from i18n import _
from keys import keystore
from keys.errors import KeystoreError
from keys.identity import IdentityKey

PASSPHRASE_ENV = "ENLACE_LOG_KEY_PASSPHRASE"
OWNER = "broker-log"


def _passphrase(confirm: bool) -> str:
    value = os.environ.get(PASSPHRASE_ENV)
    if value:
        return value
    if not sys.stdin.isatty():
        raise ConfigError(_("no log key passphrase: set {variable}").format(variable=PASSPHRASE_ENV))
    first = getpass.getpass(_("Log key passphrase: "))
    if confirm and getpass.getpass(_("Repeat the passphrase: ")) != first:
        raise ConfigError(_("the two passphrases differ"))
    return first


def create(path: Path, *, profile: str = "moderate", force: bool = False) -> IdentityKey:
    key = IdentityKey.generate()
    try:
        keystore.save(path, keystore.KeyMaterial(OWNER, key), _passphrase(confirm=True),
                      profile=profile, force=force)
    except KeystoreError as exc:
        if exc.code == "keystore_exists":
            raise ConfigError(_("cannot create log key {path}: the file already exists; pass --force to replace "
                                "it").format(path=path)) from None
        raise ConfigError(_("cannot create log key {path}: {error}").format(path=path, error=exc.message)) from None
    return key


def load(path: str) -> IdentityKey:
    if not path:
        raise ConfigError(_("no log key: create one with 'enlace-broker log-key create --out FILE' "
                            "and pass it with --log-key"))
    try:
        material = keystore.load(Path(path), _passphrase(confirm=False))
    except KeystoreError as exc:
        raise ConfigError(_("cannot open log key {path}: {error}").format(path=path, error=exc.message)) from None
    if material.owner != OWNER:
        raise ConfigError(_("{path} is not a broker log key").format(path=path))
    return material.identity
