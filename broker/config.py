"""Broker settings: defaults, then a TOML file, then ENLACE_* variables, then flags.

Each later source overrides the earlier ones. Example file::

    db = "sqlite:///var/lib/enlace/broker.db"
    listen = "127.0.0.1:8443"
    secretariat_key = "<base64url Ed25519 public key>"
    max_envelope_bytes = 1048576
    replay_window = 300
    log_key = "/var/lib/enlace/log-key.json"
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path

from i18n import _


class ConfigError(Exception):
    """A setting that is missing or has an invalid value; the message names it."""


@dataclass(frozen=True)
class Settings:
    db: str = "enlace-broker.db"
    listen: str = "127.0.0.1:8080"
    secretariat_key: str = ""
    max_envelope_bytes: int = 1024 * 1024
    replay_window: int = 300
    log_level: str = "INFO"
    tls_cert: str = ""
    tls_key: str = ""
    log_key: str = ""

    @property
    def host_port(self) -> tuple[str, int]:
        host, sep, port = self.listen.rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ConfigError(_("listen address {value!r} must be HOST:PORT").format(value=self.listen))
        return host.strip("[]") or "127.0.0.1", int(port)


def _coerce(name: str, value: object, kind: type) -> object:
    if kind is int:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(_("setting {name} must be a whole number, got {value!r}").format(
                name=name, value=value)) from None
    return str(value)


def _from_file(path: Path) -> dict:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(_("configuration file {path} not found").format(path=path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_("configuration file {path} is not valid TOML: {error}").format(
            path=path, error=exc)) from None

    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(_("configuration file {path} has unknown settings: {names}").format(
            path=path, names=", ".join(unknown)))
    return data


def load_settings(config_file: str | None, overrides: dict[str, object]) -> Settings:
    """Combine the sources in order; ``overrides`` holds the flags that were given."""
    values: dict[str, object] = {}
    if config_file:
        values.update(_from_file(Path(config_file)))
    for field in fields(Settings):
        env = os.environ.get("ENLACE_" + field.name.upper())
        if env is not None:
            values[field.name] = env
    values.update({k: v for k, v in overrides.items() if v is not None})

    types = {f.name: type(f.default) for f in fields(Settings)}
    settings = replace(Settings(), **{k: _coerce(k, v, types[k]) for k, v in values.items()})
    _validate(settings)
    return settings


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _validate(settings: Settings) -> None:
    """Reject values the broker could start with but not work with."""
    settings.host_port  # raises ConfigError for a bad listen address
    if settings.log_level.upper() not in LOG_LEVELS:
        raise ConfigError(_("setting log_level must be one of {choices}, got {value!r}").format(
            choices=", ".join(LOG_LEVELS), value=settings.log_level))
    if settings.max_envelope_bytes < 1024:
        raise ConfigError(_("setting max_envelope_bytes must be at least 1024, got {value}").format(
            value=settings.max_envelope_bytes))
    if not 1 <= settings.replay_window <= 3600:
        raise ConfigError(_("setting replay_window must be between 1 and 3600 seconds, got {value}").format(
            value=settings.replay_window))
