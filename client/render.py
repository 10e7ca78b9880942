"""Text shown to a person: tables and message views, every label translated."""

from __future__ import annotations

import datetime

from client import verified
from client.secretariat import PendingRequest
from client.trust import OpenedMessage
from i18n import _, get_language
from keys.directory import ContactState
from keys.encoding import b64encode
from keys.encryption import KeyCertificate
from keys.identity import fingerprint
from keys.ids import member_states


def kind_label(kind: str) -> str:
    labels = {"message": _("message"), "alert": _("alert"), "receipt": _("receipt"), "document": _("document")}
    return labels.get(kind, kind)


def priority_label(priority: str) -> str:
    labels = {"low": _("low"), "normal": _("normal"), "high": _("high"), "urgent": _("urgent")}
    return labels.get(priority, priority)


def status_label(status: str) -> str:
    return _("active") if status == "active" else _("revoked")


def agency_type_label(agency_type: str) -> str:
    """A translated name for the usual agency types; any other type is shown as written."""
    labels = {"customs": _("customs"), "police": _("police"), "prosecutor": _("prosecutor"),
              "firearms-authority": _("firearms authority"), "ministry": _("ministry")}
    return labels.get(agency_type, agency_type)


def when(timestamp: int) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def table(headings: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headings, *rows)]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip()
             for row in [headings, *rows]]
    return "\n".join(lines)


def state_row(state: ContactState, mark: str) -> list[str]:
    """Build one row of ``directory_table``; ``mark`` is a client.verified status."""
    status = _("active") if state.status == "active" else _("revoked")
    return [state.cp_id, state.record.profile.agency, ", ".join(state.record.profile.languages), status,
            verified_cell(mark)]


def state_json(state: ContactState) -> dict:
    profile = state.record.profile
    result = profile.model_dump() | {
        "status": state.status, "serial": state.record.serial,
        "fingerprint": fingerprint(state.identity_key), "log_indexes": list(state.indexes),
        "encryption_keys": [{"key_id": c.key_id, "not_before": c.not_before, "not_after": c.not_after}
                            for c in state.keys]}
    if state.revocation is not None:
        result["revocation"] = {"reason": state.revocation.reason, "revoked_at": state.revocation.revoked_at,
                                "signer": state.revocation.signer}
    return result


def directory_table(rows: list[list[str]]) -> str:
    return table([_("ID"), _("AGENCY"), _("LANGUAGES"), _("STATUS"), _("VERIFIED")], rows)


def record_detail(state: ContactState) -> str:
    profile, record = state.record.profile, state.record
    keys = [f"    {c.key_id}  {when(c.not_before)} → {when(c.not_after)}" for c in state.keys]
    lines = [
        _("Contact point: {value}").format(value=profile.id),
        _("Country:       {value}").format(value=f"{country_name(profile.country)} ({profile.country})"),
        _("Agency:        {value} ({kind})").format(value=profile.agency, kind=agency_type_label(profile.agency_type)),
        _("Unit:          {value}").format(value=profile.unit),
        _("Languages:     {value}").format(value=", ".join(profile.languages)),
        _("Topics:        {value}").format(value=", ".join(profile.topics)),
        _("Status:        {value}").format(value=status_label(state.status)),
        _("Fingerprint:   {value}").format(value=fingerprint(state.identity_key)),
        _("Valid:         {start} → {end}").format(start=when(record.valid_from), end=when(record.valid_until)),
        _("Encryption keys:"),
        *keys,
    ]
    if state.revocation is not None:
        lines.append(_("Revoked:       {time} by {signer} ({reason})").format(
            time=when(state.revocation.revoked_at), signer=state.revocation.signer,
            reason=reason_label(state.revocation.reason)))
    lines.append(_("Verified against the pinned Secretariat key and the broker's log (entries {indexes}).").format(
        indexes=", ".join(str(i) for i in state.indexes)))
    return "\n".join(lines)


