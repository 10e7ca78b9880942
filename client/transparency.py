"""Checking the broker's transparency log from a client.

A client pins two keys: the Secretariat root key (records) and the broker's log key
(tree heads). It keeps the last tree head it accepted and accepts a new one only if
a consistency proof links the two. Every directory state it uses is rebuilt from log
entries whose inclusion in the accepted head it has checked. So the broker cannot
show this client a key that is not in the same log everybody else can audit.
"""

from __future__ import annotations

import datetime
import json
import time
from dataclasses import dataclass
from pathlib import Path

from client.api import BrokerClient
from client.errors import TrustError
from i18n import _
from keys.directory import ContactState, Directory
from keys.encoding import b64decode
from keys.errors import EnlaceError
from keys.log import TreeHead, parse_entry, parse_head
from keys.merkle import verify_consistency, verify_inclusion


# The broker signs a fresh head for every request, so an old one means a frozen view.
MAX_HEAD_AGE = 24 * 3600


@dataclass
class TrustContext:
    """The pinned keys, and where the last accepted tree head is kept (None: memory only)."""

    root_public_key: bytes
    log_public_key: bytes
    head_path: Path | None = None
    _head: TreeHead | None = None

    def stored_head(self) -> TreeHead | None:
        if self._head is None and self.head_path is not None and self.head_path.exists():
            try:
                self._head = parse_head(json.loads(self.head_path.read_text("utf-8")), self.log_public_key)
            except (OSError, ValueError, EnlaceError) as exc:
                raise TrustError(_("the tree head this client kept, {path}, is damaged: {error}").format(
                    path=self.head_path, error=exc), hint=_("restore it from a backup; deleting it makes this "
                                                              "client trust the broker's next head blindly")) from None
        return self._head

    def remember(self, head: TreeHead) -> None:
        self._head = head
        if self.head_path is not None:
            temporary = self.head_path.with_suffix(".tmp")
            temporary.write_text(json.dumps(head.to_wire()), encoding="utf-8")
            temporary.replace(self.head_path)


def _proof(hashes: list[str]) -> list[bytes]:
    return [b64decode(h, field="proof hash", size=32) for h in hashes]


async def accept_head(api: BrokerClient, trust: TrustContext, wire: object) -> TreeHead:
    """Verify a tree head and its consistency with the last accepted one; remember it."""
    try:
        head = parse_head(wire, trust.log_public_key)
    except EnlaceError as exc:
        raise TrustError(_("the broker's tree head does not verify against the pinned log key: {reason}").format(
            reason=exc.message), hint=_("report this to the Secretariat")) from None

    now = int(time.time())
    if head.timestamp < now - MAX_HEAD_AGE or head.timestamp > now + MAX_HEAD_AGE:
        raise TrustError(_("the broker's tree head is dated {time}, too far from this computer's clock; the "
                           "broker may be showing a frozen view of the log").format(
            time=datetime.datetime.fromtimestamp(head.timestamp, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")),
                         hint=_("check this computer's clock, then report it to the Secretariat"))

    previous = trust.stored_head()
    if previous is not None:
        await _check_consistent(api, previous, head)
    if previous is None or head.tree_size > previous.tree_size:
        trust.remember(head)
    return head


async def _check_consistent(api: BrokerClient, old: TreeHead, new: TreeHead) -> None:
    if new.tree_size < old.tree_size:
        raise TrustError(_("the broker showed a log of {new} entries after one of {old}: it went back in "
                           "time").format(new=new.tree_size, old=old.tree_size),
                         hint=_("report this to the Secretariat"))
    if new.tree_size == old.tree_size:
        proof_hashes: list[str] = []  # equal sizes need no proof: the roots must simply be equal
    else:
        answer = await api.call("GET", f"/v1/log/proof/consistency?from={old.tree_size}&to={new.tree_size}",
                                signed=False)
        proof_hashes = answer["proof"]
    try:
        verify_consistency(old.tree_size, new.tree_size, old.root_hash, new.root_hash, _proof(proof_hashes))
    except EnlaceError as exc:
        raise TrustError(_("the broker's log of {new} entries is not an extension of the log of {old} "
                           "entries this client saw before ({reason}); someone may be shown a different "
                           "directory").format(new=new.tree_size, old=old.tree_size, reason=exc.message),
                         hint=_("report this to the Secretariat")) from None


async def contact_state(api: BrokerClient, trust: TrustContext, cp_id: str) -> ContactState:
    """Rebuild the state of ``cp_id`` from log entries proven to be in the accepted head."""
    answer = await api.directory_entry(cp_id)
    head = await accept_head(api, trust, answer.get("head"))
    directory = Directory(trust.root_public_key)
    try:
        for item in sorted(answer["entries"], key=lambda i: i["index"]):
            entry = parse_entry(b64decode(item["entry"], field="entry"))
            verify_inclusion(entry.leaf_hash, item["index"], head.tree_size, _proof(item["proof"]), head.root_hash)
            directory.apply(item["index"], entry)
    except (EnlaceError, KeyError, TypeError) as exc:
        reason = exc.message if isinstance(exc, EnlaceError) else str(exc)
        raise TrustError(_("the directory entry of {cp_id} does not verify against the log and the pinned "
                           "keys ({reason}); do not use it").format(cp_id=cp_id, reason=reason),
                         hint=_("report this to the Secretariat")) from None

    state = directory.contacts.get(cp_id)
    if state is None:
        raise TrustError(_("the broker sent no record of {cp_id}").format(cp_id=cp_id))
    return state


async def fetch_log_key(api: BrokerClient) -> bytes:
    """Fetch the broker's log key for pinning on first contact (trust on first use)."""
    try:
        answer = await api.call("GET", "/v1/log/key", signed=False)
        return b64decode(answer["public_key"], field="log key", size=32)
    except (EnlaceError, KeyError) as exc:
        raise TrustError(_("the broker's log key is invalid: {reason}").format(reason=exc)) from None


