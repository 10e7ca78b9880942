"""Text shown to a person: tables and message views, every label translated."""

from __future__ import annotations

import datetime

from client.secretariat import PendingRequest
from client.trust import OpenedMessage
from i18n import _
from keys.identity import fingerprint
from keys.directory import ContactState


def when(timestamp: int) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def table(headings: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headings, *rows)]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip()
             for row in [headings, *rows]]
    return "\n".join(lines)


def state_row(state: ContactState) -> list[str]:
    status = _("active") if state.status == "active" else _("revoked")
    return [state.cp_id, state.record.profile.agency, ", ".join(state.record.profile.languages), status]


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
    return table([_("ID"), _("AGENCY"), _("LANGUAGES"), _("STATUS")], rows)


def record_detail(state: ContactState) -> str:
    profile, record = state.record.profile, state.record
    keys = [f"    {c.key_id}  {when(c.not_before)} → {when(c.not_after)}" for c in state.keys]
    lines = [
        _("Contact point: {value}").format(value=profile.id),
        _("Country:       {value}").format(value=profile.country),
        _("Agency:        {value} ({kind})").format(value=profile.agency, kind=profile.agency_type),
        _("Unit:          {value}").format(value=profile.unit),
        _("Languages:     {value}").format(value=", ".join(profile.languages)),
        _("Topics:        {value}").format(value=", ".join(profile.topics)),
        _("Status:        {value}").format(value=state.status),
        _("Fingerprint:   {value}").format(value=fingerprint(state.identity_key)),
        _("Valid:         {start} → {end}").format(start=when(record.valid_from), end=when(record.valid_until)),
        _("Encryption keys:"),
        *keys,
    ]
    if state.revocation is not None:
        lines.append(_("Revoked:       {time} by {signer} ({reason})").format(
            time=when(state.revocation.revoked_at), signer=state.revocation.signer,
            reason=state.revocation.reason))
    lines.append(_("Verified against the pinned Secretariat key and the broker's log (entries {indexes}).").format(
        indexes=", ".join(str(i) for i in state.indexes)))
    return "\n".join(lines)


def inbox_table(items: list[dict]) -> str:
    rows = [[item["id"], item["sender"], item["kind"], when(item["received_at"])] for item in items]
    return table([_("ID"), _("FROM"), _("KIND"), _("RECEIVED")], rows)


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


def _alert_lines(alert: dict) -> list[str]:
    lines = [_("Alert:")]
    for field, label in _ALERT_LABELS.items():
        if field in alert:
            value = alert[field]
            if isinstance(value, bool):
                value = _("yes") if value else _("no")
            lines.append(f"  {label()}: {value}")
    return lines


def message_detail(opened: OpenedMessage) -> str:
    header, content, record = opened.header, opened.inner["content"], opened.sender.record
    lines = [
        _("Message {msg_id} ({kind}, priority {priority})").format(
            msg_id=header.id, kind=header.kind, priority=header.priority),
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


def pending_table(requests: list[PendingRequest], flags: dict | None = None) -> str:
    rows = []
    for request in requests:
        if request.registration is None:
            rows.append([request.cp_id, "", _("INVALID: {reason}").format(reason=request.problem), ""])
            continue
        warnings = (flags or {}).get(request.cp_id, [])
        note = _("LOOKS SUSPICIOUS: {reasons}").format(reasons="; ".join(warnings)) if warnings else ""
        rows.append([request.cp_id, request.registration.profile.agency, request.fingerprint, note])
    return table([_("ID"), _("AGENCY"), _("FINGERPRINT"), _("CHECK")], rows)


def updates_table(updates: list) -> str:
    rows = [[u.cp_id, u.proposer, ", ".join(f"{k}={v}" for k, v in sorted(u.changes.items()))] for u in updates]
    return _("Proposed updates:") + "\n" + table([_("ID"), _("PROPOSED BY"), _("CHANGES")], rows)