def inbox_table(items: list[dict], summaries: list[dict]) -> str:
    rows = []
    for item, summary in zip(items, summaries):
        if summary["subject"] is None:
            subject = _("DOES NOT VERIFY: see 'enlace read {msg_id}'").format(msg_id=item["id"])
        else:
            subject = f"[TLP:{summary['tlp']}] {summary['subject']}" if summary["tlp"] else summary["subject"]
            if not summary["verified"]:
                subject = _("UNTRUSTED: {subject}").format(subject=subject)
        rows.append([item["id"], item["sender"], kind_label(item["kind"]), when(item["received_at"]), subject])
    return table([_("ID"), _("FROM"), _("KIND"), _("RECEIVED"), _("SUBJECT")], rows)


_ALERT_LABELS = {
    "item_kind": lambda: _("Item"), "status": lambda: _("Status"), "make": lambda: _("Make"),
    "model": lambda: _("Model"), "type": lambda: _("Type"), "calibre": lambda: _("Calibre"),
    "serial_number": lambda: _("Serial number"), "serial_obliterated": lambda: _("Serial obliterated"),
    "country_of_manufacture": lambda: _("Country of manufacture"),
    "import_marking": lambda: _("Import marking"), "quantity": lambda: _("Quantity"),
    "ammunition_lot": lambda: _("Ammunition lot"), "seizure_place": lambda: _("Seizure place"),
    "seizure_date": lambda: _("Seizure date"), "route": lambda: _("Route"),
    "case_reference": lambda: _("Case reference"),
}


_ALERT_VALUES = {
    "firearm": lambda: _("firearm"), "part": lambda: _("part"), "ammunition": lambda: _("ammunition"),
    "explosive": lambda: _("explosive"), "seized": lambda: _("seized"), "lost": lambda: _("lost"),
    "stolen": lambda: _("stolen"), "trafficked": lambda: _("trafficked"),
}


def alert_value(value: str) -> str:
    """The translated name of an item kind or status, or ``value`` itself."""
    return _ALERT_VALUES.get(value, lambda: value)()


def _alert_lines(alert: dict) -> list[str]:
    lines = [_("Alert:")]
    for field, label in _ALERT_LABELS.items():
        if field in alert:
            value = alert[field]
            if isinstance(value, bool):
                value = _("yes") if value else _("no")
            value = alert_value(value) if isinstance(value, str) else value
            lines.append(f"  {label()}: {value}")
    return lines


def message_detail(opened: OpenedMessage) -> str:
    header, content, record = opened.header, opened.inner["content"], opened.sender.record
    lines = [
        _("Message {msg_id} ({kind}, priority {priority})").format(
            msg_id=header.id, kind=kind_label(header.kind), priority=priority_label(header.priority)),
        _("From:       {cp_id}, {agency}, {unit}").format(
            cp_id=header.sender, agency=record.profile.agency, unit=record.profile.unit),
        _("To:         {recipients}").format(recipients=", ".join(header.recipient_ids)),
        _("Sent:       {time}").format(time=when(header.created)),
        _("Signature:  valid, made by the identity key with fingerprint {fingerprint}").format(
            fingerprint=opened.sender_fingerprint),
        _("Directory:  the sender's record verified against the pinned Secretariat key and the log"),
    ]
    if not opened.trusted:
        lines.append(_("WARNING:    UNTRUSTED: the sender's key was revoked ({reason}) before this message "
                       "was created").format(reason=opened.sender.revocation.reason))
    if "tlp" in content:
        lines.append(_("Handling:   TLP:{code}").format(code=content["tlp"]))
    if "subject" in content:
        lines.append(_("Subject:    {subject}").format(subject=content["subject"]))
    if "alert" in content:
        lines += _alert_lines(content["alert"])
    if content.get("text"):
        lines += ["", content["text"]]
    return "\n".join(lines)


