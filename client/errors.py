"""Errors the CLI reports to a person.

    CliError         a translated message, an optional hint with the command that
                     fixes it, and the exit status
    ├── UsageError   exit 2: the command line or local files are wrong
    └── TrustError   exit 3: something did not verify; the user must not act on it

Errors from the broker (client.api.ApiFailure) and from the shared core
(keys.errors.EnlaceError) are turned into CliError by client.messages.
"""

from __future__ import annotations


class CliError(Exception):
    exit_status = 1

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(CliError):
    exit_status = 2


class TrustError(CliError):
    exit_status = 3
