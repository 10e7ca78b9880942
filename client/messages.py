"""Turning broker error codes and core errors into translated messages with hints.

The broker's English message is the fallback for a code this table does not know,
so a newer broker never leaves the user with nothing.
"""

from __future__ import annotations

from client.api import ApiFailure
from client.errors import CliError, TrustError, UsageError
from i18n import _
from keys.errors import EnlaceError, KeystoreError, SignatureError, WrongPassphrase
from keys.header import SECRET_FIELDS


def _broker_messages() -> dict[str, tuple[str, str | None]]:
    return {
        "unreachable": (_("cannot reach the broker at {value}"),
                        _("check that the broker runs and that 'broker' in config.toml is right")),
        "unknown_caller": (_("{value} is not in the directory yet"),
                           _("register with 'enlace register' and wait for the Secretariat's approval")),
        "caller_not_approved": (_("{value} is not approved yet"),
                                _("check the request with 'enlace status'")),
        "sender_not_approved": (_("{value} is not approved yet"),
                                _("check the request with 'enlace status'")),
        "unknown_sender": (_("sender {value} is not in the directory"), None),
        "unknown_recipient": (_("recipient {value} is not in the directory"),
                              _("check the id with 'enlace directory list'")),
        "recipient_not_approved": (_("recipient {value} is not an approved contact point"),
                                   _("check the id with 'enlace directory show ID'")),
        "registration_exists": (_("a registration for {value} is already pending or approved"),
                                _("check it with 'enlace status'")),
        "registration_not_found": (_("no registration request for {value}"),
                                   _("send one with 'enlace register'")),
        "registration_not_pending": (_("the registration of {value} was already decided"), None),
        "not_found": (_("{value} was not found"), None),
        "not_in_mailbox": (_("message {value} is not waiting in your mailbox"),
                           _("list messages with 'enlace inbox'")),
        "too_large": (_("the message is too large for the broker ({value} bytes)"),
                      _("shorten the text or split it into several messages")),
        "message_id_conflict": (_("message id {value} was already used for another message"), None),
        "request_expired": (_("the broker rejected the request time {value}"),
                            _("check this computer's clock")),
        "request_replayed": (_("the broker saw this request already"), _("run the command again")),
        "auth_invalid": (_("the broker did not accept this request's signature"),
                         _("check that the keystore belongs to the configured contact point")),
        "bad_signature": (_("a signature did not verify"), None),
        "forbidden": (_("this key may not do that"), None),
        "tls_untrusted": (_("the TLS certificate of the broker at {value} is not trusted"),
                          _("if the broker uses its own certificate authority, run 'enlace init' with --ca-file")),
        "tls_failed": (_("the TLS connection to {value} failed"),
                       _("check that the URL starts with https:// only if the broker uses TLS")),
        "storage_error": (_("the broker could not use its database"),
                          _("tell the broker operator and give the request id shown; it leads to the cause in the broker's log")),
        "timed_out": (_("the broker at {value} did not answer in time"), _("try again later")),
        "bad_answer": (_("the server did not answer as an Enlace broker (HTTP {value})"),
                       _("check the 'broker' URL in config.toml")),
        "ca_file_invalid": (_("the CA file {value} cannot be used"),
                            _("give the PEM file of the authority that signed the broker's certificate")),
        "proposal_required": (_("{value} needs a proposal from a national administrator of its state first"),
                              _("ask a national administrator to run 'enlace national propose ID'")),
        "caller_revoked": (_("{value} was revoked and may no longer use the broker"),
                           _("ask your national administrator to register a new identity key")),
        "sender_revoked": (_("{value} was revoked and may no longer send"), None),
        "recipient_revoked": (_("recipient {value} was revoked"), _("check the directory for its replacement")),
        "not_national_admin": (_("{value} is not an active national administrator"), None),
        "other_state": (_("{value} belongs to another state; national administrators act on their own state only"),
                        None),
        "stale_serial": (_("the record is older than the one in the directory ({value})"),
                         _("run the command again")),
        "changed_meanwhile": (_("the directory changed meanwhile"), _("run the command again")),
        "invalid_change": (_("the broker rejected the change to {value}"), None),
        "not_authorized": (_("you may not change {value}: only the contact point itself, a national administrator "
                             "of its own state or the Secretariat may"), None),
        "already_revoked": (_("{value} is already revoked"), None),
        "proposal_not_found": (_("proposal {value} was not found"), _("list pending proposals with 'enlace admin pending'")),
        "proposal_not_pending": (_("proposal {value} was already decided"), None),
        "beyond_tree": (_("{value} is beyond the size of the log"), None),
        "bad_range": (_("the log range starting at {value} is invalid"), None),
    }