def request_summary(registration, replaces: bytes | None) -> list[str]:
    """What a person must check before endorsing a registration request."""
    profile = registration.profile
    lines = [_("Request for:   {value}").format(value=profile.id),
             _("Agency:        {value} ({kind})").format(value=profile.agency, kind=agency_type_label(profile.agency_type)),
             _("Unit:          {value}").format(value=profile.unit),
             _("Role:          {value}").format(value=role_label(profile.role)),
             _("Fingerprint:   {value}").format(value=fingerprint(registration.identity_key))]
    if replaces is not None:
        lines.append(_("It REPLACES the listed identity key with fingerprint {value}.").format(
            value=fingerprint(replaces)))
    return lines


def reason_label(reason: str) -> str:
    labels = {"key-compromised": _("key compromised"), "left-post": _("left the post"),
              "superseded": _("superseded"), "administrative": _("administrative")}
    return labels.get(reason, reason)


def role_label(role: str) -> str:
    return _("national administrator") if role == "national-admin" else _("contact point")


def pending_table(requests: list[PendingRequest], flags: dict | None = None, notes: dict | None = None) -> str:
    rows = []
    for request in requests:
        if request.registration is None:
            rows.append([request.cp_id, "", _("INVALID: {reason}").format(reason=request.problem), ""])
            continue
        warnings = (flags or {}).get(request.cp_id, [])
        check = list((notes or {}).get(request.cp_id, []))
        if warnings:
            check.insert(0, _("LOOKS SUSPICIOUS: {reasons}").format(reasons="; ".join(warnings)))
        rows.append([request.cp_id, request.registration.profile.agency, request.fingerprint, "; ".join(check)])
    return table([_("ID"), _("AGENCY"), _("FINGERPRINT"), _("CHECK")], rows)


def updates_table(updates: list) -> str:
    def shown(value) -> str:
        return ", ".join(value) if isinstance(value, list) else str(value)

    rows = [[u.cp_id, u.proposer, "; ".join(f"{k}: {shown(v)}" for k, v in sorted(u.changes.items()))]
            for u in updates]
    return _("Proposed updates:") + "\n" + table([_("ID"), _("PROPOSED BY"), _("CHANGES")], rows)


# Fingerprints compared by voice (client.verified).


def verified_cell(mark: str) -> str:
    """Table cell of a client.verified status; a changed key is in capitals so that nobody misses it."""
    cells = {verified.VERIFIED: _("yes"), verified.UNVERIFIED: _("no"), verified.KEY_CHANGED: _("KEY CHANGED")}
    return cells[mark]


def verified_json(mark: str) -> bool | str:
    """JSON value of a client.verified status: true, false or "key-changed"."""
    return {verified.VERIFIED: True, verified.UNVERIFIED: False, verified.KEY_CHANGED: verified.KEY_CHANGED}[mark]


def marked_state_json(state: ContactState, mark: str) -> dict:
    """``state_json`` with the "verified" field of ``mark``."""
    return state_json(state) | {"verified": verified_json(mark)}


def key_changed_warning(cp_id: str, recorded: verified.Verification) -> str:
    return _("enlace: warning: KEY CHANGED for {cp_id}: its identity key is not the one whose fingerprint you "
             "compared on {date}. Do not send to it until its owner reads you the new fingerprint and you run "
             "'enlace directory verify {cp_id}'.").format(cp_id=cp_id, date=recorded.date)


def verification_detail(state: ContactState, mark: str, recorded: verified.Verification | None) -> str:
    """Describe, for ``enlace directory show``, whether this user compared the fingerprint and when."""
    if mark == verified.VERIFIED:
        return _("You compared this fingerprint with its owner on {date}: it matched.").format(date=recorded.date)
    if mark == verified.KEY_CHANGED:
        return _("KEY CHANGED: the fingerprint you compared with its owner on {date} was {old}, but the current "
                 "identity key has another one. Do not send to {cp_id} until its owner reads you the new "
                 "fingerprint and you run 'enlace directory verify {cp_id}'.").format(
            date=recorded.date, old=recorded.fingerprint, cp_id=state.cp_id)
    return _("You have not compared this fingerprint with its owner. Ask them to read it to you "
             "('enlace whoami' prints it), then run 'enlace directory verify {cp_id}'.").format(cp_id=state.cp_id)


