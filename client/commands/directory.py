"""Commands that read and check the directory."""

from __future__ import annotations

import argparse
import csv
import datetime
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from client import audit, render, search, verified
from client.api import BrokerClient
from client.commands.session import Session, print_json
from client.errors import TrustError, UsageError
from client.transparency import TrustContext, accept_head
from client.trust import verified_state
from i18n import _, ngettext
from keys.directory import ContactState
from keys.ids import member_states


async def handle_directory_list(args: argparse.Namespace) -> int:
    session = Session(args)
    async with session.client(signed=False) as api:
        trust = await session.trust(api)
        states = [await verified_state(api, trust, entry["id"]) for entry in await api.directory()]
    print_states(states, session.home, as_json=args.json, empty_message=_("The directory is empty."))
    return 0


async def handle_directory_show(args: argparse.Namespace) -> int:
    session = Session(args)
    async with session.client(signed=False) as api:
        state = await verified_state(api, await session.trust(api), args.cp_id)
    verifications = verified.load(session.home)
    mark = verified.status(verifications, state.cp_id, state.identity_key)
    if args.json:
        print_json(render.marked_state_json(state, mark))
        _print_key_changes([state], verifications)
    else:
        print(render.record_detail(state))
        print(render.verification_detail(state, mark, verifications.get(state.cp_id)))
    return 0




async def handle_directory_audit(args: argparse.Namespace) -> int:
    session = Session(args)
    async with session.client(signed=False) as api:
        report = await audit.audit(api, await session.trust(api))
    if args.json:
        print_json({"tree_size": report.tree_size, "entries_checked": report.entries_checked,
                    "contact_points": report.contacts, "clean": report.clean, "problems": report.problems})
        return 0 if report.clean else 3
    print(ngettext("Audited {entries} log entry (tree size {size}).", "Audited {entries} log entries (tree size {size}).",
                   report.entries_checked).format(entries=report.entries_checked, size=report.tree_size))
    print(ngettext("The log defines {contacts} contact point.", "The log defines {contacts} contact points.",
                   report.contacts).format(contacts=report.contacts))
    if report.clean:
        print(_("Clean: every entry verifies, the entries match the signed head, and the broker serves "
                "exactly the directory the log defines."))
        return 0
    print(_("PROBLEMS FOUND:"))
    for problem in report.problems:
        print(f"  - {problem}")
    return 3


async def handle_directory_head(args: argparse.Namespace) -> int:
    session = Session(args)
    async with session.client(signed=False) as api:
        head = await accept_head(api, await session.trust(api), await api.call("GET", "/v1/log/head", signed=False))
    print(json.dumps(head.to_wire()))
    return 0


async def handle_directory_compare_head(args: argparse.Namespace) -> int:
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
        other = json.loads(text)
    except (OSError, ValueError) as exc:
        raise UsageError(_("cannot read a tree head from {path}: {error}").format(path=args.file, error=exc),
                         hint=_("the other person prints theirs with 'enlace directory head'")) from None
    session = Session(args)
    async with session.client(signed=False) as api:
        head = await audit.compare_heads(api, await session.trust(api), other)
    print(_("Consistent: the other tree head (size {size}) and yours belong to the same log.").format(
        size=head.tree_size))
    return 0


# Search, export and fingerprint verification.


def _print_key_changes(states: list[ContactState], verifications: dict[str, verified.Verification]) -> None:
    for state in states:
        if verified.status(verifications, state.cp_id, state.identity_key) == verified.KEY_CHANGED:
            print(render.key_changed_warning(state.cp_id, verifications[state.cp_id]), file=sys.stderr)


def print_states(states: list[ContactState], home: Path, *, as_json: bool, empty_message: str) -> None:
    """Print ``states`` as the directory table or as JSON, each marked with its client.verified status.

    A contact point whose key changed since its fingerprint was compared also gets
    a warning on stderr.
    """
    verifications = verified.load(home)
    marks = [verified.status(verifications, s.cp_id, s.identity_key) for s in states]
    if as_json:
        print_json([render.marked_state_json(s, mark) for s, mark in zip(states, marks)])
    elif states:
        print(render.directory_table([render.state_row(s, mark) for s, mark in zip(states, marks)]))
    else:
        print(empty_message)
    _print_key_changes(states, verifications)


async def _all_states(api: BrokerClient, trust: TrustContext) -> list[ContactState]:
    """Fetch and verify every listed contact point; raise TrustError on the first that does not verify."""
    return [await verified_state(api, trust, entry["id"]) for entry in await api.directory()]


def _search_filters(args: argparse.Namespace) -> search.Filters:
    return search.Filters(country=args.country, subregion=args.subregion, agency_type=args.agency_type,
                          language=args.language, topic=args.topic, role=args.role, text=" ".join(args.text))


async def handle_directory_search(args: argparse.Namespace) -> int:
    table = member_states()
    query = search.compile_query(_search_filters(args), table)
    session = Session(args)
    async with session.client(signed=False) as api:
        states = await _all_states(api, await session.trust(api))
    found = [state for state in states if search.matches(state, query, table)]
    print_states(found, session.home, as_json=args.json, empty_message=_("No contact point matches the search."))
    return 0


