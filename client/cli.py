"""The ``enlace`` command.

Output rules: results go to stdout; errors go to stderr as "enlace: error: ...",
followed by "enlace: hint: ..." with the command that fixes it. No traceback reaches
the user, no log lines are printed, and no secret is ever printed. Exit status: 0
success, 1 the broker refused, 2 bad input or local files, 3 something did not
verify, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from client import commands
from client.api import ApiFailure
from client.errors import CliError
from client.messages import from_api, from_core
from i18n import _, install_argparse, set_language
from keys.changes import REVOCATION_REASONS
from keys.content import ITEM_KINDS, ITEM_STATUSES, TLP_LEVELS
from keys.header import PRIORITIES
from keys.keystore import PROFILES
from keys.errors import EnlaceError


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", metavar=_("DIR"),
                        help=_("directory with configuration and keys (default: $ENLACE_HOME or ~/.enlace)"))
    parser.add_argument("--lang", help=_("language of messages: en, es (default: from LANG)"))


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help=_("print JSON instead of a table"))


def _key_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--broker", required=True, metavar=_("URL"), help=_("the broker's URL"))
    parser.add_argument("--kdf", choices=list(PROFILES), default="moderate",
                        help=_("cost of the passphrase key derivation (default: moderate)"))
    parser.add_argument("--ca-file", metavar=_("FILE"),
                        help=_("PEM file of the authority that signed the broker's TLS certificate "
                               "(default: the system's trusted authorities)"))
    parser.add_argument("--force", action="store_true", help=_("replace an existing keystore"))


def _add_alert_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(_("firearms-trafficking alert (an alert needs --item-kind and --status)"))
    group.add_argument("--item-kind", choices=ITEM_KINDS,
                       help=_("what the alert is about: firearm, part, ammunition or explosive"))
    group.add_argument("--status", choices=ITEM_STATUSES,
                       help=_("what happened to the item: seized, lost, stolen or trafficked"))
    for flag, help_text in (("--make", _("manufacturer")), ("--model", _("model")),
                            ("--type", _("type, for example pistol or rifle")),
                            ("--calibre", _("calibre or gauge")), ("--serial", _("serial number")),
                            ("--country-of-manufacture", _("ISO 3166 two-letter code")),
                            ("--import-marking", _("import marking")),
                            ("--ammunition-lot", _("ammunition lot number")),
                            ("--seizure-place", _("where it was seized")),
                            ("--seizure-date", _("date of seizure, YYYY-MM-DD")),
                            ("--route", _("known or suspected route")),
                            ("--case-reference", _("your case reference"))):
        group.add_argument(flag, help=help_text)
    group.add_argument("--serial-obliterated", action="store_true", help=_("the serial number was obliterated"))
    group.add_argument("--quantity", type=int, help=_("number of items (default: 1)"))


def _contact_commands(commands_: argparse._SubParsersAction) -> None:
    init = commands_.add_parser("init", help=_("create this contact point's keys"))
    init.add_argument("--id", help=_("contact point id, <iso2>.<agency>.<unit>; without it, the home has no keys "
                                     "and can only read and audit the directory"))
    init.add_argument("--secretariat-key", required=True, metavar=_("KEY"),
                      help=_("the Secretariat's public key, obtained from the Secretariat directly"))
    _key_options(init)

    register = commands_.add_parser("register", help=_("ask the Secretariat to list this contact point"))
    register.add_argument("--agency", required=True, help=_("agency name"))
    register.add_argument("--agency-type", required=True, help=_("customs, police, prosecutor, ..."))
    register.add_argument("--unit", required=True, help=_("unit or desk name"))
    register.add_argument("--language", action="append", required=True, choices=["en", "es", "pt", "fr"],
                          help=_("a working language; repeat for several"))
    register.add_argument("--topic", action="append", default=[], help=_("a topic; repeat for several"))
    register.add_argument("--role", choices=["contact-point", "national-admin"], default="contact-point",
                          help=_("register a contact point (default) or a national administrator"))

    commands_.add_parser("status", help=_("show the state of this contact point's registration"))
    commands_.add_parser("whoami", help=_("show this contact point's id and fingerprint"))

    send = commands_.add_parser("send", help=_("send a message or a firearms-trafficking alert"))
    send.add_argument("--to", action="append", required=True, metavar=_("ID"),
                      help=_("recipient contact point id; repeat for several"))
    send.add_argument("--subject", required=True, help=_("subject line (sealed, the broker never sees it)"))
    send.add_argument("--text", default="", help=_("message text"))
    send.add_argument("--text-file", metavar=_("FILE"), help=_("read the message text from a file"))
    send.add_argument("--tlp", choices=TLP_LEVELS, default="AMBER", type=str.upper,
                      help=_("handling code of TLP 2.0: RED (named recipients only), AMBER+STRICT (their "
                             "organisation only), AMBER (their organisation and its clients), GREEN (the "
                             "community), CLEAR (no limit); default: AMBER"))
    send.add_argument("--priority", choices=PRIORITIES, default="normal", help=_("delivery priority"))
    _add_alert_options(send)

    inbox = commands_.add_parser("inbox", help=_("list messages waiting in the mailbox"))
    _json_flag(inbox)
    read = commands_.add_parser("read", help=_("decrypt and verify one message"))
    read.add_argument("msg_id", metavar=_("ID"))
    _json_flag(read)
    ack = commands_.add_parser("ack", help=_("acknowledge a message so the broker can delete it"))
    ack.add_argument("msg_id", metavar=_("ID"))

    keys = commands_.add_parser("keys", help=_("manage this contact point's keys"))
    keys_sub = keys.add_subparsers(dest="keys_command", metavar=_("COMMAND"), required=True)
    rotate = keys_sub.add_parser("rotate", help=_("publish a new encryption key; old keys still open old mail"))
    rotate.add_argument("--validity-days", type=int, default=365, metavar=_("DAYS"),
                        help=_("how long the new key is valid, in days (default: 365)"))
    endorse = keys_sub.add_parser("endorse-replacement",
                                  help=_("with the current identity key, endorse the pending request for a new one"))
    endorse.add_argument("--yes", action="store_true",
                         help=_("do not ask for confirmation (check the fingerprint shown first)"))

    revoke = commands_.add_parser("revoke", help=_("revoke this contact point's identity key at once"))
    revoke.add_argument("--reason", required=True, choices=REVOCATION_REASONS, help=_("why it is revoked"))


def _directory_commands(commands_: argparse._SubParsersAction) -> None:
    from client.search import subregions
    from keys.ids import member_states

    directory = commands_.add_parser("directory", help=_("read the directory of contact points"))
    sub = directory.add_subparsers(dest="directory_command", metavar=_("COMMAND"), required=True)
    _json_flag(sub.add_parser("list", help=_("list every contact point")))
    show = sub.add_parser("show", help=_("show one contact point"))
    show.add_argument("cp_id", metavar=_("ID"))
    _json_flag(show)
    _json_flag(sub.add_parser("audit", help=_("download the whole log, verify it and compare it with the "
                                              "directory the broker serves")))
    sub.add_parser("head", help=_("print the latest tree head, to compare with another person's"))
    compare = sub.add_parser("compare-head", help=_("check that another person's tree head belongs to "
                                                    "the same log as yours"))
    compare.add_argument("file", metavar=_("FILE"), help=_("file with the other tree head, or - for standard input"))

    search = sub.add_parser("search", help=_("find contact points; every filter must match, ignoring case "
                                             "and accents"))
    search.add_argument("--country", help=_("member state: two-letter ISO code, or English or Spanish name"))
    search.add_argument("--subregion", help=_("one of: {choices}").format(
        choices=", ".join(sorted(subregions(member_states())))))
    search.add_argument("--agency-type", help=_("customs, police, prosecutor, ..."))
    search.add_argument("--language", help=_("a working language: en, es, pt or fr"))
    search.add_argument("--topic", help=_("a topic, for example firearms or ammunition"))
    search.add_argument("--role", help=_("contact-point or national-admin"))
    search.add_argument("text", nargs="*", metavar=_("TEXT"),
                        help=_("words that must each begin a word of the id, agency, unit, country names "
                               "or topics"))
    _json_flag(search)

    export = sub.add_parser("export", help=_("write every verified contact point as JSON, with the log "
                                             "entries that prove it, or as CSV"))
    export.add_argument("--format", required=True, choices=["json", "csv"],
                        help=_("json includes the signed log entries; csv has one row per contact point, "
                               "for spreadsheets"))
    export.add_argument("--output", metavar=_("FILE"), help=_("file to write (default: standard output)"))
    export.add_argument("--force", action="store_true", help=_("replace an existing output file"))

    verify = sub.add_parser("verify", help=_("compare a contact point's fingerprint with its owner and "
                                             "record the match"))
    verify.add_argument("cp_id", metavar=_("ID"))
    verify.add_argument("--yes", action="store_true",
                        help=_("record the match without asking, after you compared the fingerprint (for scripts)"))


def _admin_commands(commands_: argparse._SubParsersAction) -> None:
    admin = commands_.add_parser("admin", help=_("Secretariat administration"))
    sub = admin.add_subparsers(dest="admin_command", metavar=_("COMMAND"), required=True)
    _key_options(sub.add_parser("init", help=_("create the Secretariat root key")))
    _json_flag(sub.add_parser("pending", help=_("list registration requests awaiting a decision")))
    approve = sub.add_parser("approve", help=_("sign and publish the record of a pending request"))
    approve.add_argument("cp_id", metavar=_("ID"))
    reject = sub.add_parser("reject", help=_("reject a pending request"))
    reject.add_argument("cp_id", metavar=_("ID"))
    reject.add_argument("--reason", required=True, help=_("why; the applicant sees this text"))
    revoke = sub.add_parser("revoke", help=_("revoke a contact point's identity key at once"))
    revoke.add_argument("cp_id", metavar=_("ID"))
    revoke.add_argument("--reason", required=True, choices=REVOCATION_REASONS, help=_("why it is revoked"))


def _national_commands(commands_: argparse._SubParsersAction) -> None:
    national = commands_.add_parser("national", help=_("national administration of your state's contact points"))
    sub = national.add_subparsers(dest="national_command", metavar=_("COMMAND"), required=True)
    _json_flag(sub.add_parser("pending", help=_("list your state's registration requests")))
    _json_flag(sub.add_parser("proposals", help=_("list your proposals with the Secretariat's decisions and reasons")))
    propose = sub.add_parser("propose", help=_("propose a pending request to the Secretariat"))
    propose.add_argument("cp_id", metavar=_("ID"))
    propose.add_argument("--yes", action="store_true",
                         help=_("do not ask for confirmation (check the fingerprint shown first)"))
    update = sub.add_parser("update", help=_("propose new details for one of your state's contact points"))
    update.add_argument("cp_id", metavar=_("ID"))
    update.add_argument("--agency", help=_("agency name"))
    update.add_argument("--agency-type", help=_("customs, police, prosecutor, ..."))
    update.add_argument("--unit", help=_("unit or desk name"))
    update.add_argument("--language", action="append", choices=["en", "es", "pt", "fr"],
                        help=_("a working language; repeat for several"))
    update.add_argument("--topic", action="append", help=_("a topic; repeat for several"))
    revoke = sub.add_parser("revoke", help=_("revoke the identity key of one of your state's contact points"))
    revoke.add_argument("cp_id", metavar=_("ID"))
    revoke.add_argument("--reason", required=True, choices=REVOCATION_REASONS, help=_("why it is revoked"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="enlace", description=_("Enlace: signed, end-to-end encrypted exchange between "
                                     "national contact points."),
        epilog=_("Environment: ENLACE_PASSPHRASE gives the keystore passphrase to scripts "
                 "(otherwise it is asked on the terminal); ENLACE_HOME sets the default for --home; "
                 "LANGUAGE, LC_ALL, LC_MESSAGES or LANG set the default for --lang."))
    _common(parser)
    sub = parser.add_subparsers(dest="command", metavar=_("COMMAND"), required=True)
    _contact_commands(sub)
    _directory_commands(sub)
    _admin_commands(sub)
    _national_commands(sub)
    demo = sub.add_parser("demo", help=_("run a complete exchange on a temporary broker"))
    demo.add_argument("--keep", action="store_true", help=_("keep the temporary directory afterwards"))
    return parser


def _early_language(argv: list[str] | None) -> None:
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--lang")
    known, _rest = early.parse_known_args(argv)
    chosen = set_language(known.lang)
    install_argparse()
    if known.lang and not known.lang.lower().startswith(chosen):
        print(_("enlace: warning: language {value!r} is not available; messages are in {chosen}").format(
            value=known.lang, chosen=chosen), file=sys.stderr)


def _report(error: CliError) -> int:
    print(_("enlace: error: {message}").format(message=error.message), file=sys.stderr)
    if error.hint:
        print(_("enlace: hint: {hint}").format(hint=error.hint), file=sys.stderr)
    return error.exit_status


def main(argv: list[str] | None = None) -> int:
    _early_language(argv)
    args = build_parser().parse_args(argv)
    try:
        return asyncio.run(commands.run(args)) or 0
    except CliError as exc:
        return _report(exc)
    except ApiFailure as exc:
        return _report(from_api(exc))
    except EnlaceError as exc:
        return _report(from_core(exc))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader of our output went away (for example `| head`); nothing is left to say.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