def verify_intro(state: ContactState, mark: str, recorded: verified.Verification | None) -> str:
    """Format what ``enlace directory verify`` prints before it prompts for the comparison."""
    profile = state.record.profile
    lines = [
        _("Contact point: {value}").format(value=profile.id),
        _("Country:       {value}").format(value=country_name(profile.country)),
        _("Agency:        {value} ({kind})").format(value=profile.agency, kind=agency_type_label(profile.agency_type)),
        _("Unit:          {value}").format(value=profile.unit),
        _("Fingerprint:   {value}").format(value=fingerprint(state.identity_key)),
    ]
    if mark != verified.UNVERIFIED:
        lines.append(verification_detail(state, mark, recorded))
    lines.append(_("Ask the person at {cp_id} to read their fingerprint aloud ('enlace whoami' prints it) and "
                   "compare it with the one above, group by group.").format(cp_id=profile.id))
    return "\n".join(lines)


# Directory export (enlace directory export).


EXPORT_CSV_COLUMNS = ("id", "country", "country_name", "agency_type", "agency", "unit", "languages", "topics",
                      "role", "status", "fingerprint", "current_key_id", "key_valid_until")


def iso_date(timestamp: int) -> str:
    """UTC date of a Unix timestamp, YYYY-MM-DD."""
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).date().isoformat()


def country_name(iso2: str) -> str:
    """Name of a member state in the language of messages: Spanish for es, English otherwise."""
    state = member_states().get(iso2)
    if state is None:
        return iso2
    return state["name_es"] if get_language() == "es" else state["name_en"]


def usable_keys(state: ContactState, now: int) -> list[KeyCertificate]:
    """Encryption keys valid at ``now``; none for a revoked contact point, whose keys must not be used."""
    if state.status != "active":
        return []
    return [certificate for certificate in state.keys if certificate.valid_at(now)]


def current_key(state: ContactState, now: int) -> KeyCertificate | None:
    """Return the encryption key a sender uses at ``now``; None when revoked or when no key is valid."""
    return state.current_key(now) if state.status == "active" else None


def export_record(state: ContactState, proof: dict, now: int) -> dict:
    """JSON export of one contact point, with the head and log entries of ``proof`` exactly as served.

    ``proof`` is the broker's response to GET /v1/directory/ID from which ``state`` was
    verified, so a recipient can check the same entries against the Secretariat key.
    """
    key = current_key(state, now)
    return state.record.profile.model_dump() | {
        "status": state.status,
        "fingerprint": fingerprint(state.identity_key),
        "current_key_id": key.key_id if key else None,
        "encryption_keys": [{"key_id": c.key_id, "not_before": c.not_before, "not_after": c.not_after}
                            for c in usable_keys(state, now)],
        "log": {"head": proof["head"], "entries": proof["entries"]},
    }


def export_document(records: list[dict], *, secretariat_key: bytes, log_key: bytes, now: int) -> dict:
    """Build the whole JSON export; the pinned keys are included for comparison, never as proof."""
    return {"v": 1, "exported_at": now,
            "secretariat_key": b64encode(secretariat_key), "secretariat_fingerprint": fingerprint(secretariat_key),
            "log_key": b64encode(log_key), "log_key_fingerprint": fingerprint(log_key),
            "contact_points": records}


def export_csv_row(state: ContactState, now: int) -> list[str]:
    """Build one CSV row in the order of EXPORT_CSV_COLUMNS; lists are joined with ";"."""
    profile = state.record.profile
    key = current_key(state, now)
    return [_spreadsheet_safe(cell) for cell in [profile.id, profile.country, country_name(profile.country), profile.agency_type, profile.agency,
            profile.unit, ";".join(profile.languages), ";".join(profile.topics), profile.role, state.status,
            fingerprint(state.identity_key), key.key_id if key else "", iso_date(key.not_after) if key else ""]]


def _spreadsheet_safe(cell: str) -> str:
    """Prefix a cell that a spreadsheet would run as a formula with an apostrophe (CSV injection)."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell
