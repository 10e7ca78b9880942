"""Fingerprints this user compared with a contact point's owner, kept in ``<home>/verified.json``.

The directory proves that the Secretariat approved a key. A fingerprint read aloud
by the other person over a separate channel also proves that the key belongs to
that person. ``enlace directory verify`` records each such comparison::

    {"v": 1, "verified": {"mx.anam.inteligencia": {"fingerprint": "01234 ... 56789",
                                                   "date": "2026-03-01"}}}

``date`` is the UTC date of the comparison. The file is local and unsigned, so it
is only this user's note and is never sent to anyone.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from client.errors import UsageError
from i18n import _
from keys.identity import fingerprint

FILE_NAME = "verified.json"
VERIFIED = "verified"
UNVERIFIED = "unverified"
KEY_CHANGED = "key-changed"
_FINGERPRINT = re.compile(r"^\d{5}( \d{5}){7}$")


@dataclass(frozen=True)
class Verification:
    """One recorded comparison: the identity-key fingerprint that matched, and the ISO date."""

    fingerprint: str
    date: str


def file_path(home: Path) -> Path:
    return home / FILE_NAME


def _invalid(path: Path, reason: str) -> UsageError:
    return UsageError(_("the verification file {path} is invalid: {reason}").format(path=path, reason=reason),
                      hint=_("fix or delete it, then compare fingerprints again with "
                             "'enlace directory verify ID'"))


def _parse_entry(path: Path, cp_id: object, entry: object) -> Verification:
    if not isinstance(cp_id, str) or not isinstance(entry, dict) or set(entry) != {"fingerprint", "date"}:
        raise _invalid(path, _("the entry {cp_id} must have exactly a fingerprint and a date").format(cp_id=cp_id))
    if not isinstance(entry["fingerprint"], str) or not _FINGERPRINT.fullmatch(entry["fingerprint"]):
        raise _invalid(path, _("the fingerprint of {cp_id} is not eight groups of five digits").format(cp_id=cp_id))
    try:
        datetime.date.fromisoformat(entry["date"])
    except (TypeError, ValueError):
        raise _invalid(path, _("the date of {cp_id} is not a YYYY-MM-DD date").format(cp_id=cp_id)) from None
    return Verification(entry["fingerprint"], entry["date"])


def load(home: Path) -> dict[str, Verification]:
    """Read the recorded comparisons; an absent file means none. Raise UsageError for an invalid file."""
    path = file_path(home)
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _invalid(path, str(exc)) from None

    if not isinstance(body, dict) or body.get("v") != 1 or not isinstance(body.get("verified"), dict):
        raise _invalid(path, _("expected an object with \"v\": 1 and a \"verified\" object"))
    return {cp_id: _parse_entry(path, cp_id, entry) for cp_id, entry in body["verified"].items()}


def save(home: Path, verifications: dict[str, Verification]) -> None:
    """Replace the file atomically: readers see the old or the new content, never a partial one."""
    body = {"v": 1, "verified": {cp_id: {"fingerprint": v.fingerprint, "date": v.date}
                                 for cp_id, v in sorted(verifications.items())}}
    handle, temporary = tempfile.mkstemp(dir=home, prefix=".verified-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(body, file, ensure_ascii=False, indent=2)
            file.write("\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, file_path(home))
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def record(home: Path, cp_id: str, identity_key: bytes, date: datetime.date) -> Verification:
    """Store that the fingerprint of ``identity_key`` matched for ``cp_id`` on ``date``.

    A later comparison replaces an earlier one.
    """
    # NOTE: two verify commands running at once on the same home can each write
    # their own copy, and one of the two comparisons is then lost.
    verifications = load(home)
    verifications[cp_id] = Verification(fingerprint(identity_key), date.isoformat())
    save(home, verifications)
    return verifications[cp_id]


def status(verifications: dict[str, Verification], cp_id: str, identity_key: bytes) -> str:
    """VERIFIED, UNVERIFIED, or KEY_CHANGED when the recorded fingerprint is not the current key's."""
    recorded = verifications.get(cp_id)
    if recorded is None:
        return UNVERIFIED
    return VERIFIED if recorded.fingerprint == fingerprint(identity_key) else KEY_CHANGED