class _ProofRecorder:
    """A BrokerClient that keeps each response of ``directory_entry``.

    ``verified_state`` fetches a contact point's log entries through this object, so
    the entries the export includes are exactly the ones that were verified.
    """

    def __init__(self, api: BrokerClient):
        self._api = api
        self.answers: dict[str, dict] = {}

    async def directory_entry(self, cp_id: str) -> dict:
        self.answers[cp_id] = await self._api.directory_entry(cp_id)
        return self.answers[cp_id]

    def __getattr__(self, name: str):
        return getattr(self._api, name)


def _export_csv(states: list[ContactState], now: int) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(render.EXPORT_CSV_COLUMNS)
    writer.writerows(render.export_csv_row(state, now) for state in states)
    return buffer.getvalue()


def _export_json(states: list[ContactState], proofs: dict[str, dict], trust: TrustContext, now: int) -> str:
    records = [render.export_record(state, proofs[state.cp_id], now) for state in states]
    document = render.export_document(records, secretariat_key=trust.root_public_key,
                                      log_key=trust.log_public_key, now=now)
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def _file_exists(path: str | Path) -> UsageError:
    return UsageError(_("{path} already exists; it was left unchanged").format(path=path),
                      hint=_("choose another file, or add --force to replace it"))


def _check_output(path: str | None, force: bool) -> None:
    """Reject an existing output file before any work, unless ``force``."""
    if path is not None and not force and Path(path).exists():
        raise _file_exists(path)


def _write_new(path: Path, text: str) -> None:
    """Create ``path``; the exclusive mode also rejects a file that appeared since ``_check_output``."""
    try:
        with path.open("x", encoding="utf-8", newline="") as file:
            file.write(text)
    except FileExistsError:
        raise _file_exists(path) from None


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file next to ``path``, then rename it over ``path``."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _write_export(text: str, path: str | None, force: bool) -> None:
    if path is None:
        sys.stdout.write(text)
        return
    try:
        if force:
            _replace(Path(path), text)
        else:
            _write_new(Path(path), text)
    except OSError as exc:
        raise UsageError(_("cannot write {path}: {error}").format(path=path, error=exc.strerror or exc),
                         hint=_("check that the directory exists and that you may write to it")) from None


async def handle_directory_export(args: argparse.Namespace) -> int:
    _check_output(args.output, args.force)
    session = Session(args)
    now = int(time.time())
    async with session.client(signed=False) as api:
        recorder = _ProofRecorder(api)
        trust = await session.trust(api)
        states = sorted(await _all_states(recorder, trust), key=lambda state: state.cp_id)

    if args.format == "csv":
        text = _export_csv(states, now)
    else:
        text = _export_json(states, recorder.answers, trust, now)
    _write_export(text, args.output, args.force)
    if args.output is not None:
        print(ngettext("Exported {count} contact point to {path}.", "Exported {count} contact points to {path}.",
                       len(states)).format(count=len(states), path=args.output))
    return 0


def is_yes(answer: str) -> bool:
    """True when ``answer`` means yes in English or in the language of messages ("s" or "sí" in Spanish)."""
    # Translators: the answers that mean yes to a [y/N] question, separated by "|".
    # English "y" and "yes" are always accepted as well. Case and accents are ignored.
    accepted = {"y", "yes", *_("y|yes").split("|")}
    return search.search_key(answer.strip()) in {search.search_key(word) for word in accepted}


def _confirm_fingerprint(cp_id: str) -> None:
    """Ask on the terminal whether the fingerprints match; raise TrustError unless the user types yes."""
    if not sys.stdin.isatty():
        raise UsageError(_("cannot ask whether the fingerprint of {cp_id} matches: standard input is not a "
                           "terminal").format(cp_id=cp_id),
                         hint=_("compare the fingerprint with its owner, then run "
                                "'enlace directory verify {cp_id} --yes'").format(cp_id=cp_id))
    try:
        answer = input(_("Does it match the fingerprint the other person read to you? [y/N] "))
    except EOFError:
        answer = ""
    if not is_yes(answer):
        raise TrustError(_("the fingerprint of {cp_id} was not confirmed; nothing was recorded").format(cp_id=cp_id),
                         hint=_("if the fingerprints differ, do not send to {cp_id} and report it to the "
                                "Secretariat").format(cp_id=cp_id))


async def handle_directory_verify(args: argparse.Namespace) -> int:
    session = Session(args)
    verifications = verified.load(session.home)
    async with session.client(signed=False) as api:
        state = await verified_state(api, await session.trust(api), args.cp_id)
    if state.status != "active":
        raise TrustError(_("{cp_id} is revoked, so its key must not be used and there is nothing to "
                           "verify").format(cp_id=state.cp_id),
                         hint=_("check the directory for its replacement"))

    mark = verified.status(verifications, state.cp_id, state.identity_key)
    print(render.verify_intro(state, mark, verifications.get(state.cp_id)))
    if not args.yes:
        _confirm_fingerprint(state.cp_id)
    today = datetime.datetime.now(datetime.UTC).date()
    verified.record(session.home, state.cp_id, state.identity_key, today)
    print(_("Recorded {cp_id} as verified in {path}: 'enlace directory list' now marks it.").format(
        cp_id=state.cp_id, path=verified.file_path(session.home)))
    return 0
