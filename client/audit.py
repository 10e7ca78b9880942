"""Auditing the broker's log, and comparing tree heads between clients.

``audit`` downloads every entry, checks that they hash to the signed head, replays
them into a fresh directory (every signature and right checked), and compares that
rebuilt directory with what the broker serves. ``compare_heads`` detects a split
view: two heads signed by the same log key that cannot both be prefixes of one log.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from client.api import ApiFailure, BrokerClient
from client.transparency import TrustContext, accept_head, contact_state
from client.errors import TrustError
from i18n import _
from keys.directory import ContactState, Directory
from keys.encoding import b64decode
from keys.errors import EnlaceError
from keys.log import TreeHead, parse_entry, parse_head
from keys.merkle import MerkleTree, leaf_hash, verify_consistency

PAGE = 1000


@dataclass
class AuditReport:
    tree_size: int = 0
    entries_checked: int = 0
    problems: list[str] = field(default_factory=list)
    contacts: int = 0

    @property
    def clean(self) -> bool:
        return not self.problems


async def _download(api: BrokerClient, size: int) -> list[bytes]:
    entries: list[bytes] = []
    while len(entries) < size:
        answer = await api.call("GET", f"/v1/log/entries?start={len(entries)}&end={size}", signed=False)
        page = [b64decode(e, field="entry") for e in answer["entries"]]
        if not page:
            break
        entries += page
    return entries


def _replay(raw_entries: list[bytes], root_key: bytes, report: AuditReport) -> Directory:
    directory = Directory(root_key)
    for index, raw in enumerate(raw_entries):
        try:
            directory.apply(index, parse_entry(raw))
        except EnlaceError as exc:
            report.problems.append(_("entry {index} does not verify: {reason}").format(index=index, reason=exc.message))
        report.entries_checked += 1
    return directory


async def audit(api: BrokerClient, trust: TrustContext) -> AuditReport:
    """Check the whole log against its signed head and against what the broker serves."""
    head = await accept_head(api, trust, await api.call("GET", "/v1/log/head", signed=False))
    report = AuditReport(tree_size=head.tree_size)

    raw_entries = await _download(api, head.tree_size)
    tree = MerkleTree(leaf_hash(raw) for raw in raw_entries)
    if len(raw_entries) != head.tree_size or tree.root() != head.root_hash:
        report.problems.append(_("the {count} entries the broker serves do not hash to the signed tree head "
                                 "of size {size}").format(count=len(raw_entries), size=head.tree_size))

    rebuilt = _replay(raw_entries, trust.root_public_key, report)
    report.contacts = len(rebuilt.contacts)
    await _compare_served(api, trust, rebuilt, report)
    return report


def _describe(state: ContactState) -> tuple:
    return (state.identity_key, state.status, tuple(sorted(c.key_id for c in state.keys)), state.record.serial)


async def _compare_served(api: BrokerClient, trust: TrustContext, rebuilt: Directory, report: AuditReport) -> None:
    listed = {entry["id"]: entry for entry in await api.directory()}
    for cp_id in sorted(set(listed) | set(rebuilt.contacts)):
        expected = rebuilt.contacts.get(cp_id)
        if expected is None:
            report.problems.append(_("{cp_id} is listed by the broker but not in the log").format(cp_id=cp_id))
            continue
        if cp_id not in listed:
            report.problems.append(_("{cp_id} is in the log but the broker does not list it").format(cp_id=cp_id))
        try:
            served = await contact_state(api, trust, cp_id)
        except (TrustError, ApiFailure) as exc:
            report.problems.append(_("{cp_id}: the broker's answer does not verify: {reason}").format(
                cp_id=cp_id, reason=getattr(exc, "message", str(exc))))
            continue
        if _describe(served) != _describe(expected):
            report.problems.append(_("{cp_id}: the broker serves keys or status that differ from the log").format(
                cp_id=cp_id))


async def compare_heads(api: BrokerClient, trust: TrustContext, other_wire: object) -> TreeHead:
    """Check another client's head against ours; raise TrustError on a split view."""
    try:
        other = parse_head(other_wire, trust.log_public_key)
    except EnlaceError as exc:
        raise TrustError(_("the other tree head does not verify against the pinned log key: {reason}").format(
            reason=exc.message)) from None
    ours = await accept_head(api, trust, await api.call("GET", "/v1/log/head", signed=False))

    small, large = (other, ours) if other.tree_size <= ours.tree_size else (ours, other)
    if small.tree_size == large.tree_size:
        if small.root_hash != large.root_hash:
            raise _split_view(small, large)
        return other
    try:
        answer = await api.call("GET", f"/v1/log/proof/consistency?from={small.tree_size}&to={large.tree_size}",
                                signed=False)
    except ApiFailure as exc:
        if exc.code != "beyond_tree":
            raise
        # Our broker's log is shorter than the other head: it cannot prove that head
        # extends the log it shows us, so the two views disagree.
        raise _split_view(small, large) from None
    try:
        verify_consistency(small.tree_size, large.tree_size, small.root_hash, large.root_hash,
                           [b64decode(h, field="proof hash", size=32) for h in answer["proof"]])
    except EnlaceError:
        raise _split_view(small, large) from None
    return other


def _split_view(first: TreeHead, second: TreeHead) -> TrustError:
    return TrustError(_("SPLIT VIEW: the broker signed two logs that cannot both be true (sizes {a} and {b}); "
                        "keep both heads as evidence").format(a=first.tree_size, b=second.tree_size),
                      hint=_("report this to the Secretariat with both tree heads"))
