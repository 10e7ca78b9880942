"""The ``enlace-broker`` command.

Output rules: the broker writes JSON log lines to stderr; stdout gets one
human-readable line when it is listening. Configuration errors print
"enlace-broker: error: ..." and exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import ssl
import sys
from pathlib import Path

from aiohttp import web

from broker import logs
from broker import logkey
from broker.app import create_app, decode_root_key
from broker.services.log import TransparencyLog, WrongRootKey
from broker.config import ConfigError, Settings, load_settings
from broker.storage import StorageError, open_storage
from i18n import _, install_argparse, set_language
from keys.ids import member_states
from keys.identity import fingerprint
from keys.keystore import PROFILES

log = logging.getLogger("enlace.broker")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="enlace-broker",
                                     description=_("Enlace broker: stores and routes sealed envelopes."))
    parser.add_argument("--lang", help=_("language of messages: en, es (default: from LANG)"))
    commands = parser.add_subparsers(dest="command", metavar=_("COMMAND"), required=True)

    serve = commands.add_parser("serve", help=_("run the broker until interrupted"))
    serve.add_argument("--config", metavar=_("FILE"), help=_("TOML configuration file"))
    serve.add_argument("--db", help=_("database: a SQLite file path or sqlite:///PATH "
                                      "(default: enlace-broker.db)"))
    serve.add_argument("--listen", metavar=_("HOST:PORT"),
                       help=_("address to listen on; port 0 picks a free port (default: 127.0.0.1:8080)"))
    serve.add_argument("--secretariat-key", metavar=_("KEY"),
                       help=_("the Secretariat's public key, as printed by 'enlace admin init'"))
    serve.add_argument("--max-envelope-bytes", type=int, metavar=_("BYTES"),
                       help=_("largest envelope accepted, in bytes (default: 1048576)"))
    serve.add_argument("--tls-cert", metavar=_("FILE"), help=_("PEM certificate chain; enables HTTPS"))
    serve.add_argument("--tls-key", metavar=_("FILE"), help=_("PEM private key for --tls-cert"))
    serve.add_argument("--log-key", metavar=_("FILE"),
                       help=_("keystore of the key that signs tree heads, made by 'enlace-broker log-key "
                              "create'; its passphrase comes from ENLACE_LOG_KEY_PASSPHRASE or a prompt"))
    serve.add_argument("--ready-file", metavar=_("FILE"),
                       help=_("write the broker's URL to this file once it is listening"))
    serve.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                       help=_("log level (default: INFO)"))

    log_key = commands.add_parser("log-key", help=_("manage the key that signs the log's tree heads"))
    log_key_commands = log_key.add_subparsers(dest="log_key_command", metavar=_("COMMAND"), required=True)
    create = log_key_commands.add_parser("create", help=_("create a new log key in a passphrase-protected file"))
    create.add_argument("--out", required=True, metavar=_("FILE"), help=_("where to write the keystore"))
    create.add_argument("--kdf", choices=list(PROFILES), default="moderate",
                        help=_("cost of the passphrase key derivation (default: moderate)"))
    create.add_argument("--force", action="store_true", help=_("replace an existing file"))

    migrate = commands.add_parser("migrate", help=_("create or upgrade the database, then exit"))
    migrate.add_argument("--config", metavar=_("FILE"), help=_("TOML configuration file"))
    migrate.add_argument("--db", help=_("database: a SQLite file path or sqlite:///PATH"))
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {name: getattr(args, name, None) for name in
                 ("db", "listen", "secretariat_key", "max_envelope_bytes", "tls_cert", "tls_key", "log_level",
                  "log_key")}
    return load_settings(args.config, overrides)


def _ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if not settings.tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(settings.tls_cert, settings.tls_key or None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(_("cannot load TLS certificate {path}: {error}").format(
            path=settings.tls_cert, error=exc)) from None
    return context


async def serve(settings: Settings, ready_file: str | None) -> None:
    if not settings.secretariat_key:
        raise ConfigError(_("no Secretariat public key: pass --secretariat-key with the key that "
                            "'enlace admin init' printed, or set ENLACE_SECRETARIAT_KEY"))
    try:
        root_key = decode_root_key(settings.secretariat_key)
    except ValueError as exc:
        raise ConfigError(_("invalid Secretariat public key: {error}").format(error=exc)) from None
    log_key = logkey.load(settings.log_key)

    storage = open_storage(settings.db)
    await storage.open()
    try:
        await storage.seed_member_states(list(member_states().values()))
        transparency = TransparencyLog(storage, root_key, log_key)
        try:
            await transparency.load()
        except WrongRootKey as exc:
            raise ConfigError(_("the Secretariat key does not match the database {db}: {reason}; start the broker "
                                "with the key this database was created with").format(db=settings.db, reason=exc)) from None
        await _run(create_app(settings, storage, transparency), settings, ready_file)
    finally:
        await storage.close()


async def _run(app: web.Application, settings: Settings, ready_file: str | None) -> None:
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    host, port = settings.host_port
    site = web.TCPSite(runner, host, port, ssl_context=_ssl_context(settings))
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigError(_("cannot listen on {address}: {error}").format(address=settings.listen,
                                                                          error=exc.strerror)) from None

    bound = runner.addresses[0]
    scheme = "https" if settings.tls_cert else "http"
    url = f"{scheme}://{bound[0]}:{bound[1]}" if ":" not in bound[0] else f"{scheme}://[{bound[0]}]:{bound[1]}"
    log.info("listening", extra={"url": url, "db": settings.db})
    print(_("Enlace broker listening on {url}").format(url=url), flush=True)
    if ready_file:
        Path(ready_file).write_text(url + "\n", encoding="utf-8")

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping")
    await runner.cleanup()


async def migrate(settings: Settings) -> None:
    storage = open_storage(settings.db)
    await storage.open()
    await storage.close()
    print(_("Database {db} is up to date.").format(db=settings.db))


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    try:
        if args.command == "log-key":
            return _create_log_key(args)
        settings = _settings(args)
        logs.configure(settings.log_level)
        if args.command == "serve":
            _run_loop(serve(settings, args.ready_file))
        else:
            asyncio.run(migrate(settings))
    except (ConfigError, StorageError) as exc:
        print(_("enlace-broker: error: {message}").format(message=exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


def _create_log_key(args: argparse.Namespace) -> int:
    key = logkey.create(Path(args.out), profile=args.kdf, force=args.force)
    print(_("Created the log key in {path}.").format(path=args.out))
    print(_("Log key fingerprint: {value}").format(value=fingerprint(key.public_key)))
    return 0


def _run_loop(coroutine) -> None:
    """Run the broker on uvloop where it is installed: it roughly halves the event loop's cost."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(coroutine)
        return
    uvloop.run(coroutine)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--lang")
    known, _rest = early.parse_known_args(argv)
    set_language(known.lang)
    install_argparse()
    return build_parser().parse_args(argv)