def from_api(exc: ApiFailure) -> CliError:
    template, hint = _broker_messages().get(exc.code, (None, None))
    if template is None:
        message = _("the broker refused the request: {message} ({code})").format(
            message=exc.message, code=exc.code)
    else:
        message = template.format(value=exc.value if exc.value is not None else "")
    if exc.request_id:
        message += " " + _("[request {request_id}]").format(request_id=exc.request_id)
    return CliError(message, hint)


# Command-line options of the content fields, so errors name what the user typed.
FIELD_OPTIONS = {
    "subject": "--subject", "text": "--text", "tlp": "--tlp", "item_kind": "--item-kind", "status": "--status",
    "make": "--make", "model": "--model", "type": "--type", "calibre": "--calibre", "serial_number": "--serial",
    "country_of_manufacture": "--country-of-manufacture", "import_marking": "--import-marking",
    "quantity": "--quantity", "ammunition_lot": "--ammunition-lot", "seizure_place": "--seizure-place",
    "seizure_date": "--seizure-date", "route": "--route", "case_reference": "--case-reference",
}


def _rule(detail: dict) -> str:
    field, kind, ctx = detail["loc"][-1] if detail["loc"] else "", detail["type"], detail["ctx"]
    if field == "country_of_manufacture":
        return _("use the two-letter ISO code, for example MX or US")
    if field == "seizure_date" and kind == "value_error":
        return _("the date must be between 1900 and today")
    if kind.startswith("date"):
        return _("use the form YYYY-MM-DD")
    if kind == "literal_error":
        return _("choose one of {choices}").format(choices=ctx.get("expected", ""))
    if kind in ("greater_than_equal", "greater_than"):
        return _("it must be at least {limit}").format(limit=ctx.get("ge", ctx.get("gt", "")))
    if kind in ("less_than_equal", "less_than"):
        return _("it must be at most {limit}").format(limit=ctx.get("le", ctx.get("lt", "")))
    if kind == "string_too_long":
        return _("it is longer than {limit} characters").format(limit=ctx.get("max_length", ""))
    if kind in ("string_too_short", "missing"):
        return _("it must not be empty")
    return _("it is not valid")


def from_content(exc: EnlaceError) -> UsageError:
    """One translated line per invalid field, naming the option and the value given."""
    lines = []
    for detail in exc.details:
        field = detail["loc"][-1] if detail["loc"] else ""
        option = FIELD_OPTIONS.get(field, ".".join(str(p) for p in detail["loc"]))
        if field in SECRET_FIELDS:
            lines.append(_("{option}: {rule}").format(option=option, rule=_rule(detail)))
        else:
            lines.append(_("{option} {value!r}: {rule}").format(option=option, value=detail["input"],
                                                                rule=_rule(detail)))
    return UsageError(_("the message was not sent: {problems}").format(problems="; ".join(lines)),
                      _("correct the value and run the command again"))


def from_core(exc: EnlaceError) -> CliError:
    if isinstance(exc, WrongPassphrase):
        return UsageError(_("the passphrase does not open the keystore"),
                          _("try again; the passphrase is case-sensitive"))
    if exc.code == "keystore_exists":
        return UsageError(_("a keystore already exists at {path}").format(path=exc.value),
                          _("use --force to replace it, or --home for another directory"))
    if exc.code == "weak_passphrase":
        return UsageError(_("the passphrase must have at least 8 characters"), None)
    if exc.code == "keystore_missing":
        return UsageError(_("no keystore at {path}").format(path=exc.value),
                          _("run 'enlace init' first, or pass --home"))
    if isinstance(exc, KeystoreError):
        return UsageError(_("the keystore cannot be used: {reason}").format(reason=exc.message),
                          _("restore the keystore file from a backup"))
    if exc.code == "bad_cp_id":
        return UsageError(_("{value!r} is not a contact point id").format(value=exc.value),
                          _("write it as <country>.<agency>.<unit> in lowercase letters, digits and hyphens, "
                            "for example mx.anam.inteligencia"))
    if exc.code == "unknown_country":
        return UsageError(_("{value!r} does not start with the code of an OAS member state").format(value=exc.value),
                          _("start the id with the member state's two-letter code, for example mx. or us."))
    if getattr(exc, "details", None):
        return from_content(exc)
    if isinstance(exc, SignatureError):
        return TrustError(_("verification failed: {reason}").format(reason=exc.message), None)
    return UsageError(_("invalid input: {reason}").format(reason=exc.message), None)
