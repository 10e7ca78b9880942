"""Shared command setup: the configuration, the unlocked keys and a broker client."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from client import home as local
from client.api import ApiFailure, BrokerClient, Signer, tls_context
from client.contact import expiry_warning
from client.errors import TrustError, UsageError
from client.transparency import TrustContext, fetch_log_key
from i18n import _
from keys.encoding import b64encode
from keys import keystore
from keys.identity import fingerprint
from keys.requests import SECRETARIAT


def print_json(value: object) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True))


class Session:
    """The configuration, the unlocked keys and a broker client for one command."""

    def __init__(self, args: argparse.Namespace, *, keystore_name: str = "keystore.json"):
        self.home = local.home_dir(args.home)
        self.config = local.load_config(self.home)
        self.root_key = self.config.root_public_key
        self.keystore_path = self.home / keystore_name

    def unlock(self):
        self.material, self.passphrase = local.unlock(self.keystore_path)
        if self.material.owner != SECRETARIAT and self.material.encryption_keys:
            warning = expiry_warning(self.material, int(time.time()))
            if warning:
                print(_("enlace: warning: {message}").format(message=warning), file=sys.stderr)
        return self.material

    def save_keys(self) -> None:
        """Write the changed keys back, under the same passphrase."""
        keystore.rewrite(self.keystore_path, self.material, self.passphrase)

    def client(self, *, signed: bool = True) -> BrokerClient:
        signer = Signer(self.material.owner, self.material.identity) if signed else None
        return BrokerClient(self.config.broker, signer, cafile=self.config.ca_file or None)

    async def trust(self, api: BrokerClient) -> TrustContext:
        """Return the pinned keys, pinning the broker's log key on first contact."""
        if not self.config.log_key:
            log_key = await fetch_log_key(api)
            self.config.log_key = b64encode(log_key)
            local.save_config(self.home, self.config)
            print(_("enlace: note: pinned the broker's log key, fingerprint {value}; compare it with the "
                    "fingerprint the broker operator publishes").format(value=fingerprint(log_key)), file=sys.stderr)
        return TrustContext(self.root_key, self.config.log_public_key, self.home / "log-head.json")


def ca_file(args: argparse.Namespace) -> str:
    if not args.ca_file:
        return ""
    path = Path(args.ca_file).expanduser().resolve()
    if not path.is_file():
        raise UsageError(_("CA file {path} not found").format(path=path))
    try:
        tls_context(str(path))
    except ApiFailure:
        raise UsageError(_("the CA file {path} cannot be used: it must be a PEM certificate").format(path=path),
                         hint=_("give the PEM file of the authority that signed the broker's certificate")) from None
    return str(path)


def confirm_request(summary: list[str], question: str, assume_yes: bool, what: str) -> None:
    """Print ``summary``, then ask ``question`` unless ``assume_yes``; UsageError or TrustError if not confirmed."""
    from client.commands.directory import is_yes

    print("\n".join(summary))
    if assume_yes:
        return
    if not sys.stdin.isatty():
        raise UsageError(_("cannot ask for confirmation: standard input is not a terminal"),
                         hint=_("check the fingerprint above with its owner, then add --yes"))
    try:
        answer = input(question + " ")
    except EOFError:
        answer = ""
    if not is_yes(answer):
        raise TrustError(_("{what} was not confirmed; nothing was sent").format(what=what))


def refuse_other_role(home: Path, role: str, force: bool) -> None:
    """Stop ``init`` from silently turning a home of another role into this one.

    ``role`` is "secretariat" or "contact point"; --force allows the change.
    """
    path = home / "config.toml"
    if force or not path.exists():
        return
    existing = local.load_config(home).contact_point
    is_secretariat = existing == SECRETARIAT
    if (role == "secretariat") != is_secretariat and existing:
        raise UsageError(_("{home} already holds the configuration of {owner}").format(home=home, owner=existing),
                         hint=_("use another --home for each role, or pass --force to replace it"))


